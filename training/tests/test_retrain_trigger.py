"""The retraining trigger (training/triggers/retrain.py) against a moto server: S3 listings, the SQS queue it
sends itself to, SageMaker pipeline executions and the SNS notices (delivered to an SQS subscription).

moto runs every pipeline execution to ``Succeeded`` at once; a running one is made by setting its status in
moto's in-process backend (the server runs in this process), the one thing its API cannot do."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest

from tools.api_model import services
from tools.api_model.records import Origin, Request
from tools.api_model.shapes import ShapeChecker
from training.triggers import retrain

BUCKET, PIPELINE, RAW = "fmft-dev-training-data", "fmft-dev-fine-tuning", "training-data/raw/"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def aws(moto_endpoint):
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).close()
    region = "us-east-1"
    s3, sm, sqs, sns = (boto3.client(s, region_name=region) for s in ("s3", "sagemaker", "sqs", "sns"))
    s3.create_bucket(Bucket=BUCKET)
    sm.create_pipeline(
        PipelineName=PIPELINE,
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Parameters": [], "Steps": []}),
        RoleArn="arn:aws:iam::123456789012:role/pipeline",
    )
    queue = sqs.create_queue(QueueName="retrain")["QueueUrl"]
    inbox = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn, Attributes={"RawMessageDelivery": "true"}
    )
    cfg = {
        "bucket": BUCKET,
        "rawPrefix": RAW,
        "pipelineName": PIPELINE,
        "inputParameter": "InputDataUri",
        "datasets": {"support": {"parameters": {"Epochs": "2"}}, "billing": {}},
        "quietSeconds": 600,
        "queueUrl": queue,
        "topicArn": topic,
        "maxWaitHours": 48,
        "historyDays": 30,
    }
    return {"s3": s3, "sm": RecordingSageMaker(sm), "sqs": sqs, "sns": sns, "cfg": cfg, "inbox": inbox}


class RecordingSageMaker:
    """The SageMaker client, keeping each StartPipelineExecution request to check it with botocore's model."""

    def __init__(self, client: Any) -> None:
        self.client, self.starts = client, []

    def start_pipeline_execution(self, **params: Any) -> Any:
        self.starts.append(params)
        return self.client.start_pipeline_execution(**params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def s3_event(key: str, bucket: str = BUCKET) -> dict[str, Any]:
    return {
        "version": "0",
        "source": "aws.s3",
        "detail-type": "Object Created",
        "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "detail": {"bucket": {"name": bucket}, "object": {"key": key, "size": 10, "etag": "x"}},
    }


def batch(*bodies: Any) -> dict[str, Any]:
    return {
        "Records": [
            {"messageId": f"m{i}", "body": b if isinstance(b, str) else json.dumps(b)}
            for i, b in enumerate(bodies)
        ]
    }


def run(aws: dict[str, Any], event: dict[str, Any], after_minutes: float) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=after_minutes)
    return retrain.handle(event, aws["cfg"], aws["s3"], aws["sm"], aws["sqs"], aws["sns"], now)


def upload(aws: dict[str, Any], *names: str, dataset: str = "support") -> list[str]:
    keys = [f"{RAW}{dataset}/{n}" for n in names]
    for key in keys:
        aws["s3"].put_object(Bucket=BUCKET, Key=key, Body=b'{"prompt": "a", "completion": "b"}\n')
    return keys


def queued(aws: dict[str, Any]) -> dict[str, int]:
    attributes = aws["sqs"].get_queue_attributes(QueueUrl=aws["cfg"]["queueUrl"], AttributeNames=["All"])[
        "Attributes"
    ]
    return {
        "visible": int(attributes["ApproximateNumberOfMessages"]),
        "delayed": int(attributes["ApproximateNumberOfMessagesDelayed"]),
    }


def pending_bodies(aws: dict[str, Any]) -> list[dict[str, Any]]:
    """The pending messages the function queued (read back from moto's backend: they are still delayed)."""
    from moto.backends import get_backend

    queue = get_backend("sqs")["123456789012"]["us-east-1"].queues["retrain"]
    return [
        json.loads(m.body) | {"delay": round((m.delayed_until - m.sent_timestamp) / 1000)}
        for m in queue._messages
    ]


def notices(aws: dict[str, Any]) -> list[str]:
    found = []
    while True:
        got = aws["sqs"].receive_message(QueueUrl=aws["inbox"], MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return found
        for m in got:
            found.append(m["Body"])
            aws["sqs"].delete_message(QueueUrl=aws["inbox"], ReceiptHandle=m["ReceiptHandle"])


def executions(aws: dict[str, Any]) -> list[dict[str, Any]]:
    return aws["sm"].list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]


