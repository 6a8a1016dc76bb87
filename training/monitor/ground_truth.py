"""Joins ground truth uploaded after the fact with the captured requests it is about, and scores the answers.

The application uploads ground truth as JSON lines under
``<evaluation bucket>/evaluation/ground-truth/<endpoint>/<variant>/<yyyy>/<mm>/<dd>/<hh>/<any name>.jsonl``,
the hour being the UTC hour of the request (its inference time), one line per request::

    {"inferenceId": "req-0001", "label": "pos"}                          classification
    {"inferenceId": "req-0002", "label": ["billing", "refund"]}          multi-label ("labels" also read)
    {"inferenceId": "req-0003", "summary": "Council approves budget."}   summarization
    {"inferenceId": "req-0004", "answers": ["Paris", "paris, France"]}   qa (a string, a list, SQuAD {"text"})

``inferenceId`` is the ``InferenceId`` the caller passed to InvokeEndpoint, which SageMaker data capture
keeps as ``eventMetadata.inferenceId``. The planner (``plan.py``) gives the monitor job the ground-truth
files uploaded in the run's window (input ``ground-truth``) and the capture of the request hours they name
(input ``ground-truth-capture``). ``score_ground_truth`` reads the ground truth into a dict (inferenceId ->
reference: memory is bounded by what was uploaded in one window; a duplicate id keeps its last line, in file
path and line order, and is counted), streams the capture, takes the answer of each captured request whose
inferenceId has ground truth as its prediction (the first such record: a later one with the same id is
counted as ``duplicateCaptures``), and scores the pairs with ``training.evaluate <task>``'s own code, as the
quality canary's answers are scored (``canary_score.score_answers``).

It returns the ``groundTruth`` section of result.json: ``records`` (distinct inferenceIds with a usable
reference), ``duplicates``, ``malformed`` lines by reason with a few examples, ``matched`` (pairs scored),
``unanswered`` (captured, but the response held no readable answer), ``unmatched`` (no captured request with
that id in those hours, with a few of the ids), the capture counts, every task metric and ``score`` (the
primary metric, ``PRIMARY_METRICS``); ``status`` ``scored``, ``missing`` (no ground truth this run),
``unscored`` (nothing matched) or ``invalid`` (training.evaluate refused the pairs). Missing directories and
bad lines are reported, never an error of the job.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from training.monitor.canary import REFERENCE_FIELDS, TASKS
from training.monitor.canary_score import PRIMARY_METRICS, scorable, score_answers
from training.monitor.capture import CaptureReader, UnreadableFile, data_lines

ID_FIELD = "inferenceId"
BAD_JSON = "bad_json"
NOT_AN_OBJECT = "not_an_object"
NO_INFERENCE_ID = "no_inference_id"
BAD_REFERENCE = "bad_reference"
UNREADABLE_FILE = "unreadable_file"
_MAX_EXAMPLES = 3
_EXAMPLE_CHARS = 200


def _reference_parsers() -> dict[str, Callable[[Any], Any]]:
    """training.evaluate's own readers of each task's reference (None: not a usable reference)."""
    from training.evaluate import tasks  # numpy and scikit-learn: only when there is ground truth to score

    def label(value: Any) -> Any:
        return tasks._as_label_list(value) if isinstance(value, list) else tasks._as_label(value)

    return {"classification": label, "summarization": tasks._as_text, "qa": tasks._as_answers}


class _Reader:
    """The ground truth under a directory: inferenceId -> reference value, and what could not be read."""

    def __init__(self, task: str) -> None:
        self.task, self.field = task, REFERENCE_FIELDS[task]
        self.parse = _reference_parsers()[task]
        self.references: dict[str, Any] = {}
        self.files = self.lines = self.duplicates = 0
        self.malformed: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}

    def _bad(self, reason: str, where: str, detail: str) -> None:
        self.malformed[reason] += 1
        bucket = self.examples.setdefault(reason, [])
        if len(bucket) < _MAX_EXAMPLES:
            bucket.append(f"{where}: {detail}"[:_EXAMPLE_CHARS])

    def read(self, directory: Path) -> None:
        for item in data_lines(directory):
            if isinstance(item, UnreadableFile):
                self._bad(UNREADABLE_FILE, item.name, item.error)
                continue
            if item.first_of_file:
                self.files += 1
            if item.text is not None:
                self._line(item.text, item.where)

    def _line(self, line: str, where: str) -> None:
        self.lines += 1
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            self._bad(BAD_JSON, where, f"{exc.msg} at column {exc.colno}")
            return
        if not isinstance(value, dict):
            self._bad(NOT_AN_OBJECT, where, f"a JSON {type(value).__name__}")
            return
        ident = value.get(ID_FIELD)
        if not isinstance(ident, str) or not ident:
            self._bad(NO_INFERENCE_ID, where, f"{ID_FIELD} {ident!r:.60}")
            return
        field = self.field
        if self.task == "classification" and field not in value and "labels" in value:
            field = "labels"
        reference = value.get(field)
        if field not in value or self.parse(reference) is None:
            self._bad(BAD_REFERENCE, where, f"{self.field}: {reference!r:.60}")
            return
        if ident in self.references:
            self.duplicates += 1
            del self.references[ident]  # the last line wins, and keeps its place in upload order
        self.references[ident] = reference


def score_ground_truth(ground_truth: Path, capture: Path, task: str) -> dict[str, Any]:
    """The ``groundTruth`` section of result.json (see the module docstring)."""
    if task not in TASKS:
        raise ValueError(f"--ground-truth-task: got {task!r}; allowed: {', '.join(TASKS)}")
    section: dict[str, Any] = {
        "status": "missing",
        "task": task,
        "path": str(ground_truth),
        "capturePath": str(capture),
        "records": 0,
        "matched": 0,
        "unmatched": 0,
    }
    reader = _Reader(task)
    if ground_truth.is_dir():
        reader.read(ground_truth)
    section.update(
        files=reader.files,
        lines=reader.lines,
        records=len(reader.references),
        duplicates=reader.duplicates,
        malformed={"total": sum(reader.malformed.values()), "byReason": dict(reader.malformed)},
        examples=reader.examples,
        scoreMetric=PRIMARY_METRICS[task],
        score=None,
        metrics={},
    )
    if not reader.files:
        section["problem"] = (
            f"{ground_truth}: no ground-truth file: none was uploaded for this target this run"
        )
        return section
    references = reader.references
    # Multi-label when any reference is a list: training.evaluate decides from the first record, so every
    # reference is written as a list then.
    multilabel = task == "classification" and any(isinstance(v, list) for v in references.values())
    captured = CaptureReader()  # no window: the request hours are the planner's choice, matched by id
    matched: set[str] = set()
    unanswered = duplicate_captures = empty = 0
    with tempfile.TemporaryDirectory(prefix="ground-truth-") as tmp:
        pairs = Path(tmp) / "matched.jsonl"
        with open(pairs, "w", encoding="utf-8") as out:
            for exchange in captured.read(capture) if references else ():
                ident = exchange.id
                if ident is None or ident not in references:
                    continue
                if ident in matched:
                    duplicate_captures += 1
                    continue
                matched.add(ident)
                if exchange.answer is None:
                    unanswered += 1
                    continue
                reference = references[ident]
                if multilabel and not isinstance(reference, list):
                    reference = [reference]
                record, was_empty = scorable(
                    task, {REFERENCE_FIELDS[task]: reference, "prediction": exchange.answer}
                )
                empty += was_empty
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        scored = len(matched) - unanswered
        missing = [ident for ident in references if ident not in matched]
        section.update(
            status="unscored",
            matched=scored,
            unanswered=unanswered,
            unmatched=len(missing),
            unmatchedExamples=missing[:_MAX_EXAMPLES],
            duplicateCaptures=duplicate_captures,
            emptyAnswers=empty,
            capture={
                "present": capture.is_dir(),
                "files": captured.files,
                "records": captured.records,
                "malformed": sum(captured.malformed.values()),
            },
        )
        if not references:
            section["problem"] = "no usable ground-truth record (see malformed)"
        elif not scored:
            section["problem"] = "no ground-truth record matched a captured request with an answer"
        else:
            section.update(score_answers(task, pairs, Path(tmp) / "evaluation"))
    return section
