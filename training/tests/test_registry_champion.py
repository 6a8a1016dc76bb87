"""The champion finder (training/registry/champion.py) against a moto server: model package groups and
versions registered, approved and rejected through the SageMaker API, then described and listed by the
function, and the promotion workflow's serving manifest in S3. Every DescribeModelPackage,
ListModelPackages and GetObject request it sends is checked against botocore's model (patterns included,
which boto3's own client-side validation does not check)."""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tools.api_model import services
from tools.api_model.records import Origin, Request
from tools.api_model.shapes import ShapeChecker
from training.registry import champion

GROUP, OTHER = "fmft-dev-model", "fmft-dev-other"
MANIFESTS = "fmft-dev-model-artifacts"
CURRENT = "serving/manifests/current.json"
CANDIDATE = "s3://fmft-dev-artifacts/pipelines/run-1/train/output/model.tar.gz"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-inference:2.1-gpu"
KEYS = {"hasChampion", "championModelDataUrl", "championModelPackageArn", "championSource", "reason"}


class RecordingSageMaker:
    """The SageMaker client, keeping each request the function sends, to check it with botocore's model."""

    def __init__(self, client: Any) -> None:
        self.client, self.requests = client, []

    def describe_model_package(self, **params: Any) -> Any:
        self.requests.append(("DescribeModelPackage", params))
        return self.client.describe_model_package(**params)

    def list_model_packages(self, **params: Any) -> Any:
        self.requests.append(("ListModelPackages", params))
        return self.client.list_model_packages(**params)


@pytest.fixture
def sm(moto_endpoint):
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).close()
    client = boto3.client("sagemaker", region_name="us-east-1")
    for name in (GROUP, OTHER):
        client.create_model_package_group(ModelPackageGroupName=name)
    return client


