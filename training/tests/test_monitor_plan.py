"""The capture monitor's planner (training/monitor/plan.py) against a moto server: windows, the capture
manifest, ground truth picked up by upload time, baselines from the registry (of the version the promotion's
serving manifest says is served), and requests that botocore's model of CreateProcessingJob accepts.
moto does not emulate Bedrock's ListProvisionedModelThroughputs: that one call goes through botocore's
Stubber, which still validates every request against the service model (and each canned response too)."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tools.api_model import services
from tools.api_model.records import Origin, Request
from tools.api_model.shapes import ShapeChecker
from training.monitor import plan as planner
from training.registry.promotion import CURRENT_KEY

CODE_INPUTS = [
    planner.s3_input("code", "s3://artifacts/code/abc.gz", "/opt/ml/processing/input/code"),
    planner.s3_input("launcher", "s3://artifacts/code/abc.py", "/opt/ml/processing/input/launcher"),
]
SETTINGS = {
    "captureUri": "s3://fmft-capture/data-capture/",
    "outputUri": "s3://fmft-evaluation/evaluation/monitoring/",
    "intervalHours": 6,
    "jobNamePrefix": "fmft-prod",
    "codeInputs": CODE_INPUTS,
}
ENDPOINT, VARIANT = "fmft-prod-llm", "current"


@pytest.fixture
def aws(moto_endpoint):
    # The server lives for the session: start from an empty account.
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).close()
    s3 = boto3.client("s3", region_name="us-east-1")
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    for bucket in ("fmft-capture", "fmft-evaluation"):
        s3.create_bucket(Bucket=bucket)
    return s3, sagemaker


def model_package(sagemaker, group: str, baseline: str | None) -> str:
    sagemaker.create_model_package_group(ModelPackageGroupName=group)
    return add_version(sagemaker, group, baseline)


def add_version(sagemaker, group: str, baseline: str | None) -> str:
    """A new version of the existing ``group``, with ``baseline`` registered as its drift check baseline."""
    extra = (
        {
            "DriftCheckBaselines": {
                "ModelDataQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": baseline}}
            }
        }
        if baseline
        else {}
    )
    return sagemaker.create_model_package(
        ModelPackageGroupName=group,
        InferenceSpecification={
            "Containers": [
                {
                    "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/lmi:1",
                    "ModelDataUrl": "s3://m/model.tar.gz",
                }
            ],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        **extra,
    )["ModelPackageArn"]


def capture(s3, hour: str, name: str = "10-00-000-abc.jsonl") -> None:
    key = f"data-capture/{ENDPOINT}/{VARIANT}/{hour}/{name}"
    s3.put_object(Bucket="fmft-capture", Key=key, Body=b'{"captureData": {}}\n')


CAPTURE_ROOT = f"s3://fmft-capture/data-capture/{ENDPOINT}/{VARIANT}/"


def manifest(s3, run: dict, name: str) -> list:
    """The manifest behind the run's input ``name``, after checking the input is a ManifestFile input whose
    object is under the run's prefix."""
    [item] = [i["S3Input"] for i in run["inputs"] if i["InputName"] == name]
    assert item["S3DataType"] == "ManifestFile" and item["LocalPath"] == f"/opt/ml/processing/input/{name}"
    assert item["S3Uri"].startswith(run["outputUri"] + "manifests/")
    bucket, key = planner.split_s3_uri(item["S3Uri"])
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def input_names(run: dict) -> list[str]:
    return [i["InputName"] for i in run["inputs"]]


def create_processing_job_problems(run: dict, window_start: str, window_end: str) -> list[str]:
    """What botocore's CreateProcessingJob model says about the job the state machine builds from ``run``."""
    params = {
        "ProcessingJobName": run["jobName"],
        "RoleArn": "arn:aws:iam::123456789012:role/monitor",
        "AppSpecification": {
            "ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/images:processing",
            "ContainerArguments": [
                "--endpoint-name",
                run["endpointName"],
                "--model-id",
                run["modelId"],
                "--window-start",
                window_start,
                "--window-end",
                window_end,
            ],
        },
        "ProcessingInputs": run["inputs"],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "monitor",
                    "S3Output": {
                        "S3Uri": run["outputUri"],
                        "LocalPath": planner.OUTPUT_PATH,
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}
        },
    }
    request = Request(
        Origin("planner", "test"), "state-machine task", "sagemaker", "CreateProcessingJob", params
    )
    shape = services.operation_model("sagemaker", "CreateProcessingJob").input_shape
    return [str(v) for v in ShapeChecker().check(request, shape)]


def test_the_window_is_the_whole_hours_before_the_scheduled_time():
    start, end = planner.window_of("2026-11-29T10:10:07Z", 6)
    assert (planner.iso(start), planner.iso(end)) == ("2026-11-29T04:00:00Z", "2026-11-29T10:00:00Z")
    start, end = planner.window_of("2026-11-29T11:10:00+01:00", 1)
    assert (planner.iso(start), planner.iso(end)) == ("2026-11-29T09:00:00Z", "2026-11-29T10:00:00Z")


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"scheduledTime": "yesterday", "targets": []}, "scheduledTime: got 'yesterday'"),
        ({"scheduledTime": "2026-11-29T10:10:00", "targets": []}, "with its offset"),
        ({"scheduledTime": "2026-11-29T10:10:00Z", "targets": {}}, "targets: got {}"),
        (
            {
                "scheduledTime": "2026-11-29T10:10:00Z",
                "targets": [{"endpointName": "a_b", "variantName": "v"}],
            },
            "targets[0].endpointName: got 'a_b'",
        ),
        (
            {
                "scheduledTime": "2026-11-29T10:10:00Z",
                "targets": [{"endpointName": "e", "variantName": "v", "modelPackageArn": "x"}],
            },
            "targets[0].modelPackageArn: got 'x'",
        ),
    ],
)
def test_bad_input_names_the_field_and_the_value(event, message):
    with pytest.raises(planner.PlanInputError) as error:
        planner.plan(event, SETTINGS, s3=None, sagemaker=None)
    assert message in str(error.value)


