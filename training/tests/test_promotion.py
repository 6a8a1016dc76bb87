"""The staged promotion (training/registry/promotion.py) against a moto server: model versions registered and
approved through the SageMaker API, the endpoints stack as a CloudFormation stack with the variants'
parameters and the ``ServedVariants`` output, manifests and approval records in S3, executions of a state
machine that waits, and the SNS notices (delivered to an SQS subscription).

Every request the functions send is recorded and checked against botocore's model (patterns included,
which boto3's client-side validation does not check). Two things moto does not do as AWS does, and how the
tests stand in for them:

- moto's SendTaskSuccess and SendTaskFailure do nothing: the recorded requests are what is checked;
- moto 5.2.5's UpdateModelPackage clears ModelApprovalStatus and ApprovalDescription when a request leaves
  them out and replaces the CustomerMetadataProperties map; AWS keeps all three. ``aws_like_update`` sends
  moto what AWS would keep (the functions' own requests are recorded as they sent them).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from training.registry import promotion
from training.registry.promotion import ManifestRefused, PromotionError
from training.tests.api_requests import Recording, api_violations

# moto parses the stack's one resource without creating anything; it says so with this warning.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS..CloudFormation..WaitConditionHandle")

REPO = Path(__file__).resolve().parents[2]
ACCOUNT, REGION = "123456789012", "us-east-1"
GROUP, OTHER = "fmft-dev-fine-tuning-models", "fmft-dev-other"
ARTIFACTS, EVALUATION, DATA = "fmft-dev-model-artifacts", "fmft-dev-evaluation", "fmft-dev-training-data"
STACK = "fmft-dev-endpoints"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.29.0-lmi11.0.0-cu124"
SERVED_VARIANTS = [
    {"variant": "current", "parameter": "ModelPackageCurrent", "weight": 90},
    {"variant": "blue-2", "parameter": "ModelPackageBlue2", "weight": 10},
]
START = dt.datetime(2026, 11, 29, 10, 0, 0, tzinfo=dt.UTC)


# ------------------------------------------------------------------------------------------------ clients


def aws_like_update(client: Any, **params: Any) -> Any:
    """UpdateModelPackage as AWS does it on moto: what the request leaves out is kept (see the docstring)."""
    before = client.describe_model_package(ModelPackageName=params["ModelPackageArn"])
    sent = dict(params)
    sent.setdefault("ModelApprovalStatus", before["ModelApprovalStatus"])
    if "ApprovalDescription" not in sent and before.get("ApprovalDescription"):
        sent["ApprovalDescription"] = before["ApprovalDescription"]
    kept = before.get("CustomerMetadataProperties") or {}
    sent["CustomerMetadataProperties"] = {**kept, **params.get("CustomerMetadataProperties", {})}
    return client.update_model_package(**sent)


class RecordingSageMaker(Recording):
    def update_model_package(self, **params: Any) -> Any:
        self.record("update_model_package", params)
        return aws_like_update(self.client, **params)


# ---------------------------------------------------------------------------------------------- the world


@dataclasses.dataclass
class Env:
    """The moto world of one test: raw clients (for the test's own requests), the settings, the log of the
    functions' requests, the two served versions and a clock that advances a minute per step."""

    s3: Any
    sm: Any
    cfn: Any
    sfn: Any
    sns: Any
    sqs: Any
    inbox: str
    machine: str
    cfg: dict[str, Any]
    log: list[tuple[str, str, dict[str, Any]]]
    served: list[str]
    clock: list[dt.datetime]

    def aws(self, **replace: Any) -> promotion.Aws:
        clients = {
            "s3": Recording(self.s3, self.log),
            "sagemaker": RecordingSageMaker(self.sm, self.log),
            "cloudformation": Recording(self.cfn, self.log),
            "sns": Recording(self.sns, self.log),
            "stepfunctions": Recording(self.sfn, self.log),
        }
        return promotion.Aws(**{**clients, **replace})

    def now(self) -> dt.datetime:
        self.clock[0] += dt.timedelta(minutes=1)
        return self.clock[0]

    def step(self, step: str, aws: promotion.Aws | None = None, **fields: Any) -> Any:
        return promotion.run_step({"step": step, **fields}, self.cfg, aws or self.aws(), self.now())

    def event(self, arn: str, status: str, aws: promotion.Aws | None = None, group: str = GROUP) -> Any:
        return promotion.on_state_change(
            state_change(arn, status, group), self.cfg, aws or self.aws(), self.now()
        )

    def sent(self, operation: str) -> list[dict[str, Any]]:
        return [params for _, op, params in self.log if op == operation]


def register(
    env_or_sm: Any, group: str = GROUP, status: str = "PendingManualApproval", split: bool = True
) -> str:
    """A new version of ``group`` with its baseline registered; ``split``: its test split exists in S3."""
    sm = env_or_sm.sm if isinstance(env_or_sm, Env) else env_or_sm
    count = len(sm.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"])
    prefix = f"training-data/processed/{group}-run-{count + 1}"
    arn = sm.create_model_package(
        ModelPackageGroupName=group,
        InferenceSpecification={
            "Containers": [
                {"Image": IMAGE, "ModelDataUrl": f"s3://{ARTIFACTS}/models/final/{count + 1}.tar.gz"}
            ],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        ModelApprovalStatus=status,
        DriftCheckBaselines={
            "ModelDataQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri": f"s3://{DATA}/{prefix}/baseline/baseline.json",
                }
            }
        },
    )["ModelPackageArn"]
    if split:
        s3 = boto3.client("s3", region_name=REGION)
        s3.put_object(Bucket=DATA, Key=f"{prefix}/test/test.jsonl", Body=b'{"text": "a", "label": "pos"}\n')
    return arn


def set_status(env: Env, arn: str, status: str, description: str = "") -> None:
    """What a person does in the registry (not recorded: the functions did not send it)."""
    params: dict[str, Any] = {"ModelPackageArn": arn, "ModelApprovalStatus": status}
    if description:
        params["ApprovalDescription"] = description
    aws_like_update(env.sm, **params)


def metadata(env: Env, arn: str) -> dict[str, str]:
    return env.sm.describe_model_package(ModelPackageName=arn).get("CustomerMetadataProperties") or {}


def approval_status(env: Env, arn: str) -> str:
    return env.sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]


def state_change(arn: str, status: str, group: str = GROUP) -> dict[str, Any]:
    return {
        "version": "0",
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Model Package State Change",
        "time": "2026-11-29T10:00:00Z",
        "detail": {
            "ModelPackageGroupName": group,
            "ModelPackageArn": arn,
            "ModelPackageVersion": int(arn.rsplit("/", 1)[1]),
            "ModelApprovalStatus": status,
        },
    }


