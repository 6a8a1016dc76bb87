"""What the model registry holds about one model package version, and the documents it points at.

DescribeModelPackage gives the version's status and approval, its lineage (``CustomerMetadataProperties``,
written by the pipeline's RegisterModel step in lib/pipeline/fine-tuning-pipeline.ts) and the S3 URIs of its
evaluation report (``ModelMetrics.ModelQuality.Statistics``, training/evaluate's evaluation.json) and of its
training-data profile (``DriftCheckBaselines.ModelDataQuality.Statistics``, training/monitor's baseline.json).
A document that is missing or malformed is reported with its problem, never raised: only a model package
that cannot be described is an error.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from training.evaluate import metric_names as names
from training.evaluate.report import metric_items
from training.monitor.profile import LENGTHS
from training.monitor.profile import SCHEMA_VERSION as BASELINE_SCHEMA_VERSION

# A versioned model package: arn:<partition>:sagemaker:<region>:<account>:model-package/<group>/<version>.
MODEL_PACKAGE_ARN = re.compile(
    r"arn:aws[a-z-]*:sagemaker:([a-z0-9-]+):(\d{12}):model-package/([A-Za-z0-9](?:-*[A-Za-z0-9]){0,62})/(\d+)"
)
# What DescribeModelPackage answers for a model package that does not exist (ValidationException "... not
# found" / "does not exist"), and the code other SageMaker reads use.
NOT_FOUND_CODES = frozenset({"ValidationException", "ResourceNotFound", "ResourceNotFoundException"})

# Keys of evaluation.json's fairness_metrics section (training/evaluate/fairness.py). The section is read
# with .get throughout, so reports written before it had these keys still read.
MEASURED = getattr(names, "MEASURED", "measured")
ATTRIBUTES = getattr(names, "ATTRIBUTES", "attributes")
MAX_DISPARITY_FROM = getattr(names, "MAX_DISPARITY_FROM", "max_disparity_from")

# CustomerMetadataProperties keys of the pipeline's lineage, and their names in compliance.json.
LINEAGE_KEYS = {
    "base_model": "baseModel",
    "training_data": "trainingData",
    "pipeline_execution": "pipelineExecution",
    "training_instance_type": "trainingInstanceType",
    "hyperparameter_tuning": "hyperparameterTuning",
    "code_version": "codeVersion",
}
HYPERPARAMETER_PREFIX = "hp_"
# CustomerMetadataProperties key that may hold the S3 URI of explanations.json (training.explain).
EXPLANATIONS_KEY = "explanations"
# Keys whose value is a content hash of an input (e.g. training_data_sha256).
_HASH_KEY = re.compile(r"[A-Za-z0-9_.:-]*_(?:sha256|sha1|md5|hash|digest)")

# Documents larger than this are not read (an evaluation report is kilobytes, a baseline about a megabyte).
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
_MISSING_CODES = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})


class ModelPackageError(Exception):
    """DescribeModelPackage failed; ``not_found`` when the ARN names no model package (a bad input)."""

    def __init__(self, message: str, not_found: bool) -> None:
        super().__init__(message)
        self.not_found = not_found


def iso(value: Any) -> str | None:
    """A timestamp as ``2026-11-29T10:00:00Z`` (UTC); strings are kept as they are."""
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return None if value is None else str(value)


def user(context: Any) -> str | None:
    """Who a SageMaker UserContext names: the IAM identity's ARN, else the Studio user profile."""
    if not isinstance(context, dict):
        return None
    identity = context.get("IamIdentity") or {}
    return (
        identity.get("Arn")
        or context.get("UserProfileName")
        or context.get("UserProfileArn")
        or identity.get("PrincipalId")
    )


def describe_model_package(sagemaker: Any, arn: str) -> dict[str, Any]:
    try:
        response = sagemaker.describe_model_package(ModelPackageName=arn)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        detail = f"{code}: {error.get('Message', '')}".strip(": ")
        raise ModelPackageError(
            f"cannot describe model package {arn}: {detail}", not_found=code in NOT_FOUND_CODES
        ) from exc
    except BotoCoreError as exc:
        raise ModelPackageError(f"cannot describe model package {arn}: {exc}", not_found=False) from exc
    response.pop("ResponseMetadata", None)
    return response


