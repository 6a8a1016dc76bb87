"""Plans one run of the capture monitor: the window, and per served target the processing job that reads it.

Lambda handler ``training.monitor.plan.handler``, the first state of the monitoring state machine, which
passes ``{"scheduledTime": "<ISO 8601>", "targets": [{"endpointName", "variantName", "modelPackageArn"?}],
"executionName": "..."}``. Settings come from the ``FMFT_MONITOR_SETTINGS`` environment variable (JSON
written by the CDK stack): ``captureUri`` (``s3://<bucket>/data-capture/``), ``outputUri``,
``intervalHours``, ``jobNamePrefix`` and ``codeInputs`` (the job code's two ProcessingInputs).

The window is the ``intervalHours`` whole clock hours before the scheduled time. SageMaker writes data
capture under ``<captureUri><endpoint>/<variant>/yyyy/mm/dd/hh/``, so a window is a list of hour
prefixes. The planner lists every object under them (ListObjectsV2, paginated) and writes one manifest,
``<run prefix>manifests/capture.json``, in SageMaker's manifest format: a JSON array whose first element is
``{"prefix": "s3://<bucket>/<captureUri's key><endpoint>/<variant>/"}`` followed by each key relative to it
(``yyyy/mm/dd/hh/<file>``). The job's one ``capture`` input (S3DataType ``ManifestFile``) points at it, so
the files land under ``/opt/ml/processing/input/capture/yyyy/mm/dd/hh/`` and the input count does not grow
with the window (CreateProcessingJob allows 10 inputs). ``hoursWithData`` counts the hours with an object,
``captureFiles`` the objects. A window with none gets no manifest and no capture input, and is reported as
empty, without a job unless a canary or ground truth gives it something to score. The
run prefix is ``<outputUri><endpoint>/<variant>/yyyy/mm/dd/hh/<job name>/``, the job's output location, so
the planner needs s3:PutObject there. The served version's baseline is the ``DriftCheckBaselines
.ModelDataQuality.Statistics`` of its model package, written by the pipeline's data preparation; without one
the job runs anyway and reports ``BaselineMissing``.

The quality canary (``canary`` in the settings: ``{"records": 1..500, "task": "classification" |
"summarization" | "qa", "goldenSetUri": "s3://.../x.jsonl" | null}``; absent or null: off) adds to each
run ``hasCanary``, ``canary`` (``{"goldenUri", "predictionsBucket", "predictionsKey", "records", "task"}``,
what ``training.monitor.canary.handler`` reads; null without a canary) and ``canarySkipped`` (why a
configured canary does not run for this target; null otherwise). The golden set is ``goldenSetUri``, else
the served version's own held-out test split, which the pipeline's prepare step writes beside the baseline:
``<prefix>/baseline/baseline.json`` -> ``<prefix>/test/test.jsonl``. With a golden set the job gets the
input ``canary`` (``<run prefix>canary/``, where the canary function writes ``predictions.jsonl`` before
the job starts) and runs even in a window without capture (``hasData``), to score the answers.

Bedrock provisioned models (``bedrock`` in the settings: ``{"namePrefix", "invocationLogsUri",
"reportsUri"}``; absent or null: none) are found, not passed: every InService provisioned throughput whose
name starts with ``<namePrefix>-`` (the platform's own, as the throughput guard finds them) is a target with
``endpointName`` its provisionedModelName, ``variantName`` ``BEDROCK_VARIANT`` and ``modelId`` its ARN
(``""`` for endpoint runs: the state machine always passes ``--model-id $.run.modelId``). Bedrock writes the
invocation logs of every model of the account and region under ``<invocationLogsUri>yyyy/mm/dd/hh/``, so each
Bedrock job reads the same hours and keeps its own model's lines. Its baseline is the one the customization
workflow's prepare step wrote, ``<reportsUri><provisionedModelName>/baseline.json``, when it exists (looked
for, with ListObjectsV2, only when there are invocation logs to read or a canary to score). The canary asks
them too (the canary function calls Converse with the run's ``modelId``): the golden set is ``goldenSetUri``,
else the run's own test split, which that baseline records as ``source.testDataUri`` (the planner reads the
object with GetObject, so it needs s3:GetObject on ``reportsUri``), else none (``canarySkipped`` says why).

Ground truth (``groundTruth`` in the settings: ``{"uri": "s3://<evaluation bucket>/evaluation/ground-truth/",
"task": "classification" | "summarization" | "qa", "lookbackHours": 1..168}``; absent or null: off). The
application uploads references later, by inference id, as JSONL under
``<uri><endpoint>/<variant>/yyyy/mm/dd/hh/<any name>.jsonl``, the hour being the UTC hour of the request
(format: ``ground_truth.py``). Each endpoint run (not Bedrock) picks up the files UPLOADED in its window
(LastModified in [windowStart, windowEnd), so each file is taken by exactly one run) whose request hour is
one of the ``lookbackHours`` hours before windowEnd: one listing of ``<uri><endpoint>/<variant>/`` that
starts after the oldest of those hours (StartAfter) and stops at windowEnd's, so hours without ground truth
cost nothing. It writes ``manifests/ground-truth.json`` (those files) and
``manifests/ground-truth-capture.json`` (every capture file of the request hours they name, and of the hour
before and after each: a capture file filed under one hour can hold requests from either side of its edge),
the job's inputs ``ground-truth`` and ``ground-truth-capture``. Run fields: ``hasGroundTruth`` and
``groundTruthFiles``; without capture in those hours the job still runs and reports every record unmatched.

The serving manifest (``manifestBucket``, ``manifestKey`` and ``manifestEndpointName`` in the settings,
together; absent or null: none). The staged promotion changes the version an A/B variant serves at run time
and records it in ``serving/manifests/current.json`` of the model artifacts bucket (``training.registry
.promotion``; read with ``training.registry.serving_manifest``, as the pipeline's champion finder reads it),
so the event's ``modelPackageArn`` (the synth-time config's) may be an older version than the one served.
For each target of ``manifestEndpointName`` (the A/B endpoint) whose variant the manifest names, the
manifest's ``modelPackageArn`` is the served version, whose baseline and test split the run uses:
``variants`` while its ``status`` is ``serving``; during a rollout (any other status: ``rolling-out``,
``rolling-back``, ``failed``) the ``previous`` variants, which serve until it ends, else the event's. No such
object: the event's versions, silently. An object that is not a JSON object, or whose variants are not a list
of ``{variant, modelPackageArn}``: the event's versions. Targets of other endpoints keep theirs. What was
taken from the manifest, and why it was not, is logged as one JSON line ``{"servingManifest", "notes"}``
(the plan's output has no place for notes). Reading needs ``s3:ListBucket`` for the key as prefix and
``s3:GetObject`` on it, and the versions the manifest names need ``sagemaker:DescribeModelPackage``; any
other S3 error fails the plan.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from training.monitor.canary import MAX_RECORDS, PREDICTIONS_FILE, TASKS
from training.registry.serving_manifest import SERVING, read_manifest

# CreateProcessingJob allows at most 10 inputs: the code and launcher, the capture manifest, the baseline,
# the canary's answers and the two ground-truth manifests make 7.
MAX_INPUTS = 10
# The schedule's range (the CDK config's intervalHours); the inputs no longer depend on it.
MAX_INTERVAL_HOURS = 6
MAX_LOOKBACK_HOURS = 168
PROCESSING_ROOT = "/opt/ml/processing"
CAPTURE_PATH = f"{PROCESSING_ROOT}/input/capture"
BASELINE_PATH = f"{PROCESSING_ROOT}/input/baseline"
CANARY_PATH = f"{PROCESSING_ROOT}/input/canary"
GROUND_TRUTH_PATH = f"{PROCESSING_ROOT}/input/ground-truth"
GROUND_TRUTH_CAPTURE_PATH = f"{PROCESSING_ROOT}/input/ground-truth-capture"
# Under each run's prefix: the manifests of its ManifestFile inputs.
MANIFESTS = "manifests/"
CAPTURE_MANIFEST = "capture.json"
GROUND_TRUTH_MANIFEST = "ground-truth.json"
GROUND_TRUTH_CAPTURE_MANIFEST = "ground-truth-capture.json"
# Capture hours read around each request hour that ground truth names (see the module docstring).
CAPTURE_HOUR_MARGIN = 1
_HOUR_KEY = re.compile(r"^(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/].*$")
# The pipeline's prepare step writes train/, validation/, test/ and baseline/ under one prefix.
BASELINE_SUFFIX = "/baseline/baseline.json"
TEST_SPLIT_SUFFIX = "/test/test.jsonl"
OUTPUT_PATH = f"{PROCESSING_ROOT}/output/monitor"
# The VariantName of a Bedrock provisioned model's runs and metrics; the CDK app's BEDROCK_VARIANT
# (lib/constructs/monitoring/capture-monitor.ts) is the same.
BEDROCK_VARIANT = "bedrock"
BEDROCK_BASELINE_FILE = "baseline.json"
# ProcessingJobName: letters and digits with single hyphens, at most 63 characters (botocore's model).
_JOB_NAME_MAX = 63
_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


# The metric dimensions, in the contract's order (training/contracts/monitoring-metrics.json).
_CONTRACT = Path(__file__).resolve().parent.parent / "contracts" / "monitoring-metrics.json"
ENDPOINT_DIMENSION, VARIANT_DIMENSION = json.loads(_CONTRACT.read_text(encoding="utf-8"))["dimensions"]


class PlanInputError(ValueError):
    """The input is not a monitor run; the message names the field, the value and what is allowed."""


def settings() -> dict[str, Any]:
    return json.loads(os.environ["FMFT_MONITOR_SETTINGS"])


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"not an s3://bucket/key URI: {uri!r}")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


def window_of(scheduled_time: Any, interval_hours: int) -> tuple[dt.datetime, dt.datetime]:
    """The ``interval_hours`` whole hours before ``scheduled_time`` (UTC): [start, end)."""
    if not isinstance(scheduled_time, str):
        raise PlanInputError(
            f"scheduledTime: got {scheduled_time!r}; allowed: an ISO 8601 time such as 2026-11-29T10:05:00Z"
        )
    try:
        when = dt.datetime.fromisoformat(scheduled_time.replace("Z", "+00:00"))
    except ValueError:
        raise PlanInputError(
            f"scheduledTime: got {scheduled_time!r}; allowed: an ISO 8601 time such as 2026-11-29T10:05:00Z"
        ) from None
    if when.tzinfo is None:
        raise PlanInputError(
            f"scheduledTime: got {scheduled_time!r}; allowed: a time with its offset, such as ...Z"
        )
    end = when.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return end - dt.timedelta(hours=interval_hours), end


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def hourly(key_prefix: str, start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, str]]:
    """``<key_prefix>yyyy/mm/dd/hh/`` for each hour of [start, end): the layout of SageMaker data capture
    under an endpoint variant and of Bedrock invocation logs under an account and region."""
    hours = []
    hour = start
    while hour < end:
        hours.append((hour, f"{key_prefix}{hour:%Y/%m/%d/%H}/"))
        hour += dt.timedelta(hours=1)
    return hours


def job_name(prefix: str, endpoint: str, variant: str, end: dt.datetime, execution: str) -> str:
    """``<prefix>-mon-<target hash>-<yyyymmddhh>-<execution hash>``: unique per target, window and execution.

    A retried state keeps its name (CreateProcessingJob then refuses a second job for the same run); a new
    execution for the same window gets a new one.
    """
    target = hashlib.sha256(f"{endpoint}/{variant}".encode()).hexdigest()[:8]
    run = hashlib.sha256(execution.encode()).hexdigest()[:6]
    name = f"{prefix}-mon-{target}-{end:%Y%m%d%H}-{run}"
    if len(name) > _JOB_NAME_MAX or not _NAME.match(name):
        raise ValueError(
            f"jobNamePrefix {prefix!r} gives the job name {name!r}: over 63 or not letters, digits, hyphens"
        )
    return name


def s3_input(name: str, uri: str, local_path: str, data_type: str = "S3Prefix") -> dict[str, Any]:
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local_path,
            "S3DataType": data_type,
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        },
    }


def _targets(event: dict[str, Any]) -> list[dict[str, str]]:
    targets = event.get("targets")
    if not isinstance(targets, list):
        raise PlanInputError(
            f"targets: got {targets!r}; allowed: a list of {{endpointName, variantName, modelPackageArn?}}"
        )
    checked = []
    for i, target in enumerate(targets):
        if not isinstance(target, dict):
            raise PlanInputError(
                f"targets[{i}]: got {target!r}; allowed: an object with endpointName and variantName"
            )
        for key in ("endpointName", "variantName"):
            value = target.get(key)
            if not isinstance(value, str) or not _NAME.match(value):
                raise PlanInputError(
                    f"targets[{i}].{key}: got {value!r}; allowed: 1-63 letters, digits and hyphens"
                )
        arn = target.get("modelPackageArn")
        if arn is not None and (not isinstance(arn, str) or ":model-package/" not in arn):
            raise PlanInputError(
                f"targets[{i}].modelPackageArn: got {arn!r}; allowed: a model package version ARN"
            )
        checked.append(target)
    return checked


MANIFEST_SETTINGS = ("manifestBucket", "manifestKey", "manifestEndpointName")


def manifest_settings(config: dict[str, Any]) -> tuple[str, str, str] | None:
    """``(manifestBucket, manifestKey, manifestEndpointName)`` of the settings, or None when they name no
    serving manifest."""
    values = [config.get(name) for name in MANIFEST_SETTINGS]
    if all(value is None for value in values):
        return None
    for name, value in zip(MANIFEST_SETTINGS, values, strict=True):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(
                f"{name}: got {value!r:.200}; allowed: manifestBucket, manifestKey and manifestEndpointName "
                "together (the serving manifest's bucket and key, and the A/B endpoint whose variants it "
                "names), or none of them"
            )
    if not _NAME.match(values[2]):
        raise ValueError(
            f"manifestEndpointName: got {values[2]!r:.200}; allowed: 1-63 letters, digits and hyphens"
        )
    bucket, key, endpoint = values
    return bucket, key, endpoint


def _variant_versions(variants: Any) -> dict[str, str] | None:
    """``{variant: modelPackageArn}`` of a manifest's variants, or None unless every one names both."""
    if not isinstance(variants, list) or not variants:
        return None
    versions = {}
    for entry in variants:
        if not isinstance(entry, dict):
            return None
        name, arn = entry.get("variant"), entry.get("modelPackageArn")
        if not isinstance(name, str) or not isinstance(arn, str) or ":model-package/" not in arn:
            return None
        versions[name] = arn
    return versions


