"""The compliance report and model card (training/compliance) against a moto server on loopback: a registered
version with its lineage, evaluation.json and baseline.json in S3, monitor metrics and alarms in CloudWatch
and a cdk-nag report on disk; the model card is validated against AWS's vendored schema, and the requests moto
does not check are checked against botocore's models.

Moto 5.2.5 does not implement CloudTrail LookupEvents (its server answers 500, "The lookup_events action has
not been implemented"), so --with-cloudtrail is exercised with a stand-in client that answers like CloudTrail,
and the request it sends is checked against botocore's LookupEvents model."""

from __future__ import annotations

import datetime as dt
import hashlib
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

from tools.api_model import services
from tools.api_model.records import Origin, Request
from tools.api_model.shapes import ShapeChecker
from training.compliance import model_card, monitoring, nag, registry
from training.compliance.__main__ import main
from training.monitor.profile import Profile

REPO = Path(__file__).resolve().parents[2]
BUCKET = "fmft-prod-evaluation"
GROUP = "fmft-prod-models"
NAMESPACE = "FineTuningPlatform/prod"
ENDPOINT, VARIANT = "fmft-prod-llm", "current"
EVALUATION_URI = f"s3://{BUCKET}/evaluation/exec-7/evaluation.json"
BASELINE_URI = f"s3://{BUCKET}/data/exec-7/baseline/baseline.json"
EXPLANATIONS_URI = f"s3://{BUCKET}/explanations/exec-7/explanations.json"
LINEAGE = {
    "base_model": "meta-llama/Llama-3.2-1B-Instruct",
    "training_data": "s3://fmft-prod-data/training-data/raw/claims-v2.jsonl",
    "pipeline_execution": "exec-7",
    "training_instance_type": "ml.g5.2xlarge",
    "hp_num_train_epochs": "2",
    "hp_learning_rate": "0.0002",
    "hp_lora_r": "16",
    "code_version": "training-3f2a9c.tar.gz",
    "training_data_sha256": "9f86d081884c7d659a2feac0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "owner_team": "claims-ml",
}
NOT_ESTIMATED = {"standard_deviation": "NaN"}
EVALUATION = {
    "metadata": {"task": "classification", "records": 240, "created_at": "2026-11-28T10:00:00+00:00"},
    "multiclass_classification_metrics": {
        "accuracy": {"value": 0.875, "standard_deviation": 0.0213},
        "macro_f1": {"value": 0.8125, **NOT_ESTIMATED},
        "confusion_matrix": {"pos": {"pos": 100, "neg": 20}, "neg": {"pos": 10, "neg": 110}},
    },
    "fairness_metrics": {
        "demographic_parity_difference": {"value": 0.25, **NOT_ESTIMATED},
        "equal_opportunity_difference": {"value": 0.125, **NOT_ESTIMATED},
        "max_disparity": {"value": 0.25, **NOT_ESTIMATED},
        "measured": True,
        "max_disparity_from": {"attribute": "language", "metric": "demographic_parity_difference"},
        "attributes": {
            "language": {
                "demographic_parity_difference": {"value": 0.25, **NOT_ESTIMATED},
                "equal_opportunity_difference": {"value": 0.125, **NOT_ESTIMATED},
                "max_disparity": {"value": 0.25, **NOT_ESTIMATED},
                "groups": ["en", "fr"],
            }
        },
    },
    "per_group_metrics": {
        "language=en": {"accuracy": {"value": 0.9, **NOT_ESTIMATED}, "count": 120},
        "language=fr": {"accuracy": {"value": 0.85, **NOT_ESTIMATED}, "count": 120},
    },
}
EXPLANATIONS = {
    "summary": {
        "method": "occlusion",
        "model": "s3://fmft-prod-models/exec-7/model.tar.gz",
        "samples": 8,
        "records": 40,
        "topTokens": [
            {"token": "refund", "count": 5, "totalScore": 3.5, "meanScore": 0.7, "meanAttribution": 0.4},
            {
                "token": "<b>late</b>",
                "count": 2,
                "totalScore": 0.9,
                "meanScore": 0.45,
                "meanAttribution": 0.2,
            },
        ],
        "firstQuarterMass": 0.31,
        "lastQuarterMass": 0.22,
    },
    "explanations": [],
}
NAG_REPORT = {
    "version": "55.0.0",
    "title": "Validation Report",
    "pluginReports": [
        {
            "pluginName": "AwsSolutions",
            "conclusion": "failure",
            "violations": [
                {
                    "ruleName": "AwsSolutions-S1",
                    "description": "The S3 Bucket has server access logs disabled.",
                    "severity": "error",
                    "violatingConstructs": [
                        {"constructPath": "fmft-prod-storage/Data/Resource"},
                        {"constructPath": "fmft-prod-storage/Logs/Resource"},
                    ],
                }
            ],
            "suppressedViolations": [
                {
                    "ruleName": "AwsSolutions-IAM5",
                    "description": "wildcard",
                    "severity": "error",
                    "violatingConstructs": [{"constructPath": "fmft-prod-pipelines/Role/Policy/Resource"}],
                    "acknowledgedId": "AwsSolutions::AwsSolutions-IAM5",
                    "acknowledgedAt": "fmft-prod-pipelines/Role",
                    "reason": "the ECR token API has no resource-level permissions",
                },
                {
                    "ruleName": "AwsSolutions-SQS3",
                    "description": "no DLQ",
                    "severity": "error",
                    "violatingConstructs": [
                        {"constructPath": "fmft-prod-security/Alerts/Undelivered/Resource"}
                    ],
                    "acknowledgedId": "AwsSolutions::AwsSolutions-SQS3",
                    "acknowledgedAt": "fmft-prod-security/Alerts/Undelivered",
                    "reason": "this queue is itself a dead-letter queue",
                },
            ],
        },
        {
            "pluginName": "HIPAA.Security",
            "conclusion": "success",
            "violations": [],
            "suppressedViolations": [
                {
                    "ruleName": "HIPAA.Security-IAMNoInlinePolicy",
                    "description": "inline policy",
                    "severity": "error",
                    "violatingConstructs": [{"constructPath": "a/Resource"}, {"constructPath": "b/Resource"}],
                    "acknowledgedId": "HIPAA.Security::HIPAA.Security-IAMNoInlinePolicy",
                    "acknowledgedAt": "a",
                    "reason": "written by the FlowLog construct",
                }
            ],
        },
    ],
}