def stack_template() -> str:
    parameters = {p["parameter"]: {"Type": "String"} for p in SERVED_VARIANTS}
    return json.dumps(
        {
            "Parameters": {**parameters, "ImageUri": {"Type": "String"}},
            "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": {"ServedVariants": {"Value": json.dumps(SERVED_VARIANTS)}},
        }
    )


@pytest.fixture
def env(moto_endpoint):
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).close()
    s3, sm, cfn, sfn, sqs, sns = (
        boto3.client(s, region_name=REGION)
        for s in ("s3", "sagemaker", "cloudformation", "stepfunctions", "sqs", "sns")
    )
    for bucket in (ARTIFACTS, EVALUATION, DATA):
        s3.create_bucket(Bucket=bucket)
    for group in (GROUP, OTHER):
        sm.create_model_package_group(ModelPackageGroupName=group)
    served = [register(sm, status="Approved"), register(sm, status="Approved")]
    cfn.create_stack(
        StackName=STACK,
        TemplateBody=stack_template(),
        Parameters=[
            {"ParameterKey": "ModelPackageCurrent", "ParameterValue": served[0]},
            {"ParameterKey": "ModelPackageBlue2", "ParameterValue": served[1]},
            {"ParameterKey": "ImageUri", "ParameterValue": IMAGE},
        ],
    )
    machine = sfn.create_state_machine(
        name="fmft-dev-promotion",
        definition=json.dumps(
            {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 86400, "End": True}}}
        ),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
    )["stateMachineArn"]
    topic = sns.create_topic(Name="fmft-dev-alerts")["TopicArn"]
    inbox = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
    cfg = promotion.check_settings(
        {
            "environment": "dev",
            "modelPackageGroupName": GROUP,
            "stateMachineArn": machine,
            "stagingEndpointName": "fmft-dev-llm-staging",
            "container": "lmi",
            "endpointsStackName": STACK,
            "cloudFormationRoleArn": f"arn:aws:iam::{ACCOUNT}:role/fmft-dev-cfn",
            "targetVariant": "current",
            "artifactsBucket": ARTIFACTS,
            "evaluationBucket": EVALUATION,
            "trainingDataBucket": DATA,
            "goldenSetKey": None,
            "validation": {
                "task": "classification",
                "records": 20,
                "maxNewTokens": 100,
                "maxLatencyP95Ms": 2000,
                "maxErrorRate": 0.0,
                "minimumScore": None,
            },
            "jobNamePrefix": "fmft-dev",
            "topicArn": topic,
        }
    )
    world = Env(s3, sm, cfn, sfn, sns, sqs, inbox, machine, cfg, [], served, [START])
    yield world
    assert api_violations(world.log, "promotion") == []