def manifest_versions(s3: Any, bucket: str, key: str) -> tuple[dict[str, str] | None, str]:
    """What the serving manifest at ``s3://bucket/key`` says each A/B variant serves now, and where that
    comes from: ``({variant: modelPackageArn}, source)``; ``(None, "")`` when there is no such object;
    ``(None, why)`` when it cannot be used (see the module docstring)."""
    where = f"serving manifest s3://{bucket}/{key}"
    fallback = "using the configured versions"
    manifest, unreadable = read_manifest(s3, bucket, key)
    if manifest is None:
        return None, f"{where} {unreadable}: {fallback}" if unreadable else ""
    status = manifest.get("status")
    if status == SERVING:
        variants, source = manifest.get("variants"), where
    else:
        previous = manifest.get("previous")
        if not isinstance(previous, dict) or previous.get("variants") is None:
            return None, f"{where} has status {status!r}, not {SERVING!r}, and no previous: {fallback}"
        variants = previous["variants"]
        source = f"the previous variants of {where} (status {status!r}: they serve until the rollout ends)"
    versions = _variant_versions(variants)
    if versions is None:
        return None, f"{source}: not a list of {{variant, modelPackageArn}}: {fallback}"
    return versions, source


def served_targets(s3: Any, config: dict[str, Any], targets: list[dict[str, str]]) -> list[dict[str, str]]:
    """``targets`` with the A/B endpoint's versions that the serving manifest names instead of the event's
    (see the module docstring); logs what it took from the manifest and why it took nothing."""
    location = manifest_settings(config)
    if location is None:
        return targets
    bucket, key, endpoint = location
    if not any(t["endpointName"] == endpoint for t in targets):
        return targets  # nothing the manifest could change: not read
    versions, source = manifest_versions(s3, bucket, key)
    notes = []
    served = []
    for target in targets:
        configured = target.get("modelPackageArn")
        label = f"{target['endpointName']}/{target['variantName']}"
        if versions is None or target["endpointName"] != endpoint:
            served.append(target)
        elif target["variantName"] in versions:
            arn = versions[target["variantName"]]
            served.append({**target, "modelPackageArn": arn})
            differs = f" (configured: {configured or 'none'})" if arn != configured else " (as configured)"
            notes.append(f"{label}: {arn} from {source}{differs}")
        else:
            served.append(target)
            notes.append(f"{label}: not in {source}: the configured version {configured or 'none'}")
    if versions is None and source:
        notes.append(source)
    if notes:
        print(json.dumps({"servingManifest": f"s3://{bucket}/{key}", "notes": notes}))
    return served


