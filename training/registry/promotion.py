"""Staged promotion of a registered model version: staging validation, human approval, production rollout
and rollback, as the steps of the promotion state machine ``fmft-<env>-promotion``.

Two Lambda handlers and a command:

- ``training.registry.promotion.step_handler``: every Lambda state of the state machine; ``event["step"]``
  selects what it does (``check``, ``judge``, ``awaitApproval``, ``deploy``, ``rolloutStatus``, ``finish``,
  ``rollback``), the other fields of the event are that step's input (below).
- ``training.registry.promotion.events_handler``: the EventBridge rule "SageMaker Model Package State
  Change" of the model package group. ``PendingManualApproval`` starts an execution named ``v<N>`` with
  input ``{"modelPackageArn"}`` (a closed or differently started execution of that name, or a version the
  workflow has already validated, is skipped: our own UpdateModelPackage calls emit these events too);
  ``Approved`` and ``Rejected`` answer the task token the ``awaitApproval`` step left in
  ``<approvals>v<N>.json`` (SendTaskSuccess with ``{"approvedAt", "approvedBy", "approvalDescription"}``
  when the registry says Approved and ``staging_validation`` is ``passed``; SendTaskFailure with error
  ``VersionRejected``), then delete the record; a record whose version the registry no longer shows as
  Approved and passed is left alone and notified (``approval-ignored``). An approval without a record
  deploys nothing and is notified (``approved-without-request``), except the events of a version already in
  production (its ``production_status``: the finish step's own update). A token that timed out or is invalid
  (``TaskTimedOut``, ``InvalidToken``, ``TaskDoesNotExist``) is dropped with the record and notified
  (``approval-expired``).
- ``python -m training.registry.promotion status|rollback|validate``: the current manifest, the last
  history entries and the pending approvals; a rollback execution (``rollback-<UTC stamp>``, input
  ``{"action": "rollback", "reason"}``); a new validation of a version (``v<N>-<UTC stamp>``). JSON on
  stdout; exit status 0 done, 1 an AWS error or a refused rollback, 2 bad arguments or settings.

Settings come from ``FMFT_PROMOTION_SETTINGS`` (JSON written by the CDK stack)::

    {"environment", "modelPackageGroupName", "stateMachineArn", "stagingEndpointName", "container",
     "endpointsStackName", "cloudFormationRoleArn", "targetVariant", "artifactsBucket", "evaluationBucket",
     "trainingDataBucket", "goldenSetKey": null | key, "validation": {"task", "records", "maxNewTokens",
     "maxLatencyP95Ms", "maxErrorRate", "minimumScore": null | number}, "jobNamePrefix", "topicArn"}

Every key is checked when the settings are read (an unknown key is an error; ``goldenSetKey`` and
``validation.minimumScore`` may be left out for null); one ``PromotionError`` lists every problem.

Storage (prefixes from ``training/contracts/storage-layout.json``): the artifacts bucket holds
``<servingManifests>current.json`` (the served set: ``status`` ``serving`` | ``rolling-out`` |
``rolling-back``; ``failed`` when the first attempt's UpdateStack failed),
``<servingManifests>history/<UTC yyyymmddThhmmssZ>-v<N>.json`` (or ``-rollback.json``:
each attempt, its final status ``serving``, ``rolled-back`` or ``failed``) and ``<approvals>v<N>.json``
(``{"taskToken", "executionArn", "modelPackageArn", "version", "validationReport", "requestedAt"}``); the
evaluation bucket holds each validation under ``<staging>v<N>/<execution name>/`` (``canary/``,
``score/canary.json``, ``validation.json``). Objects are encrypted by the buckets' default KMS keys.

Steps (each returns JSON for the state machine; a refusal raises ``PromotionError`` or ``ManifestRefused``,
the Lambda error names Step Functions sees, with a message naming the field, the value and what is allowed):

- ``check {modelPackageArn, executionName}``: the version (a versioned ARN of the configured group, known
  to the registry, not Rejected) and its golden set (``goldenSetKey`` in the training-data bucket, else the
  test split beside the version's registered baseline, as the capture monitor finds it; the object must
  exist) -> ``{"modelPackageArn", "version", "executionName", "reportPrefix", "scoringJobName", "canary":
  {"goldenUri", "predictionsBucket", "predictionsKey", "records", "task"}, "predictionsUri",
  "scoreUri"}``. Notifies ``promotion-started``.
- ``judge {candidate, canary}``: reads ``<scoreUri>canary.json`` (``python -m training.monitor
  score-canary``), decides the checks ``answered`` (an answered record and none unsent), ``format`` (no
  unreadable answer: error codes ``UnreadableResponse``/``PayloadError``, lines that are not records, or
  answers training.evaluate refused), ``errorRate`` (<= ``maxErrorRate``), ``latencyP95Ms`` (<=
  ``maxLatencyP95Ms``) and ``score`` (>= ``minimumScore`` when set, status ``scored``), writes
  ``validation.json``, records ``staging_validation``, ``staging_validation_report``,
  ``staging_latency_p95_ms``, ``staging_error_rate``, ``staging_score`` and ``staging_validated_at`` on the
  version (CustomerMetadataProperties) -> ``{"passed", "failures", "reportUri", "checks"}``. Notifies
  ``staging-validated``.
- ``awaitApproval {taskToken, candidate, validation, executionArn?}``: an early approval (the version is
  already Approved) is set back to PendingManualApproval with an ApprovalDescription saying why; writes the
  approval record; notifies ``approval-requested`` with the approve and reject commands -> ``{}``.
- ``deploy {candidate, approval}``: the endpoints stack (stable, its ``ServedVariants`` output and
  parameters: the served set) -> the target variant gets the candidate; every version of the new set must
  exist, be in the group and be Approved (else ``ManifestRefused``, nothing written, notified
  ``manifest-refused``); writes the history entry and current.json (``rolling-out``) and updates the
  stack (previous template, the target's parameter, every other parameter's previous value) ->
  ``{"stackName", "manifestKey" (the attempt's history key), "noChange"}``. Notifies ``rollout-started``.
- ``rolloutStatus {stackName}`` -> ``{"status", "done", "succeeded", "reason"}``.
- ``finish {deployment, rollout, action?, candidate?}``: the attempt is the one current.json names
  (``deployment.manifestKey``); ``action`` defaults to the attempt's own. Success (or no change):
  current.json ``serving``; failure: current.json is the previous manifest again and the attempt's history
  entry ``rolled-back``. A promotion records ``production_status`` (``serving`` | ``rolled-back``) and
  ``production_since`` on the version -> ``{"status": "serving" | "rolled-back", "action", "manifestKey",
  "version", "reason"}``. A retry of a finished attempt returns the same without changing anything.
  Notifies ``rollout-succeeded`` or ``rollout-rolled-back``.
- ``rollback {reason?}`` or ``{request: {action, reason?}}`` (the execution's input): current.json must be
  ``serving`` with a ``previous``: that set is restored (checked like a deploy), as a deploy -> the deploy's
  shape. Notifies ``rollback-started``.

Notifications: SNS to ``topicArn``, Subject ``fmft-<env> promotion: v<N> <event>``, Message JSON
``{"event", "environment", "modelPackageArn", "version", ...}``; a failed publish is logged, never fails the
step (the state is in S3 and the registry, not in the mail).

Standard library and the Lambda runtime's boto3 only (imported when called).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from training.common.args import UsageError, run_subcommands
from training.common.s3 import list_keys
from training.monitor.canary import CONTAINERS, MAX_RECORDS, PREDICTIONS_FILE, TASKS
from training.monitor.plan import golden_set

_LAYOUT = json.loads((Path(__file__).resolve().parents[1] / "contracts" / "storage-layout.json").read_text())
_ARTIFACTS = _LAYOUT["buckets"]["modelArtifacts"]["prefixes"]
MANIFESTS_PREFIX: str = _ARTIFACTS["servingManifests"]
APPROVALS_PREFIX: str = _ARTIFACTS["approvals"]
STAGING_PREFIX: str = _LAYOUT["buckets"]["evaluation"]["prefixes"]["staging"]
CURRENT_KEY = f"{MANIFESTS_PREFIX}current.json"
HISTORY_PREFIX = f"{MANIFESTS_PREFIX}history/"

SETTINGS_ENV = "FMFT_PROMOTION_SETTINGS"
STEPS = ("check", "judge", "awaitApproval", "deploy", "rolloutStatus", "finish", "rollback")
APPROVED, PENDING, REJECTED = "Approved", "PendingManualApproval", "Rejected"
SCORE_FILE = "canary.json"
MAX_STAGING_TOKENS = 100
# Canary error codes of an answer the endpoint gave but nobody can read (training.monitor.canary).
UNREADABLE_CODES = ("UnreadableResponse", "PayloadError")
# A stack in one of these states can be updated; *_IN_PROGRESS is busy, ROLLBACK_COMPLETE (a failed
# creation) can only be deleted, *_FAILED needs a person.
STABLE_STACK = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE")
# What `cdk deploy` acknowledges; an update with the previous template needs them again when it holds IAM
# resources or macros, and acknowledging more than a template uses is harmless.
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
EXPIRED_TOKEN_CODES = ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist")
NOT_FOUND_CODES = ("NoSuchKey", "404", "NotFound")
MAX_JOB_NAME = 63
METADATA_VALUE_CHARS = 256
HISTORY_ENTRIES = 10

# A versioned model package ARN (the endpoints stack's parameter pattern): group name and version.
MODEL_PACKAGE_ARN = re.compile(
    r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/([a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62})/(\d{1,9})"
)
ARN_ALLOWED = (
    "a versioned model package ARN arn:<partition>:sagemaker:<region>:<account>:model-package/<group>/<N>"
)
GROUP_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
EXECUTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
STATE_MACHINE_ARN = re.compile(r"arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}")
ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?")
# Characters CustomerMetadataProperties values allow (botocore: [\p{L}\p{Z}\p{N}_.:\/=+\-@]*).
_METADATA_UNSAFE = re.compile(r"[^\w .:/=+\-@]")


class PromotionError(Exception):
    """A request the workflow refuses; the message names the field, the value and what is allowed."""


class ManifestRefused(PromotionError):
    """A served set that may not be deployed: a version that is unknown, of another group or not Approved.
    Nothing was written and nothing deployed."""


def _fail(name: str, value: Any, allowed: str) -> PromotionError:
    return PromotionError(f"{name}: got {value!r:.200}; allowed: {allowed}")


# ------------------------------------------------------------------------------------------------- settings


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _matches(pattern: re.Pattern[str]) -> Any:
    return lambda v: isinstance(v, str) and pattern.fullmatch(v) is not None


_SETTINGS_RULES: dict[str, tuple[Any, str]] = {
    "environment": (_matches(re.compile(r"[a-z0-9][a-z0-9-]{0,30}")), "an environment name such as dev"),
    "modelPackageGroupName": (_matches(GROUP_NAME), "a model package group name"),
    "stateMachineArn": (_matches(STATE_MACHINE_ARN), "a Step Functions state machine ARN"),
    "stagingEndpointName": (_matches(GROUP_NAME), "a SageMaker endpoint name"),
    "container": (lambda v: v in CONTAINERS, " or ".join(CONTAINERS)),
    "endpointsStackName": (_matches(STACK_NAME), "a CloudFormation stack name"),
    "cloudFormationRoleArn": (_matches(ROLE_ARN), "an IAM role ARN"),
    "targetVariant": (_matches(GROUP_NAME), "a production variant name"),
    "artifactsBucket": (_matches(BUCKET_NAME), "an S3 bucket name"),
    "evaluationBucket": (_matches(BUCKET_NAME), "an S3 bucket name"),
    "trainingDataBucket": (_matches(BUCKET_NAME), "an S3 bucket name"),
    "jobNamePrefix": (
        _matches(re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}")),
        "1-32 letters, digits and single hyphens",
    ),
    "topicArn": (_matches(TOPIC_ARN), "an SNS topic ARN"),
}
_VALIDATION_RULES: dict[str, tuple[Any, str]] = {
    "task": (lambda v: v in TASKS, ", ".join(TASKS)),
    "records": (lambda v: _whole(v, 1, MAX_RECORDS), f"a whole number from 1 to {MAX_RECORDS}"),
    "maxNewTokens": (
        lambda v: _whole(v, 1, MAX_STAGING_TOKENS),
        f"a whole number from 1 to {MAX_STAGING_TOKENS}",
    ),
    "maxLatencyP95Ms": (lambda v: _number(v) and v > 0, "a number of milliseconds > 0"),
    "maxErrorRate": (lambda v: _number(v) and 0 <= v <= 1, "a number from 0 to 1"),
    "minimumScore": (lambda v: v is None or (_number(v) and 0 <= v <= 1), "null or a number from 0 to 1"),
}
_OPTIONAL = {"goldenSetKey"}


def check_settings(cfg: Any) -> dict[str, Any]:
    """The settings, with ``goldenSetKey`` and ``validation.minimumScore`` defaulted to null; every problem
    in one PromotionError."""
    if not isinstance(cfg, dict):
        raise _fail(SETTINGS_ENV, cfg, "a JSON object (the promotion stack writes it)")
    cfg = {"goldenSetKey": None, **cfg}
    problems: list[str] = []

    def check_all(
        where: str, values: dict[str, Any], rules: dict[str, tuple[Any, str]], extra: set[str]
    ) -> None:
        for key, (test, allowed) in rules.items():
            if not test(values.get(key)):
                problems.append(f"{where}.{key}: got {values.get(key)!r:.200}; allowed: {allowed}")
        unknown = sorted(set(values) - set(rules) - extra)
        if unknown:
            known = ", ".join([*rules, *sorted(extra)])
            problems.append(f"{where}: unknown keys {', '.join(unknown)}; allowed: {known}")

    check_all(SETTINGS_ENV, cfg, _SETTINGS_RULES, {*_OPTIONAL, "validation"})
    golden = cfg["goldenSetKey"]
    if golden is not None and (not isinstance(golden, str) or not golden.strip() or golden.startswith("/")):
        problems.append(f"{SETTINGS_ENV}.goldenSetKey: got {golden!r:.200}; allowed: null or an object key")
    validation = cfg.get("validation")
    if isinstance(validation, dict):
        cfg["validation"] = validation = {"minimumScore": None, **validation}
        check_all(f"{SETTINGS_ENV}.validation", validation, _VALIDATION_RULES, set())
    else:
        problems.append(f"{SETTINGS_ENV}.validation: got {validation!r:.200}; allowed: an object")
    if problems:
        raise PromotionError("invalid settings:\n- " + "\n- ".join(problems))
    return cfg


def settings() -> dict[str, Any]:
    raw = os.environ.get(SETTINGS_ENV)
    if raw is None:
        raise PromotionError(f"{SETTINGS_ENV}: not set; allowed: the JSON the promotion stack writes")
    try:
        cfg = json.loads(raw)
    except ValueError:
        raise _fail(SETTINGS_ENV, raw, "JSON (the promotion stack writes it)") from None
    return check_settings(cfg)


# ---------------------------------------------------------------------------------------------- AWS access


class Aws:
    """The clients a handler uses, each made on first use (a step needs two or three of them). Tests pass
    their own: ``Aws(s3=..., sagemaker=...)``."""

    SERVICES = ("s3", "sagemaker", "cloudformation", "sns", "stepfunctions")

    def __init__(self, **clients: Any) -> None:
        unknown = set(clients) - set(self.SERVICES)
        if unknown:
            raise TypeError(f"unknown clients {sorted(unknown)}; allowed: {', '.join(self.SERVICES)}")
        self._clients = dict(clients)

    def __getattr__(self, name: str) -> Any:
        if name not in Aws.SERVICES:
            raise AttributeError(name)
        if name not in self._clients:
            import boto3  # the Lambda runtime's
            from botocore.config import Config

            retries = Config(retries={"max_attempts": 8, "mode": "adaptive"})
            self._clients[name] = boto3.client(name, config=retries)
        return self._clients[name]


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None)
    return str(((response or {}).get("Error") or {}).get("Code", "")) if isinstance(response, dict) else ""


def _error_message(error: Exception) -> str:
    response = getattr(error, "response", None)
    message = ((response or {}).get("Error") or {}).get("Message") if isinstance(response, dict) else None
    return " ".join(str(message or error).split())


def _uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def _split_uri(uri: str, name: str) -> tuple[str, str]:
    if not isinstance(uri, str) or not uri.startswith("s3://") or "/" not in uri[5:]:
        raise _fail(name, uri, "s3://<bucket>/<key>")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


def _exists(s3: Any, bucket: str, key: str) -> bool:
    """Whether the object exists, by listing its key: the functions may list the prefixes they read (a
    ListBucket limited by ``s3:prefix``), and with that grant S3 answers a GetObject or HeadObject of a
    missing key with 403 AccessDenied, not 404."""
    page = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    return any(o["Key"] == key for o in page.get("Contents", []))


def read_json(s3: Any, bucket: str, key: str) -> Any | None:
    """The JSON document at ``s3://bucket/key``, or None when there is none; PromotionError when it is not
    JSON."""
    if not _exists(s3, bucket, key):
        return None
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as error:
        if _error_code(error) in NOT_FOUND_CODES:
            return None
        raise
    try:
        return json.loads(body)
    except ValueError:
        raise _fail(_uri(bucket, key), body[:120], "a JSON document") from None


def write_json(s3: Any, bucket: str, key: str, value: Any) -> None:
    body = json.dumps(value, indent=2, ensure_ascii=False, default=str).encode("utf-8")
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp(moment: dt.datetime) -> str:
    """UTC ``yyyymmddThhmmssZ``: history keys and execution names sort by time."""
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def notify(
    aws: Aws,
    cfg: dict[str, Any],
    event: str,
    version: int | None,
    arn: str | None,
    details: dict[str, Any],
) -> None:
    """SNS notice ``fmft-<env> promotion: v<N> <event>``; a failure is logged, never raised."""
    subject = f"fmft-{cfg['environment']} promotion: {f'v{version}' if version else 'rollback'} {event}"
    message = {"event": event, "environment": cfg["environment"], "modelPackageArn": arn, "version": version}
    text = json.dumps({**message, **details}, indent=2, ensure_ascii=False, default=str)
    try:
        aws.sns.publish(TopicArn=cfg["topicArn"], Subject=subject[:100], Message=text)
    except Exception as error:
        print(json.dumps({"notifyError": f"{type(error).__name__}: {error}", "event": event}))


# ------------------------------------------------------------------------------------------ model versions


def parse_arn(arn: Any, cfg: dict[str, Any], name: str = "modelPackageArn") -> int:
    """The version number of a versioned ARN of the configured group; PromotionError otherwise."""
    match = MODEL_PACKAGE_ARN.fullmatch(arn) if isinstance(arn, str) else None
    if match is None:
        raise _fail(name, arn, ARN_ALLOWED)
    group = cfg["modelPackageGroupName"]
    # SageMaker writes the group in lower case in ARNs.
    if match.group(1).lower() != group.lower():
        raise _fail(name, arn, f"a version of the model package group {group}")
    return int(match.group(2))


def describe_version(
    aws: Aws, arn: str, cfg: dict[str, Any], name: str = "modelPackageArn"
) -> dict[str, Any]:
    """DescribeModelPackage of a version of the configured group; PromotionError when it is unknown or of
    another group."""
    try:
        description = aws.sagemaker.describe_model_package(ModelPackageName=arn)
    except Exception as error:
        if _error_code(error) in ("ValidationException", "ResourceNotFound"):
            raise _fail(name, arn, "a version the model registry knows") from None
        raise
    group = cfg["modelPackageGroupName"]
    if description.get("ModelPackageGroupName") != group:
        raise _fail(name, arn, f"a version of the model package group {group}")
    return description


def metadata_value(value: Any) -> str:
    """A CustomerMetadataProperties value: text the registry allows, at most 256 characters."""
    if value is None:
        return "none"
    if isinstance(value, float):
        value = round(value, 4)
    return _METADATA_UNSAFE.sub("-", str(value))[:METADATA_VALUE_CHARS] or "none"


def record_metadata(
    aws: Aws, arn: str, values: dict[str, Any], description: dict[str, Any]
) -> dict[str, str]:
    """Set ``values`` among the version's CustomerMetadataProperties. The request carries the version's other
    properties too, so the result is the same whether the registry merges or replaces the map."""
    ours = {key: metadata_value(value) for key, value in values.items()}
    merged = {**(description.get("CustomerMetadataProperties") or {}), **ours}
    aws.sagemaker.update_model_package(ModelPackageArn=arn, CustomerMetadataProperties=merged)
    return ours


def _metadata(description: dict[str, Any]) -> dict[str, str]:
    return dict(description.get("CustomerMetadataProperties") or {})


def refused_versions(aws: Aws, cfg: dict[str, Any], variants: list[dict[str, Any]]) -> list[str]:
    """Why each version of a served set may not be served (unknown, another group, not Approved)."""
    problems: list[str] = []
    for arn in dict.fromkeys(v["modelPackageArn"] for v in variants):
        where = [v["variant"] for v in variants if v["modelPackageArn"] == arn]
        label = f"variant {', '.join(where)}: {arn}"
        try:
            parse_arn(arn, cfg)
            description = describe_version(aws, arn, cfg)
        except PromotionError as error:
            problems.append(f"{label}: {error}")
            continue
        status = description.get("ModelApprovalStatus")
        if status != APPROVED:
            problems.append(f"{label}: {status or 'no approval status'}, not {APPROVED}")
    return problems


# --------------------------------------------------------------------------------------------- step inputs


def _object(event: dict[str, Any], name: str) -> dict[str, Any]:
    value = event.get(name)
    if not isinstance(value, dict):
        raise _fail(name, value, "an object (the state machine passes it)")
    return value


def _candidate(event: dict[str, Any], cfg: dict[str, Any]) -> dict[str, Any]:
    """The check step's result, as later steps get it back."""
    candidate = _object(event, "candidate")
    version = parse_arn(candidate.get("modelPackageArn"), cfg, "candidate.modelPackageArn")
    if candidate.get("version") != version:
        raise _fail("candidate.version", candidate.get("version"), f"{version}, the version of its ARN")
    for name in ("reportPrefix", "scoreUri"):
        if not isinstance(candidate.get(name), str) or not candidate[name]:
            raise _fail(f"candidate.{name}", candidate.get(name), "the check step's value")
    return candidate


