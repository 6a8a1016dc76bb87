"""Keeps every model version's registration as data beside the model, so the DR region has the registry too.

The model registry is regional: when the primary region is down, nothing can describe its versions. S3
replication (the storage stack's, into the DR stack's replicas) already copies the model artifacts; this
copies the registrations the same way. Each version is written as
``<registryExports><group>/<version, 6 digits>.json`` of the model artifacts bucket (prefix from
``training/contracts/storage-layout.json``), which replicates with Replication Time Control like the
artifacts. ``training.dr.restore`` reads these files in the DR region and registers the versions again there.

Lambda handler ``training.dr.registry_export.handler``, run by a rule of the registry stack on every
"SageMaker Model Package State Change" event of the environment's group: a new version, an approval, a
rejection or a later change each rewrite the version's file, so the export always says what the registry
says (restore registers only versions whose export says ``Approved``). A version that was deleted is not
removed from the export (an export is a record, and the DR region may need a version deleted by mistake).

The same by hand, with your own credentials and the function's settings, for the versions registered before
the function existed: ``python -m training.dr export [--version N]`` (every version of the group, or one).

Settings come from ``FMFT_REGISTRY_EXPORT_SETTINGS`` (JSON written by the CDK construct)::

    {"modelPackageGroupName": "fmft-dev-fine-tuning-models", "artifactsBucket": "<bucket name>"}

An export file is ``{"exportedAt", "artifactsBucket", "modelPackageArn", "modelPackageGroupName", "version",
"approvalStatus", "modelPackage": <DescribeModelPackage's answer, times as ISO 8601>}``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from training.common.args import UsageError

_LAYOUT = json.loads((Path(__file__).resolve().parents[1] / "contracts" / "storage-layout.json").read_text())
EXPORTS_PREFIX: str = _LAYOUT["buckets"]["modelArtifacts"]["prefixes"]["registryExports"]
SETTINGS_ENV = "FMFT_REGISTRY_EXPORT_SETTINGS"
SETTINGS_KEYS = ("modelPackageGroupName", "artifactsBucket")
DETAIL_TYPE = "SageMaker Model Package State Change"
# arn:<partition>:sagemaker:<region>:<account>:model-package/<group>/<version>
VERSION_ARN = re.compile(
    r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/([A-Za-z0-9-]{1,63})/(\d+)"
)
# CreateModelPackage's ModelPackageGroupName pattern (botocore's sagemaker model, EntityName).
GROUP_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")


class ExportError(Exception):
    """Bad settings or an event this function cannot take."""


def check_settings(cfg: Any) -> dict[str, str]:
    if not isinstance(cfg, dict):
        raise ExportError(
            f"{SETTINGS_ENV}: got {cfg!r}; allowed: a JSON object with {', '.join(SETTINGS_KEYS)}"
        )
    problems = [
        f"{key}: unknown key; allowed: {', '.join(SETTINGS_KEYS)}" for key in cfg if key not in SETTINGS_KEYS
    ]
    group, bucket = cfg.get("modelPackageGroupName"), cfg.get("artifactsBucket")
    if not isinstance(group, str) or not GROUP_NAME.fullmatch(group):
        problems.append(f"modelPackageGroupName: got {group!r}; allowed: a model package group name")
    if not isinstance(bucket, str) or not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
        problems.append(f"artifactsBucket: got {bucket!r}; allowed: an S3 bucket name")
    if problems:
        raise ExportError(f"{SETTINGS_ENV}: " + "; ".join(problems))
    return {"modelPackageGroupName": group, "artifactsBucket": bucket}


def settings() -> dict[str, str]:
    raw = os.environ.get(SETTINGS_ENV)
    if raw is None:
        raise ExportError(f"{SETTINGS_ENV}: not set; allowed: the JSON the registry stack writes")
    try:
        return check_settings(json.loads(raw))
    except ValueError:
        raise ExportError(f"{SETTINGS_ENV}: got {raw!r}; allowed: JSON") from None


def export_key(group: str, version: int) -> str:
    """``registry/versions/<group>/000012.json``: zero-padded, so the keys sort by version."""
    return f"{EXPORTS_PREFIX}{group}/{version:06d}.json"


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


def export_version(
    s3: Any, sagemaker: Any, cfg: dict[str, str], arn: str, now: dt.datetime
) -> dict[str, Any]:
    """Describe one version of the configured group and write its export file; returns what was written
    (without the description)."""
    match = VERSION_ARN.fullmatch(arn)
    if not match or match.group(1) != cfg["modelPackageGroupName"]:
        raise ExportError(
            f"modelPackageArn: got {arn!r}; allowed: a version of {cfg['modelPackageGroupName']} "
            "(arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>)"
        )
    group, version = match.group(1), int(match.group(2))
    description = _json_safe(sagemaker.describe_model_package(ModelPackageName=arn))
    record = {
        "exportedAt": now.isoformat(),
        "artifactsBucket": cfg["artifactsBucket"],
        "modelPackageArn": arn,
        "modelPackageGroupName": group,
        "version": version,
        "approvalStatus": description.get("ModelApprovalStatus"),
    }
    key = export_key(group, version)
    body = json.dumps({**record, "modelPackage": description}, indent=2, sort_keys=True).encode()
    s3.put_object(Bucket=cfg["artifactsBucket"], Key=key, Body=body, ContentType="application/json")
    return {**record, "key": key}


def on_event(event: Any, cfg: dict[str, str], s3: Any, sagemaker: Any, now: dt.datetime) -> dict[str, Any]:
    if not isinstance(event, dict) or event.get("detail-type") != DETAIL_TYPE:
        kind = event.get("detail-type") if isinstance(event, dict) else event
        raise ExportError(f"detail-type: got {kind!r}; allowed: {DETAIL_TYPE!r}")
    detail = event.get("detail")
    arn = detail.get("ModelPackageArn") if isinstance(detail, dict) else None
    if not isinstance(arn, str):
        raise ExportError(f"detail.ModelPackageArn: got {arn!r}; allowed: a model package version ARN")
    return export_version(s3, sagemaker, cfg, arn, now)


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    import boto3  # the Lambda runtime's

    result = on_event(
        event, settings(), boto3.client("s3"), boto3.client("sagemaker"), dt.datetime.now(dt.UTC)
    )
    print(json.dumps(result))
    return result


def group_versions(sagemaker: Any, group: str) -> list[str]:
    """Every version ARN of the group, oldest first (ListModelPackages, every page)."""
    arns, token = [], None
    while True:
        page = sagemaker.list_model_packages(
            ModelPackageGroupName=group,
            SortBy="CreationTime",
            SortOrder="Ascending",
            MaxResults=100,
            **({"NextToken": token} if token else {}),
        )
        arns += [p["ModelPackageArn"] for p in page.get("ModelPackageSummaryList", [])]
        token = page.get("NextToken")
        if not token:
            return arns


@dataclasses.dataclass
class ExportArgs:
    """Write the export file of every version of the group (or one), as the registry stack's function does."""

    version: int | None = dataclasses.field(
        default=None, metadata={"help": "Only this version (default: all)"}
    )


def export_command(args: ExportArgs, s3: Any, sagemaker: Any, now: dt.datetime) -> dict[str, Any]:
    try:
        cfg = settings()
    except ExportError as error:
        raise UsageError(str(error)) from None
    if args.version is not None and args.version < 1:
        raise UsageError(f"--version: got {args.version}; allowed: a version number, 1 or more")
    arns = group_versions(sagemaker, cfg["modelPackageGroupName"])
    if args.version is not None:
        arns = [a for a in arns if a.rsplit("/", 1)[1] == str(args.version)]
        if not arns:
            raise UsageError(
                f"--version: got {args.version}; {cfg['modelPackageGroupName']} has no such version"
            )
    written = [export_version(s3, sagemaker, cfg, arn, now) for arn in arns]
    return {"bucket": cfg["artifactsBucket"], "exported": written}


if __name__ == "__main__":  # pragma: no cover - `python -m training.dr export` is the entry point
    sys.exit("run: python -m training.dr export")