# ---------------------------------------------------------------------------------------------------------
# Fixtures and helpers


@pytest.fixture
def aws(moto_endpoint: str) -> dict[str, Any]:
    # The server lives for the session: start from an empty account.
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).close()
    clients = {
        name: boto3.client(name, region_name="us-east-1") for name in ("s3", "sagemaker", "cloudwatch")
    }
    clients["s3"].create_bucket(Bucket=BUCKET)
    clients["endpoint"] = moto_endpoint
    return clients


def put_json(s3: Any, uri: str, value: Any) -> None:
    bucket, key = registry.split_s3_uri(uri)
    body = value if isinstance(value, bytes) else json.dumps(value).encode("utf-8")
    s3.put_object(Bucket=bucket, Key=key, Body=body)


def baseline_document() -> dict[str, Any]:
    """A real baseline.json (training/monitor's profile) of 40 short classification records."""
    profile = Profile(vocabulary_size=100, seed=0)
    for i in range(40):
        profile.add(
            f"Is claim {i} covered by the policy?", "yes" if i % 4 else "no", ("yes" if i % 4 else "no",)
        )
    return profile.baseline_document()


def register(
    aws: dict[str, Any],
    *,
    metadata: dict[str, str] | None = None,
    evaluation: Any = EVALUATION,
    baseline: Any = "real",
    explanations: Any = EXPLANATIONS,
    register_uris: bool = True,
    description: str = "Fine-tuned by pipeline execution exec-7",
) -> str:
    """A model package version as the pipeline registers it; ``None`` documents are left out of S3."""
    s3, sagemaker = aws["s3"], aws["sagemaker"]
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    for uri, value in ((EVALUATION_URI, evaluation), (EXPLANATIONS_URI, explanations)):
        if value is not None:
            put_json(s3, uri, value)
    if baseline is not None:
        put_json(s3, BASELINE_URI, baseline_document() if baseline == "real" else baseline)
    statistics = {"ContentType": "application/json"}
    extra: dict[str, Any] = {}
    if register_uris:
        extra = {
            "ModelMetrics": {
                "ModelQuality": {"Statistics": {**statistics, "S3Uri": EVALUATION_URI}},
                "Explainability": {"Report": {**statistics, "S3Uri": EXPLANATIONS_URI}},
            },
            "DriftCheckBaselines": {
                "ModelDataQuality": {"Statistics": {**statistics, "S3Uri": BASELINE_URI}}
            },
        }
    return sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelPackageDescription=description,
        ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties=LINEAGE if metadata is None else metadata,
        InferenceSpecification={
            "Containers": [
                {
                    "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/lmi:0.30",
                    "ModelDataUrl": "s3://fmft-prod-models/exec-7/model.tar.gz",
                }
            ],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        **extra,
    )["ModelPackageArn"]


def approve(aws: dict[str, Any], arn: str, description: str, metadata: dict[str, str] | None = None) -> None:
    # moto's UpdateModelPackage replaces CustomerMetadataProperties with what the call gives: give it again.
    aws["sagemaker"].update_model_package(
        ModelPackageArn=arn,
        ModelApprovalStatus="Approved",
        ApprovalDescription=description,
        CustomerMetadataProperties=LINEAGE if metadata is None else metadata,
    )


