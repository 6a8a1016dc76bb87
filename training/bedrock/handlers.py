"""Lambda handlers of the Bedrock stack. Settings come from the FMFT_BEDROCK_SETTINGS environment variable
(JSON written by the CDK stack); AWS clients are created per call so tests can point them at moto."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from training.bedrock.models import CUSTOMIZATION_TYPES, InputError, check_hyperparameters, load_models
from training.data.formats import (
    BEDROCK_CLAUDE_CONVERSATION,
    BEDROCK_CONTINUED_PRETRAINING,
    MODEL_FAMILIES,
    TARGETS,
)
from training.data.io import read_records
from training.data.validate import DatasetValidator, limits_for
from training.monitor.profile import Profile, record_parts

EVALUATION_TASKS = ("none", "summarization", "qa", "classification")
# Field of the reference in each task's predictions record (training/evaluate/tasks.py).
REFERENCE_FIELDS = {"summarization": "summary", "qa": "answers", "classification": "label"}
SPLIT_FILES = {"train": "train.jsonl", "validation": "validation.jsonl", "test": "test.jsonl"}
SPLIT_INPUTS = {"train": "trainingDataUri", "validation": "validationDataUri", "test": "testDataUri"}
# The run's baseline profile, beside its evaluation reports: the capture monitor reads it as
# <reportsUri><provisionedModelName>/baseline.json (training/monitor/plan.py).
BASELINE_FILE = "baseline.json"
_RETRIES = Config(retries={"max_attempts": 10, "mode": "adaptive"})

# A run's name is its customization jobName, customModelName and provisionedModelName, and the stem of its
# evaluation ProcessingJobName. The patterns of those four fields (botocore's service models) share only
# this: letters and digits with single hyphens between them, at most 63 characters. customModelName and
# provisionedModelName refuse '.', '+' and '--'; jobName and ProcessingJobName refuse '_'.
RUN_NAME_MAX = 63
RUN_NAME_RULE = f"up to {RUN_NAME_MAX} letters and digits, with single hyphens between them (e.g. claims-v2)"
_RUN_NAME = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
_NOT_IN_RUN_NAME = re.compile(r"[^A-Za-z0-9]+")
# The fields of the state machine's input (every one optional but the data; the rest default to the config's
# bedrock.defaults); python -m training.bedrock start has one flag per field.
RUN_INPUT_KEYS = frozenset(
    {
        "baseModelId",
        "customizationType",
        "datasetUri",
        "trainingDataUri",
        "validationDataUri",
        "testDataUri",
        "hyperParameters",
        "provisionedModelUnits",
        "evaluationTask",
        "maxEvaluationRecords",
        "customModelName",
    }
)


class DatasetInvalidError(ValueError):
    """The data set fails the validator; the message holds the validator's first errors."""


def settings() -> dict[str, Any]:
    return json.loads(os.environ["FMFT_BEDROCK_SETTINGS"])


def client(service: str):
    return boto3.client(service, config=_RETRIES)


# ------------------------------------------------------------------------------------------ run input


def _split_uri(uri: str) -> tuple[str, str]:
    match = re.fullmatch(r"s3://([a-z0-9.\-]{3,63})/(.*)", uri or "")
    if not match:
        raise InputError([f"got {uri!r}; allowed: s3://<bucket>/<key>"])
    return match[1], match[2]