# ---------------------------------------------------------------------------------------------------- check


def scoring_job_name(cfg: dict[str, Any], version: int, execution: str) -> str:
    name = f"{cfg['jobNamePrefix']}-stg-v{version}-{hashlib.sha256(execution.encode()).hexdigest()[:8]}"
    if len(name) > MAX_JOB_NAME:
        raise _fail(
            f"{SETTINGS_ENV}.jobNamePrefix",
            cfg["jobNamePrefix"],
            f"a prefix short enough for {name!r} to fit {MAX_JOB_NAME} characters",
        )
    return name


def find_golden(aws: Aws, cfg: dict[str, Any], description: dict[str, Any]) -> str:
    """The golden set's URI: ``goldenSetKey`` in the training-data bucket, else the test split beside the
    version's baseline. PromotionError when there is none or the object does not exist."""
    configured = _uri(cfg["trainingDataBucket"], cfg["goldenSetKey"]) if cfg["goldenSetKey"] else None
    statistics = ((description.get("DriftCheckBaselines") or {}).get("ModelDataQuality") or {}).get(
        "Statistics"
    ) or {}
    uri, why = golden_set(configured, statistics.get("S3Uri"))
    if uri is None:
        raise PromotionError(
            f"golden set: none for {description.get('ModelPackageArn')}: {why}; allowed: "
            f"{SETTINGS_ENV}.goldenSetKey, or a version registered with its baseline "
            "(DriftCheckBaselines.ModelDataQuality.Statistics.S3Uri <prefix>/baseline/baseline.json)"
        )
    bucket, key = _split_uri(uri, "golden set")
    if not _exists(aws.s3, bucket, key):
        source = f"{SETTINGS_ENV}.goldenSetKey" if configured else "the test split beside the baseline"
        raise _fail("golden set", uri, f"an existing JSON Lines object ({source})")
    return uri


