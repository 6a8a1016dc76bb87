"""``model``: evaluate a trained model archive in one command (the pipeline's evaluation step).

    python -m training.evaluate model --task qa --model /opt/ml/processing/input/model/model.tar.gz \
        --data /opt/ml/processing/input/test/test.jsonl --output-dir /opt/ml/processing/output/evaluation \
        --work-dir /opt/ml/processing/work --device cpu --max-new-tokens 64

``--model`` is the ``model.tar.gz`` a SageMaker training job writes (extracted, with the launcher's checks,
into the work directory) or a model directory. ``perplexity`` runs the ``perplexity`` command on ``--data``;
the other tasks run ``predict`` into ``<work-dir>/predictions.jsonl``, then the task's command on that file.
Both write evaluation.json/.csv/.html to ``--output-dir``.

Test records in a conversation format (what ``prepare --target chat`` writes) carry no task reference
field: a record without one gets the assistant's answer to its first user turn (the turn ``predict``
prompts with) as the reference (``label``, ``summary``, or ``answers: [answer]``).

``--protected-attributes gender age_band`` measures fairness over those attributes, read from each test
record's ``metadata`` (where ``prepare --protected-attributes`` puts them; ``predict`` copies records whole
into the predictions); they are checked before the model is extracted, so a record without one fails in
seconds. The gate value is ``fairness_metrics.max_disparity.value`` (``training/evaluate/fairness.py``).
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from training.common.sagemaker import processing_input, processing_output, resolve_path
from training.data.formats import FieldError, to_conversation
from training.data.io import AtomicOutputs, Problem, dumps_record, read_records
from training.evaluate import paired
from training.evaluate.args import (
    ClassificationArgs,
    ModelArgs,
    PerplexityArgs,
    PredictArgs,
    QAArgs,
    SummarizationArgs,
)
from training.evaluate.fairness import GroupCollector, attribute_spec
from training.evaluate.model_eval import run_perplexity, run_predict
from training.evaluate.tasks import InputError, run_classification, run_qa, run_summarization
from training.run_module import ArchiveError, extract_archive

# Each prediction task: its command, and the reference field of its predictions records (with alternatives).
PREDICTION_TASKS: dict[str, tuple[type, Callable[[Any], int], tuple[str, ...]]] = {
    "classification": (ClassificationArgs, run_classification, ("label", "labels")),
    "summarization": (SummarizationArgs, run_summarization, ("summary",)),
    "qa": (QAArgs, run_qa, ("answers",)),
}


HEADLINE_METRIC = {
    "perplexity": "generation_metrics.perplexity",
    "classification": "multiclass_classification_metrics.accuracy",
    "summarization": "summarization_metrics.rougeL",
    "qa": "question_answering_metrics.token_f1",
}


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def model_directory(model: Path, work_dir: Path) -> Path:
    """The model directory: ``model`` itself, or ``model.tar.gz`` extracted into ``<work_dir>/model``."""
    if model.is_dir():
        return model
    target = work_dir / "model"
    if target.exists():
        shutil.rmtree(target)
    extract_archive(model, target)
    # A training job archives the model files at the root; accept one enclosing folder as well.
    entries = list(target.iterdir())
    has_config = any((target / name).is_file() for name in ("config.json", "adapter_config.json"))
    if not has_config and len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return target


def with_references(data: Path, reference_fields: tuple[str, ...], work_dir: Path) -> Path:
    """``data``, or a copy in ``work_dir`` where records without a reference field get the assistant's
    answer to their first user turn as one. Raises InputError naming every record that has neither."""
    name = reference_fields[0]
    derived = 0
    problems: list[Problem] = []
    target = work_dir / "test-with-references.jsonl"
    with AtomicOutputs() as out:
        handle = out.open(target)
        for item in read_records(data):
            if item.problem:
                problems.append(item.problem)
                continue
            record = item.value
            if not isinstance(record, dict):
                problems.append(Problem(item.location, None, "a record must be a JSON object"))
                continue
            if not any(f in record for f in reference_fields):
                try:
                    turns = to_conversation(record).turns
                except FieldError as exc:
                    problems.append(Problem(item.location, exc.field, exc.reason))
                    continue
                if len(turns) < 2:
                    problems.append(Problem(item.location, name, "is missing, and there is no answer to use"))
                    continue
                answer = turns[1][1]
                record = {**record, name: [answer] if name == "answers" else answer}
                derived += 1
            handle.write(dumps_record(record) + "\n")
        if problems:
            raise InputError(problems)  # inside the writer: the partial copy is discarded
    if not derived:
        target.unlink()
        return data
    print(f"{derived} records without '{name}': the assistant's answer is the reference")
    return target


def attribute_problems(data: Path, names: list[str]) -> list[Problem]:
    """What keeps fairness over ``names`` from being measured on ``data`` (the checks of the task commands,
    run before the model is loaded)."""
    collector = GroupCollector(attribute_spec(names, ""))
    for item in read_records(data):
        if item.problem is None and isinstance(item.value, dict):
            collector.add(item.location, item.value)
    collector.finish(str(data))
    return collector.problems


def _report(problems: list[Problem], output: Path) -> int:
    for problem in problems[:100]:
        print(f"error: {problem}", file=sys.stderr)
    print(f"{len(problems)} errors; nothing written to {output}", file=sys.stderr)
    return 1


def run_model(args: ModelArgs) -> int:
    model = resolve_path(args.model, processing_input("model") / "model.tar.gz", "--model")
    data = resolve_path(args.data, processing_input("test") / "test.jsonl", "--data")
    output = resolve_path(args.output_dir, processing_output("evaluation"), "--output-dir")
    if not model.exists():
        return _error(f"--model {model}: no such file or directory")
    if not data.exists():
        return _error(f"--data {data}: no such file or directory")
    if args.work_dir:
        work_dir = Path(args.work_dir)
        work_dir.mkdir(parents=True, exist_ok=True)
    else:
        work_dir = Path(tempfile.mkdtemp(prefix="evaluate-model-"))
    try:
        test = data
        # Checked before the model is extracted and loaded: bad test data fails in seconds.
        if args.task in PREDICTION_TASKS:
            try:
                test = with_references(data, PREDICTION_TASKS[args.task][2], work_dir)
            except InputError as exc:
                return _report(exc.problems, output)
        if args.protected_attributes:
            problems = attribute_problems(data, args.protected_attributes)
            if problems:
                return _report(problems, output)
        guards = _parse_guards(args.guards)
        if isinstance(guards, str):
            return _error(guards)
        if args.champion_model is not None:
            problem = _comparison_problem(args)
            if problem:
                return _error(problem)
        status = _evaluate_one(args, model, data, test, output, work_dir)
        if status or args.champion_model is None:
            return status
        return _compare_with_champion(args, data, test, output, work_dir, guards)
    finally:
        if not args.work_dir:
            shutil.rmtree(work_dir, ignore_errors=True)


def _evaluate_one(args: ModelArgs, model: Path, data: Path, test: Path, output: Path, work_dir: Path) -> int:
    """Evaluate one model archive or directory on the test records into ``output``."""
    work_dir.mkdir(parents=True, exist_ok=True)
    try:
        model_dir = model_directory(model, work_dir)
    except ArchiveError as exc:
        return _error(f"--model {exc}")
    if not any((model_dir / name).is_file() for name in ("config.json", "adapter_config.json")):
        where = "the archive" if model_dir != model else "the directory"
        return _error(f"--model {model}: not a model: {where} has no config.json or adapter_config.json")
    if args.task == "perplexity":
        return run_perplexity(
            PerplexityArgs(
                model_dir=str(model_dir),
                data=str(data),
                output_dir=str(output),
                device=args.device,
                protected_attributes=args.protected_attributes,
            )
        )
    args_type, run_task, _ = PREDICTION_TASKS[args.task]
    predictions = work_dir / "predictions.jsonl"
    status = run_predict(
        PredictArgs(
            model_dir=str(model_dir),
            input=str(test),
            output=str(predictions),
            max_new_tokens=args.max_new_tokens,
            device=args.device,
        )
    )
    if status:
        return status
    return run_task(
        args_type(
            predictions=str(predictions),
            output_dir=str(output),
            protected_attributes=args.protected_attributes,
        )
    )


def _comparison_problem(args: ModelArgs) -> str | None:
    """What is wrong with the comparison options (checked before any model is loaded)."""
    if args.primary_metric is not None and "." not in args.primary_metric:
        example = HEADLINE_METRIC[args.task]
        return f"--primary-metric {args.primary_metric!r}: allowed: section.metric, e.g. {example}"
    if not 0.5 <= args.confidence < 1:
        return f"--confidence {args.confidence}: allowed: 0.5 <= confidence < 1"
    if args.bootstrap_rounds < 100:
        return f"--bootstrap-rounds {args.bootstrap_rounds}: allowed: at least 100"
    if not math.isfinite(args.margin) or args.margin < 0:
        return f"--margin {args.margin}: allowed: a number >= 0 (in the primary metric's units)"
    return None


def _parse_guards(guards: list[str] | None) -> dict[str, float] | str:
    parsed: dict[str, float] = {}
    for text in guards or []:
        key, sep, value = text.partition("=")
        try:
            tolerance = float(value)
        except ValueError:
            tolerance = float("nan")
        if not sep or not key or "." not in key or not math.isfinite(tolerance) or tolerance < 0:
            example = "fairness_metrics.max_disparity=0.02"
            return f"--guards {text!r}: allowed: section.metric=<tolerance >= 0>, e.g. {example}"
        parsed[key] = tolerance
    return parsed


def _compare_with_champion(
    args: ModelArgs, data: Path, test: Path, output: Path, work_dir: Path, guards: dict[str, float]
) -> int:
    """Evaluate the champion on the same records, pair the two runs, decide, and record the result."""
    primary = args.primary_metric or HEADLINE_METRIC[args.task]
    candidate_report = json.loads((output / "evaluation.json").read_text(encoding="utf-8"))
    metrics = None
    if args.champion_present == "false":
        decision = paired.no_champion(args.champion_name or "none registered and approved")
    else:
        champion = _archive_in(Path(args.champion_model))
        if not champion.exists():
            return _error(f"--champion-model {champion}: no such file or directory")
        champion_output = work_dir / "champion-evaluation"
        status = _evaluate_one(args, champion, data, test, champion_output, work_dir / "champion")
        if status:
            print("error: the champion could not be evaluated (above); nothing compared", file=sys.stderr)
            return status
        champion_report = json.loads((champion_output / "evaluation.json").read_text(encoding="utf-8"))
        try:
            metrics = paired.paired_bootstrap(
                _records(output),
                _records(champion_output),
                rounds=args.bootstrap_rounds,
                confidence=args.confidence,
            )
            decision = paired.decide(
                metrics, primary, args.margin, guards, (candidate_report, champion_report)
            )
        except ValueError as exc:  # PairingError, or a confidence/rounds out of range
            return _error(str(exc))
    comparison = {
        "champion": args.champion_name or None,
        "champion_present": args.champion_present == "true",
        "primary_metric": primary,
        "margin": args.margin,
        "confidence": args.confidence,
        "bootstrap_rounds": args.bootstrap_rounds,
        "metrics": metrics or {},
        **decision,
    }
    candidate_report[paired.SECTION] = paired.gate_section(decision, metrics, primary)
    with AtomicOutputs() as out:
        out.open(output / paired.COMPARISON_FILE).write(
            json.dumps(comparison, indent=2, allow_nan=False) + "\n"
        )
        out.open(output / "evaluation.json").write(
            json.dumps(candidate_report, indent=2, allow_nan=False) + "\n"
        )
    verdict = "better than" if decision["better"] else "NOT better than"
    print(f"candidate is {verdict} the champion: " + "; ".join(decision["reasons"]))
    return 0


def _archive_in(path: Path) -> Path:
    """``path``, or the one model archive in the directory ``path`` (a processing input holds the registered
    version's ModelDataUrl object under its own file name)."""
    if not path.is_dir() or any((path / n).is_file() for n in ("config.json", "adapter_config.json")):
        return path
    archives = [p for p in path.iterdir() if p.is_file() and p.name.endswith((".tar.gz", ".tgz"))]
    return archives[0] if len(archives) == 1 else path


def _records(output: Path) -> dict[str, Any]:
    path = output / paired.RECORDS_FILE
    if not path.exists():
        raise paired.PairingError(f"{path}: missing (the task wrote no per-record data)")
    return json.loads(path.read_text(encoding="utf-8"))