def notices(env: Env) -> list[dict[str, Any]]:
    """The notices published so far: ``{"subject", **message}``, oldest first."""
    found = []
    while True:
        got = env.sqs.receive_message(QueueUrl=env.inbox, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return found
        for m in got:
            body = json.loads(m["Body"])
            found.append({"subject": body["Subject"], **json.loads(body["Message"])})
            env.sqs.delete_message(QueueUrl=env.inbox, ReceiptHandle=m["ReceiptHandle"])


def events(env: Env) -> list[str]:
    return [n["event"] for n in notices(env)]


def read(env: Env, key: str, bucket: str = ARTIFACTS) -> Any:
    return json.loads(env.s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def keys(env: Env, prefix: str, bucket: str = ARTIFACTS) -> list[str]:
    return sorted(o["Key"] for o in env.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


def stack_parameters(env: Env) -> dict[str, str]:
    stack = env.cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}


def set_stack_status(status: str) -> None:
    """A stack status moto's API cannot produce (it finishes every update at once)."""
    from moto.backends import get_backend

    backend = get_backend("cloudformation")[ACCOUNT][REGION]
    next(s for s in backend.stacks.values() if s.name == STACK).status = status


# --------------------------------------------------------------------------------------- staging validation


def score_document(**change: Any) -> dict[str, Any]:
    """canary.json as ``python -m training.monitor score-canary`` writes it."""
    return {
        "status": "scored",
        "task": "classification",
        "path": "/opt/ml/processing/input/canary/predictions.jsonl",
        "records": 20,
        "answered": 20,
        "errors": 0,
        "errorRate": 0.0,
        "malformed": 0,
        "errorsByCode": {},
        "errorExamples": [],
        "emptyAnswers": 0,
        "latencyMs": {"p50": 400.0, "p95": 850.5, "max": 912.0},
        "scoreMetric": "accuracy",
        "score": 0.85,
        "metrics": {"accuracy": 0.85},
        "section": "classification_metrics",
    } | change


def canary_result(candidate: dict[str, Any], **change: Any) -> dict[str, Any]:
    """What the canary Lambda returns."""
    return {
        "records": 20,
        "errors": 0,
        "latencyP50Ms": 400.0,
        "latencyP95Ms": 850.5,
        "predictionsUri": f"s3://{EVALUATION}/{candidate['canary']['predictionsKey']}",
        "skipped": 0,
        "unsent": 0,
    } | change


def put_score(env: Env, candidate: dict[str, Any], document: dict[str, Any]) -> None:
    key = candidate["scoreUri"].removeprefix(f"s3://{EVALUATION}/") + "canary.json"
    env.s3.put_object(Bucket=EVALUATION, Key=key, Body=json.dumps(document).encode())


def validated(env: Env, arn: str, execution: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """check and judge (passing) for ``arn``: (candidate, validation)."""
    version = int(arn.rsplit("/", 1)[1])
    candidate = env.step("check", modelPackageArn=arn, executionName=execution or f"v{version}")
    put_score(env, candidate, score_document())
    validation = env.step("judge", candidate=candidate, canary=canary_result(candidate))
    assert validation["passed"], validation
    return candidate, validation


def test_check_names_the_staging_run_and_finds_the_test_split_beside_the_baseline(env):
    arn = register(env)
    candidate = env.step("check", modelPackageArn=arn, executionName="v3")
    report = "evaluation/staging/v3/v3/"
    assert candidate == {
        "modelPackageArn": arn,
        "version": 3,
        "executionName": "v3",
        "reportPrefix": report,
        "scoringJobName": candidate["scoringJobName"],
        "canary": {
            "goldenUri": f"s3://{DATA}/training-data/processed/{GROUP}-run-3/test/test.jsonl",
            "predictionsBucket": EVALUATION,
            "predictionsKey": f"{report}canary/predictions.jsonl",
            "records": 20,
            "task": "classification",
        },
        "predictionsUri": f"s3://{EVALUATION}/{report}canary/",
        "scoreUri": f"s3://{EVALUATION}/{report}score/",
    }
    assert re.fullmatch(r"fmft-dev-stg-v3-[0-9a-f]{8}", candidate["scoringJobName"])
    long_name = promotion.scoring_job_name(env.cfg | {"jobNamePrefix": "a" * 32}, 123456789, "x" * 80)
    assert len(long_name) <= 63 and re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", long_name)
    (notice,) = notices(env)
    assert notice["subject"] == "fmft-dev promotion: v3 promotion-started"
    assert notice["event"] == "promotion-started" and notice["environment"] == "dev"
    assert notice["modelPackageArn"] == arn and notice["version"] == 3
    assert notice["goldenUri"] == candidate["canary"]["goldenUri"]


def test_the_configured_golden_set_wins_over_the_test_split(env):
    arn = register(env, split=False)
    env.s3.put_object(Bucket=DATA, Key="training-data/processed/golden.jsonl", Body=b"{}\n")
    env.cfg["goldenSetKey"] = "training-data/processed/golden.jsonl"
    candidate = env.step("check", modelPackageArn=arn, executionName="v3-20261129T100000Z")
    assert candidate["canary"]["goldenUri"] == f"s3://{DATA}/training-data/processed/golden.jsonl"
    assert candidate["reportPrefix"] == "evaluation/staging/v3/v3-20261129T100000Z/"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("not an arn", "modelPackageArn: got 'not an arn'; allowed: a versioned model package ARN"),
        ("unversioned", "modelPackageArn: got 'arn:aws:sagemaker:us-east-1:123456789012:model-package/"),
        ("other group", f"allowed: a version of the model package group {GROUP}"),
        ("unknown", "allowed: a version the model registry knows"),
        ("rejected", "allowed: a version that is not Rejected"),
        ("no golden set", "golden set: none for arn:"),
        ("golden set missing", "allowed: an existing JSON Lines object (the test split beside the baseline)"),
        ("bad execution name", "executionName: got 'v3 again'; allowed: 1-80 letters, digits"),
    ],
)
def test_check_refuses_what_cannot_be_validated(env, case, message):
    arn = register(env)
    execution = "v3"
    if case == "not an arn":
        arn = "not an arn"
    elif case == "unversioned":
        arn = arn.rsplit("/", 1)[0]
    elif case == "other group":
        arn = register(env, group=OTHER)
    elif case == "unknown":
        arn = arn.rsplit("/", 1)[0] + "/99"
    elif case == "rejected":
        set_status(env, arn, "Rejected")
    elif case == "no golden set":
        env.sm.create_model_package(
            ModelPackageGroupName=GROUP,
            InferenceSpecification={
                "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://{ARTIFACTS}/m.tar.gz"}],
                "SupportedContentTypes": ["application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            ModelApprovalStatus="PendingManualApproval",
        )
        arn = arn.rsplit("/", 1)[0] + "/4"
    elif case == "golden set missing":
        arn = register(env, split=False)
    elif case == "bad execution name":
        execution = "v3 again"
    with pytest.raises(PromotionError, match=re.escape(message)):
        env.step("check", modelPackageArn=arn, executionName=execution)
    assert notices(env) == []


def test_judge_passes_records_the_result_on_the_version_and_writes_the_report(env):
    arn = register(env)
    candidate = env.step("check", modelPackageArn=arn, executionName="v3")
    put_score(env, candidate, score_document())
    notices(env)
    result = env.step("judge", candidate=candidate, canary=canary_result(candidate))
    report_uri = f"s3://{EVALUATION}/evaluation/staging/v3/v3/validation.json"
    assert result["passed"] is True and result["failures"] == [] and result["reportUri"] == report_uri
    assert set(result["checks"]) == {"answered", "format", "errorRate", "latencyP95Ms", "score"}
    assert all(c["passed"] for c in result["checks"].values())
    assert result["checks"]["score"]["minimum"] is None
    report = read(env, "evaluation/staging/v3/v3/validation.json", bucket=EVALUATION)
    assert report["passed"] is True and report["checks"] == result["checks"]
    assert report["score"]["score"] == 0.85 and report["canary"]["unsent"] == 0
    values = metadata(env, arn)
    assert values == {
        "staging_validation": "passed",
        "staging_validation_report": report_uri,
        "staging_latency_p95_ms": "850.5",
        "staging_error_rate": "0.0",
        "staging_score": "0.85",
        "staging_validated_at": values["staging_validated_at"],
    }
    assert re.fullmatch(r"2026-11-29T10:\d\d:00Z", values["staging_validated_at"])
    assert all(len(v) <= 256 and re.fullmatch(r"[\w .:/=+\-@]*", v) for v in values.values())
    assert approval_status(env, arn) == "PendingManualApproval"
    (update,) = env.sent("UpdateModelPackage")
    assert set(update) == {"ModelPackageArn", "CustomerMetadataProperties"}
    (notice,) = notices(env)
    assert notice["event"] == "staging-validated" and notice["passed"] is True
    assert notice["reportUri"] == report_uri


@pytest.mark.parametrize(
    ("score", "canary", "limits", "failure"),
    [
        (
            {"answered": 0, "errors": 20, "errorRate": 1.0},
            {},
            {"maxErrorRate": 1.0},
            "answered: 0 of 20 records answered",
        ),
        ({"answered": 18}, {"unsent": 2}, {}, "answered: 18 of 20 records answered, 2 unsent"),
        (
            {"errorsByCode": {"UnreadableResponse": 1}, "errors": 1, "errorRate": 0.0},
            {},
            {},
            "format: 1 unreadable answers",
        ),
        (
            {"status": "invalid", "score": None},
            {},
            {},
            "format: 0 unreadable answers, 0 malformed lines, score status invalid",
        ),
        (
            {"errors": 2, "errorRate": 0.1, "errorsByCode": {"ModelError": 2}},
            {},
            {},
            "errorRate: 0.1; allowed: at most 0.0",
        ),
        (
            {"latencyMs": {"p50": 900.0, "p95": 2500.0, "max": 3000.0}},
            {},
            {},
            "latencyP95Ms: 2500.0; allowed: at most 2000",
        ),
        (
            {"score": 0.5},
            {},
            {"minimumScore": 0.8},
            "score: accuracy 0.5 (status scored); allowed: at least 0.8",
        ),
        (
            {"status": "unscored", "score": None},
            {},
            {"minimumScore": 0.8},
            "score: accuracy None (status unscored); allowed: at least 0.8",
        ),
    ],
)
def test_judge_fails_each_check_alone(env, score, canary, limits, failure):
    env.cfg["validation"].update(limits)
    arn = register(env)
    candidate = env.step("check", modelPackageArn=arn, executionName="v3")
    put_score(env, candidate, score_document(**score))
    result = env.step("judge", candidate=candidate, canary=canary_result(candidate, **canary))
    assert result["passed"] is False
    (line,) = result["failures"]
    assert line.startswith(failure), line
    failed = [name for name, c in result["checks"].items() if not c["passed"]]
    assert failed == [line.split(":")[0]]
    assert metadata(env, arn)["staging_validation"] == "failed"
    assert read(env, "evaluation/staging/v3/v3/validation.json", bucket=EVALUATION)["failures"] == [line]


def test_a_minimum_score_that_is_met_passes_and_the_score_is_recorded(env):
    env.cfg["validation"]["minimumScore"] = 0.8
    arn = register(env)
    _, validation = validated(env, arn)
    assert validation["checks"]["score"] == {
        "passed": True,
        "value": 0.85,
        "minimum": 0.8,
        "metric": "accuracy",
        "status": "scored",
    }


def test_judge_reads_what_the_scoring_job_writes(env, tmp_path):
    from training.monitor.__main__ import main as monitor

    arn = register(env)
    candidate = env.step("check", modelPackageArn=arn, executionName="v3")
    answers = [
        {"label": label, "prediction": said, "latencyMs": ms}
        for label, said, ms in [("pos", "pos", 420.0), ("neg", "neg", 610.5), ("neg", "pos", 380.0)]
    ]
    (tmp_path / "canary").mkdir()
    (tmp_path / "canary" / "predictions.jsonl").write_text("".join(json.dumps(a) + "\n" for a in answers))
    flags = ["--predictions", str(tmp_path / "canary"), "--task", "classification"]
    assert monitor(["score-canary", *flags, "--output-dir", str(tmp_path / "score")]) == 0
    put_score(env, candidate, json.loads((tmp_path / "score" / "canary.json").read_text()))
    result = env.step("judge", candidate=candidate, canary=canary_result(candidate, records=3))
    assert result["passed"] is True
    assert result["checks"]["answered"]["answered"] == 3
    assert result["checks"]["latencyP95Ms"]["value"] == pytest.approx(591.45)
    assert result["checks"]["score"]["value"] == pytest.approx(2 / 3)
    assert metadata(env, arn)["staging_score"] == "0.6667"


def test_judge_without_a_score_file_is_an_error_not_a_verdict(env):
    arn = register(env)
    candidate = env.step("check", modelPackageArn=arn, executionName="v3")
    with pytest.raises(PromotionError, match=r"candidate.scoreUri: got 's3://.*/score/canary.json'"):
        env.step("judge", candidate=candidate, canary=canary_result(candidate))
    assert metadata(env, arn) == {}


def test_a_mismatched_candidate_is_refused(env):
    arn = register(env)
    candidate = env.step("check", modelPackageArn=arn, executionName="v3")
    with pytest.raises(PromotionError, match=re.escape("candidate.version: got 4; allowed: 3, the version")):
        env.step("judge", candidate=candidate | {"version": 4}, canary=canary_result(candidate))
    with pytest.raises(PromotionError, match=re.escape("canary: got None; allowed: an object")):
        env.step("judge", candidate=candidate)
    with pytest.raises(PromotionError, match=re.escape("step: got 'deploy-now'; allowed: check, judge")):
        env.step("deploy-now")


# ------------------------------------------------------------------------------------------------- approval


def test_await_approval_writes_the_record_and_says_how_to_answer(env):
    arn = register(env)
    candidate, validation = validated(env, arn)
    notices(env)
    execution = f"{env.machine.replace(':stateMachine:', ':execution:')}:v3"
    result = env.step(
        "awaitApproval",
        taskToken="token-3",
        candidate=candidate,
        validation=validation,
        executionArn=execution,
    )
    assert result == {}
    record = read(env, "serving/approvals/v3.json")
    assert record == {
        "taskToken": "token-3",
        "executionArn": execution,
        "modelPackageArn": arn,
        "version": 3,
        "validationReport": validation["reportUri"],
        "requestedAt": record["requestedAt"],
    }
    assert approval_status(env, arn) == "PendingManualApproval"
    (notice,) = notices(env)
    assert notice["event"] == "approval-requested" and notice["earlyApprovalReset"] is False
    assert notice["commands"]["approve"].startswith(
        f"aws sagemaker update-model-package --model-package-arn {arn} --model-approval-status Approved"
    )
    assert f"--model-package-arn {arn} --model-approval-status Rejected" in notice["commands"]["reject"]


def test_an_approval_given_before_the_validation_is_set_back_to_pending(env):
    arn = register(env)
    candidate, validation = validated(env, arn)
    set_status(env, arn, "Approved", "looks fine")
    notices(env)
    env.step("awaitApproval", taskToken="token-3", candidate=candidate, validation=validation)
    described = env.sm.describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["ApprovalDescription"].startswith(
        "Set back to PendingManualApproval by the promotion workflow"
    )
    assert metadata(env, arn)["staging_validation"] == "passed"
    reset = [p for p in env.sent("UpdateModelPackage") if "ModelApprovalStatus" in p]
    assert [p["ModelApprovalStatus"] for p in reset] == ["PendingManualApproval"]
    (notice,) = notices(env)
    assert notice["earlyApprovalReset"] is True and "approve it again" in notice["note"]


def test_approval_is_only_asked_for_a_passed_validation(env):
    arn = register(env)
    candidate, validation = validated(env, arn)
    with pytest.raises(PromotionError, match=re.escape("validation.passed: got False; allowed: true")):
        env.step(
            "awaitApproval", taskToken="t", candidate=candidate, validation=validation | {"passed": False}
        )
    with pytest.raises(PromotionError, match=re.escape("taskToken: got None")):
        env.step("awaitApproval", candidate=candidate, validation=validation)
    assert keys(env, "serving/approvals/") == []


# --------------------------------------------------------------------------------------------------- events


def test_a_new_version_starts_one_execution_named_after_it(env):
    arn = register(env)
    started = env.event(arn, "PendingManualApproval")
    assert started["outcome"] == "started" and started["name"] == "v3"
    (execution,) = env.sfn.list_executions(stateMachineArn=env.machine)["executions"]
    assert execution["name"] == "v3" and started["executionArn"] == execution["executionArn"]
    described = env.sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == {"modelPackageArn": arn}
    # The same event again (our own updates emit it too): Step Functions returns the running execution.
    again = env.event(arn, "PendingManualApproval")
    assert again["executionArn"] == started["executionArn"]
    assert len(env.sfn.list_executions(stateMachineArn=env.machine)["executions"]) == 1
    env.sfn.stop_execution(executionArn=started["executionArn"])
    closed = env.event(arn, "PendingManualApproval")
    assert closed["outcome"] == "skipped" and closed["skipped"] == "execution v3 already exists"
    assert len(env.sent("StartExecution")) == 3 and notices(env) == []


def test_a_validated_version_set_back_to_pending_starts_nothing(env):
    arn = register(env)
    validated(env, arn, execution="v3-20261129T100000Z")
    result = env.event(arn, "PendingManualApproval")
    assert result["outcome"] == "skipped" and "already validated" in result["skipped"]
    assert env.sfn.list_executions(stateMachineArn=env.machine)["executions"] == []


def test_events_of_other_groups_are_skipped_and_other_events_refused(env):
    foreign = register(env, group=OTHER)
    result = env.event(foreign, "PendingManualApproval", group=OTHER)
    assert (
        result["outcome"] == "skipped"
        and f"a version of the model package group {GROUP}" in result["skipped"]
    )
    with pytest.raises(PromotionError, match="detail-type: got 'Object Created'"):
        promotion.on_state_change({"detail-type": "Object Created"}, env.cfg, env.aws(), START)
    bad = state_change(foreign, "Approved") | {"detail": {"ModelPackageArn": "x"}}
    with pytest.raises(PromotionError, match=re.escape("detail.ModelPackageArn: got 'x'")):
        promotion.on_state_change(bad, env.cfg, env.aws(), START)


def awaiting(env: Env) -> dict[str, Any]:
    """A version validated and waiting for approval (record written): its candidate."""
    arn = register(env)
    candidate, validation = validated(env, arn)
    env.step(
        "awaitApproval", taskToken="token-3", candidate=candidate, validation=validation, executionArn=None
    )
    notices(env)
    return candidate


def test_an_approval_sends_the_task_token_back_and_deletes_the_record(env):
    arn = awaiting(env)["modelPackageArn"]
    set_status(env, arn, "Approved", "staging looks good")
    result = env.event(arn, "Approved")
    assert result["outcome"] == "approved" and result["approvalDescription"] == "staging looks good"
    (sent,) = env.sent("SendTaskSuccess")
    assert sent["taskToken"] == "token-3"
    output = json.loads(sent["output"])
    assert set(output) == {"approvedAt", "approvedBy", "approvalDescription"}
    assert output["approvalDescription"] == "staging looks good" and output["approvedBy"]
    assert keys(env, "serving/approvals/") == []
    assert events(env) == ["approved"]
    # The same event again finds no record: the token is sent once.
    assert env.event(arn, "Approved")["outcome"] == "approved-without-request"
    assert len(env.sent("SendTaskSuccess")) == 1


def test_an_approval_without_a_request_deploys_nothing_and_is_notified(env):
    arn = register(env)
    set_status(env, arn, "Approved")
    result = env.event(arn, "Approved")
    assert result["outcome"] == "approved-without-request"
    assert env.sent("SendTaskSuccess") == [] and env.sent("UpdateStack") == []
    (notice,) = notices(env)
    assert notice["subject"] == "fmft-dev promotion: v3 approved-without-request"
    assert notice["stagingValidation"] == "none"


def test_a_served_versions_own_events_are_not_noticed(env):
    arn = env.served[0]
    aws_like_update(env.sm, ModelPackageArn=arn, CustomerMetadataProperties={"production_status": "serving"})
    result = env.event(arn, "Approved")
    assert result["outcome"] == "skipped" and "production_status serving" in result["skipped"]
    assert notices(env) == []


def test_a_rejection_fails_the_task_and_deletes_the_record(env):
    arn = awaiting(env)["modelPackageArn"]
    set_status(env, arn, "Rejected", "answers too long")
    result = env.event(arn, "Rejected")
    assert result["outcome"] == "rejected"
    (sent,) = env.sent("SendTaskFailure")
    assert sent == {"taskToken": "token-3", "error": "VersionRejected", "cause": "answers too long"}
    assert keys(env, "serving/approvals/") == [] and events(env) == ["rejected"]
    assert env.event(arn, "Rejected")["outcome"] == "skipped"


def test_an_approval_the_registry_no_longer_shows_is_ignored_and_the_request_kept(env):
    arn = awaiting(env)["modelPackageArn"]
    set_status(env, arn, "Approved")
    set_status(env, arn, "PendingManualApproval")  # changed back before the event arrived
    result = env.event(arn, "Approved")
    assert result["outcome"] == "skipped" and "registry status PendingManualApproval" in result["skipped"]
    assert env.sent("SendTaskSuccess") == [] and keys(env, "serving/approvals/") == [
        "serving/approvals/v3.json"
    ]
    assert events(env) == ["approval-ignored"]


@pytest.mark.parametrize("code", ["TaskTimedOut", "InvalidToken"])
def test_a_token_nobody_waits_for_drops_the_record(env, code):
    arn = awaiting(env)["modelPackageArn"]
    set_status(env, arn, "Approved")

    class Expired(Recording):
        def send_task_success(self, **params: Any) -> Any:
            self.record("send_task_success", params)
            raise ClientError({"Error": {"Code": code, "Message": "gone"}}, "SendTaskSuccess")

    result = env.event(arn, "Approved", aws=env.aws(stepfunctions=Expired(env.sfn, env.log)))
    assert result["outcome"] == "approval-expired" and result["error"] == code
    assert keys(env, "serving/approvals/") == []
    (notice,) = notices(env)
    assert notice["event"] == "approval-expired" and notice["error"] == code


# --------------------------------------------------------------------------------------------------- deploy


def approved_candidate(env: Env) -> dict[str, Any]:
    """A version validated, approved and answered: the deploy step's candidate."""
    candidate = awaiting(env)
    set_status(env, candidate["modelPackageArn"], "Approved", "ship it")
    assert env.event(candidate["modelPackageArn"], "Approved")["outcome"] == "approved"
    notices(env)
    return candidate


APPROVAL = {
    "approvedAt": "2026-11-29T10:30:00Z",
    "approvedBy": "arn:aws:iam::123456789012:user/ana",
    "approvalDescription": "ship it",
}


def test_deploy_writes_the_manifests_and_updates_only_the_target_parameter(env):
    candidate = approved_candidate(env)
    arn = candidate["modelPackageArn"]
    result = env.step("deploy", candidate=candidate, approval=APPROVAL)
    (history,) = keys(env, "serving/manifests/history/")
    assert re.fullmatch(r"serving/manifests/history/20261129T10\d\d00Z-v3\.json", history)
    assert result == {"stackName": STACK, "manifestKey": history, "noChange": False}
    current = read(env, "serving/manifests/current.json")
    assert current == read(env, history)
    assert current["status"] == "rolling-out" and current["action"] == "promote"
    assert current["variants"] == [
        {**SERVED_VARIANTS[0], "modelPackageArn": arn},
        {**SERVED_VARIANTS[1], "modelPackageArn": env.served[1]},
    ]
    assert current["version"] == 3 and current["modelPackageArn"] == arn and current["execution"] == "v3"
    assert current["approval"] == APPROVAL and current["historyKey"] == history
    previous = current["previous"]
    assert previous["status"] == "serving" and previous["action"] == "stack"
    assert [v["modelPackageArn"] for v in previous["variants"]] == env.served
    assert stack_parameters(env) == {
        "ModelPackageCurrent": arn,
        "ModelPackageBlue2": env.served[1],
        "ImageUri": IMAGE,
    }
    (update,) = env.sent("UpdateStack")
    assert update["UsePreviousTemplate"] is True and update["StackName"] == STACK
    assert update["RoleARN"] == env.cfg["cloudFormationRoleArn"]
    assert re.fullmatch(r"promote-v3-20261129T10\d\d00Z", update["ClientRequestToken"])
    assert sorted(update["Parameters"], key=lambda p: p["ParameterKey"]) == [
        {"ParameterKey": "ImageUri", "UsePreviousValue": True},
        {"ParameterKey": "ModelPackageBlue2", "UsePreviousValue": True},
        {"ParameterKey": "ModelPackageCurrent", "ParameterValue": arn},
    ]
    (notice,) = notices(env)
    assert notice["event"] == "rollout-started" and notice["noChange"] is False
    assert env.step("rolloutStatus", stackName=STACK) == {
        "status": "UPDATE_COMPLETE",
        "done": True,
        "succeeded": True,
        "reason": "",
    }


def test_a_missing_stack_is_named_with_how_to_deploy_it(env):
    candidate = approved_candidate(env)
    env.cfg["endpointsStackName"] = "fmft-dev-nosuch"
    with pytest.raises(PromotionError, match=r"stack fmft-dev-nosuch does not exist.*-c serving=<file>"):
        env.step("deploy", candidate=candidate, approval=APPROVAL)
    assert keys(env, "serving/manifests/") == []


@pytest.mark.parametrize(
    ("status", "why"),
    [
        ("UPDATE_IN_PROGRESS", "busy"),
        ("ROLLBACK_COMPLETE", "not updatable"),
        ("UPDATE_ROLLBACK_FAILED", "not updatable"),
    ],
)
def test_a_stack_that_is_not_stable_is_not_touched(env, status, why):
    candidate = approved_candidate(env)
    set_stack_status(status)
    with pytest.raises(
        PromotionError, match=re.escape(f"stack {STACK}: status {status} ({why}); allowed: CREATE_COMPLETE")
    ):
        env.step("deploy", candidate=candidate, approval=APPROVAL)
    assert keys(env, "serving/manifests/") == [] and env.sent("UpdateStack") == []


def test_a_target_variant_the_stack_does_not_serve_is_refused(env):
    candidate = approved_candidate(env)
    env.cfg["targetVariant"] = "green"
    with pytest.raises(
        PromotionError,
        match=re.escape("targetVariant: got 'green'; allowed: a variant the stack serves: current, blue-2"),
    ):
        env.step("deploy", candidate=candidate, approval=APPROVAL)


@pytest.mark.parametrize("case", ["candidate pending", "served version unknown", "served version rejected"])
def test_a_set_with_a_version_that_may_not_serve_is_refused_with_nothing_written(env, case):
    candidate = approved_candidate(env)
    arn = candidate["modelPackageArn"]
    if case == "candidate pending":
        set_status(env, arn, "PendingManualApproval")
        expected = f"variant current: {arn}: PendingManualApproval, not Approved"
    elif case == "served version unknown":
        unknown = arn.rsplit("/", 1)[0] + "/99"
        env.cfn.update_stack(
            StackName=STACK,
            UsePreviousTemplate=True,
            Parameters=[
                {"ParameterKey": "ModelPackageCurrent", "UsePreviousValue": True},
                {"ParameterKey": "ModelPackageBlue2", "ParameterValue": unknown},
                {"ParameterKey": "ImageUri", "UsePreviousValue": True},
            ],
        )
        expected = (
            f"variant blue-2: {unknown}: modelPackageArn: got '{unknown}'; "
            "allowed: a version the model registry knows"
        )
    else:
        set_status(env, env.served[1], "Rejected")
        expected = f"variant blue-2: {env.served[1]}: Rejected, not Approved"
    before = stack_parameters(env)
    with pytest.raises(ManifestRefused, match=re.escape(expected)):
        env.step("deploy", candidate=candidate, approval=APPROVAL)
    assert keys(env, "serving/manifests/") == [] and env.sent("UpdateStack") == []
    assert stack_parameters(env) == before
    (notice,) = notices(env)
    assert notice["event"] == "manifest-refused" and notice["problems"] == [expected]


def test_a_version_already_served_changes_nothing_and_still_finishes(env):
    arn = env.served[0]
    aws_like_update(env.sm, ModelPackageArn=arn, CustomerMetadataProperties={"staging_validation": "passed"})
    candidate = env.step("check", modelPackageArn=arn, executionName="v1-20261129T100000Z")
    result = env.step("deploy", candidate=candidate, approval=APPROVAL)
    assert result["noChange"] is True
    assert read(env, "serving/manifests/current.json")["status"] == "rolling-out"
    finished = env.step("finish", action="promote", deployment=result, rollout=None)
    assert finished["status"] == "serving"
    assert read(env, "serving/manifests/current.json")["status"] == "serving"


def test_an_update_the_stack_refuses_puts_current_json_back(env):
    candidate = approved_candidate(env)

    class Denied(Recording):
        def update_stack(self, **params: Any) -> Any:
            self.record("update_stack", params)
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "UpdateStack")

    with pytest.raises(ClientError):
        env.step(
            "deploy",
            candidate=candidate,
            approval=APPROVAL,
            aws=env.aws(cloudformation=Denied(env.cfn, env.log)),
        )
    (history,) = keys(env, "serving/manifests/history/")
    assert read(env, history)["status"] == "failed" and read(env, history)["reason"] == "no"
    assert read(env, "serving/manifests/current.json") == read(env, history)
    # It is not taken for what serves: the next attempt reads the stack, and there is nothing to roll back.
    with pytest.raises(PromotionError, match=r"status: got 'failed'; allowed: serving"):
        env.step("rollback")
    retry = env.step("deploy", candidate=candidate, approval=APPROVAL)
    previous = read(env, "serving/manifests/current.json")["previous"]
    assert previous["action"] == "stack" and retry["noChange"] is False