def check(event: dict[str, Any], cfg: dict[str, Any], aws: Aws, now: dt.datetime) -> dict[str, Any]:
    arn = event.get("modelPackageArn")
    version = parse_arn(arn, cfg)
    execution = event.get("executionName")
    if not isinstance(execution, str) or not EXECUTION_NAME.fullmatch(execution):
        raise _fail("executionName", execution, "1-80 letters, digits, hyphens and underscores")
    description = describe_version(aws, arn, cfg)
    if description.get("ModelApprovalStatus") == REJECTED:
        raise _fail("modelPackageArn", arn, f"a version that is not {REJECTED} (register a new one)")
    golden = find_golden(aws, cfg, description)
    bucket = cfg["evaluationBucket"]
    report = f"{STAGING_PREFIX}v{version}/{execution}/"
    validation = cfg["validation"]
    result = {
        "modelPackageArn": arn,
        "version": version,
        "executionName": execution,
        "reportPrefix": report,
        "scoringJobName": scoring_job_name(cfg, version, execution),
        "canary": {
            "goldenUri": golden,
            "predictionsBucket": bucket,
            "predictionsKey": f"{report}canary/{PREDICTIONS_FILE}",
            "records": validation["records"],
            "task": validation["task"],
        },
        "predictionsUri": _uri(bucket, f"{report}canary/"),
        "scoreUri": _uri(bucket, f"{report}score/"),
    }
    notify(
        aws,
        cfg,
        "promotion-started",
        version,
        arn,
        {
            "execution": execution,
            "approvalStatus": description.get("ModelApprovalStatus"),
            "goldenUri": golden,
            "stagingEndpointName": cfg["stagingEndpointName"],
            "reportUri": _uri(bucket, report),
        },
    )
    return result