def baseline_uri(sagemaker: Any, model_package_arn: str | None) -> str | None:
    """The baseline statistics the pipeline registered with the served version, if any."""
    if not model_package_arn:
        return None
    package = sagemaker.describe_model_package(ModelPackageName=model_package_arn)
    statistics = (package.get("DriftCheckBaselines") or {}).get("ModelDataQuality", {}).get(
        "Statistics"
    ) or {}
    return statistics.get("S3Uri")


def canary_settings(config: dict[str, Any]) -> dict[str, Any] | None:
    """The checked ``canary`` settings, or None when the canary is off."""
    canary = config.get("canary")
    if canary is None:
        return None
    records, task = canary.get("records"), canary.get("task")
    if isinstance(records, bool) or not isinstance(records, int) or not 1 <= records <= MAX_RECORDS:
        raise ValueError(f"canary.records: got {records!r}; allowed: a whole number from 1 to {MAX_RECORDS}")
    if task not in TASKS:
        raise ValueError(f"canary.task: got {task!r}; allowed: {', '.join(TASKS)}")
    golden = canary.get("goldenSetUri")
    if golden is not None:
        try:
            split_s3_uri(golden)
        except ValueError:
            raise ValueError(
                f"canary.goldenSetUri: got {golden!r}; allowed: null or s3://bucket/key.jsonl"
            ) from None
    return {"records": records, "task": task, "goldenSetUri": golden}