def set_status(arn: str, status: str) -> None:
    from moto.backends import get_backend

    pipeline = get_backend("sagemaker")["123456789012"]["us-east-1"].pipelines[PIPELINE]
    pipeline.pipeline_executions[arn].pipeline_execution_status = status


def api_violations(params: dict[str, Any]) -> list[str]:
    request = Request(
        Origin("retrain", "test"), "state-machine task", "sagemaker", "StartPipelineExecution", params
    )
    shape = services.operation_model("sagemaker", "StartPipelineExecution").input_shape
    return [str(v) for v in ShapeChecker().check(request, shape)]


def test_a_burst_of_uploads_waits_for_quiet_then_starts_one_run(aws):
    keys = upload(aws, "a.jsonl", "b.jsonl", "c.jsonl")
    waiting = run(aws, batch(*(s3_event(k) for k in keys)), after_minutes=1)
    assert [o["outcome"] for o in waiting["outcomes"]] == ["waiting-for-quiet"]
    assert 530 <= waiting["outcomes"][0]["lookAgainInSeconds"] <= 541
    assert queued(aws) == {"visible": 0, "delayed": 1}
    assert executions(aws) == []
    # One pending message carries the three events; SQS gives it back when the quiet period ends.
    (pending,) = pending_bodies(aws)
    assert pending["trigger"] == "pending" and pending["dataset"] == "support"
    assert len(pending["reasons"]) == 3

    started = run(aws, batch(pending), after_minutes=11)
    (outcome,) = started["outcomes"]
    assert outcome["outcome"] == "started" and outcome["objects"] == 3
    (execution,) = executions(aws)
    assert execution["PipelineExecutionDisplayName"] == outcome["displayName"]
    assert (
        outcome["displayName"].startswith("support-") and len(outcome["displayName"]) == len("support-") + 12
    )
    params = aws["sm"].list_pipeline_parameters_for_execution(
        PipelineExecutionArn=execution["PipelineExecutionArn"]
    )
    assert {p["Name"]: p["Value"] for p in params["PipelineParameters"]} == {
        "InputDataUri": f"s3://{BUCKET}/{RAW}support/",
        "Epochs": "2",
    }
    (request,) = aws["sm"].starts
    assert len(request["ClientRequestToken"]) == 64
    assert api_violations(request) == []
    (notice,) = notices(aws)
    assert "started for dataset support (3 objects)" in notice and execution["PipelineExecutionArn"] in notice


def test_the_same_data_never_starts_a_second_run(aws):
    (key,) = upload(aws, "a.jsonl")
    first = run(aws, batch(s3_event(key), s3_event(key)), after_minutes=11)
    assert [o["outcome"] for o in first["outcomes"]] == ["started"]
    again = run(aws, batch(s3_event(key)), after_minutes=30)
    assert [o["outcome"] for o in again["outcomes"]] == ["already-started"]
    assert len(executions(aws)) == 1 and len(aws["sm"].starts) == 1


def test_new_data_during_a_run_waits_for_it_then_starts_the_next(aws):
    (first_key,) = upload(aws, "a.jsonl")
    first = run(aws, batch(s3_event(first_key)), after_minutes=11)["outcomes"][0]
    set_status(first["executionArn"], "Executing")
    (second_key,) = upload(aws, "b.jsonl")
    busy = run(aws, batch(s3_event(second_key)), after_minutes=11)["outcomes"][0]
    assert busy == {
        "dataset": "support",
        "outcome": "waiting-for-running-execution",
        "lookAgainInSeconds": 900,
    }
    # Another dataset is not held up by it.
    (billing_key,) = upload(aws, "x.jsonl", dataset="billing")
    assert run(aws, batch(s3_event(billing_key)), after_minutes=11)["outcomes"][0]["outcome"] == "started"

    set_status(first["executionArn"], "Succeeded")
    pending = [p for p in pending_bodies(aws) if p["dataset"] == "support"]
    assert [p["delay"] for p in pending] == [900]
    second = run(aws, batch(pending[0]), after_minutes=26)["outcomes"][0]
    assert second["outcome"] == "started" and second["displayName"] != first["displayName"]
    assert second["newestObject"] == second_key and second["objects"] == 2


def test_a_run_that_outlasts_max_wait_fails_the_message_to_the_dead_letter_queue(aws):
    (key,) = upload(aws, "a.jsonl")
    first = run(aws, batch(s3_event(key)), after_minutes=11)["outcomes"][0]
    set_status(first["executionArn"], "Executing")
    upload(aws, "b.jsonl")
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=49)).isoformat()
    old = {"trigger": "pending", "dataset": "support", "reasons": [], "since": since}
    (billing_key,) = upload(aws, "x.jsonl", dataset="billing")
    result = run(aws, batch(old, s3_event(billing_key)), after_minutes=11)
    assert result["batchItemFailures"] == [{"itemIdentifier": "m0"}]
    assert [o["dataset"] for o in result["outcomes"]] == ["billing"]


