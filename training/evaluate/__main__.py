"""Evaluation CLI: task metrics, fairness and reports from a predictions file; comparison of reports.

    python -m training.evaluate classification --predictions preds.jsonl --output-dir eval \
        --positive-label pos
    python -m training.evaluate summarization --predictions preds.jsonl --output-dir eval
    python -m training.evaluate qa --predictions preds.jsonl --output-dir eval
    python -m training.evaluate perplexity --model-dir model --data heldout.jsonl --output-dir eval
    python -m training.evaluate predict --model-dir model --input test.jsonl --output preds.jsonl
    python -m training.evaluate model --task qa --model model.tar.gz --data test.jsonl --output-dir eval \
        --work-dir work --device cpu --max-new-tokens 64 --protected-attributes gender age_band
    python -m training.evaluate compare --reports prod/evaluation.json cand/evaluation.json \
        --names production candidate --output-dir comparison

model (the pipeline's evaluation step) takes a training job's model.tar.gz (or a model directory) and runs
perplexity, or predict then the task's metrics, in one command.

--protected-attributes (every task) measures fairness per attribute; fairness_metrics.max_disparity.value,
the largest disparity over them, is always in evaluation.json (0.0 with measured: false when nothing was
measured) for the pipeline's quality gate. See training/evaluate/fairness.py.

Inside a SageMaker Processing job, paths default to /opt/ml/processing/input/predictions and
/opt/ml/processing/output/evaluation.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from training.common.args import UsageError, existing_path, run_subcommands
from training.common.sagemaker import processing_output, resolve_path
from training.evaluate.args import (
    ClassificationArgs,
    ModelArgs,
    PerplexityArgs,
    PredictArgs,
    QAArgs,
    SummarizationArgs,
)
from training.evaluate.report import compare, write_comparison


@dataclass
class CompareArgs:
    """Compare two or more evaluation.json reports side by side, with deltas against the first."""

    reports: list[str] = field(metadata={"help": "evaluation.json files; the first is the baseline"})
    names: list[str] | None = field(
        default=None, metadata={"help": "A label per report (default: report1...)"}
    )
    output_dir: str | None = field(default=None, metadata={"help": "Where comparison.json/.csv/.html go"})


def _read_report(path: str) -> dict:
    text = existing_path(path, "--reports", "file").read_text(encoding="utf-8")
    try:
        report = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--reports {path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(report, dict):
        raise UsageError(f"--reports {path}: not an evaluation.json report (a JSON object)")
    return report


def run_compare(args: CompareArgs) -> int:
    if len(args.reports) < 2:
        print("error: --reports needs at least two evaluation.json files", file=sys.stderr)
        return 2
    labels = args.names or [f"report{i + 1}" for i in range(len(args.reports))]
    if len(labels) != len(args.reports) or len(set(labels)) != len(labels):
        print(f"error: --names needs {len(args.reports)} distinct labels, got {labels}", file=sys.stderr)
        return 2
    output = resolve_path(args.output_dir, processing_output("comparison"), "--output-dir")
    reports = [_read_report(p) for p in args.reports]
    comparison = compare(reports, labels)
    write_comparison(comparison, output)
    for key, m in comparison["metrics"].items():
        deltas = "  ".join(f"Δ{k}={v:+.4f}" for k, v in m["delta"].items() if v is not None)
        print(f"{key}: {deltas}")
    return 0


def _deferred(module: str, name: str) -> Callable[[Any], int]:
    """The handler ``module.name``, imported only when its command runs: the task modules load numpy, pandas
    and scikit-learn (seconds), which parsing the arguments, --help and a usage error do not need."""

    def handler(args: Any) -> int:
        return getattr(importlib.import_module(module), name)(args)

    return handler


COMMANDS = {
    "classification": (ClassificationArgs, _deferred("training.evaluate.tasks", "run_classification")),
    "summarization": (SummarizationArgs, _deferred("training.evaluate.tasks", "run_summarization")),
    "qa": (QAArgs, _deferred("training.evaluate.tasks", "run_qa")),
    "perplexity": (PerplexityArgs, _deferred("training.evaluate.model_eval", "run_perplexity")),
    "predict": (PredictArgs, _deferred("training.evaluate.model_eval", "run_predict")),
    "model": (ModelArgs, _deferred("training.evaluate.trained_model", "run_model")),
    "compare": (CompareArgs, run_compare),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return run_subcommands("python -m training.evaluate", __doc__.splitlines()[0], COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