def model_package_summary(package: dict[str, Any]) -> dict[str, Any]:
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
    return {
        "arn": package.get("ModelPackageArn"),
        "group": package.get("ModelPackageGroupName"),
        "version": package.get("ModelPackageVersion"),
        "description": package.get("ModelPackageDescription"),
        "status": package.get("ModelPackageStatus"),
        "createdAt": iso(package.get("CreationTime")),
        "inferenceImages": [
            {"image": c.get("Image"), "digest": c.get("ImageDigest")} for c in containers if c.get("Image")
        ],
        "modelArtifacts": [c["ModelDataUrl"] for c in containers if c.get("ModelDataUrl")],
        "realtimeInstanceTypes": (package.get("InferenceSpecification") or {}).get(
            "SupportedRealtimeInferenceInstanceTypes", []
        ),
    }


def lineage(package: dict[str, Any]) -> dict[str, Any]:
    """Base model, data, code version, hashes and hyperparameters the version was registered with."""
    meta = {str(k): str(v) for k, v in (package.get("CustomerMetadataProperties") or {}).items()}
    props = package.get("MetadataProperties") or {}
    out: dict[str, Any] = {camel: meta.get(key) for key, camel in LINEAGE_KEYS.items()}
    if out["codeVersion"] is None and props.get("CommitId"):
        out["codeVersion"] = props["CommitId"]
    out["codeRepository"] = props.get("Repository")
    out["generatedBy"] = props.get("GeneratedBy")
    hyper = {k: v for k, v in sorted(meta.items()) if k.startswith(HYPERPARAMETER_PREFIX)}
    out["hyperparameters"] = {k[len(HYPERPARAMETER_PREFIX) :]: v for k, v in hyper.items()}
    hashes = {k: v for k, v in sorted(meta.items()) if _HASH_KEY.fullmatch(k)}
    out["dataHashes"] = hashes
    known = set(LINEAGE_KEYS) | {EXPLANATIONS_KEY} | set(hyper) | set(hashes)
    out["otherMetadata"] = {k: v for k, v in sorted(meta.items()) if k not in known}
    recorded = {
        "base model": out["baseModel"],
        "training data": out["trainingData"],
        "pipeline execution": out["pipelineExecution"],
        "code version": out["codeVersion"],
        "data hashes": out["dataHashes"],
        "hyperparameters": out["hyperparameters"] or out["hyperparameterTuning"],
    }
    out["notRecorded"] = [what for what, value in recorded.items() if not value]
    return out


# ---------------------------------------------------------------------------------------------------------
# Documents in S3 (or, for --explanations, on disk)


@dataclass(frozen=True)
class Document:
    """A JSON document the registry points at: ``present`` (with its value), ``missing``, ``unreadable``,
    ``invalid`` (not JSON, too large, a bad URI) or ``not registered`` (no URI at all)."""

    uri: str | None
    status: str
    value: Any = None
    problem: str | None = None


class _Unusable(Exception):
    def __init__(self, status: str, problem: str) -> None:
        super().__init__(problem)
        self.status = status


def split_s3_uri(uri: str) -> tuple[str, str]:
    match = re.fullmatch(r"s3://([^/]+)/(.+)", uri)
    if not match:
        raise _Unusable("invalid", f"{uri}: not an s3://bucket/key URI")
    return match[1], match[2]


def _read_s3(s3: Any, uri: str) -> bytes:
    bucket, key = split_s3_uri(uri)
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _MISSING_CODES:
            raise _Unusable("missing", f"{uri}: no such object ({code})") from exc
        raise _Unusable("unreadable", f"{uri}: {code or exc}") from exc
    except BotoCoreError as exc:
        raise _Unusable("unreadable", f"{uri}: {exc}") from exc
    if (response.get("ContentLength") or 0) > MAX_DOCUMENT_BYTES:
        raise _Unusable("invalid", f"{uri}: larger than {MAX_DOCUMENT_BYTES} bytes, not read")
    return response["Body"].read(MAX_DOCUMENT_BYTES + 1)


def _read_file(uri: str) -> bytes:
    path = Path(uri)
    if not path.is_file():
        raise _Unusable("missing", f"{uri}: no such file")
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise _Unusable("unreadable", f"{uri}: {exc}") from exc