def monitor_data(cloudwatch: Any) -> None:
    """Two monitor runs of the served variant, one of another endpoint, and alarms on both."""
    now = dt.datetime.now(dt.UTC)
    dims = [{"Name": "EndpointName", "Value": ENDPOINT}, {"Name": "VariantName", "Value": VARIANT}]
    other = [{"Name": "EndpointName", "Value": "other-llm"}, {"Name": "VariantName", "Value": VARIANT}]
    for hours_ago, psi, records in ((3, 0.12, 300), (1, 0.31, 280)):
        when = now - dt.timedelta(hours=hours_ago)
        values = [
            ("PromptTokensPsi", dims, psi, "None"),
            ("CapturedRecords", dims, records, "Count"),
            ("MonitorRun", dims, 1, "Count"),
            ("RefusalRate", dims, 0.01 * hours_ago, "None"),
            ("PromptTokensPsi", other, 9.0, "None"),
        ]
        cloudwatch.put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[
                {"MetricName": m, "Dimensions": d, "Value": v, "Unit": u, "Timestamp": when}
                for m, d, v, u in values
            ],
        )

    def alarm(
        name: str,
        dimensions: list[dict[str, str]],
        namespace: str = NAMESPACE,
        metric: str = "PromptTokensPsi",
    ) -> None:
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace=namespace,
            MetricName=metric,
            Dimensions=dimensions,
            Statistic="Maximum",
            Period=300,
            EvaluationPeriods=1,
            Threshold=0.25,
            ComparisonOperator="GreaterThanThreshold",
        )

    alarm("fmft-prod-llm-current-prompt-drift", dims)
    alarm("fmft-prod-llm-invocation-errors", dims, "AWS/SageMaker", "Invocation5XXErrors")
    alarm("other-llm-prompt-drift", other)
    alarm("fmft-prod-llm-shadow-drift", [dims[0], {"Name": "VariantName", "Value": "shadow"}])
    cloudwatch.set_alarm_state(
        AlarmName="fmft-prod-llm-current-prompt-drift", StateValue="ALARM", StateReason="PSI 0.31 > 0.25"
    )