def golden_set(
    configured: str | None, baseline: str | None, has_version: bool = True
) -> tuple[str | None, str | None]:
    """(golden set URI, None), or (None, why there is none): the configured set, else the test split beside
    the served version's baseline. Only A/B variants (targets with a version) are asked: the shared
    endpoint's inference components need InferenceComponentName, not TargetVariant."""
    if not has_version:
        return (
            None,
            "the target names no model package version (a shared endpoint's components are not asked)",
        )
    if configured:
        return configured, None
    if not baseline:
        return None, (
            "no goldenSetUri configured and the served version has no registered baseline beside which "
            "to find its test split"
        )
    if not baseline.endswith(BASELINE_SUFFIX):
        return None, (
            f"no goldenSetUri configured and the baseline {baseline} is not <prefix>{BASELINE_SUFFIX} "
            "(the pipeline's layout), so its test split is unknown"
        )
    return baseline[: -len(BASELINE_SUFFIX)] + TEST_SPLIT_SUFFIX, None


def bedrock_golden_set(
    s3: Any, configured: str | None, baseline: str | None, expected: str
) -> tuple[str | None, str | None]:
    """(golden set URI, None), or (None, why there is none), for a Bedrock provisioned model: the configured
    set, else the test split its run's ``baseline`` (found at ``expected``, or None) records as
    ``source.testDataUri`` (training/bedrock/handlers.py's ``prepare`` writes it)."""
    if configured:
        return configured, None
    if not baseline:
        return None, (
            f"no goldenSetUri configured and the provisioned model has no {expected} (the customization "
            "workflow's prepare step writes it, with where the run's test split is, except for continued "
            "pre-training)"
        )
    bucket, key = split_s3_uri(baseline)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        document = json.loads(body)
    except ValueError:  # not UTF-8 or not JSON
        return None, f"no goldenSetUri configured and the baseline {baseline} is not JSON"
    source = document.get("source") if isinstance(document, dict) else None
    test = source.get("testDataUri") if isinstance(source, dict) else None
    if test is None:
        return None, (
            f"no goldenSetUri configured and the baseline {baseline} names no test split "
            "(source.testDataUri: the run had none, or its baseline was written before it was recorded)"
        )
    try:
        split_s3_uri(test)
    except ValueError:
        return (
            None,
            f"no goldenSetUri configured and the baseline {baseline} has source.testDataUri {test!r:.200}",
        )
    return test, None


