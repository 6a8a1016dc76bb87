"""Evaluate a predictions file (what an endpoint, a batch transform or Bedrock returned) for one task.

Each record holds the reference and the prediction side by side, and the protected attributes that fairness
is measured over (``--protected-attributes``; see ``training/evaluate/fairness.py``):

    {"label": "pos", "prediction": "neg", "metadata": {"gender": "f"}}        classification
    {"labels": ["a", "b"], "prediction": ["a"]}                                   multi-label
    {"summary": "...", "prediction": "...", "group": "en"}                       summarization
    {"answers": ["Paris", "paris, France"], "prediction": "Paris"}               question answering
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training.common.args import UsageError
from training.common.sagemaker import processing_input, processing_output, resolve_path
from training.data.io import Problem, read_records, require_input
from training.evaluate import metric_names as names
from training.evaluate import metrics
from training.evaluate.args import ClassificationArgs, CommonArgs, QAArgs, SummarizationArgs
from training.evaluate.fairness import (
    NO_ATTRIBUTES,
    AttributeSpec,
    GroupCollector,
    attribute_spec,
    fairness_section,
    group_indices,
    group_key,
)
from training.evaluate.report import RECORDS_KEY, entry, write_report


class InputError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


@dataclass
class Examples:
    references: list[Any]
    predictions: list[Any]
    # Group label per record, per measured attribute; empty when none is measured.
    groups: dict[str, list[str]]
    source: str
    attributes: AttributeSpec = NO_ATTRIBUTES


def _as_label(value: Any) -> str | None:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float) and str(value).strip():
        return str(value).strip()
    return None


def _as_label_list(value: Any) -> list[str] | None:
    if isinstance(value, str):  # an endpoint may answer "a, b"
        value = [v for v in value.split(",") if v.strip()]
    if not isinstance(value, list):
        return None
    labels = [_as_label(v) for v in value]
    return None if any(v is None for v in labels) else sorted(set(labels))  # type: ignore[arg-type]


def _as_text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _as_answers(value: Any) -> list[str] | None:
    if isinstance(value, dict):  # SQuAD {"text": [...]}
        value = value.get("text")
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        return None
    return value


def load_examples(
    path: Path,
    reference_field: str,
    prediction_field: str,
    attributes: AttributeSpec,
    parse_reference: Callable[[Any], Any],
    parse_prediction: Callable[[Any], Any],
    expected: str,
) -> Examples:
    """Read references, predictions and groups; every bad record is reported with its file and line."""
    problems: list[Problem] = []
    refs: list[Any] = []
    preds: list[Any] = []
    collector = GroupCollector(attributes)
    for item in read_records(path):
        if item.problem:
            problems.append(item.problem)
            continue
        record = item.value
        if not isinstance(record, dict):
            problems.append(Problem(item.location, None, "a record must be a JSON object"))
            continue
        for name, parse in ((reference_field, parse_reference), (prediction_field, parse_prediction)):
            if name not in record:
                problems.append(Problem(item.location, name, "is missing"))
            elif parse(record[name]) is None:
                problems.append(Problem(item.location, name, f"must be {expected}, got {record[name]!r:.60}"))
        collector.add(item.location, record)
        refs.append(parse_reference(record.get(reference_field)))
        preds.append(parse_prediction(record.get(prediction_field)))
    groups = collector.finish(str(path))
    problems += collector.problems
    if not refs and not problems:
        problems.append(Problem(None, None, f"{path}: no records"))
    if problems:
        raise InputError(problems)
    return Examples(refs, preds, groups, str(path), attributes)


def report_metadata(task: str, examples: Examples, **extra: Any) -> dict[str, Any]:
    meta = {
        "task": task,
        "records": len(examples.references),
        "predictions": examples.source,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "protected_attributes": list(examples.attributes.names) if examples.attributes.required else [],
    }
    if examples.groups:  # the keys of per_group_metrics
        meta["groups"] = [
            group_key(examples.attributes, name, g)
            for name, labels in examples.groups.items()
            for g in sorted(set(labels))
        ]
    meta.update({k: v for k, v in extra.items() if v is not None})
    return meta


def classification_report(
    examples: Examples, multilabel: bool, positive_label: str | None, seed: int
) -> dict[str, Any]:
    y_true, y_pred = examples.references, examples.predictions
    if multilabel:
        section, compute, confusion = (
            names.MULTILABEL,
            metrics.multilabel_metrics,
            metrics.multilabel_confusion,
        )
    else:
        section, compute, confusion = (
            names.MULTICLASS,
            metrics.multiclass_metrics,
            metrics.multiclass_confusion,
        )
    true_sets = [set(t) if multilabel else {t} for t in y_true]
    pred_sets = [set(p) if multilabel else {p} for p in y_pred]
    all_classes = sorted(set().union(*true_sets, *pred_sets))
    if positive_label is not None and positive_label not in all_classes:
        # A class nobody has nor predicts has a selection rate of 0 everywhere: a disparity of 0.0 that
        # compare would call an improvement.
        raise UsageError(
            f"--positive-label {positive_label!r} is not a class of {examples.source}; "
            f"classes: {', '.join(all_classes)}"
        )
    values = compute(y_true, y_pred)
    # One confusion matrix per resample gives every metric (not one scikit-learn pass per metric).
    subsets = metrics.ClassificationSubsets(y_true, y_pred, multilabel)
    stds = metrics.classification_bootstrap_stds(y_true, y_pred, multilabel, seed, subsets)
    report: dict[str, Any] = {
        names.METADATA: report_metadata(
            "classification", examples, multilabel=multilabel, positive_label=positive_label
        ),
        section: {
            **{k: entry(v, stds[k]) for k, v in values.items()},
            names.CONFUSION_MATRIX: confusion(y_true, y_pred),
        },
    }
    classes = [positive_label] if positive_label else all_classes
    disparities: dict[str, dict[str, float]] = {}
    details: dict[str, dict[str, Any]] = {}
    for attribute, groups in examples.groups.items():
        fairness = metrics.fairness_differences(true_sets, pred_sets, groups, classes)
        disparities[attribute] = {
            k: fairness[k] for k in (names.DEMOGRAPHIC_PARITY_DIFFERENCE, names.EQUAL_OPPORTUNITY_DIFFERENCE)
        }
        details[attribute] = {"per_class": fairness["per_class"]}
    extra = {"positive_label": positive_label, "conventions": metrics.FAIRNESS_CONVENTIONS}
    report[names.FAIRNESS] = fairness_section(
        examples.attributes, examples.groups, disparities, details, extra if disparities else None
    )
    if examples.groups:
        report[names.PER_GROUP] = {
            group_key(examples.attributes, attribute, g): {
                **{k: entry(v) for k, v in subsets.metrics(np.asarray(idx)).items()},
                "count": len(idx),
            }
            for attribute, groups in examples.groups.items()
            for g, idx in group_indices(groups).items()
        }
    report[RECORDS_KEY] = {
        "kind": "classification",
        "section": section,
        "multilabel": multilabel,
        "references": list(y_true),
        "predictions": list(y_pred),
    }
    return report


def per_example_report(
    task: str, section: str, examples: Examples, scores: dict[str, list[float]], seed: int
) -> dict[str, Any]:
    """Report for metrics that are means of per-example scores (ROUGE, exact match, token F1)."""
    arrays = {k: np.asarray(v, dtype=float) for k, v in scores.items()}
    n = len(examples.references)
    report: dict[str, Any] = {
        names.METADATA: report_metadata(task, examples),
        section: {
            k: entry(a.mean(), metrics.bootstrap_std(n, lambda idx, a=a: float(a[idx].mean()), seed))
            for k, a in arrays.items()
        },
    }
    per_group: dict[str, dict[str, Any]] = {}
    disparities: dict[str, dict[str, float]] = {}
    for attribute, groups in examples.groups.items():
        indices = group_indices(groups)
        means = {g: {k: float(a[idx].mean()) for k, a in arrays.items()} for g, idx in indices.items()}
        for g, idx in indices.items():
            key = group_key(examples.attributes, attribute, g)
            per_group[key] = {**{k: entry(v) for k, v in means[g].items()}, "count": len(idx)}
        disparities[attribute] = {
            f"{k}{names.GROUP_GAP_SUFFIX}": max(m[k] for m in means.values())
            - min(m[k] for m in means.values())
            for k in arrays
        }
    report[names.FAIRNESS] = fairness_section(examples.attributes, examples.groups, disparities)
    if per_group:
        report[names.PER_GROUP] = per_group
    report[RECORDS_KEY] = {
        "kind": "mean",
        "section": section,
        "references": list(examples.references),
        "scores": {k: [float(x) for x in a] for k, a in arrays.items()},
    }
    return report


def finish(build: Callable[[], dict[str, Any]], output_dir: Path) -> int:
    try:
        report = build()
    except InputError as exc:
        for problem in exc.problems[:100]:
            print(f"error: {problem}", file=sys.stderr)
        print(f"{len(exc.problems)} errors; nothing written to {output_dir}", file=sys.stderr)
        return 1
    write_report(report, output_dir)
    headline = next(v for k, v in report.items() if k != names.METADATA)
    summary = ", ".join(
        f"{k}={v['value']:.4f}" for k, v in headline.items() if isinstance(v, dict) and "value" in v
    )
    print(f"{report[names.METADATA]['records']} records: {summary}")
    print(f"wrote {output_dir}/evaluation.json, evaluation.csv, evaluation.html")
    return 0


def _attributes(args: CommonArgs) -> AttributeSpec:
    return attribute_spec(args.protected_attributes, args.group_field)


def _paths(args: CommonArgs) -> tuple[Path, Path]:
    source = resolve_path(args.predictions, processing_input("predictions"), "--predictions")
    require_input(source, "--predictions")
    output = resolve_path(args.output_dir, processing_output("evaluation"), "--output-dir")
    return source, output


def run_classification(args: ClassificationArgs) -> int:
    source, output = _paths(args)

    def build() -> dict[str, Any]:
        reference_field, multilabel = (
            args.reference_field,
            args.multilabel or args.reference_field == "labels",
        )
        # Multi-label data is recognised without the flag: a 'labels' field, or a list in the reference field.
        first = next((i.value for i in read_records(source) if isinstance(i.value, dict)), {})
        if reference_field not in first and "labels" in first:
            reference_field, multilabel = "labels", True
        if isinstance(first.get(reference_field), list):
            multilabel = True
        parse = _as_label_list if multilabel else _as_label
        expected = "a list of labels" if multilabel else "a non-empty label"
        examples = load_examples(
            source, reference_field, args.prediction_field, _attributes(args), parse, parse, expected
        )
        return classification_report(examples, multilabel, args.positive_label, args.seed)

    return finish(build, output)


def run_summarization(args: SummarizationArgs) -> int:
    source, output = _paths(args)

    def build() -> dict[str, Any]:
        ex = load_examples(
            source,
            args.reference_field,
            args.prediction_field,
            _attributes(args),
            _as_text,
            _as_text,
            "a string",
        )
        scores = metrics.rouge_per_example(ex.references, ex.predictions)
        return per_example_report("summarization", names.SUMMARIZATION, ex, scores, args.seed)

    return finish(build, output)


def run_qa(args: QAArgs) -> int:
    source, output = _paths(args)

    def build() -> dict[str, Any]:
        ex = load_examples(
            source,
            args.reference_field,
            args.prediction_field,
            _attributes(args),
            _as_answers,
            _as_text,
            "answer text (answers: a non-empty list of strings)",
        )
        scores = metrics.qa_per_example(ex.references, ex.predictions)
        report = per_example_report("question_answering", names.QUESTION_ANSWERING, ex, scores, args.seed)
        both_empty = sum(
            1
            for golds, prediction in zip(ex.references, ex.predictions, strict=True)
            if not metrics.normalize_answer(prediction)
            and any(not metrics.normalize_answer(g) for g in golds)
        )
        report[names.METADATA]["empty_after_normalization"] = {
            **metrics.EMPTY_ANSWER_CONVENTION,
            "records_both_empty": both_empty,
        }
        return report

    return finish(build, output)