def test_hours_with_capture_and_the_registered_baseline_become_the_jobs_inputs(aws):
    s3, sagemaker = aws
    baseline = "s3://fmft-data/training-data/processed/exec-1/baseline/baseline.json"
    arn = model_package(sagemaker, "models", baseline)
    capture(s3, "2026/11/29/05")
    capture(s3, "2026/11/29/09")
    capture(s3, "2026/11/29/10")  # after the window
    event = {
        "scheduledTime": "2026-11-29T10:10:00Z",
        "executionName": "run-1",
        "targets": [{"endpointName": ENDPOINT, "variantName": VARIANT, "modelPackageArn": arn}],
    }

    result = planner.plan(event, SETTINGS, s3, sagemaker)

    assert (result["windowStart"], result["windowEnd"]) == ("2026-11-29T04:00:00Z", "2026-11-29T10:00:00Z")
    [run] = result["runs"]
    assert run["hasData"] is True and run["hoursWithData"] == 2 and run["baselineUri"] == baseline
    assert run["captureFiles"] == 2 and run["hasGroundTruth"] is False and run["groundTruthFiles"] == 0
    assert input_names(run) == ["code", "launcher", "capture", "baseline"]
    uris = [i["S3Input"]["S3Uri"] for i in run["inputs"]]
    assert uris == [
        "s3://artifacts/code/abc.gz",
        "s3://artifacts/code/abc.py",
        f"{run['outputUri']}manifests/capture.json",
        baseline,
    ]
    # SageMaker's manifest: the shared prefix, then each key relative to it; the files land under the
    # input's LocalPath with those relative keys, so the job reads them as it read the hour inputs.
    assert manifest(s3, run, "capture") == [
        {"prefix": CAPTURE_ROOT},
        "2026/11/29/05/10-00-000-abc.jsonl",
        "2026/11/29/09/10-00-000-abc.jsonl",
    ]
    assert run["inputs"][-1]["S3Input"]["LocalPath"] == planner.BASELINE_PATH
    assert (
        run["metricsKey"]
        == f"evaluation/monitoring/{ENDPOINT}/{VARIANT}/2026/11/29/10/{run['jobName']}/metrics.json"
    )
    assert run["outputUri"] == f"s3://fmft-evaluation/{run['metricsKey'][: -len('metrics.json')]}"
    assert run["dimensions"] == [
        {"Name": "EndpointName", "Value": ENDPOINT},
        {"Name": "VariantName", "Value": VARIANT},
    ]
    assert create_processing_job_problems(run, result["windowStart"], result["windowEnd"]) == []


class PagingS3:
    """The S3 client, listing two keys a page (ListObjectsV2's own pagination, which moto implements) and
    counting the listings: the planner must follow every page."""

    def __init__(self, s3: Any) -> None:
        self.s3, self.listings = s3, []

    def list_objects_v2(self, **params: Any) -> dict[str, Any]:
        self.listings.append(params)
        return self.s3.list_objects_v2(**params, MaxKeys=2)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3, name)


def test_every_file_of_every_hour_is_one_manifest_input_whatever_the_window(aws):
    s3, sagemaker = aws
    arn = model_package(sagemaker, "models", "s3://fmft-data/baseline/baseline.json")
    for hour in range(4, 10):
        for minute in range(5):
            capture(s3, f"2026/11/29/{hour:02d}", f"{minute:02d}-00-000-abc.jsonl")
    s3.put_object(Bucket="fmft-capture", Key=f"data-capture/{ENDPOINT}/{VARIANT}/2026/11/29/06/", Body=b"")
    event = {
        "scheduledTime": "2026-11-29T10:10:00Z",
        "targets": [{"endpointName": ENDPOINT, "variantName": VARIANT, "modelPackageArn": arn}],
    }
    paging = PagingS3(s3)

    [run] = planner.plan(event, SETTINGS, paging, sagemaker)["runs"]

    assert input_names(run) == ["code", "launcher", "capture", "baseline"]
    assert (run["hoursWithData"], run["captureFiles"]) == (6, 30)
    expected = [f"2026/11/29/{h:02d}/{m:02d}-00-000-abc.jsonl" for h in range(4, 10) for m in range(5)]
    assert manifest(s3, run, "capture") == [{"prefix": CAPTURE_ROOT}, *expected]  # no folder marker
    assert sum("ContinuationToken" in p for p in paging.listings) == 6 * 2  # 5 keys: 3 pages an hour
    assert create_processing_job_problems(run, "a", "b") == []


def test_a_window_without_capture_is_reported_empty_and_needs_no_registry_call(aws):
    s3, _ = aws
    event = {
        "scheduledTime": "2026-11-29T10:10:00Z",
        "targets": [
            {
                "endpointName": ENDPOINT,
                "variantName": VARIANT,
                "modelPackageArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/none/1",
            }
        ],
    }
    [run] = planner.plan(event, SETTINGS, s3, sagemaker=None)["runs"]
    assert run["hasData"] is False and run["baselineUri"] is None and run["inputs"] == CODE_INPUTS
    assert (run["hoursWithData"], run["captureFiles"]) == (0, 0)
    assert "Contents" not in s3.list_objects_v2(Bucket="fmft-evaluation")  # no manifest written


def test_a_version_without_a_baseline_and_a_target_without_a_version_run_for_output_health(aws):
    s3, sagemaker = aws
    arn = model_package(sagemaker, "old-models", None)
    capture(s3, "2026/11/29/09")
    event = {
        "scheduledTime": "2026-11-29T10:10:00Z",
        "targets": [
            {"endpointName": ENDPOINT, "variantName": VARIANT, "modelPackageArn": arn},
            {"endpointName": ENDPOINT, "variantName": VARIANT},
        ],
    }
    runs = planner.plan(event, SETTINGS, s3, sagemaker)["runs"]
    assert [r["baselineUri"] for r in runs] == [None, None]
    assert all(r["hasData"] and len(r["inputs"]) == 3 for r in runs)


def test_job_names_are_unique_per_target_window_and_execution_and_fit_the_api():
    end = dt.datetime(2026, 11, 29, 10, tzinfo=dt.UTC)
    names = {
        planner.job_name("fmft-prod", e, v, end, x)
        for e in ("fmft-prod-llm", "fmft-prod-llm-shared")
        for v in ("current", "AllTraffic")
        for x in ("run-1", "run-2")
    }
    assert len(names) == 8
    longest = planner.job_name("a" * 20, "e", "v", end, "x")
    assert len(longest) <= 63
    with pytest.raises(ValueError, match="over 63"):
        planner.job_name("a" * 40, "e", "v", end, "x")


def test_the_handler_reads_its_settings_from_the_environment(aws, monkeypatch):
    s3, _ = aws
    capture(s3, "2026/11/29/09")
    monkeypatch.setenv("FMFT_MONITOR_SETTINGS", json.dumps(SETTINGS))
    result = planner.handler(
        {
            "scheduledTime": "2026-11-29T10:10:00Z",
            "executionName": "x",
            "targets": [{"endpointName": ENDPOINT, "variantName": VARIANT}],
        }
    )
    assert result["runs"][0]["hoursWithData"] == 1


# ---------------------------------------------------------------------------------------------------------
# the quality canary

CANARY = {"records": 20, "task": "summarization", "goldenSetUri": None}
PREPARED = "s3://fmft-data/training-data/processed/exec-1/"


def canary_settings(**canary) -> dict:
    return {**SETTINGS, "canary": {**CANARY, **canary}}


def one_target(arn: str | None = None) -> dict:
    target = {"endpointName": ENDPOINT, "variantName": VARIANT}
    return {
        "scheduledTime": "2026-11-29T10:10:00Z",
        "executionName": "run-1",
        "targets": [{**target, "modelPackageArn": arn} if arn else target],
    }


