"""Finds the champion a candidate model is compared with: the registered version now in production.

Lambda handler ``training.registry.champion.handler``, called by a SageMaker pipeline Lambda step (``Type:
Lambda``) before the candidate is registered. SageMaker passes the step's ``Arguments`` as the event:

- ``modelPackageGroupName``: the model package group the candidate will be registered in (a name, not an
  ARN: 1-63 letters, digits and hyphens, starting and ending with a letter or digit);
- ``candidateModelUri``: ``s3://<bucket>/<key>``, the candidate's model data (its ``model.tar.gz``).

A missing or malformed field raises ``ValueError`` whose message names the field, the value and what is
allowed; the step then fails with that message.

Settings come from ``FMFT_CHAMPION_SETTINGS`` (JSON written by the CDK stack):
``{"servedModelPackageArns": [arn, ...], "manifestBucket": bucket, "manifestKey": key}``:

- ``servedModelPackageArns``: the versioned model package ARNs the environment's serving config deploys, in
  traffic order (first = most traffic); it may be empty;
- ``manifestBucket`` and ``manifestKey`` (optional, together; absent or null: none): the promotion
  workflow's serving manifest (``serving/manifests/current.json`` of the model artifacts bucket, written by
  ``training.registry.promotion``). While that object exists with ``status`` ``serving``, its
  ``variants[].modelPackageArn``, highest ``weight`` first (ties in the manifest's order), are the served
  ARNs instead of the configured ones: the versions promoted since the config was deployed. No such object:
  the configured ARNs, silently. An object that is not JSON, has no usable variants, or is in another
  status (a rollout in progress): the configured ARNs, and the reason says why. Reading it
  (``training.registry.serving_manifest``, shared with the capture monitor's planner) needs
  ``s3:ListBucket`` for the key as prefix (ListObjectsV2 tells a missing object; GetObject would answer
  403 for it under a prefix-limited ListBucket) and ``s3:GetObject`` on the key; any other S3 error fails
  the step like any other AWS error.

The champion is, in this order:

1. ``served``: the first served ARN whose package (DescribeModelPackage) is in the event's group and whose
   ``ModelApprovalStatus`` is ``Approved``. A served ARN of another group (or of none: an unversioned
   package), not Approved, or not found (ValidationException) is skipped, and the reason says why;
2. ``latest-approved``: else the most recently created Approved version of the group (ListModelPackages with
   ``ModelApprovalStatus=Approved``, ``SortBy=CreationTime``, ``SortOrder=Descending``: the first summary,
   following ``NextToken`` past empty pages);
3. ``none``: else there is no champion.

Its model data is ``InferenceSpecification.Containers[0].ModelDataUrl`` of DescribeModelPackage; a champion
without one, or with one that is not ``s3://<bucket>/<key>``, counts as no champion (the reason names it):
the candidate is then judged on its own rather than against a different version than the one in production.

The function returns (SageMaker maps each key to the step's ``OutputParameters``, all declared
``OutputType: String``; every value is a ``str``):

- ``hasChampion``: ``"true"`` or ``"false"``;
- ``championModelDataUrl``: the champion's ModelDataUrl, or ``candidateModelUri`` when there is none (a
  processing input must point somewhere; the evaluation job is told ``hasChampion=false`` and ignores it);
- ``championModelPackageArn``: the champion's versioned ARN, or ``"none"``;
- ``championSource``: ``"served"``, ``"latest-approved"`` or ``"none"``;
- ``reason``: one line: why this champion, or why none, naming every skipped served ARN and why.

Any other AWS error (throttling past the client's adaptive retries, access denied) fails the step. The
function needs ``sagemaker:DescribeModelPackage`` on the served ARNs and the group's versions, and
``sagemaker:ListModelPackages`` (and with a manifest, reading it as above, with the bucket key's
``kms:Decrypt``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from typing import Any

from training.registry.serving_manifest import SERVING, error_code, read_manifest

SETTINGS_ENV = "FMFT_CHAMPION_SETTINGS"
APPROVED = "Approved"
SOURCES = ("served", "latest-approved", "none")
NO_ARN = "none"
# ModelPackageGroupName in botocore's model, without the ARN form it also allows.
GROUP_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
GROUP_NAME_ALLOWED = (
    "a model package group name: 1-63 letters, digits and hyphens, starting and ending with a letter or digit"
)
_S3_URI = re.compile(r"^s3://[^/\s]+/\S+$")
# ListModelPackages page size; only the first summary is used.
LIST_PAGE_SIZE = 10
_SETTINGS_ALLOWED = 'JSON {"servedModelPackageArns": [arn, ...], "manifestBucket"?, "manifestKey"?}'


class ChampionInputError(ValueError):
    """The event or the settings are not what the step sends; the message names the field, the value and what
    is allowed."""


@dataclasses.dataclass(frozen=True)
class Found:
    """A version chosen as champion, before its model data is checked."""

    arn: str
    source: str
    description: dict[str, Any]
    why: str


def settings() -> dict[str, Any]:
    raw = os.environ.get(SETTINGS_ENV)
    if raw is None:
        raise ChampionInputError(f"{SETTINGS_ENV}: not set; allowed: {_SETTINGS_ALLOWED}")
    try:
        cfg = json.loads(raw)
    except ValueError:
        raise ChampionInputError(f"{SETTINGS_ENV}: got {raw[:200]!r}; allowed: {_SETTINGS_ALLOWED}") from None
    served_arns(cfg)
    manifest_location(cfg)
    return cfg


def served_arns(cfg: Any) -> list[str]:
    """The settings' served ARNs, in traffic order, each once."""
    served = cfg.get("servedModelPackageArns") if isinstance(cfg, dict) else None
    if not isinstance(served, list) or not all(isinstance(a, str) and a for a in served):
        raise ChampionInputError(
            f"{SETTINGS_ENV}.servedModelPackageArns: got {served!r}; "
            "allowed: a list (possibly empty) of versioned model package ARNs"
        )
    return list(dict.fromkeys(served))