def test_refused_events_start_nothing_and_are_named_in_one_notice(aws):
    upload(aws, "a.jsonl", dataset="unknown")
    event = batch(
        s3_event(f"{RAW}unknown/a.jsonl"),
        s3_event(f"{RAW}loose-file.jsonl"),
        s3_event(f"{RAW}support/"),
        s3_event("training-data/processed/support/train.jsonl"),
        s3_event(f"{RAW}support/a.jsonl", bucket="someone-else"),
        "not json",
        {"trigger": "drift", "dataset": "nosuch", "alarm": "x", "time": "t"},
    )
    result = run(aws, event, after_minutes=11)
    assert result == {"batchItemFailures": [], "outcomes": []}
    assert executions(aws) == [] and queued(aws) == {"visible": 0, "delayed": 0}
    (notice,) = notices(aws)
    assert "dataset 'unknown' is not in training.retraining.datasets; allowed: billing, support" in notice
    assert f"s3://{BUCKET}/{RAW}loose-file.jsonl: no dataset folder; allowed: {RAW}<dataset>/<file>" in notice
    assert f"{RAW}support/: a folder marker, not a data file" in notice
    assert f"training-data/processed/support/train.jsonl: outside {RAW}: ignored" in notice
    assert f"not an object of s3://{BUCKET}/" in notice
    assert "not JSON" in notice and "dataset 'nosuch'" in notice


def test_a_dataset_without_objects_is_reported_not_started(aws):
    result = run(
        aws, batch({"trigger": "drift", "dataset": "billing", "alarm": "a", "time": "t"}), after_minutes=0
    )
    assert result["outcomes"][0]["outcome"] == "no-data" and executions(aws) == []
    assert f"no objects under s3://{BUCKET}/{RAW}billing/" in notices(aws)[0]


def test_each_drift_alarm_episode_starts_its_own_run_on_settled_data(aws):
    upload(aws, "a.jsonl")
    drift = {
        "trigger": "drift",
        "dataset": "support",
        "alarm": "fmft-dev-PromptTokensPsi",
        "time": "2026-11-29T10:00:00Z",
    }
    first = run(aws, batch(drift), after_minutes=11)["outcomes"][0]
    assert first["outcome"] == "started"
    assert first["reasons"] == ["alarm fmft-dev-PromptTokensPsi entered ALARM at 2026-11-29T10:00:00Z"]
    assert run(aws, batch(drift), after_minutes=12)["outcomes"][0]["outcome"] == "already-started"
    later = drift | {"time": "2026-11-30T10:00:00Z"}
    assert run(aws, batch(later), after_minutes=13)["outcomes"][0]["outcome"] == "started"
    assert len(executions(aws)) == 2


def test_an_aws_error_fails_only_its_datasets_messages(aws):
    upload(aws, "a.jsonl")
    upload(aws, "x.jsonl", dataset="billing")

    class FailingFor(RecordingSageMaker):
        def start_pipeline_execution(self, **params: Any) -> Any:
            if params["PipelineExecutionDisplayName"].startswith("billing-"):
                raise RuntimeError("throttled")
            return super().start_pipeline_execution(**params)

    aws["sm"] = FailingFor(aws["sm"].client)
    event = batch(s3_event(f"{RAW}support/a.jsonl"), s3_event(f"{RAW}billing/x.jsonl"))
    result = run(aws, event, after_minutes=11)
    assert result["batchItemFailures"] == [{"itemIdentifier": "m1"}]
    assert [o["dataset"] for o in result["outcomes"]] == ["support"]


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("support", True),
        ("support-chats-2", True),
        ("Support", False),
        ("a--b", False),
        ("-a", False),
        ("a" * 41, False),
        ("a_b", False),
    ],
)
def test_dataset_names_fit_the_display_name(name, ok):
    assert (retrain.dataset_problem(name) is None) is ok
    if ok:
        display = retrain.display_name(name, "0" * 64)
        assert (
            api_violations(
                {
                    "PipelineName": PIPELINE,
                    "PipelineExecutionDisplayName": display,
                    "ClientRequestToken": "0" * 64,
                }
            )
            == []
        )
        assert retrain.dataset_of_display_name(display) == name


def test_executions_named_by_others_are_not_taken_for_a_dataset():
    assert retrain.dataset_of_display_name("execution-1700000000") is None
    assert retrain.dataset_of_display_name("support-chats-0123456789ab") == "support-chats"
    assert retrain.dataset_of_display_name("") is None