# ---------------------------------------------------------------------------------------- rollout and finish


def test_rollout_status_reads_the_stack(env):
    for status, done, succeeded in [
        ("UPDATE_IN_PROGRESS", False, False),
        ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", False, False),
        ("UPDATE_ROLLBACK_IN_PROGRESS", False, False),
        ("UPDATE_ROLLBACK_COMPLETE", True, False),
        ("UPDATE_COMPLETE", True, True),
    ]:
        set_stack_status(status)
        result = env.step("rolloutStatus", stackName=STACK)
        assert result == {"status": status, "done": done, "succeeded": succeeded, "reason": ""}
    with pytest.raises(PromotionError, match=re.escape(f"stackName: got 'other'; allowed: {STACK}")):
        env.step("rolloutStatus", stackName="other")


def promoted(env: Env) -> tuple[dict[str, Any], dict[str, Any]]:
    candidate = approved_candidate(env)
    deployment = env.step("deploy", candidate=candidate, approval=APPROVAL)
    notices(env)
    return candidate, deployment


def test_a_successful_rollout_serves_and_is_recorded_on_the_version(env):
    candidate, deployment = promoted(env)
    rollout = env.step("rolloutStatus", stackName=STACK)
    result = env.step("finish", action="promote", deployment=deployment, rollout=rollout, candidate=candidate)
    assert result == {
        "status": "serving",
        "action": "promote",
        "manifestKey": deployment["manifestKey"],
        "version": 3,
        "reason": "",
    }
    current = read(env, "serving/manifests/current.json")
    assert current["status"] == "serving" and current["servingSince"]
    assert read(env, deployment["manifestKey"]) == current
    values = metadata(env, candidate["modelPackageArn"])
    assert values["production_status"] == "serving" and values["production_since"] == current["servingSince"]
    assert values["staging_validation"] == "passed"
    (notice,) = notices(env)
    assert notice["subject"] == "fmft-dev promotion: v3 rollout-succeeded"