def bedrock_settings(config: dict[str, Any]) -> dict[str, str] | None:
    """The checked ``bedrock`` settings, or None when Bedrock provisioned models are not monitored."""
    bedrock = config.get("bedrock")
    if bedrock is None:
        return None
    if not isinstance(bedrock, dict):
        raise ValueError(
            f"bedrock: got {bedrock!r}; allowed: null or {{namePrefix, invocationLogsUri, reportsUri}}"
        )
    prefix = bedrock.get("namePrefix")
    if not isinstance(prefix, str) or not _NAME.match(prefix):
        raise ValueError(f"bedrock.namePrefix: got {prefix!r}; allowed: 1-63 letters, digits and hyphens")
    checked = {"namePrefix": prefix}
    for key in ("invocationLogsUri", "reportsUri"):
        uri = bedrock.get(key)
        if not isinstance(uri, str) or not re.fullmatch(r"s3://[^/]+/(.+/)?", uri):
            raise ValueError(f"bedrock.{key}: got {uri!r}; allowed: s3://bucket/prefix/ (ending with /)")
        checked[key] = uri
    return checked


def provisioned_models(bedrock: Any, name_prefix: str) -> list[dict[str, str]]:
    """(name, ARN) of every InService provisioned throughput named ``<name_prefix>-...``, sorted by name."""
    found: dict[str, str] = {}
    token = None
    while True:
        page = bedrock.list_provisioned_model_throughputs(
            statusEquals="InService",
            nameContains=f"{name_prefix}-",  # narrows the listing; the prefix itself is checked below
            maxResults=1000,
            **({"nextToken": token} if token else {}),
        )
        for summary in page.get("provisionedModelSummaries", []):
            if summary["provisionedModelName"].startswith(f"{name_prefix}-"):
                found[summary["provisionedModelName"]] = summary["provisionedModelArn"]
        token = page.get("nextToken")
        if not token:
            return [{"name": name, "arn": found[name]} for name in sorted(found)]