def register(sm: Any, group: str, status: str, model_data_url: str | None = "default") -> str:
    """A new version of ``group``; returns its versioned ARN."""
    container: dict[str, Any] = {"Image": IMAGE}
    if model_data_url == "default":
        count = len(sm.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"])
        model_data_url = f"s3://fmft-dev-artifacts/{group}/v{count + 1}/model.tar.gz"
    if model_data_url is not None:
        container["ModelDataUrl"] = model_data_url
    return sm.create_model_package(
        ModelPackageGroupName=group,
        InferenceSpecification={
            "Containers": [container],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        ModelApprovalStatus=status,
    )["ModelPackageArn"]


def set_status(sm: Any, arn: str, status: str) -> None:
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)


def data_url(sm: Any, arn: str) -> str:
    return sm.describe_model_package(ModelPackageName=arn)["InferenceSpecification"]["Containers"][0][
        "ModelDataUrl"
    ]


class RecordingS3:
    """The S3 client, keeping each ListObjectsV2 and GetObject request the function sends."""

    def __init__(self, client: Any) -> None:
        self.client, self.requests = client, []

    def list_objects_v2(self, **params: Any) -> Any:
        self.requests.append(("ListObjectsV2", params))
        return self.client.list_objects_v2(**params)

    def get_object(self, **params: Any) -> Any:
        self.requests.append(("GetObject", params))
        return self.client.get_object(**params)


def api_violations(requests: list[tuple[str, dict[str, Any]]], service: str = "sagemaker") -> list[str]:
    checker, found = ShapeChecker(), []
    for operation, params in requests:
        request = Request(Origin("champion", "Lambda"), "pipeline step", service, operation, params)
        shape = services.operation_model(service, operation).input_shape
        found.extend(f"{operation}: {v}" for v in checker.check(request, shape))
    return found


def choose(sm: Any, served: list[str], group: str = GROUP) -> dict[str, Any]:
    """The function's output, after checking its requests and that every value is a string."""
    recording = RecordingSageMaker(sm)
    event = {"modelPackageGroupName": group, "candidateModelUri": CANDIDATE}
    result = champion.choose(event, {"servedModelPackageArns": served}, recording)
    assert recording.requests and api_violations(recording.requests) == []
    assert set(result) == KEYS
    assert all(type(v) is str for v in result.values()), result
    assert json.loads(json.dumps(result)) == result
    assert "\n" not in result["reason"]
    return result


def test_the_served_approved_version_wins_over_a_newer_approved_one(sm):
    served = register(sm, GROUP, "Approved")
    newer = register(sm, GROUP, "Approved")
    result = choose(sm, [served])
    assert result == {
        "hasChampion": "true",
        "championModelDataUrl": data_url(sm, served),
        "championModelPackageArn": served,
        "championSource": "served",
        "reason": f"served version {served} (position 1 of 1 served ARNs)",
    }
    assert result["championModelDataUrl"] != data_url(sm, newer)


def test_the_first_approved_in_traffic_order_is_the_champion(sm):
    first, second = register(sm, GROUP, "Approved"), register(sm, GROUP, "Approved")
    assert choose(sm, [second, first])["championModelPackageArn"] == second
    assert choose(sm, [first, second])["championModelPackageArn"] == first


def test_served_versions_not_approved_are_skipped_for_the_latest_approved(sm):
    approved = register(sm, GROUP, "Approved")
    pending = register(sm, GROUP, "PendingManualApproval")
    rejected = register(sm, GROUP, "Approved")
    set_status(sm, rejected, "Rejected")
    result = choose(sm, [pending, rejected])
    assert result["hasChampion"] == "true" and result["championSource"] == "latest-approved"
    assert result["championModelPackageArn"] == approved
    assert result["championModelDataUrl"] == data_url(sm, approved)
    assert f"latest approved version {approved} of {GROUP}" in result["reason"]
    assert f"{pending}: PendingManualApproval, not Approved" in result["reason"]
    assert f"{rejected}: Rejected, not Approved" in result["reason"]


def test_a_served_version_of_another_group_is_skipped(sm):
    foreign = register(sm, OTHER, "Approved")
    ours = register(sm, GROUP, "Approved")
    newest = register(sm, GROUP, "Approved")
    result = choose(sm, [foreign, ours])
    assert result["championSource"] == "served" and result["championModelPackageArn"] == ours
    assert f"skipped served: {foreign}: in group {OTHER}, not {GROUP}" in result["reason"]

    only_foreign = choose(sm, [foreign])
    assert only_foreign["championSource"] == "latest-approved"
    assert only_foreign["championModelPackageArn"] == newest
    assert f"{foreign}: in group {OTHER}, not {GROUP}" in only_foreign["reason"]


def test_a_served_arn_that_does_not_exist_is_skipped(sm):
    approved = register(sm, GROUP, "Approved")
    missing = approved.rsplit("/", 1)[0] + "/99"
    result = choose(sm, [missing])
    assert result["championModelPackageArn"] == approved and result["championSource"] == "latest-approved"
    assert f"{missing}: not found" in result["reason"]


def test_without_an_approved_version_there_is_no_champion(sm):
    pending = register(sm, GROUP, "PendingManualApproval")
    rejected = register(sm, GROUP, "Rejected")
    register(sm, OTHER, "Approved")
    result = choose(sm, [pending])
    assert result == {
        "hasChampion": "false",
        "championModelDataUrl": CANDIDATE,
        "championModelPackageArn": "none",
        "championSource": "none",
        "reason": f"no Approved version in model package group {GROUP}; "
        f"skipped served: {pending}: PendingManualApproval, not Approved",
    }
    assert rejected not in result["reason"]


def test_an_empty_group_and_no_served_arns_mean_no_champion(sm):
    result = choose(sm, [])
    assert result["hasChampion"] == "false" and result["championModelDataUrl"] == CANDIDATE
    assert result["championSource"] == "none" and result["championModelPackageArn"] == "none"
    assert "no served model package ARNs configured" in result["reason"]


def test_the_newest_approved_version_is_chosen_by_creation_not_approval(sm):
    # Approval order differs from creation order: v1 is approved last, v4 approved then rejected.
    v1 = register(sm, GROUP, "PendingManualApproval")
    register(sm, GROUP, "Approved")
    v3 = register(sm, GROUP, "Approved")
    v4 = register(sm, GROUP, "Approved")
    register(sm, GROUP, "PendingManualApproval")
    set_status(sm, v1, "Approved")
    set_status(sm, v4, "Rejected")
    result = choose(sm, [])
    assert result["championSource"] == "latest-approved" and result["championModelPackageArn"] == v3
    assert result["championModelDataUrl"] == data_url(sm, v3)


def test_empty_list_pages_are_followed_to_the_next(sm):
    approved = register(sm, GROUP, "Approved")

    class EmptyFirstPage(RecordingSageMaker):
        """ListModelPackages with a filter may return an empty page and a NextToken (AWS does)."""

        def list_model_packages(self, **params: Any) -> Any:
            self.requests.append(("ListModelPackages", params))
            if "NextToken" not in params:
                return {"ModelPackageSummaryList": [], "NextToken": "page-2"}
            return self.client.list_model_packages(**{k: v for k, v in params.items() if k != "NextToken"})

    recording = EmptyFirstPage(sm)
    event = {"modelPackageGroupName": GROUP, "candidateModelUri": CANDIDATE}
    result = champion.choose(event, {"servedModelPackageArns": []}, recording)
    assert result["championModelPackageArn"] == approved
    lists = [p for op, p in recording.requests if op == "ListModelPackages"]
    assert [p.get("NextToken") for p in lists] == [None, "page-2"]
    assert api_violations(recording.requests) == []


@pytest.mark.parametrize(
    ("model_data_url", "why"),
    [
        (
            "https://example.com/model.tar.gz",
            "has ModelDataUrl 'https://example.com/model.tar.gz', not an s3",
        ),
        (None, "has no InferenceSpecification.Containers[0].ModelDataUrl"),
    ],
)
def test_a_champion_without_s3_model_data_counts_as_none(sm, model_data_url, why):
    register(sm, GROUP, "Approved")
    served = register(sm, GROUP, "Approved", model_data_url=model_data_url)
    # The served version is the champion; its unusable model data is not replaced by another version's.
    result = choose(sm, [served])
    assert result["hasChampion"] == "false" and result["championModelDataUrl"] == CANDIDATE
    assert result["championModelPackageArn"] == "none" and result["championSource"] == "none"
    assert f"no usable champion: served version {served}" in result["reason"] and why in result["reason"]
    latest = choose(sm, [])
    assert latest["hasChampion"] == "false" and f"latest approved version {served}" in latest["reason"]


def test_other_aws_errors_fail_the_step(sm):
    arn = register(sm, GROUP, "Approved")

    class Denied(RecordingSageMaker):
        def describe_model_package(self, **params: Any) -> Any:
            error = {"Error": {"Code": "AccessDeniedException", "Message": "no"}}
            raise ClientError(error, "DescribeModelPackage")

    event = {"modelPackageGroupName": GROUP, "candidateModelUri": CANDIDATE}
    with pytest.raises(ClientError, match="AccessDenied"):
        champion.choose(event, {"servedModelPackageArns": [arn]}, Denied(sm))


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"candidateModelUri": CANDIDATE}, "modelPackageGroupName: got None"),
        ({"modelPackageGroupName": "", "candidateModelUri": CANDIDATE}, "modelPackageGroupName: got ''"),
        (
            {"modelPackageGroupName": "my_group", "candidateModelUri": CANDIDATE},
            "modelPackageGroupName: got 'my_group'",
        ),
        ({"modelPackageGroupName": 7, "candidateModelUri": CANDIDATE}, "modelPackageGroupName: got 7"),
        ({"modelPackageGroupName": GROUP}, "candidateModelUri: got None"),
        (
            {"modelPackageGroupName": GROUP, "candidateModelUri": "https://x/model.tar.gz"},
            "candidateModelUri: got 'https://x/model.tar.gz'",
        ),
        ({"modelPackageGroupName": GROUP, "candidateModelUri": "s3://bucket"}, "candidateModelUri: got 's3"),
        ({"modelPackageGroupName": GROUP, "candidateModelUri": ""}, "candidateModelUri: got ''"),
        ("not an object", "event: got 'not an object'"),
    ],
)
def test_a_bad_event_raises_value_error_naming_the_field(event, field):
    with pytest.raises(ValueError, match="allowed: ") as raised:
        champion.choose(event, {"servedModelPackageArns": []}, sm=None)
    assert str(raised.value).startswith(field)