def test_a_rolled_back_rollout_restores_the_previous_manifest(env):
    candidate, deployment = promoted(env)
    attempt = read(env, "serving/manifests/current.json")
    rollout = {
        "status": "UPDATE_ROLLBACK_COMPLETE",
        "done": True,
        "succeeded": False,
        "reason": "alarm fired",
    }
    result = env.step("finish", action="promote", deployment=deployment, rollout=rollout, candidate=candidate)
    assert (
        result["status"] == "rolled-back"
        and result["reason"] == "stack UPDATE_ROLLBACK_COMPLETE: alarm fired"
    )
    current = read(env, "serving/manifests/current.json")
    assert current["status"] == "serving" and current["variants"] == attempt["previous"]["variants"]
    assert current["restoredBecause"] == result["reason"]
    history = read(env, deployment["manifestKey"])
    assert history["status"] == "rolled-back" and history["reason"] == result["reason"]
    assert metadata(env, candidate["modelPackageArn"])["production_status"] == "rolled-back"
    assert "production_since" not in metadata(env, candidate["modelPackageArn"])
    assert events(env) == ["rollout-rolled-back"]


def test_finish_takes_the_attempts_action_and_a_retry_changes_nothing(env):
    candidate, deployment = promoted(env)
    rollout = {"status": "UPDATE_ROLLBACK_COMPLETE", "done": True, "succeeded": False, "reason": "alarm"}
    first = env.step("finish", deployment=deployment, rollout=rollout)
    assert first["action"] == "promote" and first["status"] == "rolled-back"
    restored = read(env, "serving/manifests/current.json")
    notices(env)
    env.log.clear()
    assert env.step("finish", deployment=deployment, rollout=rollout) == first
    assert read(env, "serving/manifests/current.json") == restored
    assert {op for _, op, _ in env.log} == {"ListObjectsV2", "GetObject"} and notices(env) == []
    again = env.step("deploy", candidate=candidate, approval=APPROVAL)
    with pytest.raises(
        PromotionError, match=re.escape("action: got 'rollback'; allowed: promote, the action")
    ):
        env.step("finish", action="rollback", deployment=again, rollout=rollout)