def _exists(s3, uri: str) -> bool:
    bucket, key = _split_uri(uri)
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def resolve_run(run_input: dict[str, Any], execution_name: str, cfg: dict[str, Any], s3) -> dict[str, Any]:
    """The checked, complete parameters of a run, or InputError listing every problem."""
    defaults = cfg["defaults"]
    problems: list[str] = []
    for key in sorted(set(run_input) - RUN_INPUT_KEYS):
        problems.append(
            f"{key}: not an input of this state machine. Allowed: {', '.join(sorted(RUN_INPUT_KEYS))}"
        )

    models = load_models(cfg.get("extraModels"))
    model_id = run_input.get("baseModelId", defaults["baseModelId"])
    model = models.get(model_id)
    if model is None:
        problems.append(f"baseModelId: got {model_id!r}; allowed: {', '.join(sorted(models))}")
    ctype = run_input.get("customizationType", defaults["customizationType"])
    if ctype not in CUSTOMIZATION_TYPES or (model and ctype not in model.customization_types):
        allowed = model.customization_types if model else CUSTOMIZATION_TYPES
        problems.append(f"customizationType: got {ctype!r}; allowed for {model_id}: {', '.join(allowed)}")
    given = run_input.get("hyperParameters") or {}
    if not isinstance(given, dict):
        problems.append(f'hyperParameters: got {given!r}; allowed: an object such as {{"epochCount": 2}}')
        given = {}
    hyper = {**defaults.get("hyperParameters", {}), **given}
    hp_values: dict[str, str] = {}
    if model:
        hp_problems, hp_values = check_hyperparameters(model, hyper)
        problems += hp_problems

    units = run_input.get("provisionedModelUnits", defaults["provisionedModelUnits"])
    max_units = cfg["maxProvisionedModelUnits"]
    if isinstance(units, bool) or not isinstance(units, int) or not 0 <= units <= max_units:
        problems.append(
            f"provisionedModelUnits: got {units!r}; allowed: an integer from 0 (none) to {max_units}"
        )
    task = run_input.get("evaluationTask", defaults["evaluationTask"])
    if task not in EVALUATION_TASKS:
        problems.append(f"evaluationTask: got {task!r}; allowed: {', '.join(EVALUATION_TASKS)}")
    max_eval = run_input.get("maxEvaluationRecords", defaults["maxEvaluationRecords"])
    if isinstance(max_eval, bool) or not isinstance(max_eval, int) or not 1 <= max_eval <= 10_000:
        problems.append(f"maxEvaluationRecords: got {max_eval!r}; allowed: an integer from 1 to 10000")

    uris = _data_uris(run_input, problems, s3)
    allowed_root = f"s3://{cfg['dataBucket']}/{cfg['dataPrefix']}"
    for split, uri in uris.items():
        if uri is not None and not uri.startswith(allowed_root):
            problems.append(f"{SPLIT_INPUTS[split]}: got {uri!r}; allowed: an object under {allowed_root}")
    given_name = run_input.get("customModelName")
    if given_name:
        name = given_name
        if not is_run_name(name):
            problems.append(f"customModelName: got {name!r}; allowed: {RUN_NAME_RULE}")
    else:
        name = run_name(f"{cfg['namePrefix']}-{execution_name}")
    if problems:
        raise InputError(problems)

    assert model is not None
    evaluate = task != "none" and units > 0 and uris["test"] is not None
    return {
        "jobName": name,
        "customModelName": name,
        "provisionedModelName": name,
        "baseModelIdentifier": model.id,
        "customizationType": ctype,
        "hyperParameters": hp_values,
        "trainingDataUri": uris["train"],
        "validationDataUri": uris["validation"],
        "hasValidationData": uris["validation"] is not None,
        "testDataUri": uris["test"],
        "dataFormat": data_format(model.family, ctype),
        "modelFamily": model.family,
        "provisionedModelUnits": units,
        "provision": units > 0,
        "evaluate": evaluate,
        "evaluationTask": task,
        "maxEvaluationRecords": max_eval,
        "evaluationPrefix": f"{cfg['evaluationPrefix']}{name}/",
        "evaluationJobName": evaluation_job_name(name),
    }


def is_run_name(name: Any) -> bool:
    """Whether ``name`` follows RUN_NAME_RULE."""
    return isinstance(name, str) and len(name) <= RUN_NAME_MAX and _RUN_NAME.fullmatch(name) is not None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def run_name(raw: str) -> str:
    """``raw`` made a run name: each run of other characters becomes one '-', ends are trimmed, and the name
    is cut to fit. When that changed anything, a digest of ``raw`` is appended, so two different execution
    names (Step Functions allows dots, underscores, unicode, 80 characters) cannot give the same name."""
    clean = _NOT_IN_RUN_NAME.sub("-", raw).strip("-")
    if clean == raw and len(clean) <= RUN_NAME_MAX:
        return clean
    head = clean[: RUN_NAME_MAX - 9].rstrip("-")
    return f"{head}-{_digest(raw)}" if head else _digest(raw)


def evaluation_job_name(name: str) -> str:
    """The SageMaker processing job name (at most 63 characters) of a run's evaluation, unique per run."""
    head = _NOT_IN_RUN_NAME.sub("-", name[:45]).strip("-")
    return "-".join(part for part in (head, "eval", _digest(name)) if part)