def test_the_command_looks_at_one_dataset_as_the_trigger_would(aws):
    upload(aws, "a.jsonl")
    env = {**os.environ, "FMFT_RETRAIN_SETTINGS": json.dumps(aws["cfg"] | {"quietSeconds": 0})}
    command = [sys.executable, "-m", "training.triggers.retrain"]
    done = subprocess.run(
        [*command, "--dataset", "support"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["outcome"] == "started"
    assert len(executions(aws)) == 1
    bad = subprocess.run(
        [*command, "--dataset", "nosuch"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert bad.returncode == 2 and "dataset: got 'nosuch'; allowed: billing, support" in bad.stderr


# ---------------------------------------------------------------- a state machine target (Bedrock runs)

BEDROCK_PREFIX = "training-data/processed/bedrock/"


@pytest.fixture
def bedrock(aws):
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    machine = sfn.create_state_machine(
        name="fmft-dev-bedrock-customization",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    cfg = {k: v for k, v in aws["cfg"].items() if k != "pipelineName"}
    cfg.update(
        rawPrefix=BEDROCK_PREFIX,
        stateMachineArn=machine,
        inputParameter="datasetUri",
        requiredFile="train.jsonl",
        datasets=None,
    )
    return aws | {"cfg": cfg, "sm": sfn, "sfn": sfn, "machine": machine}


def bedrock_upload(env, dataset: str, *names: str) -> list[str]:
    keys = [f"{BEDROCK_PREFIX}{dataset}/{n}" for n in names]
    for key in keys:
        env["s3"].put_object(Bucket=BUCKET, Key=key, Body=b"{}\n")
    return keys


def sfn_executions(env) -> list[dict[str, Any]]:
    return env["sfn"].list_executions(stateMachineArn=env["machine"])["executions"]


def test_a_state_machine_run_starts_once_train_jsonl_is_there_and_never_twice(bedrock):
    (first,) = bedrock_upload(bedrock, "invoices-v1", "validation.jsonl")
    waiting = run(bedrock, batch(s3_event(first)), after_minutes=11)["outcomes"][0]
    assert waiting["outcome"] == "no-data" and "no train.jsonl under" in waiting["detail"]
    assert sfn_executions(bedrock) == []

    (train,) = bedrock_upload(bedrock, "invoices-v1", "train.jsonl")
    started = run(bedrock, batch(s3_event(train)), after_minutes=11)["outcomes"][0]
    assert started["outcome"] == "started" and started["displayName"].startswith("invoices-v1-")
    (execution,) = sfn_executions(bedrock)
    assert execution["name"] == started["displayName"]
    described = bedrock["sfn"].describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == {"datasetUri": f"s3://{BUCKET}/{BEDROCK_PREFIX}invoices-v1/"}

    # Running: the same data is the same run; after it ends, StartExecution refuses the name: still one run.
    assert (
        run(bedrock, batch(s3_event(train)), after_minutes=12)["outcomes"][0]["outcome"] == "already-started"
    )
    bedrock["sfn"].stop_execution(executionArn=execution["executionArn"])
    again = run(bedrock, batch(s3_event(train)), after_minutes=13)["outcomes"][0]
    assert again["outcome"] == "already-started" and len(sfn_executions(bedrock)) == 1


def test_new_data_waits_for_the_running_state_machine_run_of_its_dataset(bedrock):
    (train,) = bedrock_upload(bedrock, "invoices-v1", "train.jsonl")
    assert run(bedrock, batch(s3_event(train)), after_minutes=11)["outcomes"][0]["outcome"] == "started"
    (more,) = bedrock_upload(bedrock, "invoices-v1", "test.jsonl")
    busy = run(bedrock, batch(s3_event(more)), after_minutes=11)["outcomes"][0]
    assert busy["outcome"] == "waiting-for-running-execution"
    # Another folder is its own dataset.
    (other,) = bedrock_upload(bedrock, "claims-v2", "train.jsonl")
    assert run(bedrock, batch(s3_event(other)), after_minutes=11)["outcomes"][0]["outcome"] == "started"


def test_any_folder_may_be_a_dataset_if_its_name_can_name_a_run(bedrock):
    (key,) = bedrock_upload(bedrock, "Invoices_V1", "train.jsonl")
    result = run(bedrock, batch(s3_event(key)), after_minutes=11)
    assert result["outcomes"] == [] and sfn_executions(bedrock) == []
    (notice,) = notices(bedrock)
    assert "dataset folder 'Invoices_V1' cannot name a run; allowed: lowercase letters" in notice