def test_finish_refuses_an_attempt_that_is_not_the_current_one(env):
    _, deployment = promoted(env)
    with pytest.raises(
        PromotionError, match=re.escape("deployment.manifestKey: got 'serving/manifests/history/x.json'")
    ):
        env.step(
            "finish",
            action="promote",
            deployment=deployment | {"manifestKey": "serving/manifests/history/x.json"},
            rollout={"succeeded": True},
        )
    with pytest.raises(PromotionError, match=re.escape("action: got 'ship'; allowed: promote or rollback")):
        env.step("finish", action="ship", deployment=deployment, rollout={})


# ------------------------------------------------------------------------------------------------- rollback


def served_promotion(env: Env) -> dict[str, Any]:
    candidate, deployment = promoted(env)
    env.step(
        "finish", action="promote", deployment=deployment, rollout=env.step("rolloutStatus", stackName=STACK)
    )
    notices(env)
    return candidate


def test_rollback_restores_the_set_that_served_before(env):
    candidate = served_promotion(env)
    promoted_manifest = read(env, "serving/manifests/current.json")
    # The state machine passes its input along: {"request": {"action": "rollback", "reason": ...}}.
    result = env.step("rollback", request={"action": "rollback", "reason": "  answers   got worse "})
    assert result["noChange"] is False and result["stackName"] == STACK
    assert re.fullmatch(r"serving/manifests/history/20261129T10\d\d00Z-rollback\.json", result["manifestKey"])
    current = read(env, "serving/manifests/current.json")
    assert current["status"] == "rolling-back" and current["action"] == "rollback"
    assert current["reason"] == "answers got worse"
    assert current["variants"] == promoted_manifest["previous"]["variants"]
    assert current["previous"] == {k: v for k, v in promoted_manifest.items() if k != "previous"}
    assert stack_parameters(env)["ModelPackageCurrent"] == env.served[0]
    assert stack_parameters(env)["ModelPackageBlue2"] == env.served[1]
    update = env.sent("UpdateStack")[-1]
    assert re.fullmatch(r"rollback-20261129T10\d\d00Z", update["ClientRequestToken"])
    assert {p["ParameterKey"]: p for p in update["Parameters"]}["ImageUri"] == {
        "ParameterKey": "ImageUri",
        "UsePreviousValue": True,
    }
    (notice,) = notices(env)
    assert notice["event"] == "rollback-started" and notice["reason"] == "answers got worse"
    finished = env.step("finish", deployment=result, rollout=env.step("rolloutStatus", stackName=STACK))
    assert finished["status"] == "serving" and finished["action"] == "rollback"
    assert read(env, "serving/manifests/current.json")["status"] == "serving"
    # A rollback records nothing on versions; the promoted one is still recorded as it was.
    assert metadata(env, candidate["modelPackageArn"])["production_status"] == "serving"


