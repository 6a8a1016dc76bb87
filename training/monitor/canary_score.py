"""Scores the quality canary's answers inside the monitor job with training.evaluate.

The canary function (``training.monitor.canary``) writes ``predictions.jsonl`` into the job's ``canary``
input: one line per golden record, the task's reference field and ``prediction`` (``latencyMs`` always,
``error`` and no prediction when the request failed). ``score_canary`` reads it and returns the ``canary``
section of result.json:

- ``records`` (lines that are records), ``errors``, ``errorRate`` (errors / records), ``malformed`` (lines
  that are not JSON objects), the errors by code with a few examples;
- ``latencyMs``: p50, p95 and max over the answered records (linear interpolation, as numpy.percentile);
- the answered records scored by ``python -m training.evaluate <task>``'s own code, called in-process on
  them: every task metric (``metrics``), the report section it came from, and ``score``, the task's
  primary metric (``PRIMARY_METRICS``): classification accuracy (subset accuracy for multi-label golden
  records), summarization ROUGE-L F1 (``rougeL``), qa token F1 (``f1``, the SQuAD F1; softer than exact
  match, which punishes a correct answer in a sentence). Failed requests are not in the score: the error
  rate is their metric. A classification answer that is empty counts as the wrong label ``EMPTY_LABEL``
  (training.evaluate refuses an empty label).
- ``status``: ``scored``; ``missing`` (no answers file: no canary for this target this run, ``records`` 0);
  ``unscored`` (no answered record); ``invalid`` (training.evaluate refused the records: ``problems``).

A missing file or unusable answers are reported, never an error of the job.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from training.data.io import read_records
from training.monitor.canary import PREDICTIONS_FILE, TASKS, percentile

PRIMARY_METRICS = {"classification": "accuracy", "summarization": "rougeL", "qa": "f1"}
EMPTY_LABEL = "(empty answer)"
_MAX_EXAMPLES = 3
_MAX_PROBLEMS = 20
_NOT_METRICS = {"metadata", "fairness_metrics", "per_group_metrics"}


def _evaluate(task: str, predictions: Path, output: Path) -> tuple[int, str]:
    """Run ``python -m training.evaluate <task>`` in-process; (exit status, what it printed)."""
    from training.evaluate import tasks  # numpy and scikit-learn: only when there is a canary to score

    runners = {
        "classification": (tasks.ClassificationArgs, tasks.run_classification),
        "summarization": (tasks.SummarizationArgs, tasks.run_summarization),
        "qa": (tasks.QAArgs, tasks.run_qa),
    }
    args_type, run = runners[task]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        code = run(args_type(predictions=str(predictions), output_dir=str(output)))
    return code, printed.getvalue()


def _error_code(error: Any) -> str:
    return str(error).split(":", 1)[0].strip() or "error"


def score_canary(location: Path, task: str) -> dict[str, Any]:
    """The ``canary`` section of result.json for the answers under ``location`` (see the module docstring)."""
    if task not in TASKS:
        raise ValueError(f"--canary-task: got {task!r}; allowed: {', '.join(TASKS)}")
    path = location / PREDICTIONS_FILE if location.is_dir() else location
    section: dict[str, Any] = {"status": "missing", "task": task, "path": str(path), "records": 0}
    if not path.is_file():
        section["problem"] = f"{path}: no such file: the canary asked nothing for this target this run"
        return section
    records = errors = malformed = empty = 0
    codes: Counter[str] = Counter()
    examples: list[str] = []
    latencies: list[float] = []
    answered: list[dict[str, Any]] = []
    for item in read_records(path):
        if item.problem or not isinstance(item.value, dict):
            malformed += 1
            continue
        record = item.value
        records += 1
        if record.get("error"):
            errors += 1
            codes[_error_code(record["error"])] += 1
            if len(examples) < _MAX_EXAMPLES and str(record["error"]) not in examples:
                examples.append(str(record["error"]))
            continue
        latency = record.get("latencyMs")
        if isinstance(latency, int | float) and not isinstance(latency, bool):
            latencies.append(float(latency))
        record, was_empty = scorable(task, record)
        empty += was_empty
        answered.append(record)
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    section.update(
        status="unscored",
        records=records,
        answered=len(answered),
        errors=errors,
        errorRate=errors / records if records else None,
        malformed=malformed,
        errorsByCode=dict(codes.most_common()),
        errorExamples=examples,
        emptyAnswers=empty,
        latencyMs={"p50": p50, "p95": p95, "max": max(latencies) if latencies else None},
        scoreMetric=PRIMARY_METRICS[task],
        score=None,
        metrics={},
    )
    if not answered:
        section["problem"] = "no answered record to score"
        return section
    with tempfile.TemporaryDirectory(prefix="canary-") as tmp:
        answers = Path(tmp) / "answered.jsonl"
        answers.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in answered), encoding="utf-8"
        )
        section.update(score_answers(task, answers, Path(tmp) / "evaluation"))
    return section


def scorable(task: str, record: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The record as training.evaluate scores it, and whether its answer was empty: an empty classification
    answer becomes the wrong label ``EMPTY_LABEL`` (training.evaluate refuses an empty label)."""
    prediction = record.get("prediction")
    if task == "classification" and isinstance(prediction, str) and not prediction.strip():
        return {**record, "prediction": EMPTY_LABEL}, True
    return record, False


def score_answers(task: str, answers: Path, work_dir: Path) -> dict[str, Any]:
    """Score ``answers`` (JSONL of reference and ``prediction``) with ``training.evaluate <task>`` in-process,
    writing its report under ``work_dir``: ``{"status": "scored", "section", "metrics", "score"}`` (score: the
    task's primary metric), or ``{"status": "invalid", "problems", "problem"}`` when training.evaluate
    refuses the records. Shared by the quality canary and the ground truth (ground_truth.py)."""
    code, printed = _evaluate(task, answers, work_dir)
    if code != 0:
        problems = [line.replace(str(answers), "answered record") for line in printed.splitlines()]
        return {
            "status": "invalid",
            "problems": problems[:_MAX_PROBLEMS],
            "problem": f"training.evaluate {task} refused the answers (see problems)",
        }
    report = json.loads((work_dir / "evaluation.json").read_text(encoding="utf-8"))
    name, values = next((k, v) for k, v in report.items() if k not in _NOT_METRICS)
    metrics = {
        k: v["value"] for k, v in values.items() if isinstance(v, dict) and isinstance(v.get("value"), float)
    }
    return {
        "status": "scored",
        "section": name,
        "metrics": metrics,
        "score": metrics.get(PRIMARY_METRICS[task]),
    }