def test_a_configured_golden_set_is_asked_and_its_answers_become_the_jobs_canary_input(aws):
    s3, sagemaker = aws
    baseline = f"{PREPARED}baseline/baseline.json"
    arn = model_package(sagemaker, "models", baseline)
    capture(s3, "2026/11/29/09")
    golden = "s3://fmft-data/training-data/processed/golden/claims.jsonl"
    settings = canary_settings(goldenSetUri=golden, task="qa", records=50)

    [run] = planner.plan(one_target(arn), settings, s3, sagemaker)["runs"]

    prefix = run["metricsKey"][: -len("metrics.json")]
    assert run["hasCanary"] is True and run["canarySkipped"] is None and run["hasData"] is True
    assert run["canary"] == {
        "goldenUri": golden,
        "predictionsBucket": "fmft-evaluation",
        "predictionsKey": f"{prefix}canary/predictions.jsonl",
        "records": 50,
        "task": "qa",
    }
    assert input_names(run) == ["code", "launcher", "capture", "baseline", "canary"]
    assert run["inputs"][-1]["S3Input"]["S3Uri"] == f"s3://fmft-evaluation/{prefix}canary/"
    assert run["inputs"][-1]["S3Input"]["LocalPath"] == "/opt/ml/processing/input/canary"
    assert create_processing_job_problems(run, "a", "b") == []


def test_without_a_configured_set_the_served_versions_test_split_is_the_golden_set_even_without_capture(aws):
    s3, sagemaker = aws
    arn = model_package(sagemaker, "models", f"{PREPARED}baseline/baseline.json")

    [run] = planner.plan(one_target(arn), canary_settings(), s3, sagemaker)["runs"]

    # No capture in the window: the job still runs, to score the canary (and reports the empty window).
    assert run["hasData"] is True and run["hoursWithData"] == 0 and run["hasCanary"] is True
    assert run["canary"]["goldenUri"] == f"{PREPARED}test/test.jsonl"
    assert (run["canary"]["records"], run["canary"]["task"]) == (20, "summarization")
    assert [i["InputName"] for i in run["inputs"]] == ["code", "launcher", "baseline", "canary"]
    assert create_processing_job_problems(run, "a", "b") == []


@pytest.mark.parametrize(
    ("baseline", "why"),
    [
        (None, "has no registered baseline"),
        ("s3://elsewhere/stats/statistics.json", "is not <prefix>/baseline/baseline.json"),
        ("no version", "names no model package version"),
    ],
)
def test_no_golden_set_means_no_canary_for_the_target_and_says_why(aws, baseline, why):
    s3, sagemaker = aws
    arn = None if baseline == "no version" else model_package(sagemaker, "models", baseline)

    [run] = planner.plan(one_target(arn), canary_settings(), s3, sagemaker)["runs"]

    assert run["hasCanary"] is False and run["canary"] is None and why in run["canarySkipped"]
    assert run["hasData"] is False and run["inputs"] == CODE_INPUTS  # nothing to read, nothing to score
    capture(s3, "2026/11/29/09")
    [run] = planner.plan(one_target(arn), canary_settings(), s3, sagemaker)["runs"]
    assert run["hasData"] is True and run["hasCanary"] is False
    assert "canary" not in [i["InputName"] for i in run["inputs"]]


def test_without_canary_settings_runs_say_so_and_keep_their_inputs(aws):
    s3, sagemaker = aws
    capture(s3, "2026/11/29/09")
    for settings in (SETTINGS, {**SETTINGS, "canary": None}):
        [run] = planner.plan(one_target(), settings, s3, sagemaker)["runs"]
        assert (run["hasCanary"], run["canary"], run["canarySkipped"]) == (False, None, None)
        assert len(run["inputs"]) == 3


@pytest.mark.parametrize(
    ("canary", "message"),
    [
        ({"records": 0}, "canary.records: got 0; allowed: a whole number from 1 to 500"),
        ({"records": 501}, "canary.records: got 501"),
        ({"task": "perplexity"}, "canary.task: got 'perplexity'; allowed: classification, summarization, qa"),
        ({"goldenSetUri": "golden.jsonl"}, "canary.goldenSetUri: got 'golden.jsonl'"),
    ],
)
def test_bad_canary_settings_name_the_field(canary, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        planner.plan(one_target(), canary_settings(**canary), s3=None, sagemaker=None)


def test_the_handler_reads_the_canary_settings_from_the_environment(aws, monkeypatch):
    _, sagemaker = aws
    golden = "s3://fmft-data/training-data/processed/golden.jsonl"
    monkeypatch.setenv("FMFT_MONITOR_SETTINGS", json.dumps(canary_settings(goldenSetUri=golden)))
    [run] = planner.handler(one_target(model_package(sagemaker, "models", None)))["runs"]
    assert run["hasData"] is True and run["canary"]["goldenUri"] == golden


def test_a_configured_golden_set_is_still_not_sent_to_a_target_without_a_version(aws):
    s3, _ = aws
    golden = "s3://fmft-data/training-data/processed/golden.jsonl"
    [run] = planner.plan(one_target(), canary_settings(goldenSetUri=golden), s3, sagemaker=None)["runs"]
    assert run["hasCanary"] is False and "names no model package version" in run["canarySkipped"]


# ---------------------------------------------------------------------------------------------------------
# ground truth uploaded later, by inference id

GROUND_TRUTH_URI = "s3://fmft-evaluation/evaluation/ground-truth/"
GROUND_TRUTH_ROOT = f"{GROUND_TRUTH_URI}{ENDPOINT}/{VARIANT}/"
HOUR = dt.timedelta(hours=1)


def truth_settings(**changes: Any) -> dict:
    truth = {"uri": GROUND_TRUTH_URI, "task": "classification", "lookbackHours": 24, **changes}
    return {**SETTINGS, "groundTruth": truth}


def upload_truth(s3, hour: dt.datetime, name: str = "batch.jsonl", variant: str = VARIANT) -> str:
    """Upload a ground-truth file for requests of ``hour``; moto stamps LastModified now. Returns its key
    relative to the target's ground-truth root."""
    relative = f"{hour:%Y/%m/%d/%H}/{name}"
    key = f"evaluation/ground-truth/{ENDPOINT}/{variant}/{relative}"
    s3.put_object(Bucket="fmft-evaluation", Key=key, Body=b'{"inferenceId": "a", "label": "pos"}\n')
    return relative


def this_hour() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)


def at(scheduled: dt.datetime, arn: str | None = None) -> dict:
    return {**one_target(arn), "scheduledTime": planner.iso(scheduled)}