def read_document(uri: str | None, s3: Any) -> Document:
    """The JSON document at ``uri`` (``s3://`` or a local path), or why it cannot be used."""
    if not uri:
        return Document(None, "not registered")
    try:
        raw = _read_s3(s3, uri) if uri.startswith("s3://") else _read_file(uri)
        if len(raw) > MAX_DOCUMENT_BYTES:
            raise _Unusable("invalid", f"{uri}: larger than {MAX_DOCUMENT_BYTES} bytes, not read")
        try:
            return Document(uri, "present", json.loads(raw.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _Unusable("invalid", f"{uri}: not JSON ({exc})") from exc
    except _Unusable as exc:
        return Document(uri, exc.status, problem=str(exc))


def statistics_uri(package: dict[str, Any], section: str, member: str) -> str | None:
    """``package[section][member]["Statistics"]["S3Uri"]``, e.g. ModelMetrics.ModelQuality."""
    return (((package.get(section) or {}).get(member) or {}).get("Statistics") or {}).get("S3Uri")


def explanations_uri(package: dict[str, Any], given: str | None) -> tuple[str | None, str | None]:
    """Where explanations.json is, and what said so: the flag, the model package's explainability report
    (ModelMetrics.Explainability.Report) or its ``explanations`` metadata."""
    if given:
        return given, "--explanations"
    report = ((package.get("ModelMetrics") or {}).get("Explainability") or {}).get("Report") or {}
    if report.get("S3Uri"):
        return report["S3Uri"], "ModelMetrics.Explainability.Report"
    meta = package.get("CustomerMetadataProperties") or {}
    if meta.get(EXPLANATIONS_KEY):
        return meta[EXPLANATIONS_KEY], f"CustomerMetadataProperties.{EXPLANATIONS_KEY}"
    return None, None


# ---------------------------------------------------------------------------------------------------------
# Summaries of the documents


def number(value: Any) -> Any:
    """A metric value fit for JSON: finite numbers as they are, NaN/inf as the string SageMaker writes."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return value if math.isfinite(value) else names.NOT_ESTIMATED
    return str(value)


def _base(doc: Document, what: str) -> dict[str, Any]:
    out: dict[str, Any] = {"status": doc.status, "uri": doc.uri}
    if doc.problem:
        out["problem"] = doc.problem
    elif doc.status == "not registered":
        out["problem"] = f"the model package registers no {what}"
    return out


def evaluation_summary(doc: Document) -> dict[str, Any]:
    """Task, record count and every headline metric of evaluation.json (fairness apart, see below)."""
    out = _base(doc, "evaluation report (ModelMetrics.ModelQuality.Statistics)")
    if doc.status != "present":
        return out
    report = doc.value
    if not isinstance(report, dict):
        return {**out, "status": "invalid", "problem": f"{doc.uri}: not an object of metric sections"}
    metrics = [
        {
            "section": section,
            "metric": metric,
            "value": number(entry["value"]),
            "standardDeviation": number(entry.get("standard_deviation")),
        }
        for section, content in report.items()
        if section not in (names.METADATA, names.PER_GROUP, names.FAIRNESS) and isinstance(content, dict)
        for metric, entry in metric_items(content)
    ]
    fairness = report.get(names.FAIRNESS)
    if not metrics and not (isinstance(fairness, dict) and metric_items(fairness)):
        return {**out, "status": "invalid", "problem": f'{doc.uri}: holds no metric ({{"value": ...}} entry)'}
    meta = report.get(names.METADATA) if isinstance(report.get(names.METADATA), dict) else {}
    groups = report.get(names.PER_GROUP) if isinstance(report.get(names.PER_GROUP), dict) else {}
    return {
        **out,
        "task": meta.get("task"),
        "records": meta.get("records"),
        "evaluatedAt": meta.get("created_at"),
        "metrics": metrics,
        "groupRecords": {str(g): v.get("count") for g, v in groups.items() if isinstance(v, dict)},
    }


def fairness_summary(doc: Document) -> dict[str, Any]:
    """The fairness_metrics section of evaluation.json: disparities across the groups of the test data, at
    the top (each metric's worst value over the attributes, and max_disparity, the gated value) and per
    protected attribute (``attributes``). ``measured: false`` means no attribute was measured."""
    report = doc.value if doc.status == "present" and isinstance(doc.value, dict) else None
    if report is None:
        return {"status": "not evaluated", "problem": "no usable evaluation report"}
    fairness = report.get(names.FAIRNESS)
    if not isinstance(fairness, dict):
        return {
            "status": "not evaluated",
            "problem": f"{doc.uri} has no {names.FAIRNESS} section (the test data had no group field)",
        }
    if fairness.get(MEASURED) is False:
        return {
            "status": "not measured",
            "problem": f"{doc.uri}: no protected attribute was measured ({names.FAIRNESS}.{MEASURED}: false)",
        }
    meta = report.get(names.METADATA) if isinstance(report.get(names.METADATA), dict) else {}
    attributes = fairness.get(ATTRIBUTES) if isinstance(fairness.get(ATTRIBUTES), dict) else {}
    per_attribute = [
        {
            "attribute": str(name),
            "groups": [str(g) for g in value.get("groups") or []],
            "metrics": [
                {"metric": k, "value": number(v["value"]), "lowerIsBetter": not names.higher_is_better(k)}
                for k, v in metric_items(value)
            ],
        }
        for name, value in attributes.items()
        if isinstance(value, dict)
    ]
    groups = sorted({g for a in per_attribute for g in a["groups"]}) or [
        str(g) for g in meta.get("groups") or sorted((report.get(names.PER_GROUP) or {}).keys())
    ]
    return {
        "status": "present",
        "metrics": [
            {"metric": k, "value": number(v["value"]), "lowerIsBetter": not names.higher_is_better(k)}
            for k, v in metric_items(fairness)
        ],
        "largestFrom": fairness.get(MAX_DISPARITY_FROM),
        "attributes": per_attribute,
        "positiveLabel": fairness.get("positive_label"),
        "groups": groups,
        "groupsNotScored": fairness.get("groups_not_scored"),
    }


def baseline_summary(doc: Document) -> dict[str, Any]:
    """Records, lengths, writing systems, vocabulary and labels of the training data (baseline.json)."""
    out = _base(doc, "training-data baseline (DriftCheckBaselines.ModelDataQuality.Statistics)")
    if doc.status != "present":
        return out
    value = doc.value
    version = value.get("schemaVersion") if isinstance(value, dict) else None
    if version != BASELINE_SCHEMA_VERSION or not isinstance(value.get("records"), int):
        return {
            **out,
            "status": "invalid",
            "problem": f"{doc.uri}: not a baseline.json of schemaVersion {BASELINE_SCHEMA_VERSION} with a "
            f"record count (schemaVersion {version!r})",
        }
    lengths = value.get("lengths") if isinstance(value.get("lengths"), dict) else {}
    vocabulary = value.get("vocabulary") if isinstance(value.get("vocabulary"), dict) else {}
    labels = value.get("labels") if isinstance(value.get("labels"), dict) else None
    scripts = value.get("scripts") if isinstance(value.get("scripts"), dict) else {}
    counts = labels.get("counts") if labels and isinstance(labels.get("counts"), dict) else {}
    return {
        **out,
        "records": value["records"],
        "lengths": {
            name: {"count": lengths[name].get("count"), "mean": number(lengths[name].get("mean"))}
            for name in LENGTHS
            if isinstance(lengths.get(name), dict)
        },
        "scripts": dict(list(scripts.items())[:5]),
        "vocabulary": {
            "words": len(vocabulary.get("words") or {}),
            "totalWords": vocabulary.get("totalWords"),
            "coverage": number(vocabulary.get("coverage")),
        },
        "labels": {
            "classes": len(counts),
            "multiLabel": bool(labels.get("multiLabel")),
            "counts": dict(list(counts.items())[:20]),
        }
        if labels
        else None,
    }


def explanations_summary(doc: Document, source: str | None) -> dict[str, Any]:
    """The top-level ``summary`` of explanations.json (training.explain); optional."""
    if doc.status == "not registered":
        return {
            "status": "not registered",
            "problem": "no explanations: pass --explanations, or register explanations.json as "
            "ModelMetrics.Explainability.Report",
        }
    out = {**_base(doc, "explanations"), "source": source}
    if doc.status != "present":
        return out
    if not isinstance(doc.value, dict) or "summary" not in doc.value:
        return {**out, "status": "invalid", "problem": f"{doc.uri}: has no top-level summary"}
    return {**out, "summary": doc.value["summary"]}


# ---------------------------------------------------------------------------------------------------------
# Approval history

UPDATE_EVENT = "UpdateModelPackage"
CLOUDTRAIL_LOOKBACK = dt.timedelta(days=90)  # what CloudTrail's event history keeps
_LOOKUP_PAGE = 50  # LookupEvents' largest MaxResults
_LOOKUP_MAX_PAGES = 20
APPROVAL_NOTE = (
    "DescribeModelPackage keeps only the current approval status and its last change. Every change is an "
    f"{UPDATE_EVENT} event in CloudTrail: in its event history for 90 days (read with --with-cloudtrail), "
    "and for as long as the platform's audit trail keeps its files."
)


def approval(package: dict[str, Any]) -> dict[str, Any]:
    history = [
        {
            "time": iso(package.get("CreationTime")),
            "event": "registered (CreateModelPackage)",
            "by": user(package.get("CreatedBy")),
            "status": None,
            "description": None,
            "source": "DescribeModelPackage",
        }
    ]
    if package.get("LastModifiedTime"):
        history.append(
            {
                "time": iso(package.get("LastModifiedTime")),
                "event": "last change",
                "by": user(package.get("LastModifiedBy")),
                "status": package.get("ModelApprovalStatus"),
                "description": package.get("ApprovalDescription"),
                "source": "DescribeModelPackage",
            }
        )
    return {
        "status": package.get("ModelApprovalStatus"),
        "description": package.get("ApprovalDescription"),
        "createdAt": iso(package.get("CreationTime")),
        "createdBy": user(package.get("CreatedBy")),
        "lastModifiedAt": iso(package.get("LastModifiedTime")),
        "lastModifiedBy": user(package.get("LastModifiedBy")),
        "history": history,
        "cloudTrail": {"status": "not requested"},
        "note": APPROVAL_NOTE,
    }


def lookup_events_request(start: dt.datetime, end: dt.datetime, token: str | None = None) -> dict[str, Any]:
    """One page of CloudTrail LookupEvents for UpdateModelPackage events. LookupEvents takes one attribute;
    the event name is filtered by CloudTrail, the model package ARN here (requestParameters), which holds
    whether or not the service filled the event's resource list."""
    params: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": UPDATE_EVENT}],
        "StartTime": start,
        "EndTime": end,
        "MaxResults": _LOOKUP_PAGE,
    }
    if token:
        params["NextToken"] = token
    return params


def approval_event(event: dict[str, Any], arn: str) -> dict[str, Any] | None:
    """The approval change an UpdateModelPackage event records for ``arn``; None for other packages."""
    try:
        detail = json.loads(event.get("CloudTrailEvent") or "{}")
    except (TypeError, json.JSONDecodeError):
        detail = {}
    detail = detail if isinstance(detail, dict) else {}
    params = detail.get("requestParameters") or {}
    if str(params.get("modelPackageArn", "")).lower() != arn.lower():
        return None
    identity = detail.get("userIdentity") or {}
    return {
        "time": iso(event.get("EventTime")) or detail.get("eventTime"),
        "event": UPDATE_EVENT,
        "by": identity.get("arn") or event.get("Username"),
        "status": params.get("modelApprovalStatus"),
        "description": params.get("approvalDescription"),
        "error": detail.get("errorCode"),
        "source": "CloudTrail",
    }


def cloudtrail_history(cloudtrail: Any, arn: str, now: dt.datetime) -> dict[str, Any]:
    """The UpdateModelPackage events of ``arn`` in CloudTrail's event history, oldest first."""
    events: list[dict[str, Any]] = []
    token: str | None = None
    start = now - CLOUDTRAIL_LOOKBACK
    try:
        for _ in range(_LOOKUP_MAX_PAGES):
            response = cloudtrail.lookup_events(**lookup_events_request(start, now, token))
            events += [e for e in (approval_event(x, arn) for x in response.get("Events", [])) if e]
            token = response.get("NextToken")
            if not token:
                break
    except (ClientError, BotoCoreError) as exc:
        return {"status": "error", "problem": f"CloudTrail LookupEvents failed: {exc}", "events": []}
    return {
        "status": "read",
        "from": iso(start),
        "to": iso(now),
        "events": sorted(events, key=lambda e: e["time"] or ""),
        "truncated": bool(token),
    }