def _object_exists(s3: Any, uri: str) -> bool:
    """Whether the object exists, asked with ListObjectsV2 (s3:ListBucket on its prefix): HeadObject would
    need s3:GetObject and still answer 403, not 404, for a missing key to a role without s3:ListBucket."""
    bucket, key = split_s3_uri(uri)
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    return any(item["Key"] == key for item in listing.get("Contents", []))


def list_objects(
    s3: Any, bucket: str, prefix: str, start_after: str | None = None, stop_at: str | None = None
) -> list[dict[str, Any]]:
    """Every object (``Key``, ``LastModified``) under ``prefix``, in key order, paginated: after
    ``start_after`` and before the first key >= ``stop_at`` when given. Folder markers (keys ending with
    ``/``) are left out: they are not files to read."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if start_after:
        params["StartAfter"] = start_after
    while True:
        page = s3.list_objects_v2(**params)
        for item in page.get("Contents", []):
            if stop_at is not None and item["Key"] >= stop_at:
                return found
            if not item["Key"].endswith("/"):
                found.append({"Key": item["Key"], "LastModified": item["LastModified"]})
        if not page.get("IsTruncated"):
            return found
        params["ContinuationToken"] = page["NextContinuationToken"]


def _hour_keys(s3: Any, bucket: str, prefix: str, cache: dict[str, list[str]]) -> list[str]:
    """The keys under one hour prefix, listed once per plan (Bedrock targets share the account's hours)."""
    uri = f"s3://{bucket}/{prefix}"
    if uri not in cache:
        cache[uri] = [item["Key"] for item in list_objects(s3, bucket, prefix)]
    return cache[uri]


def write_manifest(s3: Any, bucket: str, key: str, root: str, keys: list[str]) -> str:
    """Write SageMaker's manifest of ``keys`` (all under ``root``, the ``s3://bucket/prefix/`` they share) to
    ``s3://bucket/key`` and return its URI: ``[{"prefix": root}, "<key relative to root>", ...]``."""
    root_prefix = split_s3_uri(root)[1]
    relative = []
    for item in keys:
        if not item.startswith(root_prefix) or len(item) == len(root_prefix):
            raise ValueError(f"manifest {key}: {item} is not under {root}")
        relative.append(item[len(root_prefix) :])
    body = json.dumps([{"prefix": root}, *relative], ensure_ascii=False).encode()
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    return f"s3://{bucket}/{key}"


def manifest_input(name: str, uri: str, local_path: str) -> dict[str, Any]:
    return s3_input(name, uri, local_path, data_type="ManifestFile")


def ground_truth_settings(config: dict[str, Any]) -> dict[str, Any] | None:
    """The checked ``groundTruth`` settings, or None when ground truth is off."""
    truth = config.get("groundTruth")
    if truth is None:
        return None
    if not isinstance(truth, dict):
        raise ValueError(f"groundTruth: got {truth!r}; allowed: null or {{uri, task, lookbackHours}}")
    uri, task, lookback = truth.get("uri"), truth.get("task"), truth.get("lookbackHours")
    if not isinstance(uri, str) or not re.fullmatch(r"s3://[^/]+/(.+/)?", uri):
        raise ValueError(f"groundTruth.uri: got {uri!r}; allowed: s3://bucket/prefix/ (ending with /)")
    if task not in TASKS:
        raise ValueError(f"groundTruth.task: got {task!r}; allowed: {', '.join(TASKS)}")
    if isinstance(lookback, bool) or not isinstance(lookback, int) or not 1 <= lookback <= MAX_LOOKBACK_HOURS:
        raise ValueError(
            f"groundTruth.lookbackHours: got {lookback!r}; allowed: a whole number from 1 to "
            f"{MAX_LOOKBACK_HOURS}"
        )
    return {"uri": uri, "task": task, "lookbackHours": lookback}


def request_hour(relative_key: str) -> dt.datetime | None:
    """The hour of ``yyyy/mm/dd/hh/<name>`` (a key relative to a target's root), or None for another key."""
    match = _HOUR_KEY.match(relative_key)
    if not match:
        return None
    try:
        year, month, day, hour = (int(part) for part in match.groups())
        return dt.datetime(year, month, day, hour, tzinfo=dt.UTC)
    except ValueError:
        return None


def ground_truth_files(
    s3: Any, root: str, start: dt.datetime, end: dt.datetime, lookback_hours: int
) -> tuple[list[str], set[dt.datetime]]:
    """The keys under ``root`` (``s3://bucket/<prefix><endpoint>/<variant>/``) uploaded in [start, end) for a
    request hour within ``lookback_hours`` before ``end``, and those hours. One listing: it starts after the
    oldest hour's prefix and stops at ``end``'s."""
    bucket, prefix = split_s3_uri(root)
    oldest = end - dt.timedelta(hours=lookback_hours)
    keys, hours = [], set()
    for item in list_objects(
        s3,
        bucket,
        prefix,
        start_after=f"{prefix}{oldest:%Y/%m/%d/%H}/",
        stop_at=f"{prefix}{end:%Y/%m/%d/%H}/",
    ):
        hour = request_hour(item["Key"][len(prefix) :])
        uploaded = item["LastModified"]
        if uploaded.tzinfo is None:
            uploaded = uploaded.replace(tzinfo=dt.UTC)
        if hour is not None and oldest <= hour < end and start <= uploaded < end:
            keys.append(item["Key"])
            hours.add(hour)
    return keys, hours


def plan(
    event: dict[str, Any], config: dict[str, Any], s3: Any, sagemaker: Any, bedrock: Any = None
) -> dict[str, Any]:
    interval = int(config["intervalHours"])
    if not 1 <= interval <= MAX_INTERVAL_HOURS:
        raise ValueError(f"intervalHours: got {interval}; allowed: 1 to {MAX_INTERVAL_HOURS}")
    start, end = window_of(event.get("scheduledTime"), interval)
    execution = str(event.get("executionName") or iso(end))
    capture_bucket, capture_prefix = split_s3_uri(config["captureUri"])
    output_bucket, output_prefix = split_s3_uri(config["outputUri"])
    canary = canary_settings(config)
    bedrock_config = bedrock_settings(config)
    truth = ground_truth_settings(config)
    # Each target: its dimensions, the model whose invocation log lines count ("" for an endpoint), the
    # bucket and the root its hour prefixes are under (the manifests' prefix), the window's hour prefixes,
    # and for a Bedrock model where its baseline would be.
    targets: list[dict[str, Any]] = []
    for target in served_targets(s3, config, _targets(event)):
        root = f"{capture_prefix}{target['endpointName']}/{target['variantName']}/"
        targets.append(
            {
                **target,
                "modelId": "",
                "bucket": capture_bucket,
                "root": root,
                "hours": hourly(root, start, end),
            }
        )
    if bedrock_config:
        logs_bucket, logs_prefix = split_s3_uri(bedrock_config["invocationLogsUri"])
        for model in provisioned_models(bedrock, bedrock_config["namePrefix"]):
            reports = f"{bedrock_config['reportsUri']}{model['name']}/"
            targets.append(
                {
                    "endpointName": model["name"],
                    "variantName": BEDROCK_VARIANT,
                    "modelId": model["arn"],
                    "bucket": logs_bucket,
                    "root": logs_prefix,
                    "hours": hourly(logs_prefix, start, end),
                    "bedrockBaseline": f"{reports}{BEDROCK_BASELINE_FILE}",
                }
            )
    listed: dict[str, list[str]] = {}
    runs = []
    for target in targets:
        endpoint, variant = target["endpointName"], target["variantName"]
        bucket, root = target["bucket"], target["root"]
        bedrock_target = bool(target["modelId"])
        name = job_name(config["jobNamePrefix"], endpoint, variant, end, execution)
        key_prefix = f"{output_prefix}{endpoint}/{variant}/{end:%Y/%m/%d/%H}/{name}/"
        manifests = f"{key_prefix}{MANIFESTS}"
        hour_keys = [_hour_keys(s3, bucket, prefix, listed) for _, prefix in target["hours"]]
        hours_with_data = sum(1 for keys in hour_keys if keys)
        capture_keys = [key for keys in hour_keys for key in keys]
        inputs = list(config["codeInputs"])
        if capture_keys:
            uri = write_manifest(
                s3, output_bucket, f"{manifests}{CAPTURE_MANIFEST}", f"s3://{bucket}/{root}", capture_keys
            )
            inputs.append(manifest_input("capture", uri, CAPTURE_PATH))
        truth_keys: list[str] = []
        truth_inputs = []
        if truth and not bedrock_target:  # Bedrock invocation logs carry no caller's inference id
            truth_bucket, truth_prefix = split_s3_uri(truth["uri"])
            truth_root = f"s3://{truth_bucket}/{truth_prefix}{endpoint}/{variant}/"
            truth_keys, request_hours = ground_truth_files(s3, truth_root, start, end, truth["lookbackHours"])
            if truth_keys:
                uri = write_manifest(
                    s3, output_bucket, f"{manifests}{GROUND_TRUTH_MANIFEST}", truth_root, truth_keys
                )
                truth_inputs.append(manifest_input("ground-truth", uri, GROUND_TRUTH_PATH))
                margin = [dt.timedelta(hours=h) for h in range(-CAPTURE_HOUR_MARGIN, CAPTURE_HOUR_MARGIN + 1)]
                read = sorted({hour + shift for hour in request_hours for shift in margin})
                joined = [
                    key
                    for hour in read
                    for key in _hour_keys(s3, bucket, f"{root}{hour:%Y/%m/%d/%H}/", listed)
                ]
                if joined:
                    uri = write_manifest(
                        s3,
                        output_bucket,
                        f"{manifests}{GROUND_TRUTH_CAPTURE_MANIFEST}",
                        f"s3://{bucket}/{root}",
                        joined,
                    )
                    truth_inputs.append(
                        manifest_input("ground-truth-capture", uri, GROUND_TRUTH_CAPTURE_PATH)
                    )
        if bedrock_target:  # the baseline is needed with invocation logs to read or a canary to score
            needs_baseline = bool(capture_keys) or canary is not None
            found = needs_baseline and _object_exists(s3, target["bedrockBaseline"])
            baseline = target["bedrockBaseline"] if found else None
        else:
            # The registry is asked only when a job may run: capture to read, a canary or ground truth
            # to score.
            needs_baseline = bool(capture_keys) or canary is not None or bool(truth_keys)
            baseline = baseline_uri(sagemaker, target.get("modelPackageArn")) if needs_baseline else None
        golden, skipped = None, None
        if canary and bedrock_target:
            golden, skipped = bedrock_golden_set(
                s3, canary["goldenSetUri"], baseline, target["bedrockBaseline"]
            )
        elif canary:
            golden, skipped = golden_set(
                canary["goldenSetUri"], baseline, bool(target.get("modelPackageArn"))
            )
        has_data = bool(capture_keys) or golden is not None or bool(truth_keys)
        if baseline and has_data:
            inputs.append(s3_input("baseline", baseline, BASELINE_PATH))
        run_canary = None
        if canary and golden:
            run_canary = {
                "goldenUri": golden,
                "predictionsBucket": output_bucket,
                "predictionsKey": f"{key_prefix}canary/{PREDICTIONS_FILE}",
                "records": canary["records"],
                "task": canary["task"],
            }
            inputs.append(s3_input("canary", f"s3://{output_bucket}/{key_prefix}canary/", CANARY_PATH))
        inputs += truth_inputs
        if len(inputs) > MAX_INPUTS:
            raise ValueError(
                f"{len(inputs)} processing inputs for {endpoint}/{variant}; CreateProcessingJob allows "
                f"{MAX_INPUTS}: {len(config['codeInputs'])} codeInputs, the capture, the baseline, the "
                "canary, the ground truth and its capture"
            )
        runs.append(
            {
                "endpointName": endpoint,
                "variantName": variant,
                "modelId": target["modelId"],
                "hasData": has_data,
                "hoursWithData": hours_with_data,
                "captureFiles": len(capture_keys),
                "baselineUri": baseline,
                "hasCanary": run_canary is not None,
                "canary": run_canary,
                "canarySkipped": skipped,
                "hasGroundTruth": bool(truth_keys),
                "groundTruthFiles": len(truth_keys),
                "jobName": name,
                "inputs": inputs,
                "outputUri": f"s3://{output_bucket}/{key_prefix}",
                "outputBucket": output_bucket,
                "metricsKey": f"{key_prefix}metrics.json",
                "dimensions": [
                    {"Name": ENDPOINT_DIMENSION, "Value": endpoint},
                    {"Name": VARIANT_DIMENSION, "Value": variant},
                ],
            }
        )
    return {"windowStart": iso(start), "windowEnd": iso(end), "runs": runs}


def handler(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    import boto3  # the Lambda runtime's; imported here so the planning logic needs no AWS SDK
    from botocore.config import Config

    retries = Config(retries={"max_attempts": 10, "mode": "adaptive"})
    config = settings()
    return plan(
        event,
        config,
        boto3.client("s3", config=retries),
        boto3.client("sagemaker", config=retries),
        boto3.client("bedrock", config=retries) if config.get("bedrock") else None,
    )