def test_ground_truth_uploaded_in_the_window_and_the_capture_of_its_request_hours_become_two_manifests(aws):
    s3, sagemaker = aws
    hour = this_hour()
    # A 6-hour window around now, [hour - 4 h, hour + 2 h): what is uploaded now is uploaded in it. The
    # request hours looked back on are the 24 before its end, from hour - 22 h.
    recent, older, too_old = hour - HOUR, hour - 20 * HOUR, hour - 30 * HOUR
    uploaded = [upload_truth(s3, older, "c.jsonl"), upload_truth(s3, recent, "a.jsonl")]
    uploaded.append(upload_truth(s3, recent, "b.jsonl"))
    upload_truth(s3, too_old)  # a request older than the lookback
    upload_truth(s3, recent, variant="other")  # another target's
    for extra in (f"{recent:%Y/%m/%d/%H}/", "notes.txt", f"{recent:%Y/%m/%d}/xx/z.jsonl"):
        s3.put_object(Bucket="fmft-evaluation", Key=f"evaluation/ground-truth/{ENDPOINT}/{VARIANT}/{extra}")
    # Capture of the request hours, of the hour either side of each, and of hours no ground truth names.
    for when in (
        recent - HOUR,
        recent,
        recent + HOUR,
        recent + 2 * HOUR,
        older - HOUR,
        older,
        older + 2 * HOUR,
    ):
        capture(s3, f"{when:%Y/%m/%d/%H}")
    capture(s3, f"{too_old:%Y/%m/%d/%H}")
    counting = CountingS3(s3)

    result = planner.plan(at(hour + 2 * HOUR), truth_settings(), counting, sagemaker)

    [run] = result["runs"]
    assert (run["hasGroundTruth"], run["groundTruthFiles"], run["hasData"]) == (True, 3, True)
    assert input_names(run) == ["code", "launcher", "capture", "ground-truth", "ground-truth-capture"]
    assert manifest(s3, run, "ground-truth") == [{"prefix": GROUND_TRUTH_ROOT}, *uploaded]
    assert manifest(s3, run, "ground-truth-capture") == [
        {"prefix": CAPTURE_ROOT},
        *(
            f"{h:%Y/%m/%d/%H}/10-00-000-abc.jsonl"
            for h in (older - HOUR, older, recent - HOUR, recent, recent + HOUR)
        ),
    ]
    # The window's own capture is the other manifest: hours hour - 4 h to hour + 1 h.
    window = [
        f"{h:%Y/%m/%d/%H}/10-00-000-abc.jsonl" for h in (recent - HOUR, recent, recent + HOUR, hour + HOUR)
    ]
    assert manifest(s3, run, "capture") == [{"prefix": CAPTURE_ROOT}, *window]
    # One listing of the target's ground truth, however many of the 24 hours are empty.
    truth_listings = [p for p in counting.prefixes if "/evaluation/ground-truth/" in p]
    assert truth_listings == [GROUND_TRUTH_ROOT]
    assert create_processing_job_problems(run, result["windowStart"], result["windowEnd"]) == []


def test_ground_truth_uploaded_before_or_after_a_window_belongs_to_another_run(aws):
    s3, sagemaker = aws
    hour = this_hour()
    upload_truth(s3, hour - HOUR)
    capture(s3, f"{hour - HOUR:%Y/%m/%d/%H}")
    # [hour - 6 h, hour) ended before the upload; [hour + 2 h, hour + 8 h) starts after it. Both look back
    # far enough to name the request's hour.
    for scheduled in (hour, hour + 8 * HOUR):
        [run] = planner.plan(at(scheduled), truth_settings(), s3, sagemaker)["runs"]
        assert (run["hasGroundTruth"], run["groundTruthFiles"]) == (False, 0)
        assert not {"ground-truth", "ground-truth-capture"} & set(input_names(run))
    [run] = planner.plan(at(hour + HOUR), truth_settings(), s3, sagemaker)["runs"]
    assert run["groundTruthFiles"] == 1


def test_ground_truth_alone_is_data_and_without_its_capture_the_job_reports_it_unmatched(aws):
    s3, sagemaker = aws
    hour = this_hour()
    arn = model_package(sagemaker, "models", f"{PREPARED}baseline/baseline.json")
    upload_truth(s3, hour - 10 * HOUR)  # no capture anywhere

    [run] = planner.plan(at(hour + HOUR, arn), truth_settings(task="qa"), s3, sagemaker)["runs"]

    assert run["hasData"] is True and run["hoursWithData"] == 0 and run["hasGroundTruth"] is True
    assert input_names(run) == ["code", "launcher", "baseline", "ground-truth"]
    assert create_processing_job_problems(run, "a", "b") == []


def test_configured_ground_truth_with_nothing_uploaded_adds_nothing(aws):
    s3, _ = aws
    [run] = planner.plan(at(this_hour() + HOUR), truth_settings(), s3, sagemaker=None)["runs"]
    assert (run["hasGroundTruth"], run["groundTruthFiles"], run["hasData"]) == (False, 0, False)
    assert run["inputs"] == CODE_INPUTS
    assert "Contents" not in s3.list_objects_v2(Bucket="fmft-evaluation")