@pytest.mark.parametrize("served", [None, "arn", [""], [1]])
def test_bad_settings_raise_value_error(served, monkeypatch):
    monkeypatch.setenv(champion.SETTINGS_ENV, json.dumps({"servedModelPackageArns": served}))
    with pytest.raises(ValueError, match=r"FMFT_CHAMPION_SETTINGS\.servedModelPackageArns: got"):
        champion.settings()
    monkeypatch.setenv(champion.SETTINGS_ENV, "{")
    with pytest.raises(ValueError, match=re.escape("FMFT_CHAMPION_SETTINGS: got '{'; allowed: JSON")):
        champion.settings()
    monkeypatch.delenv(champion.SETTINGS_ENV)
    with pytest.raises(ValueError, match="FMFT_CHAMPION_SETTINGS: not set"):
        champion.settings()


def test_the_handler_reads_its_settings_and_reaches_sagemaker(sm, monkeypatch):
    pending = register(sm, GROUP, "PendingManualApproval")
    served = register(sm, GROUP, "Approved")
    register(sm, GROUP, "Approved")
    monkeypatch.setenv(champion.SETTINGS_ENV, json.dumps({"servedModelPackageArns": [pending, served]}))
    result = champion.handler({"modelPackageGroupName": GROUP, "candidateModelUri": CANDIDATE}, None)
    assert result["hasChampion"] == "true" and result["championModelPackageArn"] == served
    assert result["championSource"] == "served" and f"{pending}: PendingManualApproval" in result["reason"]
    assert all(type(v) is str for v in result.values())
    with pytest.raises(ValueError, match="candidateModelUri"):
        champion.handler({"modelPackageGroupName": GROUP, "candidateModelUri": "model.tar.gz"}, None)