def schema_errors(card: dict[str, Any]) -> list[str]:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(model_card.SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    return [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(card)]


def api_problems(service: str, operation: str, params: dict[str, Any]) -> list[str]:
    """What botocore's model of ``operation`` says about ``params`` (lengths, patterns, enums, required)."""
    # Timestamps as botocore sends them (the checker reads values as a template would hold them).
    wire = {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in params.items()}
    request = Request(Origin("compliance", "test"), "cli", service, operation, wire)
    shape = services.operation_model(service, operation).input_shape
    return [str(v) for v in ShapeChecker().check(request, shape)]


def run(arn: str, out: Path, *extra: str) -> int:
    return main(["report", "--model-package-arn", arn, "--output-dir", str(out), *extra])


def outputs(out: Path) -> tuple[dict[str, Any], str, dict[str, Any]]:
    return (
        json.loads((out / "compliance.json").read_text(encoding="utf-8")),
        (out / "compliance.html").read_text(encoding="utf-8"),
        json.loads((out / "model-card.json").read_text(encoding="utf-8")),
    )


# ---------------------------------------------------------------------------------------------------------
# The report


def test_report_holds_what_the_registry_cloudwatch_and_the_nag_report_hold(
    aws, tmp_path: Path, capsys
) -> None:
    arn = register(aws)
    approve(aws, arn, "Reviewed by the model risk board (ticket MRB-12)")
    monitor_data(aws["cloudwatch"])
    nag_file = tmp_path / "cdk.out" / "validation-report.json"
    nag_file.parent.mkdir()
    nag_file.write_text(json.dumps(NAG_REPORT), encoding="utf-8")
    out = tmp_path / "report"

    code = run(
        arn,
        out,
        "--nag-report",
        str(nag_file.parent),
        "--metric-namespace",
        NAMESPACE,
        "--endpoint-name",
        ENDPOINT,
        "--variant-name",
        VARIANT,
        "--create-model-card",
    )

    assert code == 0, capsys.readouterr().err
    report, page, card = outputs(out)
    assert sorted(p.name for p in out.iterdir()) == ["compliance.html", "compliance.json", "model-card.json"]
    package = report["modelPackage"]
    assert (package["arn"], package["group"], package["version"]) == (arn, GROUP, 1)
    assert package["modelArtifacts"] == ["s3://fmft-prod-models/exec-7/model.tar.gz"]

    lineage = report["lineage"]
    assert lineage["baseModel"] == "meta-llama/Llama-3.2-1B-Instruct"
    assert lineage["trainingData"] == LINEAGE["training_data"] and lineage["pipelineExecution"] == "exec-7"
    assert lineage["codeVersion"] == "training-3f2a9c.tar.gz"
    assert lineage["hyperparameters"] == {"learning_rate": "0.0002", "lora_r": "16", "num_train_epochs": "2"}
    assert lineage["dataHashes"] == {"training_data_sha256": LINEAGE["training_data_sha256"]}
    assert lineage["otherMetadata"] == {"owner_team": "claims-ml"} and lineage["notRecorded"] == []

    evaluation = report["evaluation"]
    assert (evaluation["status"], evaluation["uri"], evaluation["task"], evaluation["records"]) == (
        "present",
        EVALUATION_URI,
        "classification",
        240,
    )
    assert evaluation["metrics"] == [
        {
            "section": "multiclass_classification_metrics",
            "metric": "accuracy",
            "value": 0.875,
            "standardDeviation": 0.0213,
        },
        {
            "section": "multiclass_classification_metrics",
            "metric": "macro_f1",
            "value": 0.8125,
            "standardDeviation": "NaN",
        },
    ]
    assert evaluation["groupRecords"] == {"language=en": 120, "language=fr": 120}
    fairness = report["fairness"]
    assert fairness["status"] == "present" and fairness["groups"] == ["en", "fr"]
    assert {m["metric"]: m["value"] for m in fairness["metrics"]} == {
        "demographic_parity_difference": 0.25,
        "equal_opportunity_difference": 0.125,
        "max_disparity": 0.25,
    }
    assert all(m["lowerIsBetter"] for m in fairness["metrics"])
    assert fairness["attributes"][0]["attribute"] == "language"
    assert fairness["largestFrom"] == {"attribute": "language", "metric": "demographic_parity_difference"}

    explanations = report["explainability"]
    assert explanations["source"] == "ModelMetrics.Explainability.Report"
    assert explanations["summary"]["topTokens"][0]["token"] == "refund"
    data = report["trainingData"]
    assert (data["status"], data["records"], data["labels"]["classes"]) == ("present", 40, 2)
    assert data["labels"]["counts"] == {"yes": 30, "no": 10}
    assert data["lengths"]["completionChars"]["mean"] == pytest.approx((30 * 3 + 10 * 2) / 40)

    approval = report["approval"]
    assert approval["status"] == "Approved"
    assert approval["description"] == "Reviewed by the model risk board (ticket MRB-12)"
    assert approval["createdBy"] == "fake-user-profile-name"  # moto's stand-in for the Studio user
    assert [h["event"] for h in approval["history"]] == ["registered (CreateModelPackage)", "last change"]
    assert approval["history"][1]["status"] == "Approved" and "CloudTrail" in approval["note"]

    state = report["monitoring"]
    assert (state["status"], state["namespace"], state["window"]["hours"]) == ("read", NAMESPACE, 24)
    metrics = {m["name"]: m for m in state["metrics"]}
    assert len(metrics) == len(monitoring.CONTRACT["metrics"])
    assert (metrics["RefusalRate"]["latest"], metrics["RefusalRate"]["maximum"]) == (0.01, 0.03)
    assert metrics["RefusalRate"]["periodsWithData"] == 2 and metrics["RefusalRate"]["minimum"] == 0.01
    assert metrics["PromptTokensPsi"]["maximum"] == 0.31  # the other endpoint's 9.0 is not this variant's
    assert metrics["PromptTokensPsi"]["latest"] == 0.31 and metrics["CapturedRecords"]["latest"] == 280
    assert metrics["MonitorRun"]["periodsWithData"] == 2
    assert metrics["EmptyAnswerRate"] == {
        "name": "EmptyAnswerRate",
        "kind": "health",
        "unit": "None",
        "latest": None,
        "latestAt": None,
        "minimum": None,
        "maximum": None,
        "periodsWithData": 0,
    }
    alarms = {a["name"]: a for a in state["alarms"]}
    assert set(alarms) == {"fmft-prod-llm-current-prompt-drift", "fmft-prod-llm-invocation-errors"}
    assert alarms["fmft-prod-llm-current-prompt-drift"]["state"] == "ALARM"
    assert alarms["fmft-prod-llm-current-prompt-drift"]["reason"] == "PSI 0.31 > 0.25"
    assert state["alarms"][0]["state"] == "ALARM" and state["alarmStates"]["ALARM"] == 1

    packs = {p["pack"]: p for p in report["compliancePacks"]["packs"]}
    assert report["compliancePacks"]["files"] == [str(nag_file)]
    solutions = packs["AwsSolutions"]
    assert (solutions["conclusion"], solutions["rulesWithFindings"], solutions["rulesChecked"]) == (
        "failure",
        3,
        None,
    )
    assert solutions["violations"] == {"rules": 1, "constructs": 2}
    assert solutions["acknowledged"] == {"rules": 2, "constructs": 2}
    assert solutions["unacknowledged"][0]["constructs"] == [
        "fmft-prod-storage/Data/Resource",
        "fmft-prod-storage/Logs/Resource",
    ]
    assert packs["HIPAA.Security"]["violations"] == {"rules": 0, "constructs": 0}
    assert packs["HIPAA.Security"]["acknowledged"] == {"rules": 1, "constructs": 2}
    assert report["problems"] == ["compliancePacks: AwsSolutions: 2 unacknowledged findings"]

    # The model card: built from the same data, valid against AWS's schema, saved as a Draft.
    assert schema_errors(card) == []
    groups = {
        g["name"]: g["metric_data"] for d in card["evaluation_details"] for g in d.get("metric_groups", [])
    }
    assert groups["multiclass_classification_metrics"][0] == {
        "name": "accuracy",
        "type": "number",
        "value": 0.875,
        "notes": "standard deviation 0.0213",
    }
    assert {m["name"]: m["value"] for m in groups["fairness_metrics"]}["max_disparity"] == 0.25
    assert "fairness language" not in groups  # one attribute: its values are the headline's
    assert groups["top_tokens"][0]["x_axis_name"] == ["refund", "<b>late</b>"]
    assert groups["top_tokens"][0]["value"] == [0.7, 0.45]
    job = card["training_details"]["training_job_details"]
    assert {h["name"]: h["value"] for h in job["hyper_parameters"]}["lora_r"] == "16"
    assert job["training_datasets"] == [LINEAGE["training_data"]]
    custom = card["additional_information"]["custom_details"]
    assert custom["model_package_arn"] == arn and custom["approval_status"] == "Approved"
    assert custom["training_data_sha256"] == LINEAGE["training_data_sha256"]
    assert "intended_uses" not in card and "business_details" not in card  # the owner's to write
    saved = report["modelCard"]["registry"]
    assert (saved["status"], saved["name"], saved["cardStatus"]) == ("created", f"{GROUP}-v1", "Draft")
    described = aws["sagemaker"].describe_model_card(ModelCardName=f"{GROUP}-v1")
    assert json.loads(described["Content"]) == card and described["ModelCardStatus"] == "Draft"
    assert (
        report["modelCard"]["schema"]["sha256"]
        == hashlib.sha256(model_card.SCHEMA_PATH.read_bytes()).hexdigest()
    )

    assert "model card created" in capsys.readouterr().out
    assert "fmft-prod-llm-current-prompt-drift" in page and "AwsSolutions-S1" in page


def test_model_card_is_created_once_and_versioned_when_its_content_changes(aws, tmp_path: Path) -> None:
    arn = register(aws)
    assert run(arn, tmp_path / "a", "--create-model-card") == 0
    assert run(arn, tmp_path / "b", "--create-model-card") == 0
    second = json.loads((tmp_path / "b" / "compliance.json").read_text(encoding="utf-8"))
    assert second["modelCard"]["registry"]["status"] == "unchanged"
    assert second["modelCard"]["registry"]["cardVersion"] == 1

    approve(aws, arn, "approved")
    assert run(arn, tmp_path / "c", "--create-model-card") == 0
    third, _, card = outputs(tmp_path / "c")
    assert third["modelCard"]["registry"]["status"] == "updated"
    assert third["modelCard"]["registry"]["previousCardVersion"] == 1
    latest = aws["sagemaker"].describe_model_card(ModelCardName=f"{GROUP}-v1")
    assert latest["ModelCardVersion"] == 2 and json.loads(latest["Content"]) == card
    assert card["additional_information"]["custom_details"]["approval_status"] == "Approved"


def test_every_text_in_the_html_is_escaped_and_nothing_is_fetched(aws, tmp_path: Path) -> None:
    hostile = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    metadata = {**LINEAGE, "base_model": hostile, "hp_prompt": '"><a href="https://evil.example">x</a>'}
    explanations = {"summary": {"method": hostile, "topTokens": [{"token": hostile, "meanScore": 0.5}]}}
    arn = register(aws, metadata=metadata, explanations=explanations, description=f"<b>{hostile}</b>")
    approve(aws, arn, f"ok {hostile}", metadata)
    nag_file = tmp_path / "validation-report.json"
    report = json.loads(json.dumps(NAG_REPORT))
    report["pluginReports"][0]["suppressedViolations"][0]["reason"] = hostile
    nag_file.write_text(json.dumps(report), encoding="utf-8")

    assert run(arn, tmp_path / "out", "--nag-report", str(nag_file)) == 0
    _, page, card = outputs(tmp_path / "out")

    assert "<script" not in page.lower() and "<img" not in page and "<a " not in page
    assert not re.search(r"<[^>]*\s(src|href|on\w+)\s*=", page), "a tag that fetches or runs something"
    assert "url(" not in page and "@import" not in page and "<link" not in page
    assert page.count("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;") >= 5
    assert schema_errors(card) == []
    assert card["model_overview"]["algorithm_type"] == f"fine-tuning of {hostile}"


def test_missing_and_malformed_documents_are_reported_not_raised(aws, tmp_path: Path) -> None:
    arn = register(aws, evaluation=None, baseline=b"{not json", explanations={"no": "summary"})

    assert run(arn, tmp_path / "out") == 0
    report, page, card = outputs(tmp_path / "out")

    assert report["evaluation"] == {
        "status": "missing",
        "uri": EVALUATION_URI,
        "problem": f"{EVALUATION_URI}: no such object (NoSuchKey)",
    }
    assert report["fairness"]["status"] == "not evaluated"
    assert report["trainingData"]["status"] == "invalid"
    assert report["trainingData"]["problem"].startswith(f"{BASELINE_URI}: not JSON")
    assert report["explainability"]["status"] == "invalid"
    assert report["explainability"]["problem"] == f"{EXPLANATIONS_URI}: has no top-level summary"
    assert [p.split(":")[0] for p in report["problems"]] == [
        "evaluation",
        "fairness",
        "trainingData",
        "explainability",
    ]
    assert "no such object (NoSuchKey)" in page
    assert report["monitoring"]["status"] == "not requested"
    assert report["compliancePacks"]["status"] == "not requested"
    assert schema_errors(card) == []
    assert "evaluation_details" not in card
    caveats = card["additional_information"]["caveats_and_recommendations"]
    assert "No usable evaluation report" in caveats and "No usable training-data profile" in caveats


def test_a_version_registered_without_metrics_or_lineage_still_gets_a_report(aws, tmp_path: Path) -> None:
    arn = register(aws, metadata={}, register_uris=False)

    assert run(arn, tmp_path / "out") == 0
    report, _, card = outputs(tmp_path / "out")

    assert report["evaluation"]["status"] == "not registered"
    assert "ModelMetrics.ModelQuality.Statistics" in report["evaluation"]["problem"]
    assert report["trainingData"]["status"] == "not registered"
    assert report["explainability"]["status"] == "not registered"
    assert report["lineage"]["notRecorded"] == [
        "base model",
        "training data",
        "pipeline execution",
        "code version",
        "data hashes",
        "hyperparameters",
    ]
    assert schema_errors(card) == []
    assert set(card) == {"model_overview", "additional_information"}


def test_fairness_that_was_not_measured_is_said_so(aws, tmp_path: Path) -> None:
    unmeasured = {
        **EVALUATION,
        "fairness_metrics": {
            "max_disparity": {"value": 0.0, **NOT_ESTIMATED},
            "measured": False,
            "attributes": {},
        },
    }
    arn = register(aws, evaluation=unmeasured)
    assert run(arn, tmp_path / "out") == 0
    report, _, card = outputs(tmp_path / "out")
    assert report["fairness"]["status"] == "not measured"
    assert "fairness_metrics" not in {
        g["name"] for d in card["evaluation_details"] for g in d.get("metric_groups", [])
    }
    assert "No fairness measurement" in card["additional_information"]["caveats_and_recommendations"]


def test_an_unknown_model_package_is_one_line_exit_2_and_nothing_written(aws, tmp_path: Path, capsys) -> None:
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/fmft-prod-models/99"
    out = tmp_path / "out"

    assert run(arn, out) == 2

    error = capsys.readouterr().err
    assert error.count("\n") == 1 and arn in error and "ValidationException" in error
    assert not out.exists()


def test_a_model_card_that_cannot_be_saved_is_exit_1_with_the_report_written(
    aws, tmp_path: Path, monkeypatch, capsys
) -> None:
    arn = register(aws)
    monkeypatch.setattr(model_card, "MAX_CONTENT_CHARS", 10)

    assert run(arn, tmp_path / "out", "--create-model-card") == 1

    report, _, card = outputs(tmp_path / "out")
    assert report["modelCard"]["registry"]["status"] == "failed"
    size = len(model_card.create_model_card_request("x", card)["Content"])
    assert report["problems"] == [f"modelCard: content has {size} characters; CreateModelCard takes 10"]
    assert "error: model card: content has" in capsys.readouterr().err
    with pytest.raises(ClientError):
        aws["sagemaker"].describe_model_card(ModelCardName=f"{GROUP}-v1")


def test_a_refused_describe_is_not_a_missing_package() -> None:
    class Refusing:
        def describe_model_package(self, **_: Any) -> None:
            error = {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}
            raise ClientError(error, "DescribeModelPackage")

    with pytest.raises(registry.ModelPackageError) as error:
        registry.describe_model_package(
            Refusing(), "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1"
        )
    assert error.value.not_found is False and "AccessDeniedException: not allowed" in str(error.value)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--model-package-arn", "fmft-prod-models/3"], "not a model package version ARN"),
        (["--endpoint-name", ENDPOINT], "--endpoint-name and --variant-name go together"),
        (
            ["--endpoint-name", ENDPOINT, "--variant-name", VARIANT],
            "--endpoint-name needs --metric-namespace",
        ),
        (["--nag-report", "no/such/cdk.out"], "--nag-report no/such/cdk.out: no such file or directory"),
        (["--monitoring-hours", "0"], "--monitoring-hours 0"),
    ],
)
def test_bad_flags_stop_before_any_aws_call(flags: list[str], message: str, tmp_path: Path, capsys) -> None:
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/fmft-prod-models/3"
    args = ["report", "--model-package-arn", arn, "--output-dir", str(tmp_path / "out"), *flags]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_in_a_subprocess(aws, tmp_path: Path) -> None:
    arn = register(aws)
    env = {**os.environ, "AWS_ENDPOINT_URL": aws["endpoint"], "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "training.compliance", "report", "--model-package-arn", arn]
    command += ["--output-dir", str(tmp_path / "out"), "--region", "us-east-1"]

    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{GROUP} version 1: approval PendingManualApproval, evaluation present")
    report, _, card = outputs(tmp_path / "out")
    assert report["evaluation"]["metrics"][0]["value"] == 0.875
    assert schema_errors(card) == []
    unknown = arn.replace("/1", "/2")
    command[command.index(arn)] = unknown
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and unknown in done.stderr and done.stderr.count("\n") == 1


# ---------------------------------------------------------------------------------------------------------
# Parts moto does not cover: CloudTrail, and the limits of the APIs and the schema


class StandInCloudTrail:
    """Answers LookupEvents like CloudTrail, two pages; records each request."""

    def __init__(self, pages: list[list[dict[str, Any]]], fail: bool = False) -> None:
        self.pages, self.fail, self.requests = pages, fail, []

    def lookup_events(self, **params: Any) -> dict[str, Any]:
        self.requests.append(params)
        if self.fail:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "LookupEvents")
        index = int(params.get("NextToken", "0"))
        page = {"Events": self.pages[index]}
        if index + 1 < len(self.pages):
            page["NextToken"] = str(index + 1)
        return page