def test_capture_baseline_canary_and_ground_truth_are_seven_inputs_and_more_code_inputs_overflow(aws):
    s3, sagemaker = aws
    hour = this_hour()
    arn = model_package(sagemaker, "models", f"{PREPARED}baseline/baseline.json")
    upload_truth(s3, hour - HOUR)
    for when in range(-5, 2):
        capture(s3, f"{hour + when * HOUR:%Y/%m/%d/%H}")
    settings = {**truth_settings(), "canary": CANARY}

    [run] = planner.plan(at(hour + 2 * HOUR, arn), settings, s3, sagemaker)["runs"]

    assert input_names(run) == [
        "code",
        "launcher",
        "capture",
        "baseline",
        "canary",
        "ground-truth",
        "ground-truth-capture",
    ]
    assert create_processing_job_problems(run, "a", "b") == []
    extras = [
        planner.s3_input(f"extra{i}", "s3://artifacts/x", f"/opt/ml/processing/input/x{i}") for i in range(4)
    ]
    with pytest.raises(ValueError, match=r"11 processing inputs .* allows 10"):
        planner.plan(
            at(hour + 2 * HOUR, arn), {**settings, "codeInputs": [*CODE_INPUTS, *extras]}, s3, sagemaker
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"uri": "s3://fmft-evaluation/evaluation/ground-truth"}, "groundTruth.uri: got 's3://fmft-evalu"),
        (
            {"task": "perplexity"},
            "groundTruth.task: got 'perplexity'; allowed: classification, summarization, qa",
        ),
        ({"lookbackHours": 0}, "groundTruth.lookbackHours: got 0; allowed: a whole number from 1 to 168"),
        ({"lookbackHours": 169}, "groundTruth.lookbackHours: got 169"),
        ({"lookbackHours": True}, "groundTruth.lookbackHours: got True"),
    ],
)
def test_bad_ground_truth_settings_name_the_field(change, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        planner.plan(one_target(), truth_settings(**change), s3=None, sagemaker=None)


# ---------------------------------------------------------------------------------------------------------
# Bedrock provisioned models

LOGS = "s3://fmft-records/bedrock-invocations/AWSLogs/123456789012/BedrockModelInvocationLogs/us-east-1/"
REPORTS = "s3://fmft-evaluation/evaluation/reports/bedrock/"
BEDROCK = {"namePrefix": "fmft-prod", "invocationLogsUri": LOGS, "reportsUri": REPORTS}


def bedrock_settings(**changes: Any) -> dict:
    return {**SETTINGS, "bedrock": {**BEDROCK, **changes}}


def throughput(name: str) -> dict[str, Any]:
    arn = f"arn:aws:bedrock:us-east-1:123456789012:provisioned-model/{name[-6:]}"
    created = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    model = f"arn:aws:bedrock:us-east-1:123456789012:custom-model/{name}"
    return {
        "provisionedModelName": name,
        "provisionedModelArn": arn,
        "modelArn": model,
        "desiredModelArn": model,
        "foundationModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0:128k",
        "modelUnits": 1,
        "desiredModelUnits": 1,
        "status": "InService",
        "creationTime": created,
        "lastModifiedTime": created,
    }


def listed(*pages: list[str]) -> Any:
    """A bedrock client whose ListProvisionedModelThroughputs answers ``pages`` of names, in order, and
    expects the planner's request for each (InService, the name prefix, the previous page's token)."""
    bedrock = boto3.client("bedrock", region_name="us-east-1")
    stub = Stubber(bedrock)
    for i, names in enumerate(pages):
        last = i == len(pages) - 1
        response: dict[str, Any] = {"provisionedModelSummaries": [throughput(n) for n in names]}
        if not last:
            response["nextToken"] = f"page-{i + 2}"
        request: dict[str, Any] = {
            "statusEquals": "InService",
            "nameContains": "fmft-prod-",
            "maxResults": 1000,
        }
        if i:
            request["nextToken"] = f"page-{i + 1}"
        stub.add_response("list_provisioned_model_throughputs", response, request)
    stub.activate()
    bedrock.stub = stub
    return bedrock


class CountingS3:
    """The S3 client, counting the prefixes listed: each hour of the shared invocation logs once a plan."""

    def __init__(self, s3: Any) -> None:
        self.s3, self.prefixes = s3, []

    def list_objects_v2(self, **params: Any) -> dict[str, Any]:
        self.prefixes.append(f"s3://{params['Bucket']}/{params['Prefix']}")
        return self.s3.list_objects_v2(**params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3, name)


def invocation_log(s3, hour: str) -> None:
    bucket, prefix = planner.split_s3_uri(LOGS)
    s3.put_object(Bucket=bucket, Key=f"{prefix}{hour}/20261129T0512Z_abc.json.gz", Body=b"x")


@pytest.fixture
def logs_bucket(aws):
    s3, sagemaker = aws
    s3.create_bucket(Bucket="fmft-records")
    return s3, sagemaker


def test_the_platforms_provisioned_models_are_runs_over_the_invocation_log_hours(logs_bucket):
    s3, sagemaker = logs_bucket
    invocation_log(s3, "2026/11/29/05")
    invocation_log(s3, "2026/11/29/09")
    invocation_log(s3, "2026/11/29/10")  # after the window
    capture(s3, "2026/11/29/09")
    baseline = f"{REPORTS}fmft-prod-claims-v2/baseline.json"
    s3.put_object(Bucket="fmft-evaluation", Key=planner.split_s3_uri(baseline)[1], Body=b"{}")
    # Another account's model, and a name that only shares the first characters of the prefix.
    bedrock = listed(["fmft-prod-invoices-v1", "team-b-model", "fmft-production-x"], ["fmft-prod-claims-v2"])
    counting = CountingS3(s3)

    result = planner.plan(one_target(), bedrock_settings(), counting, sagemaker, bedrock)

    bedrock.stub.assert_no_pending_responses()
    endpoint, claims, invoices = result["runs"]
    assert (endpoint["endpointName"], endpoint["modelId"], endpoint["hoursWithData"]) == (ENDPOINT, "", 1)
    assert [r["endpointName"] for r in (claims, invoices)] == ["fmft-prod-claims-v2", "fmft-prod-invoices-v1"]
    assert claims["modelId"] == throughput("fmft-prod-claims-v2")["provisionedModelArn"]
    assert invoices["modelId"] == throughput("fmft-prod-invoices-v1")["provisionedModelArn"]
    for run in (claims, invoices):
        assert run["variantName"] == planner.BEDROCK_VARIANT == "bedrock"
        assert run["hasData"] is True and run["hoursWithData"] == 2 and run["captureFiles"] == 2
        # Each model's own manifest of the account's hours (the job keeps its model's lines).
        assert manifest(s3, run, "capture") == [
            {"prefix": LOGS},
            "2026/11/29/05/20261129T0512Z_abc.json.gz",
            "2026/11/29/09/20261129T0512Z_abc.json.gz",
        ]
        assert (run["hasCanary"], run["canary"], run["canarySkipped"]) == (False, None, None)
        name = run["endpointName"]
        assert (
            run["metricsKey"]
            == f"evaluation/monitoring/{name}/bedrock/2026/11/29/10/{run['jobName']}/metrics.json"
        )
        assert run["dimensions"] == [
            {"Name": "EndpointName", "Value": name},
            {"Name": "VariantName", "Value": "bedrock"},
        ]
        assert create_processing_job_problems(run, result["windowStart"], result["windowEnd"]) == []
    # The baseline the customization workflow's prepare step wrote, when there is one.
    assert claims["baselineUri"] == baseline and claims["inputs"][-1] == planner.s3_input(
        "baseline", baseline, planner.BASELINE_PATH
    )
    assert invoices["baselineUri"] is None  # the job reports BaselineMissing
    assert input_names(invoices) == ["code", "launcher", "capture"]
    assert len({endpoint["jobName"], claims["jobName"], invoices["jobName"]}) == 3
    # Both models read the same account-wide hours: each hour prefix is listed once.
    log_hours = [p for p in counting.prefixes if p.startswith(LOGS)]
    assert len(log_hours) == len(set(log_hours)) == 6
    assert create_processing_job_problems(endpoint, "a", "b") == []


def test_a_provisioned_model_without_invocation_logs_in_the_window_needs_no_job(logs_bucket):
    s3, _ = logs_bucket
    invocation_log(s3, "2026/11/29/03")  # before the window
    bedrock = listed(["fmft-prod-claims-v2"])
    [run] = planner.plan({**one_target(), "targets": []}, bedrock_settings(), s3, None, bedrock)["runs"]
    assert run["hasData"] is False and run["baselineUri"] is None and run["inputs"] == CODE_INPUTS


CLAIMS_BASELINE = f"{REPORTS}fmft-prod-claims-v2/baseline.json"
CLAIMS_TEST = f"{PREPARED}test.jsonl"


def put_bedrock_baseline(s3, source: Any = ..., body: bytes | None = None) -> None:
    """The claims run's baseline.json as the customization workflow's prepare writes it: a profile with the
    run's ``source`` (left out when ``...``: a baseline written before it was recorded)."""
    document: dict[str, Any] = {"schemaVersion": 1, "records": 10}
    if source is not ...:
        document["source"] = source
    key = planner.split_s3_uri(CLAIMS_BASELINE)[1]
    s3.put_object(Bucket="fmft-evaluation", Key=key, Body=body or json.dumps(document).encode())


class GettingS3(CountingS3):
    """CountingS3 that also counts the objects read with GetObject."""

    def __init__(self, s3: Any) -> None:
        super().__init__(s3)
        self.read: list[str] = []

    def get_object(self, **params: Any) -> dict[str, Any]:
        self.read.append(f"s3://{params['Bucket']}/{params['Key']}")
        return self.s3.get_object(**params)


def test_a_provisioned_model_is_asked_its_runs_test_split_which_its_baseline_records(logs_bucket):
    s3, sagemaker = logs_bucket
    invocation_log(s3, "2026/11/29/09")
    put_bedrock_baseline(s3, {"testDataUri": CLAIMS_TEST, "run": "fmft-prod-claims-v2"})
    arn = model_package(sagemaker, "models", f"{PREPARED}baseline/baseline.json")
    settings = {**bedrock_settings(), "canary": CANARY}
    getting = GettingS3(s3)

    endpoint, run = planner.plan(
        one_target(arn), settings, getting, sagemaker, listed(["fmft-prod-claims-v2"])
    )["runs"]

    assert endpoint["hasCanary"] is True and endpoint["modelId"] == ""
    assert run["modelId"] == throughput("fmft-prod-claims-v2")["provisionedModelArn"]
    prefix = run["metricsKey"][: -len("metrics.json")]
    assert (run["hasCanary"], run["canarySkipped"], run["hasData"]) == (True, None, True)
    # The same object as an endpoint run's: the canary function tells them apart by the run's modelId.
    assert run["canary"] == {
        "goldenUri": CLAIMS_TEST,
        "predictionsBucket": "fmft-evaluation",
        "predictionsKey": f"{prefix}canary/predictions.jsonl",
        "records": 20,
        "task": "summarization",
    }
    assert input_names(run) == ["code", "launcher", "capture", "baseline", "canary"]
    assert run["baselineUri"] == CLAIMS_BASELINE
    assert run["inputs"][-1] == planner.s3_input(
        "canary", f"s3://fmft-evaluation/{prefix}canary/", planner.CANARY_PATH
    )
    assert create_processing_job_problems(run, "a", "b") == []
    assert getting.read == [CLAIMS_BASELINE]  # the one object the planner reads

    # Without invocation logs in the window the job still runs, to score the canary.
    s3.delete_object(
        Bucket="fmft-records", Key=f"{planner.split_s3_uri(LOGS)[1]}2026/11/29/09/20261129T0512Z_abc.json.gz"
    )
    event = {**one_target(), "targets": []}
    [run] = planner.plan(event, settings, s3, None, listed(["fmft-prod-claims-v2"]))["runs"]
    assert (run["hasData"], run["hoursWithData"], run["hasCanary"]) == (True, 0, True)
    assert input_names(run) == ["code", "launcher", "baseline", "canary"]
    assert create_processing_job_problems(run, "a", "b") == []


def test_a_configured_golden_set_is_asked_of_provisioned_models_without_reading_the_baseline(logs_bucket):
    s3, _ = logs_bucket
    put_bedrock_baseline(s3, {"testDataUri": CLAIMS_TEST, "run": "fmft-prod-claims-v2"})
    golden = "s3://fmft-data/training-data/processed/golden/claims.jsonl"
    settings = {**bedrock_settings(), "canary": {**CANARY, "goldenSetUri": golden}}
    getting = GettingS3(s3)
    event = {**one_target(), "targets": []}

    [run] = planner.plan(event, settings, getting, None, listed(["fmft-prod-claims-v2"]))["runs"]

    assert run["hasCanary"] is True and run["canary"]["goldenUri"] == golden and getting.read == []
    assert input_names(run) == ["code", "launcher", "baseline", "canary"]


@pytest.mark.parametrize(
    ("baseline", "why"),
    [
        (None, f"no goldenSetUri configured and the provisioned model has no {CLAIMS_BASELINE}"),
        ({"testDataUri": None, "run": "fmft-prod-claims-v2"}, "names no test split (source.testDataUri"),
        (..., "names no test split (source.testDataUri"),  # written before the source was recorded
        ({"testDataUri": "test.jsonl", "run": "x"}, "has source.testDataUri 'test.jsonl'"),
        (b"<html>", "is not JSON"),
    ],
)
def test_without_a_golden_set_a_provisioned_model_gets_no_canary_and_says_why(logs_bucket, baseline, why):
    s3, _ = logs_bucket
    if isinstance(baseline, bytes):
        put_bedrock_baseline(s3, body=baseline)
    elif baseline is not None:
        put_bedrock_baseline(s3, baseline)
    settings = {**bedrock_settings(), "canary": CANARY}
    event = {**one_target(), "targets": []}

    [run] = planner.plan(event, settings, s3, None, listed(["fmft-prod-claims-v2"]))["runs"]

    assert (run["hasCanary"], run["canary"]) == (False, None) and why in run["canarySkipped"]
    assert run["hasData"] is False and run["inputs"] == CODE_INPUTS  # nothing to read, nothing to score
    invocation_log(s3, "2026/11/29/09")
    [run] = planner.plan(event, settings, s3, None, listed(["fmft-prod-claims-v2"]))["runs"]
    assert run["hasData"] is True and run["hasCanary"] is False and why in run["canarySkipped"]
    assert "canary" not in input_names(run)


def test_a_provisioned_models_inputs_are_counted_too(logs_bucket):
    s3, _ = logs_bucket
    invocation_log(s3, "2026/11/29/09")
    put_bedrock_baseline(s3, {"testDataUri": CLAIMS_TEST, "run": "fmft-prod-claims-v2"})
    extras = [
        planner.s3_input(f"extra{i}", "s3://artifacts/x", f"/opt/ml/processing/input/x{i}") for i in range(6)
    ]
    settings = {**bedrock_settings(), "canary": CANARY, "codeInputs": [*CODE_INPUTS, *extras]}
    event = {**one_target(), "targets": []}
    with pytest.raises(
        ValueError, match=r"11 processing inputs for fmft-prod-claims-v2/bedrock; .* allows 10"
    ):
        planner.plan(event, settings, s3, None, listed(["fmft-prod-claims-v2"]))


def test_provisioned_models_get_no_ground_truth(logs_bucket):
    s3, _ = logs_bucket
    invocation_log(s3, "2026/11/29/09")
    settings = {**bedrock_settings(), "groundTruth": truth_settings()["groundTruth"]}
    counting = CountingS3(s3)
    event = {**one_target(), "targets": []}
    [run] = planner.plan(event, settings, counting, None, listed(["fmft-prod-claims-v2"]))["runs"]
    assert (run["hasGroundTruth"], run["groundTruthFiles"]) == (False, 0)
    assert input_names(run) == ["code", "launcher", "capture"]
    assert not [p for p in counting.prefixes if "/ground-truth/" in p]


def test_without_bedrock_settings_no_provisioned_model_is_listed(aws):
    s3, sagemaker = aws
    capture(s3, "2026/11/29/09")
    for settings in (SETTINGS, {**SETTINGS, "bedrock": None}):
        [run] = planner.plan(one_target(), settings, s3, sagemaker, bedrock=None)["runs"]
        assert run["modelId"] == "" and run["variantName"] == VARIANT


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"namePrefix": ""}, "bedrock.namePrefix: got ''"),
        ({"namePrefix": "fmft_prod"}, "bedrock.namePrefix: got 'fmft_prod'"),
        (
            {"invocationLogsUri": "s3://fmft-records/logs"},
            "bedrock.invocationLogsUri: got 's3://fmft-records/logs'",
        ),
        ({"reportsUri": None}, "bedrock.reportsUri: got None; allowed: s3://bucket/prefix/"),
    ],
)
def test_bad_bedrock_settings_name_the_field(change, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        planner.plan(one_target(), bedrock_settings(**change), s3=None, sagemaker=None, bedrock=None)


def test_the_handler_lists_provisioned_models_only_when_configured(logs_bucket, monkeypatch):
    s3, _ = logs_bucket
    invocation_log(s3, "2026/11/29/09")
    monkeypatch.setenv("FMFT_MONITOR_SETTINGS", json.dumps(bedrock_settings()))
    bedrock = listed(["fmft-prod-claims-v2"])
    real = boto3.client
    monkeypatch.setattr(
        boto3, "client", lambda service, **kw: bedrock if service == "bedrock" else real(service, **kw)
    )
    [run] = planner.handler({**one_target(), "targets": []})["runs"]
    assert run["endpointName"] == "fmft-prod-claims-v2" and run["hoursWithData"] == 1
    bedrock.stub.assert_no_pending_responses()


# ---------------------------------------------------------------------------------------------------------
# the promotion's serving manifest: the version an A/B variant serves since a promotion

ARTIFACTS = "fmft-artifacts"
MANIFEST_URI = f"s3://{ARTIFACTS}/{CURRENT_KEY}"
SHARED = "fmft-prod-llm-shared"


def prepared(execution: str) -> str:
    return f"s3://fmft-data/training-data/processed/{execution}/"


@pytest.fixture
def versions(aws):
    """Three versions of one group, each with the baseline of its own pipeline execution (exec-1..3), and the
    artifacts bucket the promotion writes its manifest to."""
    s3, sagemaker = aws
    s3.create_bucket(Bucket=ARTIFACTS)
    sagemaker.create_model_package_group(ModelPackageGroupName="models")
    arns = [
        add_version(sagemaker, "models", f"{prepared(f'exec-{n}')}baseline/baseline.json") for n in (1, 2, 3)
    ]
    return s3, sagemaker, arns


def manifest_settings(**changes: Any) -> dict:
    names = {"manifestBucket": ARTIFACTS, "manifestKey": CURRENT_KEY, "manifestEndpointName": ENDPOINT}
    return {**canary_settings(), **names, **changes}


def put_serving_manifest(s3, body: Any) -> None:
    if isinstance(body, str):
        body = body.encode()
    elif not isinstance(body, bytes):
        body = json.dumps(body).encode()
    s3.put_object(Bucket=ARTIFACTS, Key=CURRENT_KEY, Body=body)


def served(status: str, previous: dict | None = None, **arns: str) -> dict:
    """current.json as training.registry.promotion writes it: ``arns`` by variant name."""
    variants = [
        {"variant": name, "parameter": f"ModelPackage{name.title()}", "weight": 50, "modelPackageArn": arn}
        for name, arn in arns.items()
    ]
    return {
        "status": status,
        "action": "promote",
        "variants": variants,
        **({"previous": previous} if previous else {}),
    }


def ab_targets(**arns: str | None) -> dict:
    """An event whose targets are the A/B variants ``arns`` (by name) and the shared endpoint's variant."""
    targets = [
        {"endpointName": ENDPOINT, "variantName": name, **({"modelPackageArn": arn} if arn else {})}
        for name, arn in arns.items()
    ]
    targets.append({"endpointName": SHARED, "variantName": "AllTraffic"})
    return {"scheduledTime": "2026-11-29T10:10:00Z", "executionName": "run-1", "targets": targets}


class ReadingS3:
    """The S3 client, keeping each request the planner sends for the serving manifest's bucket."""

    def __init__(self, s3: Any) -> None:
        self.s3, self.requests = s3, []

    def list_objects_v2(self, **params: Any) -> Any:
        if params["Bucket"] == ARTIFACTS:
            self.requests.append(("ListObjectsV2", params))
        return self.s3.list_objects_v2(**params)

    def get_object(self, **params: Any) -> Any:
        if params["Bucket"] == ARTIFACTS:
            self.requests.append(("GetObject", params))
        return self.s3.get_object(**params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3, name)


def plan_with_manifest(s3, sagemaker, event: dict, settings: dict, capsys) -> tuple[dict, list[str]]:
    """``{endpoint/variant: run}`` and the notes the planner logged about the manifest, after checking that it
    listed the manifest's key before reading it."""
    reading = ReadingS3(s3)
    result = planner.plan(event, settings, reading, sagemaker)
    listed = ("ListObjectsV2", {"Bucket": ARTIFACTS, "Prefix": CURRENT_KEY, "MaxKeys": 1})
    assert reading.requests in ([listed], [listed, ("GetObject", {"Bucket": ARTIFACTS, "Key": CURRENT_KEY})])
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "servingManifest" in line]
    assert all(entry["servingManifest"] == MANIFEST_URI for entry in logged)
    runs = {f"{r['endpointName']}/{r['variantName']}": r for r in result["runs"]}
    return runs, [note for entry in logged for note in entry["notes"]]