def _data_uris(run_input: dict[str, Any], problems: list[str], s3) -> dict[str, str | None]:
    """train/validation/test URIs: explicit, or the split files under ``datasetUri`` (None when absent)."""
    dataset = run_input.get("datasetUri")
    explicit = {split: run_input.get(key) for split, key in SPLIT_INPUTS.items()}
    if dataset and any(explicit.values()):
        problems.append(
            "datasetUri: give either datasetUri or trainingDataUri/validationDataUri/testDataUri, not both"
        )
        return dict.fromkeys(SPLIT_FILES)
    if dataset:
        if not str(dataset).startswith("s3://"):
            problems.append(
                f"datasetUri: got {dataset!r}; allowed: s3://<bucket>/<prefix>/ holding train.jsonl"
            )
            return dict.fromkeys(SPLIT_FILES)
        # A folder (what the dataset trigger passes), or its train.jsonl: the folder is the data set.
        dataset = dataset.removesuffix(SPLIT_FILES["train"])
        root = dataset if dataset.endswith("/") else dataset + "/"
        uris = {s: root + f for s, f in SPLIT_FILES.items()}
        if not _exists(s3, uris["train"]):
            problems.append(f"datasetUri: got {dataset!r}; it holds no train.jsonl")
        return {s: (u if s == "train" or _exists(s3, u) else None) for s, u in uris.items()}
    if not explicit["train"]:
        problems.append("trainingDataUri: missing; give it or datasetUri")
    return explicit


def data_format(family: str, customization_type: str) -> str:
    if customization_type == "CONTINUED_PRE_TRAINING":
        return BEDROCK_CONTINUED_PRETRAINING
    return MODEL_FAMILIES[family].data_format


# ------------------------------------------------------------------------------------------ data


def validate_data(
    run: dict[str, Any], s3, max_reported: int = 20, profile: Profile | None = None
) -> dict[str, int]:
    """Run the data toolkit's validator over training + validation (their record limit is a sum); with
    ``profile``, add each training record's prompt and answer to it in the same pass."""
    family = run["modelFamily"] if run["customizationType"] == "FINE_TUNING" else None
    validator = DatasetValidator(TARGETS[run["dataFormat"]], limits_for(family), max_reported=max_reported)
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for split in ("train", "validation"):
            uri = run["trainingDataUri"] if split == "train" else run["validationDataUri"]
            if uri is None:
                continue
            bucket, key = _split_uri(uri)
            local = Path(tmp) / f"{split}.jsonl"
            s3.download_file(bucket, key, str(local))
            before = validator.valid_records
            for item in read_records(local):
                if item.problem:
                    validator.error(item.problem.location, item.problem.field, item.problem.reason)
                else:
                    validator.check(item.location, item.value)
                    parts = record_parts(item.value) if profile is not None and split == "train" else None
                    if parts is not None:
                        profile.add(parts.prompt, parts.completion, parts.labels)
            counts[split] = validator.valid_records - before
        validator.finish()
    if not validator.ok:
        lines = [str(p).replace(tmp, "s3:/") for p in validator.problems]
        hidden = validator.error_count - len(lines)
        more = [f"... and {hidden} more errors"] if hidden > 0 else []
        raise DatasetInvalidError(
            f"{run['dataFormat']} data for {run['baseModelIdentifier']} is invalid "
            f"({validator.error_count} errors):\n" + "\n".join(lines + more)
        )
    return counts


def baseline_profile(data_format: str) -> Profile | None:
    """An empty profile for the run's baseline, or None for continued pre-training, whose records are text
    without prompts or answers: nothing the served model's traffic could be compared with. The other
    Bedrock formats (conversation, Claude 3 Haiku conversation, prompt/completion) are read by
    ``record_parts`` as the monitor reads a captured request: system text and turns, then the answer."""
    return None if data_format == BEDROCK_CONTINUED_PRETRAINING else Profile()