def trail_event(arn: str, when: str, status: str, who: str, description: str | None = None) -> dict[str, Any]:
    detail = {
        "eventTime": when,
        "eventName": "UpdateModelPackage",
        "userIdentity": {"arn": who},
        "requestParameters": {"modelPackageArn": arn, "modelApprovalStatus": status},
    }
    if description:
        detail["requestParameters"]["approvalDescription"] = description
    moment = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
    return {"EventName": "UpdateModelPackage", "EventTime": moment, "CloudTrailEvent": json.dumps(detail)}


def test_cloudtrail_gives_the_approval_history_of_this_version_only() -> None:
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/fmft-prod-models/3"
    other = arn.replace("/3", "/4")
    reviewer = "arn:aws:sts::123456789012:assumed-role/ModelApprover/alice"
    pages = [
        [
            trail_event(arn, "2026-11-20T09:00:00Z", "Approved", reviewer, "MRB-12"),
            trail_event(other, "2026-11-21T09:00:00Z", "Approved", reviewer),
        ],
        [trail_event(arn, "2026-11-10T09:00:00Z", "Rejected", reviewer, "needs fairness review")],
    ]
    client = StandInCloudTrail(pages)
    now = dt.datetime(2026, 11, 29, 12, tzinfo=dt.UTC)

    history = registry.cloudtrail_history(client, arn, now)

    assert history["status"] == "read" and history["truncated"] is False
    assert [(e["time"], e["status"], e["description"]) for e in history["events"]] == [
        ("2026-11-10T09:00:00Z", "Rejected", "needs fairness review"),
        ("2026-11-20T09:00:00Z", "Approved", "MRB-12"),
    ]
    assert {e["by"] for e in history["events"]} == {reviewer}
    assert len(client.requests) == 2 and client.requests[1]["NextToken"] == "1"
    assert client.requests[0]["StartTime"] == now - dt.timedelta(days=90)
    for request in client.requests:
        assert api_problems("cloudtrail", "LookupEvents", request) == []

    failed = registry.cloudtrail_history(StandInCloudTrail([], fail=True), arn, now)
    assert failed["status"] == "error" and "AccessDeniedException" in failed["problem"]