# ---------------------------------------------------------------------------------------------------- judge


def decide(
    score: dict[str, Any], canary: dict[str, Any], limits: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Each check of a staging validation: ``{"passed": bool, ...what it looked at}``."""
    answered = score.get("answered") or 0
    unsent = canary.get("unsent") or 0
    codes = score.get("errorsByCode") or {}
    unreadable = sum(int(codes.get(code, 0)) for code in UNREADABLE_CODES)
    malformed = score.get("malformed") or 0
    error_rate = score.get("errorRate")
    p95 = (score.get("latencyMs") or {}).get("p95")
    minimum = limits["minimumScore"]
    value = score.get("score")
    return {
        "answered": {
            "passed": answered >= 1 and unsent == 0,
            "answered": answered,
            "records": score.get("records", 0),
            "unsent": unsent,
        },
        "format": {
            "passed": unreadable == 0 and malformed == 0 and score.get("status") != "invalid",
            "unreadable": unreadable,
            "malformed": malformed,
            "scoreStatus": score.get("status"),
        },
        "errorRate": {
            "passed": _number(error_rate) and error_rate <= limits["maxErrorRate"],
            "value": error_rate,
            "maximum": limits["maxErrorRate"],
        },
        "latencyP95Ms": {
            "passed": _number(p95) and p95 <= limits["maxLatencyP95Ms"],
            "value": p95,
            "maximum": limits["maxLatencyP95Ms"],
        },
        "score": {
            "passed": minimum is None
            or (score.get("status") == "scored" and _number(value) and value >= minimum),
            "value": value,
            "minimum": minimum,
            "metric": score.get("scoreMetric"),
            "status": score.get("status"),
        },
    }


def failures_of(checks: dict[str, dict[str, Any]]) -> list[str]:
    """One line per failed check, naming what was found and what is allowed."""
    lines = []
    for name, c in checks.items():
        if c["passed"]:
            continue
        if name == "answered":
            lines.append(
                f"answered: {c['answered']} of {c['records']} records answered, {c['unsent']} unsent; "
                "allowed: at least 1 answered and none unsent"
            )
        elif name == "format":
            lines.append(
                f"format: {c['unreadable']} unreadable answers, {c['malformed']} malformed lines, score "
                f"status {c['scoreStatus']}; allowed: none unreadable, none malformed, answers "
                "training.evaluate reads"
            )
        elif name == "score":
            lines.append(
                f"score: {c['metric']} {c['value']} (status {c['status']}); allowed: at least {c['minimum']}"
            )
        else:
            lines.append(f"{name}: {c['value']}; allowed: at most {c['maximum']}")
    return lines


def judge(event: dict[str, Any], cfg: dict[str, Any], aws: Aws, now: dt.datetime) -> dict[str, Any]:
    candidate = _candidate(event, cfg)
    canary = _object(event, "canary")
    arn, version = candidate["modelPackageArn"], candidate["version"]
    bucket, prefix = _split_uri(candidate["scoreUri"], "candidate.scoreUri")
    score = read_json(aws.s3, bucket, prefix + SCORE_FILE)
    if not isinstance(score, dict):
        raise _fail(
            "candidate.scoreUri",
            _uri(bucket, prefix + SCORE_FILE),
            "the canary.json of python -m training.monitor score-canary (the scoring job wrote none)",
        )
    checks = decide(score, canary, cfg["validation"])
    failures = failures_of(checks)
    passed = not failures
    report_key = f"{candidate['reportPrefix']}validation.json"
    report_uri = _uri(cfg["evaluationBucket"], report_key)
    report = {
        "modelPackageArn": arn,
        "version": version,
        "execution": candidate.get("executionName"),
        "stagingEndpointName": cfg["stagingEndpointName"],
        "passed": passed,
        "failures": failures,
        "checks": checks,
        "limits": cfg["validation"],
        "canary": canary,
        "score": score,
        "validatedAt": _iso(now),
    }
    write_json(aws.s3, cfg["evaluationBucket"], report_key, report)
    description = describe_version(aws, arn, cfg, "candidate.modelPackageArn")
    record_metadata(
        aws,
        arn,
        {
            "staging_validation": "passed" if passed else "failed",
            "staging_validation_report": report_uri,
            "staging_latency_p95_ms": checks["latencyP95Ms"]["value"],
            "staging_error_rate": checks["errorRate"]["value"],
            "staging_score": score.get("score"),
            "staging_validated_at": _iso(now),
        },
        description,
    )
    result = {"passed": passed, "failures": failures, "reportUri": report_uri, "checks": checks}
    notify(
        aws,
        cfg,
        "staging-validated",
        version,
        arn,
        {"passed": passed, "failures": failures, "reportUri": report_uri},
    )
    return result


# -------------------------------------------------------------------------------------------- awaitApproval


def approval_key(version: int) -> str:
    return f"{APPROVALS_PREFIX}v{version}.json"


def approval_commands(arn: str) -> dict[str, str]:
    command = f"aws sagemaker update-model-package --model-package-arn {arn} --model-approval-status"
    return {
        "approve": f'{command} {APPROVED} --approval-description "<why it may serve production>"',
        "reject": f'{command} {REJECTED} --approval-description "<why not>"',
    }


def await_approval(event: dict[str, Any], cfg: dict[str, Any], aws: Aws, now: dt.datetime) -> dict[str, Any]:
    candidate = _candidate(event, cfg)
    token = event.get("taskToken")
    if not isinstance(token, str) or not 1 <= len(token) <= 2048:
        raise _fail("taskToken", token, "the state's task token ($$.Task.Token), 1-2048 characters")
    validation = _object(event, "validation")
    if validation.get("passed") is not True:
        raise _fail(
            "validation.passed", validation.get("passed"), "true: only a validated version is approved"
        )
    execution_arn = event.get("executionArn")
    if execution_arn is not None and not isinstance(execution_arn, str):
        raise _fail("executionArn", execution_arn, "null or the execution's ARN ($$.Execution.Id)")
    arn, version = candidate["modelPackageArn"], candidate["version"]
    description = describe_version(aws, arn, cfg, "candidate.modelPackageArn")
    status = description.get("ModelApprovalStatus")
    if status == REJECTED:
        raise _fail(
            "candidate.modelPackageArn", arn, f"a version not {REJECTED} (it was rejected while validating)"
        )
    reset = status == APPROVED
    if reset:
        aws.sagemaker.update_model_package(
            ModelPackageArn=arn,
            ModelApprovalStatus=PENDING,
            ApprovalDescription=(
                f"Set back to {PENDING} by the promotion workflow at {_iso(now)}: approved before its "
                f"staging validation had finished; approve again now that it has "
                f"({validation.get('reportUri')})"
            )[:1024],
        )
    bucket = cfg["artifactsBucket"]
    key = approval_key(version)
    replaced = read_json(aws.s3, bucket, key)
    record = {
        "taskToken": token,
        "executionArn": execution_arn,
        "modelPackageArn": arn,
        "version": version,
        "validationReport": validation.get("reportUri"),
        "requestedAt": _iso(now),
    }
    write_json(aws.s3, bucket, key, record)
    details: dict[str, Any] = {
        "validationReport": validation.get("reportUri"),
        "commands": approval_commands(arn),
        "approvalRecord": _uri(bucket, key),
        "earlyApprovalReset": reset,
    }
    if reset:
        details["note"] = (
            f"the version was {APPROVED} before its validation finished; it is {PENDING} again: "
            "approve it again"
        )
    if isinstance(replaced, dict):
        details["replacesRequestOf"] = replaced.get("executionArn")
    notify(aws, cfg, "approval-requested", version, arn, details)
    return {}


# ------------------------------------------------------------------------------------------ served manifests


def describe_stack(aws: Aws, cfg: dict[str, Any]) -> dict[str, Any]:
    name = cfg["endpointsStackName"]
    try:
        stacks = aws.cloudformation.describe_stacks(StackName=name)["Stacks"]
    except Exception as error:
        if _error_code(error) == "ValidationError" and "does not exist" in _error_message(error):
            raise PromotionError(
                f"{SETTINGS_ENV}.endpointsStackName: stack {name} does not exist; allowed: a deployed "
                "endpoints stack (deploy it once with -c serving=<file> naming a first version)"
            ) from None
        raise
    return stacks[0]


def stable_stack(aws: Aws, cfg: dict[str, Any]) -> dict[str, Any]:
    stack = describe_stack(aws, cfg)
    status = stack.get("StackStatus")
    if status not in STABLE_STACK:
        why = "busy" if str(status).endswith("_IN_PROGRESS") else "not updatable"
        raise PromotionError(
            f"stack {cfg['endpointsStackName']}: status {status} ({why}); allowed: {', '.join(STABLE_STACK)}"
        )
    return stack


def served_manifest(stack: dict[str, Any], cfg: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """What the stack serves: its ``ServedVariants`` output with each variant's parameter value."""
    name = cfg["endpointsStackName"]
    outputs = {o["OutputKey"]: o.get("OutputValue") for o in stack.get("Outputs") or []}
    parameters = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters") or []}
    allowed = 'JSON [{"variant", "parameter", "weight"}] naming parameters of the stack'
    try:
        listed = json.loads(outputs.get("ServedVariants") or "null")
    except ValueError:
        listed = None
    if not isinstance(listed, list) or not listed:
        raise _fail(f"stack {name} output ServedVariants", outputs.get("ServedVariants"), allowed)
    variants = []
    for entry in listed:
        ok = (
            isinstance(entry, dict) and isinstance(entry.get("variant"), str) and _number(entry.get("weight"))
        )
        if not ok or entry.get("parameter") not in parameters:
            raise _fail(f"stack {name} output ServedVariants", entry, allowed)
        variants.append(
            {
                "variant": entry["variant"],
                "parameter": entry["parameter"],
                "weight": entry["weight"],
                "modelPackageArn": parameters[entry["parameter"]],
            }
        )
    return {
        "status": "serving",
        "action": "stack",
        "stackName": name,
        "variants": variants,
        "readAt": _iso(now),
    }


def _bare(manifest: dict[str, Any]) -> dict[str, Any]:
    """A manifest without its own ``previous`` (one level is kept: what a rollback restores)."""
    return {k: v for k, v in manifest.items() if k != "previous"}


def _same_set(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def pairs(m: dict[str, Any]) -> set[tuple[str, str]]:
        return {
            (v.get("parameter"), v.get("modelPackageArn"))
            for v in m.get("variants") or []
            if isinstance(v, dict)
        }

    return pairs(a) == pairs(b)


def serving_now(
    aws: Aws, cfg: dict[str, Any], stack_set: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(current.json or None, the manifest that serves now): current.json when it is ``serving`` and names
    what the stack serves, else the stack's own set (someone deployed by hand, or an attempt never ended)."""
    current = read_json(aws.s3, cfg["artifactsBucket"], CURRENT_KEY)
    if isinstance(current, dict) and current.get("status") == "serving" and _same_set(current, stack_set):
        return current, current
    return (current if isinstance(current, dict) else None), stack_set


def start_update(
    aws: Aws,
    cfg: dict[str, Any],
    stack: dict[str, Any],
    values: dict[str, str],
    token: str,
    manifest: dict[str, Any],
    replaced: dict[str, Any] | None,
) -> bool:
    """Write the attempt's history entry and current.json, then UpdateStack; True when nothing changed. When
    UpdateStack fails, the history entry says ``failed`` and current.json is put back (or, when there was
    none, is that failed entry, which nothing takes for a served set)."""
    bucket = cfg["artifactsBucket"]
    write_json(aws.s3, bucket, manifest["historyKey"], manifest)
    write_json(aws.s3, bucket, CURRENT_KEY, manifest)
    parameters = [
        {"ParameterKey": p["ParameterKey"], "ParameterValue": values[p["ParameterKey"]]}
        if p["ParameterKey"] in values
        else {"ParameterKey": p["ParameterKey"], "UsePreviousValue": True}
        for p in stack.get("Parameters") or []
    ]
    try:
        aws.cloudformation.update_stack(
            StackName=cfg["endpointsStackName"],
            UsePreviousTemplate=True,
            Parameters=parameters,
            Capabilities=CAPABILITIES,
            RoleARN=cfg["cloudFormationRoleArn"],
            ClientRequestToken=token,
        )
    except Exception as error:
        if _error_code(error) == "ValidationError" and "No updates are to be performed" in _error_message(
            error
        ):
            return True
        failed = {**manifest, "status": "failed", "reason": _error_message(error)}
        write_json(aws.s3, bucket, manifest["historyKey"], failed)
        # Without a manifest to put back, the failed one stays: not serving, so nothing reads it as served.
        write_json(aws.s3, bucket, CURRENT_KEY, failed if replaced is None else replaced)
        raise
    return False


def _refuse(aws: Aws, cfg: dict[str, Any], version: int | None, arn: str | None, problems: list[str]) -> None:
    notify(aws, cfg, "manifest-refused", version, arn, {"problems": problems})
    raise ManifestRefused(
        "served set refused, nothing written or deployed:\n- "
        + "\n- ".join(problems)
        + f"\nallowed: versions of {cfg['modelPackageGroupName']} that are {APPROVED}"
    )


# --------------------------------------------------------------------------------------------------- deploy


def deploy(event: dict[str, Any], cfg: dict[str, Any], aws: Aws, now: dt.datetime) -> dict[str, Any]:
    candidate = _candidate(event, cfg)
    approval = event.get("approval")
    if approval is not None and not isinstance(approval, dict):
        raise _fail("approval", approval, "the events function's task output {approvedAt, approvedBy, ...}")
    arn, version = candidate["modelPackageArn"], candidate["version"]
    stack = stable_stack(aws, cfg)
    stack_set = served_manifest(stack, cfg, now)
    target = cfg["targetVariant"]
    names = [v["variant"] for v in stack_set["variants"]]
    if target not in names:
        raise _fail(
            f"{SETTINGS_ENV}.targetVariant", target, f"a variant the stack serves: {', '.join(names)}"
        )
    variants = [
        {**v, "modelPackageArn": arn} if v["variant"] == target else dict(v) for v in stack_set["variants"]
    ]
    problems = refused_versions(aws, cfg, variants)
    if problems:
        _refuse(aws, cfg, version, arn, problems)
    current, serving = serving_now(aws, cfg, stack_set)
    when = stamp(now)
    history_key = f"{HISTORY_PREFIX}{when}-v{version}.json"
    manifest = {
        "status": "rolling-out",
        "action": "promote",
        "variants": variants,
        "version": version,
        "modelPackageArn": arn,
        "execution": candidate.get("executionName"),
        "approval": approval,
        "previous": _bare(serving),
        "createdAt": _iso(now),
        "historyKey": history_key,
    }
    parameter = next(v["parameter"] for v in variants if v["variant"] == target)
    no_change = start_update(
        aws, cfg, stack, {parameter: arn}, f"promote-v{version}-{when}", manifest, current
    )
    notify(
        aws,
        cfg,
        "rollout-started",
        version,
        arn,
        {
            "stackName": cfg["endpointsStackName"],
            "targetVariant": target,
            "noChange": no_change,
            "manifest": _uri(cfg["artifactsBucket"], history_key),
            "replaces": serving["variants"],
        },
    )
    return {"stackName": cfg["endpointsStackName"], "manifestKey": history_key, "noChange": no_change}


def rollback(event: dict[str, Any], cfg: dict[str, Any], aws: Aws, now: dt.datetime) -> dict[str, Any]:
    request = event.get("request") or {}
    if not isinstance(request, dict):
        raise _fail("request", request, "null or the execution's input {action, reason}")
    name = "reason" if "reason" in event else "request.reason"
    reason = event.get("reason", request.get("reason"))
    if reason is not None and not isinstance(reason, str):
        raise _fail(name, reason, "null or text")
    reason = " ".join((reason or "").split())[:1000] or "rolled back by hand"
    bucket = cfg["artifactsBucket"]
    current = read_json(aws.s3, bucket, CURRENT_KEY)
    where = _uri(bucket, CURRENT_KEY)
    if not isinstance(current, dict):
        raise _fail(where, current, "a serving manifest to roll back from (none: nothing was promoted)")
    if current.get("status") != "serving":
        raise _fail(
            f"{where} status", current.get("status"), "serving (wait for the rollout in progress to end)"
        )
    previous = current.get("previous")
    if not isinstance(previous, dict) or not isinstance(previous.get("variants"), list):
        raise _fail(f"{where} previous", previous, "the manifest that served before it")
    stack = stable_stack(aws, cfg)
    parameters = {p["ParameterKey"] for p in stack.get("Parameters") or []}
    variants = previous["variants"]
    for v in variants:
        if not isinstance(v, dict) or v.get("parameter") not in parameters:
            raise _fail(
                f"{where} previous.variants",
                v,
                f"variants whose parameter the stack has: {', '.join(sorted(parameters))}",
            )
    version = previous.get("version")
    problems = refused_versions(aws, cfg, variants)
    if problems:
        _refuse(aws, cfg, version, previous.get("modelPackageArn"), problems)
    when = stamp(now)
    history_key = f"{HISTORY_PREFIX}{when}-rollback.json"
    manifest = {
        "status": "rolling-back",
        "action": "rollback",
        "variants": variants,
        "version": version,
        "modelPackageArn": previous.get("modelPackageArn"),
        "execution": event.get("executionName"),
        "reason": reason,
        "previous": _bare(current),
        "createdAt": _iso(now),
        "historyKey": history_key,
    }
    values = {v["parameter"]: v["modelPackageArn"] for v in variants}
    no_change = start_update(aws, cfg, stack, values, f"rollback-{when}", manifest, current)
    notify(
        aws,
        cfg,
        "rollback-started",
        version,
        previous.get("modelPackageArn"),
        {
            "reason": reason,
            "stackName": cfg["endpointsStackName"],
            "noChange": no_change,
            "restores": variants,
            "replaces": current.get("variants"),
            "manifest": _uri(bucket, history_key),
        },
    )
    return {"stackName": cfg["endpointsStackName"], "manifestKey": history_key, "noChange": no_change}


# ------------------------------------------------------------------------------------------ rollout status


def rollout_status(event: dict[str, Any], cfg: dict[str, Any], aws: Aws, now: dt.datetime) -> dict[str, Any]:
    if event.get("stackName") != cfg["endpointsStackName"]:
        raise _fail("stackName", event.get("stackName"), f"{cfg['endpointsStackName']}, the endpoints stack")
    stack = describe_stack(aws, cfg)
    status = str(stack.get("StackStatus"))
    return {
        "status": status,
        "done": not status.endswith("_IN_PROGRESS"),
        "succeeded": status == "UPDATE_COMPLETE",
        "reason": stack.get("StackStatusReason") or "",
    }


def _finished(manifest: dict[str, Any], key: str) -> dict[str, Any]:
    status = "serving" if manifest.get("status") == "serving" else "rolled-back"
    return {
        "status": status,
        "action": manifest.get("action"),
        "manifestKey": key,
        "version": manifest.get("version"),
        "reason": manifest.get("reason") or "",
    }


def finish(event: dict[str, Any], cfg: dict[str, Any], aws: Aws, now: dt.datetime) -> dict[str, Any]:
    action = event.get("action")
    if action not in (None, "promote", "rollback"):
        raise _fail("action", action, "promote or rollback (or none: the attempt's own)")
    deployment = _object(event, "deployment")
    rollout = event.get("rollout")
    if rollout is not None and not isinstance(rollout, dict):
        raise _fail("rollout", rollout, "the rolloutStatus step's result")
    rollout = rollout or {}
    bucket = cfg["artifactsBucket"]
    current = read_json(aws.s3, bucket, CURRENT_KEY)
    key = deployment.get("manifestKey")
    if not isinstance(current, dict) or current.get("historyKey") != key:
        attempt = (
            read_json(aws.s3, bucket, key)
            if isinstance(key, str) and key.startswith(HISTORY_PREFIX)
            else None
        )
        if isinstance(attempt, dict) and attempt.get("status") in ("serving", "rolled-back"):
            return _finished(attempt, key)  # finished already: a retry of this step
        raise _fail(
            "deployment.manifestKey",
            key,
            f"the attempt {_uri(bucket, CURRENT_KEY)} names (it names "
            f"{current.get('historyKey') if isinstance(current, dict) else None})",
        )
    if current.get("status") == "serving":
        return _finished(current, key)  # finished already: a retry of this step
    if action is not None and action != current.get("action"):
        raise _fail("action", action, f"{current.get('action')}, the action of the attempt {key}")
    action = current.get("action")
    succeeded = deployment.get("noChange") is True or rollout.get("succeeded") is True
    reason = rollout.get("reason") or ""
    arn, version = current.get("modelPackageArn"), current.get("version")
    if succeeded:
        final = {**current, "status": "serving", "servingSince": _iso(now)}
        write_json(aws.s3, bucket, key, final)
        write_json(aws.s3, bucket, CURRENT_KEY, final)
        status, notice = "serving", "rollout-succeeded"
    else:
        why = (
            f"stack {rollout.get('status')}: {reason}"
            if rollout.get("status")
            else reason or "rollout failed"
        )
        write_json(
            aws.s3, bucket, key, {**current, "status": "rolled-back", "reason": why, "endedAt": _iso(now)}
        )
        previous = current.get("previous") or {}
        restored = {**previous, "status": "serving", "restoredAt": _iso(now), "restoredBecause": why}
        write_json(aws.s3, bucket, CURRENT_KEY, restored)
        status, notice, reason = "rolled-back", "rollout-rolled-back", why
    if action == "promote" and isinstance(arn, str):
        description = describe_version(aws, arn, cfg)
        values: dict[str, Any] = {"production_status": status}
        if succeeded:
            values["production_since"] = _iso(now)
        record_metadata(aws, arn, values, description)
    notify(
        aws,
        cfg,
        notice,
        version,
        arn,
        {
            "action": action,
            "status": status,
            "reason": reason,
            "stackStatus": rollout.get("status"),
            "noChange": deployment.get("noChange") is True,
            "manifest": _uri(bucket, key),
        },
    )
    return {"status": status, "action": action, "manifestKey": key, "version": version, "reason": reason}


# ------------------------------------------------------------------------------------------------ handlers

_STEPS = {
    "check": check,
    "judge": judge,
    "awaitApproval": await_approval,
    "deploy": deploy,
    "rolloutStatus": rollout_status,
    "finish": finish,
    "rollback": rollback,
}


def run_step(event: Any, cfg: dict[str, Any], aws: Aws, now: dt.datetime) -> dict[str, Any]:
    """One step of the state machine (the handler with its settings, clients and clock given)."""
    if not isinstance(event, dict):
        raise _fail("event", event, "an object with step and the step's input")
    step = event.get("step")
    if step not in _STEPS:
        raise _fail("step", step, ", ".join(STEPS))
    result = _STEPS[step](event, cfg, aws, now)
    print(json.dumps({"step": step, "result": result}, default=str))
    return result


def step_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return run_step(event, settings(), Aws(), dt.datetime.now(dt.UTC))


def _send_token(aws: Aws, call: str, **params: Any) -> str | None:
    """SendTaskSuccess/SendTaskFailure; the error code when the token is no longer waited for."""
    try:
        getattr(aws.stepfunctions, call)(**params)
    except Exception as error:
        if _error_code(error) in EXPIRED_TOKEN_CODES:
            return _error_code(error)
        raise
    return None


def on_state_change(event: Any, cfg: dict[str, Any], aws: Aws, now: dt.datetime) -> dict[str, Any]:
    """One model package state change (the events handler with its settings, clients and clock given)."""
    if not isinstance(event, dict) or event.get("detail-type") != "SageMaker Model Package State Change":
        kind = event.get("detail-type") if isinstance(event, dict) else event
        raise _fail("detail-type", kind, "SageMaker Model Package State Change")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise _fail("detail", detail, "the model package's description")
    arn = detail.get("ModelPackageArn")
    if not isinstance(arn, str) or not MODEL_PACKAGE_ARN.fullmatch(arn):
        raise _fail("detail.ModelPackageArn", arn, ARN_ALLOWED)
    try:
        version = parse_arn(arn, cfg, "detail.ModelPackageArn")
    except PromotionError as error:
        return {"outcome": "skipped", "skipped": str(error), "modelPackageArn": arn}
    status = detail.get("ModelApprovalStatus")
    base = {"modelPackageArn": arn, "version": version, "approvalStatus": status}

    def skipped(why: str) -> dict[str, Any]:
        return {"outcome": "skipped", "skipped": why, **base}

    if status == PENDING:
        description = describe_version(aws, arn, cfg, "detail.ModelPackageArn")
        if "staging_validation" in _metadata(description):
            return skipped("already validated by the promotion workflow (re-run it with validate)")
        try:
            started = aws.stepfunctions.start_execution(
                stateMachineArn=cfg["stateMachineArn"],
                name=f"v{version}",
                input=json.dumps({"modelPackageArn": arn}),
            )
        except Exception as error:
            if _error_code(error) == "ExecutionAlreadyExists":
                return skipped(f"execution v{version} already exists")
            raise
        return {"outcome": "started", "executionArn": started["executionArn"], "name": f"v{version}", **base}
    if status not in (APPROVED, REJECTED):
        return skipped(f"status {status}: nothing to do")

    bucket, key = cfg["artifactsBucket"], approval_key(version)
    record = read_json(aws.s3, bucket, key)
    if record is not None and (
        not isinstance(record, dict)
        or record.get("modelPackageArn") != arn
        or not isinstance(record.get("taskToken"), str)
    ):
        raise _fail(_uri(bucket, key), record, f"the approval request of {arn} with its taskToken")
    description = describe_version(aws, arn, cfg, "detail.ModelPackageArn")
    metadata = _metadata(description)
    if status == REJECTED:
        if record is None:
            return skipped("rejected without a pending approval request")
        why = description.get("ApprovalDescription") or detail.get("ApprovalDescription") or "rejected"
        expired = _send_token(
            aws,
            "send_task_failure",
            taskToken=record["taskToken"],
            error="VersionRejected",
            cause=str(why)[:32768],
        )
        aws.s3.delete_object(Bucket=bucket, Key=key)
        if expired:
            return _expired(aws, cfg, base, record, expired)
        notify(
            aws,
            cfg,
            "rejected",
            version,
            arn,
            {"approvalDescription": why, "execution": record.get("executionArn")},
        )
        return {"outcome": "rejected", **base}

    if record is None:
        if "production_status" in metadata:
            return skipped(f"production_status {metadata['production_status']}: a change of a served version")
        notify(
            aws,
            cfg,
            "approved-without-request",
            version,
            arn,
            {
                "note": "approved without a pending approval request of the promotion workflow: "
                "nothing deployed",
                "stagingValidation": metadata.get("staging_validation", "none"),
            },
        )
        return {"outcome": "approved-without-request", **base}
    if description.get("ModelApprovalStatus") != APPROVED or metadata.get("staging_validation") != "passed":
        why = (
            f"registry status {description.get('ModelApprovalStatus')}, staging_validation "
            f"{metadata.get('staging_validation', 'none')}; allowed: {APPROVED} and passed"
        )
        notify(aws, cfg, "approval-ignored", version, arn, {"reason": why})
        return skipped(why)
    modified = description.get("LastModifiedTime")
    who = description.get("LastModifiedBy") or {}
    output = {
        "approvedAt": modified.isoformat()
        if isinstance(modified, dt.datetime)
        else event.get("time") or _iso(now),
        "approvedBy": (who.get("IamIdentity") or {}).get("Arn") or who.get("UserProfileName") or "unknown",
        "approvalDescription": description.get("ApprovalDescription") or "",
    }
    expired = _send_token(aws, "send_task_success", taskToken=record["taskToken"], output=json.dumps(output))
    aws.s3.delete_object(Bucket=bucket, Key=key)
    if expired:
        return _expired(aws, cfg, base, record, expired)
    notify(aws, cfg, "approved", version, arn, {**output, "execution": record.get("executionArn")})
    return {"outcome": "approved", **base, **output}


def _expired(
    aws: Aws, cfg: dict[str, Any], base: dict[str, Any], record: dict[str, Any], code: str
) -> dict[str, Any]:
    notify(
        aws,
        cfg,
        "approval-expired",
        base["version"],
        base["modelPackageArn"],
        {
            "error": code,
            "execution": record.get("executionArn"),
            "requestedAt": record.get("requestedAt"),
            "note": "the execution no longer waits for this answer; validate the version again to deploy it",
        },
    )
    return {"outcome": "approval-expired", "error": code, **base}


def events_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    result = on_state_change(event, settings(), Aws(), dt.datetime.now(dt.UTC))
    print(json.dumps(result, default=str))
    return result


# ------------------------------------------------------------------------------------------------- command


@dataclasses.dataclass
class StatusArgs:
    """The served manifest, the last history entries and the pending approval requests."""

    history: int = dataclasses.field(default=HISTORY_ENTRIES, metadata={"help": "How many history entries"})


@dataclasses.dataclass
class RollbackArgs:
    """Start a rollback execution: the set that served before the current one serves again."""

    reason: str = dataclasses.field(default="", metadata={"help": "Why (kept in the manifest and notices)"})


@dataclasses.dataclass
class ValidateArgs:
    """Start the workflow again for a version: staging validation, then approval and rollout."""

    model_package_arn: str = dataclasses.field(
        metadata={"help": "The version's ARN (of the configured group)"}
    )


def _summary(key: str, manifest: Any) -> dict[str, Any]:
    m = manifest if isinstance(manifest, dict) else {}
    return {k: m.get(k) for k in ("status", "action", "version", "createdAt", "reason")} | {"key": key}


def status_report(cfg: dict[str, Any], aws: Aws, entries: int) -> dict[str, Any]:
    bucket = cfg["artifactsBucket"]
    history = list_keys(aws.s3, bucket, HISTORY_PREFIX)[-entries:][::-1] if entries else []
    pending = []
    for key in list_keys(aws.s3, bucket, APPROVALS_PREFIX):
        record = read_json(aws.s3, bucket, key) or {}
        pending.append(
            {k: record.get(k) for k in ("version", "modelPackageArn", "executionArn", "requestedAt")}
            | {"key": key}
        )
    return {
        "current": read_json(aws.s3, bucket, CURRENT_KEY),
        "history": [_summary(key, read_json(aws.s3, bucket, key)) for key in history],
        "pendingApprovals": pending,
    }


def _start(cfg: dict[str, Any], aws: Aws, name: str, payload: dict[str, Any]) -> dict[str, Any]:
    started = aws.stepfunctions.start_execution(
        stateMachineArn=cfg["stateMachineArn"], name=name, input=json.dumps(payload)
    )
    return {"executionArn": started["executionArn"], "name": name, "input": payload}


def command(name: str, args: Any, cfg: dict[str, Any], aws: Aws, now: dt.datetime) -> dict[str, Any]:
    """What one subcommand prints; UsageError for a bad argument, PromotionError for a refusal."""
    if name == "status":
        if args.history < 0:
            raise UsageError(f"--history: got {args.history}; allowed: 0 or more")
        return status_report(cfg, aws, args.history)
    if name == "rollback":
        current = read_json(aws.s3, cfg["artifactsBucket"], CURRENT_KEY)
        if not isinstance(current, dict) or current.get("status") != "serving" or not current.get("previous"):
            state = current.get("status") if isinstance(current, dict) else "no current.json"
            raise PromotionError(
                f"{_uri(cfg['artifactsBucket'], CURRENT_KEY)}: {state}; allowed: a serving manifest with a "
                "previous one to restore"
            )
        payload = {"action": "rollback", "reason": " ".join(args.reason.split())[:1000]}
        return _start(cfg, aws, f"rollback-{stamp(now)}", payload)
    try:
        version = parse_arn(args.model_package_arn, cfg, "--model-package-arn")
        description = describe_version(aws, args.model_package_arn, cfg, "--model-package-arn")
    except PromotionError as error:
        raise UsageError(str(error)) from None
    if description.get("ModelApprovalStatus") == REJECTED:
        raise UsageError(
            f"--model-package-arn: got {args.model_package_arn}; allowed: a version not {REJECTED}"
        )
    return _start(cfg, aws, f"v{version}-{stamp(now)}", {"modelPackageArn": args.model_package_arn})


# The subcommands and their arguments (the documents' commands are parsed with these: test_docs_commands.py).
COMMAND_ARGS: dict[str, type] = {"status": StatusArgs, "rollback": RollbackArgs, "validate": ValidateArgs}


def main(argv: list[str] | None = None, aws: Aws | None = None) -> int:
    prog = "python -m training.registry.promotion"

    def runner(name: str) -> Any:
        def run(args: Any) -> int:
            from botocore.exceptions import BotoCoreError, ClientError

            try:
                cfg = settings()
            except PromotionError as error:
                raise UsageError(str(error)) from None
            try:
                result = command(name, args, cfg, aws or Aws(), dt.datetime.now(dt.UTC))
            except PromotionError as error:
                print(f"{prog} {name}: refused: {error}", file=sys.stderr)
                return 1
            except (ClientError, BotoCoreError) as error:
                print(f"{prog} {name}: AWS error: {type(error).__name__}: {error}", file=sys.stderr)
                return 1
            print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
            return 0

        return run

    commands = {name: (args_type, runner(name)) for name, args_type in COMMAND_ARGS.items()}
    doc = "Staged promotion of model versions: status, rollback, validate (settings: FMFT_PROMOTION_SETTINGS)"
    return run_subcommands(prog, doc, commands, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