# ---------------------------------------------------------------------------------- the serving manifest


@pytest.fixture
def s3(sm):
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=MANIFESTS)
    return client


def put_manifest(s3: Any, body: Any) -> None:
    text = body if isinstance(body, str) else json.dumps(body)
    s3.put_object(Bucket=MANIFESTS, Key=CURRENT, Body=text.encode())


def manifest(status: str, *weighted: tuple[str, int]) -> dict[str, Any]:
    """current.json as training.registry.promotion writes it (variants in the stack's order)."""
    return {
        "status": status,
        "action": "promote",
        "variants": [
            {"variant": f"v{i}", "parameter": f"ModelPackageV{i}", "weight": weight, "modelPackageArn": arn}
            for i, (arn, weight) in enumerate(weighted)
        ],
    }


def choose_with_manifest(sm: Any, s3: Any, served: list[str]) -> dict[str, Any]:
    recording, reading = RecordingSageMaker(sm), RecordingS3(s3)
    event = {"modelPackageGroupName": GROUP, "candidateModelUri": CANDIDATE}
    cfg = {"servedModelPackageArns": served, "manifestBucket": MANIFESTS, "manifestKey": CURRENT}
    result = champion.choose(event, cfg, recording, reading)
    listed = ("ListObjectsV2", {"Bucket": MANIFESTS, "Prefix": CURRENT, "MaxKeys": 1})
    assert reading.requests in ([listed], [listed, ("GetObject", {"Bucket": MANIFESTS, "Key": CURRENT})])
    assert api_violations(reading.requests, "s3") == [] and api_violations(recording.requests) == []
    assert set(result) == KEYS and all(type(v) is str for v in result.values())
    assert "\n" not in result["reason"]
    return result


def test_a_serving_manifest_names_the_served_versions_by_weight(sm, s3):
    configured = register(sm, GROUP, "Approved")
    light, heavy = register(sm, GROUP, "Approved"), register(sm, GROUP, "Approved")
    put_manifest(s3, manifest("serving", (light, 10), (heavy, 90)))
    result = choose_with_manifest(sm, s3, [configured])
    assert result["championSource"] == "served" and result["championModelPackageArn"] == heavy
    assert result["championModelDataUrl"] == data_url(sm, heavy)
    assert result["reason"] == (
        f"served version {heavy} (position 1 of 2 served ARNs); "
        f"served ARNs from serving manifest s3://{MANIFESTS}/{CURRENT}"
    )
    # The heavier variant is not Approved any more: the next one by weight, not the configured ARN.
    set_status(sm, heavy, "Rejected")
    result = choose_with_manifest(sm, s3, [configured])
    assert (
        result["championModelPackageArn"] == light and f"{heavy}: Rejected, not Approved" in result["reason"]
    )