def test_the_requests_fit_the_api_models() -> None:
    start = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)
    query = monitoring.metric_data_request(
        NAMESPACE, ENDPOINT, VARIANT, start, start + dt.timedelta(hours=24)
    )
    assert api_problems("cloudwatch", "GetMetricData", query) == []
    assert [q["Label"] for q in query["MetricDataQueries"]] == [
        m["name"] for m in monitoring.CONTRACT["metrics"]
    ]
    assert api_problems("cloudwatch", "DescribeAlarms", {"AlarmTypes": ["MetricAlarm"]}) == []
    assert (
        api_problems(
            "sagemaker",
            "DescribeModelPackage",
            {"ModelPackageName": "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1"},
        )
        == []
    )
    card = {"model_overview": {"model_description": "x"}}
    request = model_card.create_model_card_request(model_card.card_name("a" * 63, 12345), card)
    assert api_problems("sagemaker", "CreateModelCard", request) == []
    assert (
        api_problems(
            "sagemaker",
            "UpdateModelCard",
            {"ModelCardName": request["ModelCardName"], "Content": request["Content"]},
        )
        == []
    )


@pytest.mark.parametrize(
    ("group", "version", "expected"),
    [
        ("fmft-prod-models", 3, "fmft-prod-models-v3"),
        ("a" * 63, 12, "a" * 50 + "-" + hashlib.sha256(b"a" * 63).hexdigest()[:8] + "-v12"),
    ],
)
def test_card_names_fit_the_api_pattern(group: str, version: int, expected: str) -> None:
    name = model_card.card_name(group, version)
    assert name == expected and len(name) <= 63 and model_card.CARD_NAME.fullmatch(name)