def test_a_serving_manifest_gives_each_ab_variant_the_version_it_serves_since_a_promotion(versions, capsys):
    s3, sagemaker, (v1, v2, _) = versions
    # Deployed with v1 in both variants; the promotion has since put v2 in `current`.
    put_serving_manifest(s3, served("serving", current=v2, candidate=v1))
    event = ab_targets(current=v1, candidate=v1, shadow=v1)

    runs, notes = plan_with_manifest(s3, sagemaker, event, manifest_settings(), capsys)

    current, candidate = runs[f"{ENDPOINT}/current"], runs[f"{ENDPOINT}/candidate"]
    # The promoted version's baseline and its own held-out test split, not the configured version's.
    assert current["baselineUri"] == f"{prepared('exec-2')}baseline/baseline.json"
    assert current["canary"]["goldenUri"] == f"{prepared('exec-2')}test/test.jsonl"
    assert candidate["baselineUri"] == f"{prepared('exec-1')}baseline/baseline.json"
    # A variant the manifest does not name keeps its configured version; the shared endpoint is not asked.
    assert runs[f"{ENDPOINT}/shadow"]["baselineUri"] == f"{prepared('exec-1')}baseline/baseline.json"
    assert runs[f"{SHARED}/AllTraffic"]["baselineUri"] is None
    assert "names no model package version" in runs[f"{SHARED}/AllTraffic"]["canarySkipped"]
    assert notes == [
        f"{ENDPOINT}/current: {v2} from serving manifest {MANIFEST_URI} (configured: {v1})",
        f"{ENDPOINT}/candidate: {v1} from serving manifest {MANIFEST_URI} (as configured)",
        f"{ENDPOINT}/shadow: not in serving manifest {MANIFEST_URI}: the configured version {v1}",
    ]


