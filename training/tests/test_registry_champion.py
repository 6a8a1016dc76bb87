"""The champion finder (training/registry/champion.py) against a moto server: model package groups and
versions registered, approved and rejected through the SageMaker API, then described and listed by the
function. Every DescribeModelPackage and ListModelPackages request it sends is checked against botocore's
model (patterns included, which boto3's own client-side validation does not check)."""

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


def api_violations(requests: list[tuple[str, dict[str, Any]]]) -> list[str]:
    checker, found = ShapeChecker(), []
    for operation, params in requests:
        request = Request(Origin("champion", "Lambda"), "pipeline step", "sagemaker", operation, params)
        shape = services.operation_model("sagemaker", operation).input_shape
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