def manifest_location(cfg: dict[str, Any]) -> tuple[str, str] | None:
    """``(manifestBucket, manifestKey)`` of the settings, or None when they name no serving manifest."""
    bucket, key = cfg.get("manifestBucket"), cfg.get("manifestKey")
    if bucket is None and key is None:
        return None
    for name, value in (("manifestBucket", bucket), ("manifestKey", key)):
        if not isinstance(value, str) or not value.strip():
            raise ChampionInputError(
                f"{SETTINGS_ENV}.{name}: got {value!r:.200}; allowed: manifestBucket and manifestKey "
                "together (a bucket name and the serving manifest's key), or neither"
            )
    return bucket, key


def manifest_arns(s3: Any, bucket: str, key: str) -> tuple[list[str] | None, str]:
    """The served ARNs of the serving manifest at ``s3://bucket/key``, highest weight first, and a note for
    the reason; ``(None, "")`` when there is no such object, ``(None, why)`` when it cannot be used."""
    where = f"s3://{bucket}/{key}"
    fallback = "using the configured served ARNs"
    manifest, unreadable = read_manifest(s3, bucket, key)
    if manifest is None:
        return None, f"serving manifest {where} {unreadable}: {fallback}" if unreadable else ""
    status = manifest.get("status")
    if status != SERVING:
        return None, f"serving manifest {where} has status {status!r}, not {SERVING!r}: {fallback}"
    variants = manifest.get("variants")
    usable = (
        isinstance(variants, list)
        and variants
        and all(
            isinstance(v, dict)
            and isinstance(v.get("modelPackageArn"), str)
            and v["modelPackageArn"]
            and isinstance(v.get("weight"), int | float)
            and not isinstance(v.get("weight"), bool)
            for v in variants
        )
    )
    if not usable:
        return None, (
            f"serving manifest {where} has no usable variants (a list of {{modelPackageArn, weight}}): "
            f"{fallback}"
        )
    ordered = sorted(variants, key=lambda v: -v["weight"])
    arns = list(dict.fromkeys(v["modelPackageArn"] for v in ordered))
    return arns, f"served ARNs from serving manifest {where}"


def parse_event(event: Any) -> tuple[str, str]:
    """``(modelPackageGroupName, candidateModelUri)`` of the step's Arguments."""
    if not isinstance(event, dict):
        raise ChampionInputError(
            f"event: got {event!r}; allowed: an object with modelPackageGroupName and candidateModelUri"
        )
    group = event.get("modelPackageGroupName")
    if not isinstance(group, str) or not GROUP_NAME.fullmatch(group):
        raise ChampionInputError(f"modelPackageGroupName: got {group!r}; allowed: {GROUP_NAME_ALLOWED}")
    candidate = event.get("candidateModelUri")
    if not isinstance(candidate, str) or not _S3_URI.fullmatch(candidate):
        raise ChampionInputError(
            f"candidateModelUri: got {candidate!r}; allowed: s3://<bucket>/<key>, the candidate's model data"
        )
    return group, candidate


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def served_champion(sm: Any, group: str, served: list[str]) -> tuple[Found | None, list[str]]:
    """The first served ARN in ``group`` that is Approved, and why each served ARN before it was skipped."""
    skipped: list[str] = []
    for arn in served:
        try:
            description = sm.describe_model_package(ModelPackageName=arn)
        except Exception as error:
            if error_code(error) not in ("ValidationException", "ResourceNotFound"):
                raise
            skipped.append(f"{arn}: not found ({_one_line(str(error))})")
            continue
        its_group = description.get("ModelPackageGroupName")
        status = description.get("ModelApprovalStatus")
        if its_group != group:
            where = f"group {its_group}" if its_group else "no group (an unversioned package)"
            skipped.append(f"{arn}: in {where}, not {group}")
        elif status != APPROVED:
            skipped.append(f"{arn}: {status or 'no approval status'}, not {APPROVED}")
        else:
            why = f"served version {arn} (position {served.index(arn) + 1} of {len(served)} served ARNs)"
            return Found(arn, "served", description, why), skipped
    return None, skipped