@pytest.mark.parametrize("status", ["rolling-out", "rolling-back", "failed"])
def test_during_a_rollout_the_versions_it_replaces_are_monitored_and_the_log_says_so(
    versions, status, capsys
):
    s3, sagemaker, (v1, v2, v3) = versions
    # v2 was promoted; v3 is rolling out and does not serve until the rollout ends.
    put_serving_manifest(s3, served(status, served("serving", current=v2), current=v3))

    runs, notes = plan_with_manifest(s3, sagemaker, ab_targets(current=v1), manifest_settings(), capsys)

    assert runs[f"{ENDPOINT}/current"]["baselineUri"] == f"{prepared('exec-2')}baseline/baseline.json"
    assert notes == [
        f"{ENDPOINT}/current: {v2} from the previous variants of serving manifest {MANIFEST_URI} "
        f"(status {status!r}: they serve until the rollout ends) (configured: {v1})"
    ]


def test_a_rollout_without_previous_variants_leaves_the_configured_versions_and_says_so(versions, capsys):
    s3, sagemaker, (v1, _, v3) = versions
    put_serving_manifest(s3, served("rolling-out", current=v3))

    runs, notes = plan_with_manifest(s3, sagemaker, ab_targets(current=v1), manifest_settings(), capsys)

    assert runs[f"{ENDPOINT}/current"]["baselineUri"] == f"{prepared('exec-1')}baseline/baseline.json"
    assert notes == [
        f"serving manifest {MANIFEST_URI} has status 'rolling-out', not 'serving', and no previous: "
        "using the configured versions"
    ]