def test_rollback_needs_a_serving_manifest_with_a_previous_one(env):
    with pytest.raises(PromotionError, match=r"current.json: got None; allowed: a serving manifest"):
        env.step("rollback")
    promoted(env)
    with pytest.raises(PromotionError, match=r"status: got 'rolling-out'; allowed: serving"):
        env.step("rollback")


def test_rollback_to_a_version_since_rejected_is_refused(env):
    served_promotion(env)
    set_status(env, env.served[0], "Rejected")
    before = read(env, "serving/manifests/current.json")
    with pytest.raises(
        ManifestRefused, match=re.escape(f"variant current: {env.served[0]}: Rejected, not Approved")
    ):
        env.step("rollback", reason="x")
    assert read(env, "serving/manifests/current.json") == before
    assert len(keys(env, "serving/manifests/history/")) == 1


# ------------------------------------------------------------------------------------------ settings, wiring


def test_bad_settings_are_named_all_at_once(env):
    bad = {
        **env.cfg,
        "container": "vllm",
        "targetVariant": "",
        "validation": {**env.cfg["validation"], "maxNewTokens": 256, "extra": 1},
        "surprise": 1,
    }
    with pytest.raises(PromotionError) as raised:
        promotion.check_settings(bad)
    message = str(raised.value)
    assert "FMFT_PROMOTION_SETTINGS.container: got 'vllm'; allowed: lmi or tgi" in message
    assert "FMFT_PROMOTION_SETTINGS.targetVariant: got ''; allowed: a production variant name" in message
    assert (
        "FMFT_PROMOTION_SETTINGS.validation.maxNewTokens: got 256; allowed: a whole number from 1 to 100"
        in message
    )
    assert "FMFT_PROMOTION_SETTINGS.validation: unknown keys extra" in message
    assert "FMFT_PROMOTION_SETTINGS: unknown keys surprise" in message
    without = {k: v for k, v in env.cfg.items() if k != "goldenSetKey"}
    assert promotion.check_settings(without)["goldenSetKey"] is None