def latest_approved_arn(sm: Any, group: str) -> str | None:
    """The most recently created Approved version of ``group``, or None.

    ListModelPackages sorts across all pages on the server, so the first summary is the newest (moto honours
    SortBy/SortOrder too; the tests create versions whose approval order differs from their creation order).
    A filtered page may come back empty with a NextToken, hence the loop."""
    token = None
    while True:
        page = sm.list_model_packages(
            ModelPackageGroupName=group,
            ModelApprovalStatus=APPROVED,
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=LIST_PAGE_SIZE,
            **({"NextToken": token} if token else {}),
        )
        summaries = page.get("ModelPackageSummaryList") or []
        if summaries:
            return str(summaries[0]["ModelPackageArn"])
        token = page.get("NextToken")
        if not token:
            return None


def model_data_url(description: dict[str, Any]) -> tuple[str | None, str]:
    """The package's ``InferenceSpecification.Containers[0].ModelDataUrl``, or None and why it is unusable."""
    containers = (description.get("InferenceSpecification") or {}).get("Containers") or []
    first = containers[0] if containers and isinstance(containers[0], dict) else {}
    url = first.get("ModelDataUrl")
    if not url:
        extra = (
            " (it has a ModelDataSource, which this step does not read)" if "ModelDataSource" in first else ""
        )
        return None, f"has no InferenceSpecification.Containers[0].ModelDataUrl{extra}"
    if not isinstance(url, str) or not _S3_URI.fullmatch(url):
        return None, f"has ModelDataUrl {url!r}, not an s3://<bucket>/<key> URI"
    return url, ""


def choose(event: Any, cfg: dict[str, Any], sm: Any, s3: Any = None) -> dict[str, str]:
    """The step's output parameters for ``event`` (see the module docstring); ``s3`` reads the serving
    manifest when the settings name one."""
    group, candidate = parse_event(event)
    served = served_arns(cfg)
    location = manifest_location(cfg)
    notes: list[str] = []
    if location is not None:
        if s3 is None:
            raise TypeError("choose: the settings name a serving manifest, so an S3 client is needed")
        from_manifest, note = manifest_arns(s3, *location)
        if from_manifest is not None:
            served = from_manifest
        if note:
            notes.append(note)
    found, skipped = served_champion(sm, group, served)
    if skipped:
        notes.append("skipped served: " + "; ".join(skipped))
    elif not served:
        notes.append("no served model package ARNs configured")
    if found is None:
        arn = latest_approved_arn(sm, group)
        if arn is not None:
            description = sm.describe_model_package(ModelPackageName=arn)
            why = f"latest approved version {arn} of {group} (no served version of it is {APPROVED})"
            found = Found(arn, "latest-approved", description, why)

    def result(url: str | None, arn: str, source: str, reason: str) -> dict[str, str]:
        return {
            "hasChampion": "true" if url else "false",
            "championModelDataUrl": str(url or candidate),
            "championModelPackageArn": str(arn),
            "championSource": str(source),
            "reason": _one_line("; ".join([reason, *notes])),
        }

    if found is None:
        outcome = result(None, NO_ARN, "none", f"no {APPROVED} version in model package group {group}")
    else:
        url, problem = model_data_url(found.description)
        if url is None:
            reason = f"no usable champion: {found.why} {problem}"
            outcome = result(None, NO_ARN, "none", reason)
        else:
            outcome = result(url, found.arn, found.source, found.why)
    print(json.dumps({"modelPackageGroupName": group, **outcome}))
    return outcome


def handler(event: dict[str, Any], _context: Any = None) -> dict[str, str]:
    import boto3  # the Lambda runtime's
    from botocore.config import Config

    retries = Config(retries={"max_attempts": 8, "mode": "adaptive"})
    cfg = settings()
    s3 = boto3.client("s3", config=retries) if manifest_location(cfg) else None
    return choose(event, cfg, boto3.client("sagemaker", config=retries), s3)
