"""Starts the fine-tuning pipeline for a dataset when new data has settled, or when drift is alarmed.

Lambda handler ``training.triggers.retrain.handler``, fed by one SQS queue (``ReportBatchItemFailures``)
that receives three kinds of message:

- the EventBridge event S3 sends when an object is created in the training-data bucket (``"source":
  "aws.s3"``); the key must be ``<rawPrefix><dataset>/<name>``, ``<dataset>`` one of the configured
  datasets;
- ``{"trigger": "drift", "dataset", "alarm", "time"}``, which the monitoring stack's rule sends when a
  drift alarm enters ALARM (opt-in);
- ``{"trigger": "pending", "dataset", "reasons", "since"}``, which this function sends itself, with a
  delay, to look again later.

Settings come from ``FMFT_RETRAIN_SETTINGS`` (JSON written by the CDK stack): ``bucket``, ``rawPrefix``,
the target (``pipelineName``: a SageMaker pipeline, each run an execution; or ``stateMachineArn``: a Step
Functions state machine such as the Bedrock customization workflow, each run an execution named like the
display name below), ``inputParameter`` (the pipeline parameter, or the execution input field, that takes
the data location), ``requiredFile`` (a run starts only when the folder holds it; null: any object),
``datasets`` (``{name: {"parameters": {name: value}}}``, or null: every folder whose name can name a run),
``quietSeconds``, ``queueUrl``, ``topicArn``, ``maxWaitHours`` and ``historyDays``.

For each dataset named in a batch the function lists ``<rawPrefix><dataset>/`` (ListObjectsV2):

1. **Quiet period.** While the newest object is younger than ``quietSeconds``, uploads are still arriving:
   the function sends one ``pending`` message back with a delay until the period ends (SQS delays at most
   15 minutes; it looks again then), so a burst of uploads ends in one look, not one run per object.
2. **One run per data.** The run's display name is ``<dataset>-<12 hex>``, a fingerprint of the listing
   (object count, newest key, ETag and time) and of the drift alarms that asked for it; its
   ``ClientRequestToken`` is the whole fingerprint, so two looks at the same data start the pipeline once
   (SageMaker keeps the token idempotent; the function also skips a fingerprint it finds among the
   executions of the last ``historyDays``). A state machine execution is named so: Step Functions refuses
   a second execution of the same name.
3. **Never two at once.** While an execution of the dataset is ``Executing`` or ``Stopping``, the function
   looks again in 15 minutes; after ``maxWaitHours`` it gives up with an error (the message then reaches the
   dead-letter queue, whose alarm notifies).
4. **Start.** StartPipelineExecution with ``inputParameter`` = ``s3://<bucket>/<rawPrefix><dataset>/`` and
   the dataset's parameters, then a notification.

A key outside ``rawPrefix``, with no dataset folder, of a dataset not in the config, or a folder marker is
refused: nothing starts, and one notification per batch names every refused key and why. An AWS error fails
only the messages of its dataset (SQS redelivers them; after the queue's ``maxReceiveCount``, the dead-letter
queue). Run it by hand with ``python -m training.triggers.retrain --help``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import math
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from training.common.args import parse_into

_LAYOUT = json.loads((Path(__file__).resolve().parents[1] / "contracts" / "storage-layout.json").read_text())
_FOLDER = _LAYOUT["buckets"]["trainingData"]["datasetFolder"]
DATASET_NAME = re.compile(_FOLDER["pattern"])
"""Dataset folder names (the contract's; they go into the pipeline execution's display name)."""
MAX_DATASET_LENGTH: int = _FOLDER["maxLength"]
FINGERPRINT_CHARS = 12
RUNNING = ("Executing", "Stopping")
MAX_SQS_DELAY_SECONDS = 900
BUSY_RETRY_SECONDS = 900


class TriggerError(Exception):
    """A message that cannot be handled now (the run stays busy too long, or the settings are wrong)."""


@dataclasses.dataclass(frozen=True)
class Reason:
    """Why a run is wanted: ``kind`` new-data or drift, a human ``detail``, and for drift the ``key`` (alarm
    and time) that makes each alarm episode its own run."""

    kind: str
    detail: str
    key: str = ""

    def to_json(self) -> dict[str, str]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Request:
    dataset: str
    reasons: list[Reason]
    since: dt.datetime
    message_ids: list[str]


@dataclasses.dataclass(frozen=True)
class Refusal:
    what: str
    why: str


@dataclasses.dataclass(frozen=True)
class Listing:
    count: int
    newest_key: str
    newest_etag: str
    newest_time: dt.datetime


def settings() -> dict[str, Any]:
    return json.loads(os.environ["FMFT_RETRAIN_SETTINGS"])


def dataset_problem(name: str) -> str | None:
    """Why ``name`` cannot be a dataset folder, or None."""
    if not DATASET_NAME.fullmatch(name) or len(name) > MAX_DATASET_LENGTH:
        return f"allowed: {_FOLDER['allowed']}"
    return None


def _parse_time(value: Any, fallback: dt.datetime) -> dt.datetime:
    if not isinstance(value, str):
        return fallback
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return fallback
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def classify(
    body: str, cfg: dict[str, Any], now: dt.datetime
) -> tuple[str, list[Reason], dt.datetime] | Refusal:
    """One queue message: ``(dataset, reasons, since)``, or why it is refused."""
    try:
        message = json.loads(body)
    except ValueError:
        return Refusal(body[:200], "not JSON")
    if not isinstance(message, dict):
        return Refusal(body[:200], "not a JSON object")
    datasets = cfg["datasets"]
    if message.get("source") == "aws.s3":
        detail = message.get("detail") or {}
        key = (detail.get("object") or {}).get("key")
        bucket = (detail.get("bucket") or {}).get("name")
        if not isinstance(key, str) or bucket != cfg["bucket"]:
            return Refusal(f"s3://{bucket}/{key}", f"not an object of s3://{cfg['bucket']}/")
        where = f"s3://{bucket}/{key}"
        prefix = cfg["rawPrefix"]
        if not key.startswith(prefix):
            return Refusal(where, f"outside {prefix}: ignored")
        dataset, slash, name = key[len(prefix) :].partition("/")
        if not slash or not dataset:
            return Refusal(where, f"no dataset folder; allowed: {prefix}<dataset>/<file>")
        if datasets is None:
            problem = dataset_problem(dataset)
            if problem:
                return Refusal(where, f"dataset folder {dataset!r} cannot name a run; {problem}")
        elif dataset not in datasets:
            allowed = ", ".join(sorted(datasets)) or "none configured"
            return Refusal(
                where, f"dataset {dataset!r} is not in training.retraining.datasets; allowed: {allowed}"
            )
        if not name or name.endswith("/"):
            return Refusal(where, "a folder marker, not a data file")
        return dataset, [Reason("new-data", f"{key} created")], _parse_time(message.get("time"), now)
    trigger = message.get("trigger")
    dataset = message.get("dataset")
    if trigger not in ("drift", "pending"):
        return Refusal(body[:200], "neither an S3 event nor a drift or pending message")
    if not isinstance(dataset, str) or (
        dataset_problem(dataset) if datasets is None else dataset not in datasets
    ):
        return Refusal(body[:200], f"dataset {dataset!r} is not in training.retraining.datasets")
    if trigger == "drift":
        alarm, time = str(message.get("alarm", "")), str(message.get("time", ""))
        return dataset, [Reason("drift", f"alarm {alarm} entered ALARM at {time}", f"{alarm}@{time}")], now
    reasons = [
        Reason(**r)
        for r in message.get("reasons", [])
        if isinstance(r, dict) and set(r) <= {"kind", "detail", "key"}
    ]
    return dataset, reasons, _parse_time(message.get("since"), now)


def newest_object(s3: Any, bucket: str, prefix: str) -> Listing | None:
    """Count of data objects under ``prefix`` and the newest one (folder markers skipped)."""
    count, newest = 0, None
    token = None
    while True:
        page = s3.list_objects_v2(
            Bucket=bucket, Prefix=prefix, **({"ContinuationToken": token} if token else {})
        )
        for obj in page.get("Contents", []):
            if obj["Key"].endswith("/"):
                continue
            count += 1
            if newest is None or (obj["LastModified"], obj["Key"]) > (newest["LastModified"], newest["Key"]):
                newest = obj
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            break
    if newest is None:
        return None
    return Listing(count, newest["Key"], str(newest.get("ETag", "")).strip('"'), newest["LastModified"])


def fingerprint(dataset: str, listing: Listing, reasons: Iterable[Reason]) -> str:
    """64 hex characters that change when the data or the drift episode does (ClientRequestToken: 32-128)."""
    drift = sorted({r.key for r in reasons if r.kind == "drift"})
    text = json.dumps(
        [
            dataset,
            listing.count,
            listing.newest_key,
            listing.newest_etag,
            listing.newest_time.isoformat(),
            drift,
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()


def display_name(dataset: str, fp: str) -> str:
    return f"{dataset}-{fp[:FINGERPRINT_CHARS]}"


def dataset_of_display_name(name: str) -> str | None:
    """The dataset of a display name this function gave, or None for other executions."""
    head, _, tail = (name or "").rpartition("-")
    return head if head and re.fullmatch(f"[0-9a-f]{{{FINGERPRINT_CHARS}}}", tail) else None


def recent_executions(sm: Any, pipeline: str, since: dt.datetime) -> list[dict[str, Any]]:
    found, token = [], None
    while True:
        page = sm.list_pipeline_executions(
            PipelineName=pipeline,
            CreatedAfter=since,
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=100,
            **({"NextToken": token} if token else {}),
        )
        found.extend(page.get("PipelineExecutionSummaries", []))
        token = page.get("NextToken")
        if not token:
            return found


def _merge(reasons: Iterable[Reason]) -> list[Reason]:
    """Distinct reasons; of many new-data events only a count and the last few keys are kept."""
    unique = list(dict.fromkeys(reasons))
    new_data = [r for r in unique if r.kind == "new-data"]
    if len(new_data) > 5:
        summary = Reason("new-data", f"{len(new_data)} objects created, e.g. {new_data[-1].detail}")
        unique = [r for r in unique if r.kind != "new-data"] + [summary]
    return unique


def look(
    request: Request, cfg: dict[str, Any], s3: Any, sm: Any, sqs: Any, now: dt.datetime
) -> dict[str, Any]:
    """Decide for one dataset: wait, skip, or start. Returns what happened (for logs and tests)."""
    dataset = request.dataset
    prefix = f"{cfg['rawPrefix']}{dataset}/"
    data_uri = f"s3://{cfg['bucket']}/{prefix}"
    reasons = _merge(request.reasons)
    listing = newest_object(s3, cfg["bucket"], prefix)
    if listing is None:
        return {"dataset": dataset, "outcome": "no-data", "detail": f"no objects under {data_uri}"}

    def again(delay: float, why: str) -> dict[str, Any]:
        seconds = max(1, min(MAX_SQS_DELAY_SECONDS, math.ceil(delay)))
        body = {
            "trigger": "pending",
            "dataset": dataset,
            "reasons": [r.to_json() for r in reasons],
            "since": request.since.isoformat(),
        }
        sqs.send_message(QueueUrl=cfg["queueUrl"], MessageBody=json.dumps(body), DelaySeconds=seconds)
        return {"dataset": dataset, "outcome": why, "lookAgainInSeconds": seconds}

    quiet_left = cfg["quietSeconds"] - (now - listing.newest_time).total_seconds()
    if quiet_left > 0:
        return again(quiet_left, "waiting-for-quiet")

    required = cfg.get("requiredFile")
    if required and not _exists(s3, cfg["bucket"], f"{prefix}{required}"):
        return {"dataset": dataset, "outcome": "no-data", "detail": f"no {required} under {data_uri}"}
    fp = fingerprint(dataset, listing, reasons)
    name = display_name(dataset, fp)
    target = runner(cfg, sm)
    runs = target.runs(now - dt.timedelta(days=cfg["historyDays"]))
    same = [r for r in runs if r["name"] == name]
    if same:
        return {"dataset": dataset, "outcome": "already-started", "executionArn": same[0]["arn"]}
    running = [r for r in runs if dataset_of_display_name(r["name"]) == dataset and r["running"]]
    if running:
        waited = now - request.since
        if waited > dt.timedelta(hours=cfg["maxWaitHours"]):
            raise TriggerError(
                f"{dataset}: {running[0]['arn']} has been running for more than "
                f"{cfg['maxWaitHours']} h while new data waits; stop it or start a run by hand"
            )
        return again(BUSY_RETRY_SECONDS, "waiting-for-running-execution")

    configured = ((cfg["datasets"] or {}).get(dataset) or {}).get("parameters", {})
    parameters = {**configured, cfg["inputParameter"]: data_uri}
    description = f"{dataset}: " + "; ".join(r.detail for r in reasons) if reasons else f"{dataset}: new data"
    arn = target.start(name, fp, parameters, description)
    if arn is None:
        return {"dataset": dataset, "outcome": "already-started", "executionArn": None, "displayName": name}
    return {
        "dataset": dataset,
        "outcome": "started",
        "executionArn": arn,
        "displayName": name,
        "parameters": parameters,
        "objects": listing.count,
        "newestObject": listing.newest_key,
        "reasons": [r.detail for r in reasons],
    }


def _exists(s3: Any, bucket: str, key: str) -> bool:
    page = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    return any(obj["Key"] == key for obj in page.get("Contents", []))


class PipelineRunner:
    """Runs are SageMaker pipeline executions; parameters are pipeline parameters."""

    def __init__(self, cfg: dict[str, Any], sm: Any) -> None:
        self.name, self.sm = cfg["pipelineName"], sm

    def runs(self, since: dt.datetime) -> list[dict[str, Any]]:
        return [
            {
                "name": e.get("PipelineExecutionDisplayName", ""),
                "arn": e["PipelineExecutionArn"],
                "running": e.get("PipelineExecutionStatus") in RUNNING,
            }
            for e in recent_executions(self.sm, self.name, since)
        ]

    def start(self, name: str, token: str, parameters: dict[str, str], description: str) -> str | None:
        started = self.sm.start_pipeline_execution(
            PipelineName=self.name,
            PipelineExecutionDisplayName=name,
            PipelineExecutionDescription=description[:3072],
            PipelineParameters=[{"Name": k, "Value": v} for k, v in sorted(parameters.items())],
            ClientRequestToken=token,
        )
        return started["PipelineExecutionArn"]


class StateMachineRunner:
    """Runs are Step Functions executions named like display names; parameters are input fields.
    StartExecution is idempotent on the name: a closed execution of the same name is a run already made."""

    def __init__(self, cfg: dict[str, Any], sfn: Any) -> None:
        self.arn, self.sfn = cfg["stateMachineArn"], sfn

    def runs(self, since: dt.datetime) -> list[dict[str, Any]]:
        found, token = [], None
        while True:
            page = self.sfn.list_executions(
                stateMachineArn=self.arn, statusFilter="RUNNING", **({"nextToken": token} if token else {})
            )
            found += [
                {"name": e["name"], "arn": e["executionArn"], "running": True} for e in page["executions"]
            ]
            token = page.get("nextToken")
            if not token:
                return found

    def start(self, name: str, token: str, parameters: dict[str, str], description: str) -> str | None:
        try:
            return self.sfn.start_execution(
                stateMachineArn=self.arn, name=name, input=json.dumps(parameters)
            )["executionArn"]
        except self.sfn.exceptions.ExecutionAlreadyExists:
            return None


def runner(cfg: dict[str, Any], client: Any) -> PipelineRunner | StateMachineRunner:
    return StateMachineRunner(cfg, client) if cfg.get("stateMachineArn") else PipelineRunner(cfg, client)


def _target_name(cfg: dict[str, Any]) -> str:
    return cfg.get("pipelineName") or cfg["stateMachineArn"].rsplit(":", 1)[-1]


def _notify(sns: Any, topic: str, subject: str, lines: list[str]) -> None:
    sns.publish(TopicArn=topic, Subject=subject[:100], Message="\n".join(lines)[:200_000])


def handle(
    event: dict[str, Any], cfg: dict[str, Any], s3: Any, sm: Any, sqs: Any, sns: Any, now: dt.datetime
) -> dict[str, Any]:
    """One SQS batch. Returns ``batchItemFailures`` (SQS redelivers those) and what happened."""
    requests: dict[str, Request] = {}
    refusals: list[Refusal] = []
    for record in event.get("Records", []):
        result = classify(record.get("body", ""), cfg, now)
        if isinstance(result, Refusal):
            refusals.append(result)
            continue
        dataset, reasons, since = result
        request = requests.setdefault(dataset, Request(dataset, [], since, []))
        request.reasons.extend(reasons)
        request.since = min(request.since, since)
        request.message_ids.append(record["messageId"])

    failures: list[str] = []
    outcomes: list[dict[str, Any]] = []
    for request in requests.values():
        try:
            outcome = look(request, cfg, s3, sm, sqs, now)
        except Exception as error:
            print(json.dumps({"dataset": request.dataset, "error": f"{type(error).__name__}: {error}"}))
            failures.extend(request.message_ids)
            continue
        outcomes.append(outcome)
        print(json.dumps(outcome, default=str))
        if outcome["outcome"] == "started":
            _notify(
                sns,
                cfg["topicArn"],
                f"Retraining started: {outcome['displayName']}",
                [
                    f"{_target_name(cfg)} started for dataset {request.dataset} "
                    f"({outcome['objects']} objects):",
                    *[f"- {r}" for r in outcome["reasons"]],
                    f"Execution: {outcome['executionArn']}",
                    "Parameters: " + json.dumps(outcome["parameters"], sort_keys=True),
                ],
            )
        elif outcome["outcome"] == "no-data":
            refusals.append(Refusal(request.dataset, outcome["detail"]))
    if refusals:
        print(json.dumps({"refused": [dataclasses.asdict(r) for r in refusals]}))
        try:
            _notify(
                sns,
                cfg["topicArn"],
                f"Retraining trigger refused {len(refusals)} event(s); nothing started for them",
                [f"- {r.what}: {r.why}" for r in refusals[:100]]
                + ([f"... and {len(refusals) - 100} more"] if len(refusals) > 100 else []),
            )
        except Exception as error:
            print(json.dumps({"notifyError": f"{type(error).__name__}: {error}"}))
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failures], "outcomes": outcomes}


def handler(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    import boto3  # the Lambda runtime's
    from botocore.config import Config

    retries = Config(retries={"max_attempts": 8, "mode": "adaptive"})
    cfg = settings()
    runs = "stepfunctions" if cfg.get("stateMachineArn") else "sagemaker"
    clients = (boto3.client(s, config=retries) for s in ("s3", runs, "sqs", "sns"))
    result = handle(event, cfg, *clients, now=dt.datetime.now(dt.UTC))
    return {"batchItemFailures": result["batchItemFailures"]}


@dataclasses.dataclass
class RetrainArgs:
    """Look at one dataset as the retraining trigger would, and start the pipeline when its data has settled
    and no run of it is going. Settings: FMFT_RETRAIN_SETTINGS, the JSON in the trigger function's
    environment."""

    dataset: str = dataclasses.field(metadata={"help": "a dataset of training.retraining.datasets"})


def main(argv: list[str] | None = None) -> int:
    args = parse_into(
        RetrainArgs, sys.argv[1:] if argv is None else argv, prog="python -m training.triggers.retrain"
    )
    try:
        cfg = settings()
    except (KeyError, ValueError) as error:
        print(
            f"FMFT_RETRAIN_SETTINGS: {error!r}; allowed: the JSON the stack writes",
            file=sys.stderr,
        )
        return 2
    if cfg["datasets"] is None and dataset_problem(args.dataset):
        print(f"dataset: got {args.dataset!r}; {dataset_problem(args.dataset)}", file=sys.stderr)
        return 2
    if cfg["datasets"] is not None and args.dataset not in cfg["datasets"]:
        print(
            f"dataset: got {args.dataset!r}; allowed: {', '.join(sorted(cfg['datasets']))}", file=sys.stderr
        )
        return 2
    body = json.dumps(
        {
            "trigger": "pending",
            "dataset": args.dataset,
            "reasons": [{"kind": "new-data", "detail": "started by hand"}],
        }
    )
    import boto3

    runs = "stepfunctions" if cfg.get("stateMachineArn") else "sagemaker"
    clients = (boto3.client(s) for s in ("s3", runs, "sqs", "sns"))
    with contextlib.redirect_stdout(sys.stderr):  # the function's log lines; stdout gets the outcome only
        result = handle(
            {"Records": [{"messageId": "cli", "body": body}]}, cfg, *clients, now=dt.datetime.now(dt.UTC)
        )
    print(json.dumps(result["outcomes"], indent=2, default=str))
    return 1 if result["batchItemFailures"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