def test_without_a_manifest_object_the_configured_arns_serve_silently(sm, s3):
    served = register(sm, GROUP, "Approved")
    register(sm, GROUP, "Approved")
    # A key that only starts like the manifest's is not it.
    s3.put_object(Bucket=MANIFESTS, Key=f"{CURRENT}.bak", Body=json.dumps(manifest("serving")).encode())
    result = choose_with_manifest(sm, s3, [served])
    assert result["championModelPackageArn"] == served
    assert result["reason"] == f"served version {served} (position 1 of 1 served ARNs)"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("{not json", "is not JSON"),
        ("[1, 2]", "is not a JSON object"),
        ("rolling-out", "has status 'rolling-out', not 'serving'"),
        ({"status": "serving", "variants": []}, "has no usable variants"),
        ({"status": "serving", "variants": [{"modelPackageArn": "", "weight": 1}]}, "has no usable variants"),
    ],
)
def test_an_unusable_manifest_falls_back_to_the_configured_arns_and_says_so(sm, s3, body, why):
    served = register(sm, GROUP, "Approved")
    other = register(sm, GROUP, "Approved")
    put_manifest(s3, manifest(body, (other, 100)) if body == "rolling-out" else body)
    result = choose_with_manifest(sm, s3, [served])
    assert result["championModelPackageArn"] == served and result["championSource"] == "served"
    note = f"serving manifest s3://{MANIFESTS}/{CURRENT} {why}"
    assert note in result["reason"] and result["reason"].endswith("using the configured served ARNs")


def test_a_manifest_that_cannot_be_read_fails_the_step(sm, s3):
    put_manifest(s3, manifest("serving", (register(sm, GROUP, "Approved"), 100)))

    class Denied(RecordingS3):
        def get_object(self, **params: Any) -> Any:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetObject")

    event = {"modelPackageGroupName": GROUP, "candidateModelUri": CANDIDATE}
    cfg = {"servedModelPackageArns": [], "manifestBucket": MANIFESTS, "manifestKey": CURRENT}
    with pytest.raises(ClientError, match="AccessDenied"):
        champion.choose(event, cfg, RecordingSageMaker(sm), Denied(s3))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"manifestBucket": MANIFESTS},
            "FMFT_CHAMPION_SETTINGS.manifestKey: got None; allowed: manifestBucket",
        ),
        (
            {"manifestKey": CURRENT},
            "FMFT_CHAMPION_SETTINGS.manifestBucket: got None; allowed: manifestBucket",
        ),
        ({"manifestBucket": "", "manifestKey": CURRENT}, "FMFT_CHAMPION_SETTINGS.manifestBucket: got ''"),
        ({"manifestBucket": MANIFESTS, "manifestKey": 3}, "FMFT_CHAMPION_SETTINGS.manifestKey: got 3"),
    ],
)
def test_manifest_settings_go_together(extra, message, monkeypatch):
    monkeypatch.setenv(champion.SETTINGS_ENV, json.dumps({"servedModelPackageArns": [], **extra}))
    with pytest.raises(ValueError, match=re.escape(message)):
        champion.settings()
    nulls = {"servedModelPackageArns": [], "manifestBucket": None, "manifestKey": None}
    monkeypatch.setenv(champion.SETTINGS_ENV, json.dumps(nulls))
    assert champion.manifest_location(champion.settings()) is None


def test_the_handler_reads_the_manifest_named_in_its_settings(sm, s3, monkeypatch):
    configured = register(sm, GROUP, "Approved")
    promoted = register(sm, GROUP, "Approved")
    put_manifest(s3, manifest("serving", (promoted, 100)))
    cfg = {"servedModelPackageArns": [configured], "manifestBucket": MANIFESTS, "manifestKey": CURRENT}
    monkeypatch.setenv(champion.SETTINGS_ENV, json.dumps(cfg))
    result = champion.handler({"modelPackageGroupName": GROUP, "candidateModelUri": CANDIDATE}, None)
    assert result["championModelPackageArn"] == promoted and "serving manifest" in result["reason"]