def test_long_values_are_cut_to_the_schema_limits() -> None:
    long = "x" * 5000
    report = {
        "modelPackage": {
            "arn": "arn",
            "group": "g",
            "version": 1,
            "description": long,
            "modelArtifacts": [long],
            "inferenceImages": [{"image": long, "digest": None}],
        },
        "lineage": {
            "baseModel": long,
            "trainingData": long,
            "pipelineExecution": long,
            "trainingInstanceType": "ml.g5",
            "hyperparameterTuning": None,
            "codeVersion": long,
            "codeRepository": None,
            "hyperparameters": {long: long, **{f"p{i}": str(i) for i in range(150)}},
            "dataHashes": {},
            "notRecorded": [],
        },
        "evaluation": {
            "status": "present",
            "uri": long,
            "task": "qa",
            "records": 3,
            "evaluatedAt": None,
            "metrics": [
                {"section": long, "metric": long, "value": 0.5, "standardDeviation": None},
                {"section": "s", "metric": "m", "value": "NaN", "standardDeviation": None},
            ],
        },
        "fairness": {"status": "not evaluated"},
        "explainability": {"status": "present", "uri": long, "summary": {"method": long, "samples": 3}},
        "trainingData": {"status": "present", "records": 7},
        "approval": {"status": "Approved", "createdBy": long},
    }

    card = model_card.build_content(report)

    assert schema_errors(card) == []
    assert len(card["training_details"]["training_job_details"]["hyper_parameters"]) == 100
    assert len(card["evaluation_details"][0]["metric_groups"][0]["name"]) == 63
    assert (
        "1 metrics without a finite value left out" in card["evaluation_details"][0]["evaluation_observation"]
    )
    request = model_card.create_model_card_request("g-v1", card)
    assert api_problems("sagemaker", "CreateModelCard", request) == []