def prepare(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    """First state: check the input against the model table, then the data with the validator, profiling
    the training split in the same pass; write that profile (the monitor's baseline) to
    ``s3://<evaluationBucket>/<evaluationPrefix>baseline.json`` and return its URI as ``baselineUri`` (null
    for continued pre-training). The baseline also records its ``source``: the run's test split
    (``testDataUri``, null without one), where the capture monitor's canary finds the golden set of the
    run's provisioned model, and the run's name."""
    s3 = client("s3")
    cfg = settings()
    run = resolve_run(event.get("input") or {}, event["executionName"], cfg, s3)
    profile = baseline_profile(run["dataFormat"])
    run["records"] = validate_data(run, s3, profile=profile)
    run["baselineUri"] = None
    if profile is not None:
        key = f"{run['evaluationPrefix']}{BASELINE_FILE}"
        source = {"testDataUri": run["testDataUri"], "run": run["provisionedModelName"]}
        document = {**profile.baseline_document(), "source": source}
        body = json.dumps(document, ensure_ascii=False).encode()
        s3.put_object(Bucket=cfg["evaluationBucket"], Key=key, Body=body, ContentType="application/json")
        run["baselineUri"] = f"s3://{cfg['evaluationBucket']}/{key}"
    return run


# ------------------------------------------------------------------------------------------ predictions


def _prompt_and_reference(record: dict[str, Any], fmt: str) -> tuple[list[dict], list[dict], str]:
    """(system blocks, messages up to the last user turn, the reference answer)."""
    if fmt == TARGETS["bedrock-prompt-completion"].name:
        return [], [{"role": "user", "content": [{"text": record["prompt"]}]}], record["completion"]
    messages = record["messages"]
    if not messages or messages[-1]["role"] != "assistant":
        raise DatasetInvalidError("a test record must end with the assistant's answer, the reference")
    if fmt == BEDROCK_CLAUDE_CONVERSATION:  # plain strings: Converse takes content blocks
        system = [{"text": record["system"]}] if record.get("system") else []
        blocks = [{"role": m["role"], "content": [{"text": m["content"]}]} for m in messages[:-1]]
        return system, blocks, messages[-1]["content"]
    reference = "\n".join(block["text"] for block in messages[-1]["content"])
    return record.get("system", []), messages[:-1], reference


def write_predictions(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    """Ask the custom model (through its provisioned throughput) every test prompt; write predictions.jsonl
    in the evaluation toolkit's format next to the SageMaker reports."""
    s3, runtime = client("s3"), client("bedrock-runtime")
    run = event["run"]
    task, limit = run["evaluationTask"], run["maxEvaluationRecords"]
    if run["dataFormat"] == BEDROCK_CONTINUED_PRETRAINING:
        raise DatasetInvalidError("continued pre-training has no prompts and answers to evaluate")
    bucket, key = _split_uri(run["testDataUri"])
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "test.jsonl"
        s3.download_file(bucket, key, str(local))
        for item in read_records(local):
            if len(lines) >= limit:
                break
            if item.problem:
                raise DatasetInvalidError(f"test data: {item.problem}")
            system, messages, reference = _prompt_and_reference(item.value, run["dataFormat"])
            request: dict[str, Any] = {
                "modelId": event["modelArn"],
                "messages": messages,
                "inferenceConfig": {"temperature": 0.0, "maxTokens": 1024},
            }
            if system:
                request["system"] = system
            reply = runtime.converse(**request)
            text = "".join(b.get("text", "") for b in reply["output"]["message"]["content"])
            ref: Any = [reference] if task == "qa" else reference
            lines.append(json.dumps({REFERENCE_FIELDS[task]: ref, "prediction": text}, ensure_ascii=False))
    out_bucket, out_prefix = event["evaluationBucket"], run["evaluationPrefix"]
    out_key = f"{out_prefix}predictions/predictions.jsonl"
    s3.put_object(Bucket=out_bucket, Key=out_key, Body=("\n".join(lines) + "\n").encode())
    return {"predictionsUri": f"s3://{out_bucket}/{out_prefix}predictions/", "records": len(lines)}


# ------------------------------------------------------------------------------------------ logging


def invocation_logging(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    """Custom resource (CDK Provider onEvent): this region's Bedrock model invocation logging."""
    bedrock = client("bedrock")
    props = event["ResourceProperties"]
    physical_id = f"bedrock-invocation-logging-{props['Region']}"
    if event["RequestType"] == "Delete":
        bedrock.delete_model_invocation_logging_configuration()
        return {"PhysicalResourceId": event.get("PhysicalResourceId", physical_id)}
    bedrock.put_model_invocation_logging_configuration(**invocation_logging_request(props))
    return {"PhysicalResourceId": physical_id}


def invocation_logging_request(props: dict[str, Any]) -> dict[str, Any]:
    """The PutModelInvocationLoggingConfiguration request for the custom resource's properties (the API-model
    check in tools/api_model builds it from the synthesized template with this function)."""
    return {
        "loggingConfig": {
            "cloudWatchConfig": {
                "logGroupName": props["LogGroupName"],
                "roleArn": props["LoggingRoleArn"],
                "largeDataDeliveryS3Config": {
                    "bucketName": props["BucketName"],
                    "keyPrefix": props["LargeDataPrefix"],
                },
            },
            "s3Config": {"bucketName": props["BucketName"], "keyPrefix": props["KeyPrefix"]},
            "textDataDeliveryEnabled": True,
            "imageDataDeliveryEnabled": True,
            "embeddingDataDeliveryEnabled": True,
        }
    }


def invocation_logging_resource(event: dict[str, Any], context: Any = None) -> None:
    """The custom resource's Lambda: apply the change, then answer CloudFormation at the pre-signed
    ResponseURL (SUCCESS, or FAILED with the error, so a stack never waits an hour for a timeout)."""
    response = {
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "PhysicalResourceId": event.get("PhysicalResourceId") or event["LogicalResourceId"],
        "Status": "SUCCESS",
    }
    try:
        response.update(invocation_logging(event, context))
    except Exception as exc:  # every error must reach CloudFormation
        response.update(Status="FAILED", Reason=f"{type(exc).__name__}: {exc}"[:1000])
    body = json.dumps(response).encode()
    request = urllib.request.Request(
        event["ResponseURL"],
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        reply.read()


# ------------------------------------------------------------------------------------------ throughput guard


def stale_throughputs(bedrock, now: dt.datetime, max_age_hours: float) -> list[dict[str, Any]]:
    """Provisioned throughputs created more than ``max_age_hours`` ago, oldest first."""
    cutoff = now - dt.timedelta(hours=max_age_hours)
    found: list[dict[str, Any]] = []
    token = None
    while True:
        page = bedrock.list_provisioned_model_throughputs(
            creationTimeBefore=cutoff,
            sortBy="CreationTime",
            sortOrder="Ascending",
            **({"nextToken": token} if token else {}),
        )
        found += [s for s in page.get("provisionedModelSummaries", []) if s["status"] != "Failed"]
        token = page.get("nextToken")
        if not token:
            return found


def guard_throughput(
    _event: dict[str, Any] | None = None, _context: Any = None, now: dt.datetime | None = None
):
    """Scheduled: report provisioned throughput older than the configured age (it bills every hour) to the
    alerts topic and as a metric; with deleteStale, delete the platform's own (name prefix) ones too."""
    cfg = settings()["throughputGuard"]
    bedrock, sns, cloudwatch = client("bedrock"), client("sns"), client("cloudwatch")
    now = now or dt.datetime.now(dt.UTC)
    stale = stale_throughputs(bedrock, now, cfg["maxAgeHours"])
    deleted = []
    if cfg["deleteStale"]:
        for s in stale:
            if s["provisionedModelName"].startswith(cfg["namePrefix"] + "-"):
                bedrock.delete_provisioned_model_throughput(provisionedModelId=s["provisionedModelArn"])
                deleted.append(s["provisionedModelArn"])
    cloudwatch.put_metric_data(
        Namespace=cfg["metricNamespace"],
        MetricData=[
            {"MetricName": "StaleProvisionedThroughputs", "Value": len(stale) - len(deleted), "Unit": "Count"}
        ],
    )
    if stale:
        lines = [
            f"- {s['provisionedModelName']} ({s['provisionedModelArn']}), {s['modelUnits']} model units, "
            f"status {s['status']}, created {s['creationTime']}"
            + (" - DELETED" if s["provisionedModelArn"] in deleted else "")
            for s in stale
        ]
        sns.publish(
            TopicArn=cfg["topicArn"],
            Subject=f"{len(stale)} Bedrock provisioned throughput(s) older than {cfg['maxAgeHours']} h",
            Message="Provisioned throughput bills every hour until deleted:\n"
            + "\n".join(lines)
            + "\nDelete with: aws bedrock delete-provisioned-model-throughput --provisioned-model-id <arn>",
        )
    return {"stale": [s["provisionedModelArn"] for s in stale], "deleted": deleted}