def test_the_handlers_read_their_settings_and_make_their_clients(env, monkeypatch):
    monkeypatch.setenv(promotion.SETTINGS_ENV, json.dumps(env.cfg))
    arn = register(env)
    result = promotion.step_handler({"step": "check", "modelPackageArn": arn, "executionName": "v3"})
    assert result["version"] == 3
    started = promotion.events_handler(state_change(arn, "PendingManualApproval"))
    assert started["outcome"] == "started"
    monkeypatch.setenv(promotion.SETTINGS_ENV, "{")
    with pytest.raises(PromotionError, match=re.escape("FMFT_PROMOTION_SETTINGS: got '{'; allowed: JSON")):
        promotion.step_handler({"step": "check"})


# ------------------------------------------------------------------------------------------------- command


def cli(env: Env, *args: str, settings: str | None = None) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        promotion.SETTINGS_ENV: settings if settings is not None else json.dumps(env.cfg),
    }
    return subprocess.run(
        [sys.executable, "-m", "training.registry.promotion", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_shows_status_and_starts_rollbacks_and_validations(env):
    served_promotion(env)
    arn = register(env)
    status = cli(env, "status")
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    assert shown["current"]["status"] == "serving" and shown["current"]["version"] == 3
    assert [h["status"] for h in shown["history"]] == ["serving"] and shown["pendingApprovals"] == []

    rollback = cli(env, "rollback", "--reason", "latency up")
    assert rollback.returncode == 0, rollback.stderr
    started = json.loads(rollback.stdout)
    assert re.fullmatch(r"rollback-\d{8}T\d{6}Z", started["name"])
    assert started["input"] == {"action": "rollback", "reason": "latency up"}
    described = env.sfn.describe_execution(executionArn=started["executionArn"])
    assert json.loads(described["input"]) == {"action": "rollback", "reason": "latency up"}

    validate = cli(env, "validate", "--model-package-arn", arn)
    assert validate.returncode == 0, validate.stderr
    started = json.loads(validate.stdout)
    assert re.fullmatch(r"v4-\d{8}T\d{6}Z", started["name"]) and started["input"] == {"modelPackageArn": arn}


def test_the_commands_requests_fit_the_api(env, monkeypatch, capsys):
    served_promotion(env)
    capsys.readouterr()  # the steps' log lines
    monkeypatch.setenv(promotion.SETTINGS_ENV, json.dumps(env.cfg))
    assert promotion.main(["rollback", "--reason", "why not"], aws=env.aws()) == 0
    assert promotion.main(["validate", "--model-package-arn", env.served[0]], aws=env.aws()) == 0
    assert promotion.main(["status", "--history", "1"], aws=env.aws()) == 0
    names = [p["name"] for p in env.sent("StartExecution")]
    assert len(names) == 2 and names[0].startswith("rollback-") and names[1].startswith("v1-")
    printed, decoder, at = capsys.readouterr().out, json.JSONDecoder(), 0
    documents = []
    while printed[at:].strip():
        document, end = decoder.raw_decode(printed, at + len(printed[at:]) - len(printed[at:].lstrip()))
        documents.append(document)
        at = end
    assert [d.get("name", "status")[:3] for d in documents] == ["rol", "v1-", "sta"]
    assert len(documents[2]["history"]) == 1 and documents[2]["current"]["status"] == "serving"


def test_the_command_refuses_bad_arguments_with_status_2(env):
    foreign = register(env, group=OTHER)
    cases = [
        (
            ("validate", "--model-package-arn", "nope"),
            "--model-package-arn: got 'nope'; allowed: a versioned model package ARN",
        ),
        (
            ("validate", "--model-package-arn", foreign),
            f"allowed: a version of the model package group {GROUP}",
        ),
        (
            ("validate", "--model-package-arn", env.served[0].rsplit("/", 1)[0] + "/99"),
            "allowed: a version the model registry knows",
        ),
        (("validate",), "the following arguments are required: --model-package-arn"),
        (("promote",), "unknown command 'promote'; allowed: status, rollback, validate"),
        (("status", "--history", "-1"), "--history: got -1; allowed: 0 or more"),
    ]
    for args, message in cases:
        done = cli(env, *args)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
    done = cli(env, "status", settings="{}")
    assert done.returncode == 2 and "FMFT_PROMOTION_SETTINGS.environment: got None" in done.stderr
    nothing = cli(env, "rollback")
    assert nothing.returncode == 1 and "no current.json; allowed: a serving manifest" in nothing.stderr
    assert env.sfn.list_executions(stateMachineArn=env.machine)["executions"] == []