def test_the_schema_catches_what_the_tests_rely_on_it_to_catch() -> None:
    """The vendored schema rejects an unknown section, a metric without a value and a bad risk rating, so a
    card that passes is one SageMaker's schema accepts."""
    assert schema_errors({"model_overview": {"model_description": "x"}}) == []
    assert schema_errors({"owner_notes": "x"})
    assert schema_errors(
        {
            "evaluation_details": [
                {
                    "name": "e",
                    "metric_groups": [{"name": "g", "metric_data": [{"name": "m", "type": "number"}]}],
                }
            ]
        }
    )
    assert schema_errors({"intended_uses": {"risk_rating": "Lowish"}})


def test_the_vendored_schema_is_the_published_file() -> None:
    readme = (model_card.SCHEMA_PATH.parent / "README.md").read_text(encoding="utf-8")
    digest = hashlib.sha256(model_card.SCHEMA_PATH.read_bytes()).hexdigest()
    assert f"`{digest}`" in readme
    schema = json.loads(model_card.SCHEMA_PATH.read_text(encoding="utf-8"))
    assert (schema["title"], schema["$schema"]) == (
        "SageMakerModelCardSchema",
        "http://json-schema.org/draft-07/schema#",
    )


def test_nag_reports_of_a_directory_and_of_the_older_layout(tmp_path: Path) -> None:
    (tmp_path / "validation-report.json").write_text(json.dumps(NAG_REPORT), encoding="utf-8")
    older = {
        "title": "Validation Report",
        "pluginReports": [
            {
                "summary": {"pluginName": "NIST.800.53.R5", "status": "failure"},
                "violations": [
                    {
                        "ruleName": "NIST.800.53.R5-S3BucketLoggingEnabled",
                        "violatingResources": [{"resourceLogicalId": "Data"}],
                    }
                ],
            }
        ],
    }
    (tmp_path / "older.json").write_text(json.dumps(older), encoding="utf-8")
    (tmp_path / "manifest.json").write_text('{"version": "55.0.0"}', encoding="utf-8")
    broken = tmp_path / "broken" / "validation-report.json"
    broken.parent.mkdir()
    broken.write_text("{", encoding="utf-8")

    summary = nag.summarize([str(tmp_path), str(broken), str(tmp_path / "empty")])

    packs = {p["pack"]: p for p in summary["packs"]}
    assert sorted(packs) == ["AwsSolutions", "HIPAA.Security", "NIST.800.53.R5"]
    assert packs["NIST.800.53.R5"]["conclusion"] == "failure"
    assert packs["NIST.800.53.R5"]["unacknowledged"][0]["constructs"] == ["Data"]
    assert summary["files"] == [str(tmp_path / "older.json"), str(tmp_path / "validation-report.json")]
    assert summary["status"] == "read" and len(summary["problems"]) == 2
    assert summary["problems"][0].startswith(f"{broken}: not a policy-validation report (JSONDecodeError")
    assert summary["problems"][1].startswith(f"{tmp_path / 'empty'}: not a policy-validation report")
