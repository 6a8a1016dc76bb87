"""Capture monitor CLI: drift and answer health of one window of captured endpoint traffic.

    python -m training.monitor run --capture capture/ --baseline baseline.json --output-dir monitor \
        --endpoint-name chat-prod --variant-name AllTraffic \
        --window-start 2026-11-29T10:00:00Z --window-end 2026-11-29T11:00:00Z
    python -m training.monitor run --capture capture/ --output-dir monitor --endpoint-name extract \
        --variant-name AllTraffic --expect-json
    python -m training.monitor run --capture capture/ --output-dir monitor --endpoint-name chat-prod \
        --variant-name AllTraffic --canary canary/ --canary-task summarization
    python -m training.monitor run --capture capture/ --output-dir monitor --endpoint-name chat-prod \
        --variant-name AllTraffic --ground-truth ground-truth/ --ground-truth-capture ground-truth-capture/ \
        --ground-truth-task classification
    python -m training.monitor run --capture invocation-logs/ --output-dir monitor \
        --endpoint-name fmft-prod-claims-v2 --variant-name bedrock \
        --model-id arn:aws:bedrock:us-east-1:111122223333:provisioned-model/abc123
    python -m training.monitor baseline --data train.jsonl --output baseline.json
    python -m training.monitor score-canary --predictions canary/ --task qa --output-dir score

run reads every capture file under --capture (SageMaker data capture or Bedrock invocation logs; .jsonl,
.json, .gz), profiles the prompts and answers in one streaming pass with bounded memory, compares them with
the training baseline and writes result.json, report.html and metrics.json (CloudWatch MetricData) to
--output-dir, all or none. A missing or unusable baseline is reported (BaselineMissing=1, no drift
statistics), a missing capture directory is an empty window, unreadable lines are counted by reason: none
is an error. The exit status is non-zero only when the outputs cannot be written (1) or a flag is wrong (2).
Bedrock logs every model of the account and region together: with --model-id only the invocation log lines
of that model (its provisioned model ARN) are read, the others are counted as otherModels; an empty
--model-id (what the state machine passes for an endpoint) filters nothing.
With --canary, the quality canary's answers (predictions.jsonl, written by training.monitor.canary) are
scored with training.evaluate for --canary-task (canary_score.py); no answers file is reported, not an error.
With --ground-truth, --ground-truth-capture and --ground-truth-task, ground truth uploaded later is joined by
inference id with the captured requests under --ground-truth-capture and the answers are scored the same way
(ground_truth.py); missing directories mean no ground truth this run, reported, not an error.

baseline profiles a training data set (any format of training/data) into baseline.json; prepare writes one
for its train split (<output-dir>/baseline/baseline.json).

score-canary scores the quality canary's answers on their own (the promotion workflow's staging check) and
writes <output-dir>/canary.json: the ``canary`` section run writes into result.json (canary_score.py). No
answers or nothing to score is a status in the file (missing, unscored, invalid), exit status 0; a wrong
flag is 2, an output that cannot be written 1.

Inside a SageMaker Processing job, paths default to /opt/ml/processing/input/capture,
/opt/ml/processing/input/baseline/baseline.json, /opt/ml/processing/output/monitor,
/opt/ml/processing/input/data, /opt/ml/processing/output/baseline/baseline.json,
/opt/ml/processing/input/canary and /opt/ml/processing/output/score.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.common.args import UsageError, run_subcommands
from training.common.sagemaker import in_processing_job, processing_input, processing_output, resolve_path
from training.data.io import read_records, require_input, write_json_atomic
from training.monitor.canary import TASKS as CANARY_TASKS
from training.monitor.canary_score import score_canary
from training.monitor.capture import CaptureReader, parse_time
from training.monitor.drift import MIN_DRIFT_RECORDS, drift
from training.monitor.ground_truth import score_ground_truth
from training.monitor.health import MIN_HEALTH_ANSWERS, Health
from training.monitor.profile import (
    LENGTHS,
    VOCABULARY_SIZE,
    Baseline,
    BaselineError,
    Profile,
    load_baseline,
    record_parts,
)
from training.monitor.report import DEFAULT_THRESHOLDS, finish, write_outputs

BASELINE_FILE = "baseline.json"
CANARY_SCORE_FILE = "canary.json"
_TOP_OOV_WORDS = 20


@dataclass
class RunArgs:
    """Drift and answer health of one window of captured traffic against the training baseline."""

    endpoint_name: str = field(metadata={"help": "EndpointName dimension of the metrics"})
    variant_name: str = field(metadata={"help": "VariantName dimension of the metrics"})
    capture: str | None = field(
        default=None,
        metadata={
            "help": "Directory of capture files, read recursively; missing means an empty window "
            "(default in a Processing job: input/capture)"
        },
    )
    baseline: str | None = field(
        default=None,
        metadata={
            "help": "baseline.json (or a directory holding it); missing: reported as BaselineMissing "
            "(default in a Processing job: input/baseline/baseline.json)"
        },
    )
    output_dir: str | None = field(
        default=None,
        metadata={
            "help": "Where result.json, report.html and metrics.json go (default in a Processing "
            "job: output/monitor)"
        },
    )
    model_id: str = field(
        default="",
        metadata={
            "help": "Read only the Bedrock invocation log lines whose modelId is this (a provisioned model "
            "ARN); others are counted as otherModels. Empty: no filter. SageMaker capture is never filtered"
        },
    )
    expect_json: bool = field(
        default=False, metadata={"help": "Answers should be JSON: report InvalidJsonRate"}
    )
    window_start: str | None = field(
        default=None, metadata={"help": "ISO 8601 start of the window; earlier records are skipped"}
    )
    window_end: str | None = field(
        default=None, metadata={"help": "ISO 8601 end of the window (exclusive); later records are skipped"}
    )
    min_drift_records: int = field(
        default=MIN_DRIFT_RECORDS,
        metadata={"help": "Fewest records for drift statistics and the completion length PSI"},
    )
    min_health_answers: int = field(
        default=MIN_HEALTH_ANSWERS,
        metadata={"help": "Fewest answers for the answer-health rates (1 refusal in 2 answers is no signal)"},
    )
    canary: str | None = field(
        default=None,
        metadata={
            "help": "Directory of the quality canary's answers (predictions.jsonl, written by "
            "training.monitor.canary) to score; missing there: no canary this run, reported"
        },
    )
    canary_task: str | None = field(
        default=None,
        metadata={"help": "Task whose training.evaluate metrics score the canary", "choices": CANARY_TASKS},
    )
    ground_truth: str | None = field(
        default=None,
        metadata={
            "help": "Directory of the ground truth uploaded for this run (JSON lines of inferenceId and the "
            "task's reference field); missing: no ground truth this run, reported"
        },
    )
    ground_truth_capture: str | None = field(
        default=None,
        metadata={
            "help": "Directory of the capture of the request hours the ground truth names, joined by "
            "inference id; missing: every ground-truth record is unmatched"
        },
    )
    ground_truth_task: str | None = field(
        default=None,
        metadata={
            "help": "Task whose training.evaluate metrics score the answers against the ground truth",
            "choices": CANARY_TASKS,
        },
    )
    thresholds: list[str] = field(
        default_factory=list,
        metadata={
            "help": "KEY=VALUE alarm thresholds for the report, keys of monitoring.thresholds (default: the "
            "contract's defaults; the state machine passes the environment's)"
        },
    )


@dataclass
class BaselineArgs:
    """Profile a training data set into baseline.json: lengths, writing systems, vocabulary, labels."""

    data: str | None = field(
        default=None,
        metadata={"help": "Training file or directory (default in a Processing job: input/data)"},
    )
    output: str | None = field(
        default=None,
        metadata={"help": "baseline.json to write (default in a Processing job: output/baseline/)"},
    )
    vocabulary_size: int = field(default=VOCABULARY_SIZE, metadata={"help": "Most common words to keep"})
    seed: int = field(default=0, metadata={"help": "Seed of the reservoir samples"})


@dataclass
class ScoreCanaryArgs:
    """Score the quality canary's answers into canary.json (the promotion workflow's staging check)."""

    task: str = field(
        metadata={"help": "Task whose training.evaluate metrics score the answers", "choices": CANARY_TASKS}
    )
    predictions: str | None = field(
        default=None,
        metadata={
            "help": "predictions.jsonl of training.monitor.canary, or a directory holding it (default in a "
            "Processing job: input/canary)"
        },
    )
    output_dir: str | None = field(
        default=None,
        metadata={"help": "Where canary.json goes (default in a Processing job: output/score)"},
    )


def _time_flag(value: str | None, flag: str) -> dt.datetime | None:
    if value is None:
        return None
    moment = parse_time(value)
    if moment is None:
        raise UsageError(f"{flag} {value}: not an ISO 8601 time such as 2026-11-29T10:00:00Z")
    return moment


def _window(args: RunArgs) -> tuple[dt.datetime | None, dt.datetime | None]:
    return _time_flag(args.window_start, "--window-start"), _time_flag(args.window_end, "--window-end")


def baseline_status(path: Path | None) -> tuple[Baseline | None, dict[str, Any]]:
    """The loaded baseline (or None) and how it went: present, missing or invalid, with the problem."""
    if path is not None and path.is_dir():
        path = path / BASELINE_FILE
    info: dict[str, Any] = {"path": str(path) if path else None, "status": "missing", "missing": 1}
    if path is None or not path.exists():
        info["problem"] = "no baseline given" if path is None else f"{path}: no such file"
        return None, info
    try:
        baseline = load_baseline(path)
    except BaselineError as exc:
        return None, {**info, "status": "invalid", "problem": str(exc)}
    return baseline, {**info, "status": "present", "missing": 0, "records": baseline.document["records"]}


def monitor(capture: Path, baseline_path: Path | None, args: RunArgs) -> dict[str, Any]:
    """Read the window under ``capture`` once and return the finished result (see report.py)."""
    start, end = _window(args)
    baseline, baseline_info = baseline_status(baseline_path)
    reader = CaptureReader(start, end, model_id=args.model_id or None)
    profile = Profile(baseline, vocabulary_size=0)  # words count only against a baseline's vocabulary
    health = Health(args.expect_json)
    for exchange in reader.read(capture):
        profile.add(exchange.prompt, exchange.answer)
        health.add(exchange)
    when = {"start": args.window_start, "end": args.window_end}
    when.update(firstRecord=_iso(reader.first_time), lastRecord=_iso(reader.last_time))
    result: dict[str, Any] = {
        "schemaVersion": 1,
        "endpointName": args.endpoint_name,
        "variantName": args.variant_name,
        "window": when,
        "monitorRun": 1,
        "capture": {
            "directory": str(capture),
            "present": capture.is_dir(),
            "files": reader.files,
            "lines": reader.lines,
            "records": reader.records,
            "outsideWindow": reader.outside_window,
            "modelId": args.model_id or None,
            "otherModels": reader.other_models,
            "malformed": {"total": sum(reader.malformed.values()), "byReason": dict(reader.malformed)},
            "responseProblems": dict(reader.response_problems),
            "examples": reader.examples,
        },
        "baseline": baseline_info,
        "profile": {
            "lengths": {name: profile.lengths[name].summary() for name in LENGTHS},
            "scripts": dict(profile.scripts.most_common()),
            "baselineScripts": baseline.document["scripts"] if baseline else None,
            "outOfVocabularyWords": dict(profile.word_counts.most_common(_TOP_OOV_WORDS)) if baseline else {},
        },
        "drift": drift(baseline, profile, args.min_drift_records),
        "health": health.result(baseline, profile, args.min_drift_records, args.min_health_answers),
        "histograms": {
            name: {
                "edges": baseline.lengths(name)["edges"],
                "baseline": baseline.lengths(name)["counts"],
                "window": profile.lengths[name].counts,
            }
            for name in ("promptTokens", "promptChars", "completionTokens")
        }
        if baseline
        else {},
    }
    if args.canary and args.canary_task:
        result["canary"] = score_canary(Path(args.canary), args.canary_task)
    if args.ground_truth and args.ground_truth_capture and args.ground_truth_task:
        result["groundTruth"] = score_ground_truth(
            Path(args.ground_truth), Path(args.ground_truth_capture), args.ground_truth_task
        )
    return finish(result, parse_thresholds(args.thresholds))


def parse_thresholds(items: list[str]) -> dict[str, float]:
    """``KEY=VALUE`` items over the defaults; an unknown key or a value that is not a number > 0 fails."""
    thresholds = dict(DEFAULT_THRESHOLDS)
    for item in items:
        key, _, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if key not in DEFAULT_THRESHOLDS or not number > 0:
            raise ValueError(
                f"--thresholds: got {item!r}; allowed: KEY=VALUE with a number > 0 and KEY one of "
                f"{', '.join(DEFAULT_THRESHOLDS)}"
            )
        thresholds[key] = number
    return thresholds


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def run_monitor(args: RunArgs) -> int:
    capture = resolve_path(args.capture, processing_input("capture"), "--capture")
    output = resolve_path(args.output_dir, processing_output("monitor"), "--output-dir")
    baseline = Path(args.baseline) if args.baseline else None
    if baseline is None and in_processing_job():
        baseline = processing_input("baseline") / BASELINE_FILE
    _window(args)  # a bad flag stops here, before anything is created
    if bool(args.canary) != bool(args.canary_task):
        raise UsageError("--canary and --canary-task go together: the answers and the task that scores them")
    ground_truth_flags = (args.ground_truth, args.ground_truth_capture, args.ground_truth_task)
    if any(ground_truth_flags) and not all(ground_truth_flags):
        raise UsageError(
            "--ground-truth, --ground-truth-capture and --ground-truth-task go together: the references, the "
            "capture of the requests they are about and the task that scores the answers"
        )
    try:
        parse_thresholds(args.thresholds)
    except ValueError as exc:
        print(f"python -m training.monitor run: error: {exc}", file=sys.stderr)
        return 2
    try:
        output.mkdir(parents=True, exist_ok=True)  # fail before reading the window, not after
        result = monitor(capture, baseline, args)
        write_outputs(result, output)
    except OSError as exc:
        print(f"python -m training.monitor run: error: cannot write to {output}: {exc}", file=sys.stderr)
        return 1
    counts = result["capture"]
    canary = result.get("canary")
    scored = ""
    if canary:
        scored = f"; canary {canary['status']}: {canary['records']} records, {canary.get('errors', 0)} errors"
        if canary.get("score") is not None:
            scored += f", {canary['scoreMetric']} {canary['score']:.4f}"
    truth = result.get("groundTruth")
    if truth:
        scored += (
            f"; ground truth {truth['status']}: {truth['matched']} matched, {truth['unmatched']} unmatched"
        )
        if truth.get("score") is not None:
            scored += f", {truth['scoreMetric']} {truth['score']:.4f}"
    alarmed = ", ".join(result["alarms"]) or "none"
    others = f", {counts['otherModels']} of other models" if args.model_id else ""
    print(
        f"{counts['records']} records{others}, {counts['malformed']['total']} malformed, baseline "
        f"{result['baseline']['status']}{scored}; alarms: {alarmed}; wrote {output}"
    )
    return 0


def run_baseline(args: BaselineArgs) -> int:
    source = require_input(resolve_path(args.data, processing_input("data"), "--data"), "--data")
    default = processing_output("baseline") / BASELINE_FILE
    output = resolve_path(args.output, default, "--output")
    profile = Profile(vocabulary_size=args.vocabulary_size, seed=args.seed)
    skipped = 0
    for item in read_records(source):
        parts = None if item.problem else record_parts(item.value)
        if parts is None:
            skipped += 1
            continue
        profile.add(parts.prompt, parts.completion, parts.labels)
    write_json_atomic(output, profile.baseline_document())
    print(f"profiled {profile.records} records ({skipped} unreadable, skipped) into {output}")
    return 0


def run_score_canary(args: ScoreCanaryArgs) -> int:
    predictions = resolve_path(args.predictions, processing_input("canary"), "--predictions")
    output = resolve_path(args.output_dir, processing_output("score"), "--output-dir")
    section = score_canary(predictions, args.task)
    try:
        write_json_atomic(output / CANARY_SCORE_FILE, section)
    except OSError as exc:
        print(
            f"python -m training.monitor score-canary: error: cannot write to {output}: {exc}",
            file=sys.stderr,
        )
        return 1
    scored = f", {section['scoreMetric']} {section['score']:.4f}" if section.get("score") is not None else ""
    print(
        f"canary {section['status']}: {section['records']} records, {section.get('errors', 0)} errors"
        f"{scored}; wrote {output / CANARY_SCORE_FILE}"
    )
    return 0


COMMANDS = {
    "run": (RunArgs, run_monitor),
    "baseline": (BaselineArgs, run_baseline),
    "score-canary": (ScoreCanaryArgs, run_score_canary),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return run_subcommands("python -m training.monitor", __doc__.splitlines()[0], COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