def test_without_a_manifest_object_the_configured_versions_are_monitored_silently(versions, capsys):
    s3, sagemaker, (v1, v2, _) = versions
    # A key that only starts like the manifest's is not it.
    s3.put_object(
        Bucket=ARTIFACTS, Key=f"{CURRENT_KEY}.bak", Body=json.dumps(served("serving", current=v2)).encode()
    )

    runs, notes = plan_with_manifest(s3, sagemaker, ab_targets(current=v1), manifest_settings(), capsys)

    assert runs[f"{ENDPOINT}/current"]["baselineUri"] == f"{prepared('exec-1')}baseline/baseline.json"
    assert notes == []


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("{not json", "is not JSON"),
        (b"\xff\xfe{}", "is not JSON"),  # not UTF-8
        ("[1, 2]", "is not a JSON object"),
        ({"status": "serving"}, ": not a list of {variant, modelPackageArn}"),
        (
            {"status": "serving", "variants": [{"variant": "current"}]},
            ": not a list of {variant, modelPackageArn}",
        ),
        (
            {"status": "serving", "variants": [{"variant": "current", "modelPackageArn": "v2"}]},
            ": not a list of {variant, modelPackageArn}",
        ),
        (
            {"status": "rolling-out", "previous": {"variants": "x"}},
            ": not a list of {variant, modelPackageArn}",
        ),
    ],
)
def test_an_unusable_manifest_leaves_the_configured_versions_and_the_log_says_why(
    versions, body, why, capsys
):
    s3, sagemaker, (v1, _, _) = versions
    put_serving_manifest(s3, body)

    runs, notes = plan_with_manifest(s3, sagemaker, ab_targets(current=v1), manifest_settings(), capsys)

    assert runs[f"{ENDPOINT}/current"]["baselineUri"] == f"{prepared('exec-1')}baseline/baseline.json"
    [note] = notes
    assert f"serving manifest {MANIFEST_URI}" in note and why in note
    assert note.endswith("using the configured versions")


def test_targets_of_other_endpoints_keep_their_versions_and_the_manifest_is_not_read_for_them(
    versions, capsys
):
    s3, sagemaker, (v1, v2, _) = versions
    put_serving_manifest(s3, served("serving", current=v2))
    event = {
        "scheduledTime": "2026-11-29T10:10:00Z",
        "targets": [
            {"endpointName": "fmft-prod-llm-other", "variantName": "current", "modelPackageArn": v1},
            {"endpointName": SHARED, "variantName": "AllTraffic"},
        ],
    }
    reading = ReadingS3(s3)

    runs = planner.plan(event, manifest_settings(), reading, sagemaker)["runs"]

    assert runs[0]["baselineUri"] == f"{prepared('exec-1')}baseline/baseline.json"
    assert runs[1]["baselineUri"] is None
    assert reading.requests == [] and capsys.readouterr().out == ""


def test_the_handler_reads_the_manifest_named_in_its_settings(versions, monkeypatch, capsys):
    s3, _, (v1, v2, _) = versions
    put_serving_manifest(s3, served("serving", current=v2))
    monkeypatch.setenv("FMFT_MONITOR_SETTINGS", json.dumps(manifest_settings()))
    runs = planner.handler(ab_targets(current=v1))["runs"]
    assert runs[0]["canary"]["goldenUri"] == f"{prepared('exec-2')}test/test.jsonl"
    assert f"{v2} from serving manifest" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"manifestKey": None}, "manifestKey: got None; allowed: manifestBucket, manifestKey and"),
        ({"manifestBucket": ""}, "manifestBucket: got ''"),
        ({"manifestEndpointName": None}, "manifestEndpointName: got None"),
        ({"manifestEndpointName": "bad_name"}, "manifestEndpointName: got 'bad_name'; allowed: 1-63 letters"),
    ],
)
def test_bad_manifest_settings_name_the_field(changes, message):
    with pytest.raises(ValueError, match=message):
        planner.plan(one_target(), manifest_settings(**changes), s3=None, sagemaker=None)
    none = {"manifestBucket": None, "manifestKey": None, "manifestEndpointName": None}
    assert planner.manifest_settings({**SETTINGS, **none}) is None
