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

import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.common.sagemaker import processing_input, processing_output, resolve_path
from training.data.formats import FieldError, to_conversation
from training.data.io import AtomicOutputs, Problem, dumps_record, read_records
from training.evaluate.fairness import GroupCollector, attribute_spec
from training.evaluate.model_eval import PerplexityArgs, PredictArgs, run_perplexity, run_predict
from training.evaluate.tasks import (
    PROTECTED_ATTRIBUTES_HELP,
    ClassificationArgs,
    InputError,
    QAArgs,
    SummarizationArgs,
    run_classification,
    run_qa,
    run_summarization,
)
from training.run_module import ArchiveError, extract_archive

MODEL_TASKS = ("perplexity", "classification", "summarization", "qa")
# Each prediction task: its command, and the reference field of its predictions records (with alternatives).
PREDICTION_TASKS: dict[str, tuple[type, Callable[[Any], int], tuple[str, ...]]] = {
    "classification": (ClassificationArgs, run_classification, ("label", "labels")),
    "summarization": (SummarizationArgs, run_summarization, ("summary",)),
    "qa": (QAArgs, run_qa, ("answers",)),
}


@dataclass
class ModelArgs:
    """Evaluate a trained model (model.tar.gz or directory) on test data: perplexity, or predict + metrics.

    perplexity runs the perplexity command on --data; classification, summarization and qa run predict into
    <work-dir>/predictions.jsonl, then the task's metrics. A test record without the task's reference field
    (label, summary, answers), e.g. a chat record, gets the assistant's answer to its first user turn.
    """

    task: str = field(metadata={"help": "What to measure", "choices": MODEL_TASKS})
    model: str | None = field(
        default=None,
        metadata={
            "help": "model.tar.gz of a training job, or a model directory "
            "(default in a Processing job: input/model/model.tar.gz)"
        },
    )
    data: str | None = field(
        default=None,
        metadata={"help": "Test records (default in a Processing job: input/test/test.jsonl)"},
    )
    output_dir: str | None = field(
        default=None, metadata={"help": "Where evaluation.json/.csv/.html go (default: output/evaluation)"}
    )
    work_dir: str | None = field(
        default=None,
        metadata={
            "help": "Holds the extracted model and predictions.jsonl (default: a temporary directory, "
            "removed afterwards)"
        },
    )
    device: str = field(default="cpu", metadata={"help": "torch device, e.g. cuda"})
    max_new_tokens: int = field(default=64, metadata={"help": "Tokens generated per record (not perplexity)"})
    protected_attributes: list[str] | None = field(default=None, metadata={"help": PROTECTED_ATTRIBUTES_HELP})


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
    finally:
        if not args.work_dir:
            shutil.rmtree(work_dir, ignore_errors=True)
