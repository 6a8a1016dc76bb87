"""``perplexity`` and ``predict``: evaluate a local model directory (what the training job writes).

``predict`` writes a predictions file in the same shape an endpoint or Bedrock batch job yields, so every
task report is computed from a predictions file, whichever way the predictions were made.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from training.common.sagemaker import processing_input, processing_output, resolve_path
from training.data.formats import FieldError, to_conversation
from training.data.io import AtomicOutputs, Problem, dumps_record, read_records
from training.evaluate import metric_names as names
from training.evaluate.metrics import bootstrap_std
from training.evaluate.report import entry
from training.evaluate.tasks import Examples, InputError, finish, report_metadata


def _conversation_text(record: dict[str, Any]) -> str:
    conv = to_conversation(record)
    parts = [conv.system] if conv.system else []
    return "\n".join(parts + [text for _, text in conv.turns])


def prompt_of(record: dict[str, Any], prompt_field: str) -> str:
    """The model input: ``prompt_field`` if present, else the first user turn the record means."""
    if isinstance(record.get(prompt_field), str):
        return record[prompt_field]
    conv = to_conversation(record)
    return f"{conv.system}\n\n{conv.turns[0][1]}" if conv.system else conv.turns[0][1]


def _read(path: Path) -> list[tuple[Any, dict[str, Any]]]:
    problems, records = [], []
    for item in read_records(path):
        if item.problem:
            problems.append(item.problem)
        elif not isinstance(item.value, dict):
            problems.append(Problem(item.location, None, "a record must be a JSON object"))
        else:
            records.append((item.location, item.value))
    if problems:
        raise InputError(problems)
    return records


@dataclass
class PerplexityArgs:
    """Perplexity of a local causal LM on held-out text, over total token counts."""

    model_dir: str | None = field(
        default=None,
        metadata={"help": "Local model or adapter directory (default in a Processing job: input/model)"},
    )
    data: str | None = field(
        default=None, metadata={"help": "Held-out JSONL/JSON/CSV (default in a Processing job: input/data)"}
    )
    output_dir: str | None = field(
        default=None, metadata={"help": "Where evaluation.json/.csv/.html go (default: output/evaluation)"}
    )
    text_field: str = field(
        default="text",
        metadata={"help": "Field with the text; records without it use their conversation text"},
    )
    group_field: str = field(default="group", metadata={"help": "Group attribute for per-group perplexity"})
    batch_size: int = field(default=8, metadata={"help": "Windows scored per forward pass"})
    max_length: int = field(
        default=1024, metadata={"help": "Tokens per window; longer texts are cut into windows"}
    )
    device: str = field(default="cpu", metadata={"help": "torch device, e.g. cuda"})
    seed: int = field(default=0, metadata={"help": "Seed for the standard-deviation resampling"})


def perplexity_report(
    losses: list[Any], groups: list[str] | None, examples: Examples, seed: int
) -> dict[str, Any]:
    from training.evaluate.causal_lm import perplexity_from_losses

    ppl, loss, tokens = perplexity_from_losses(losses)
    nll = np.array([x.nll for x in losses])
    count = np.array([x.tokens for x in losses])

    def sample_ppl(idx: np.ndarray) -> float:
        return float(np.exp(nll[idx].sum() / max(1, count[idx].sum())))

    report: dict[str, Any] = {
        names.METADATA: report_metadata("generation", examples),
        names.GENERATION: {
            names.PERPLEXITY: entry(ppl, bootstrap_std(len(losses), sample_ppl, seed)),
            names.LOSS: entry(loss),
            names.TOKENS: entry(tokens),
        },
    }
    if groups is not None:
        per_group = {}
        for g in sorted(set(groups)):
            g_ppl, g_loss, g_tokens = perplexity_from_losses([x for x in losses if groups[x.index] == g])
            per_group[g] = {
                names.PERPLEXITY: entry(g_ppl),
                names.LOSS: entry(g_loss),
                names.TOKENS: entry(g_tokens),
                "count": groups.count(g),
            }
        values = [v[names.PERPLEXITY]["value"] for v in per_group.values()]
        report[names.FAIRNESS] = {
            f"{names.PERPLEXITY}{names.GROUP_GAP_SUFFIX}": entry(max(values) - min(values))
        }
        report[names.PER_GROUP] = per_group
    return report


def run_perplexity(args: PerplexityArgs) -> int:
    from training.evaluate.causal_lm import load_model, sequence_losses

    model_dir = resolve_path(args.model_dir, processing_input("model"), "--model-dir")
    data = resolve_path(args.data, processing_input("data"), "--data")
    output = resolve_path(args.output_dir, processing_output("evaluation"), "--output-dir")

    def build() -> dict[str, Any]:
        records = _read(data)
        texts, groups, problems = [], [], []
        for location, record in records:
            try:
                text = record[args.text_field] if args.text_field in record else _conversation_text(record)
            except FieldError as exc:
                problems.append(Problem(location, exc.field, exc.reason))
                continue
            if not isinstance(text, str) or not text.strip():
                problems.append(
                    Problem(location, args.text_field, f"must be non-empty text, got {text!r:.40}")
                )
                continue
            texts.append(text)
            groups.append(record.get(args.group_field))
        all_groups = [record.get(args.group_field) for _, record in records]
        if any(g is not None for g in all_groups) and None in all_groups:
            location = records[all_groups.index(None)][0]
            problems.append(Problem(location, args.group_field, "is missing but other records have it"))
        if problems:
            raise InputError(problems)
        model, tokenizer = load_model(model_dir, args.device)
        losses = sequence_losses(model, tokenizer, texts, args.batch_size, args.max_length)
        has_groups = groups and groups[0] is not None
        examples = Examples(texts, texts, None, str(data))
        return perplexity_report(
            losses, [str(g) for g in groups] if has_groups else None, examples, args.seed
        )

    return finish(build, output)


@dataclass
class PredictArgs:
    """Generate predictions with a local causal LM into a predictions file for the task reports."""

    model_dir: str | None = field(
        default=None,
        metadata={"help": "Local model or adapter directory (default in a Processing job: input/model)"},
    )
    input: str | None = field(default=None, metadata={"help": "Records to predict (default: input/data)"})
    output: str | None = field(
        default=None, metadata={"help": "Predictions JSONL (default: output/predictions/predictions.jsonl)"}
    )
    prompt_field: str = field(
        default="prompt", metadata={"help": "Field with the model input; else the record's first user turn"}
    )
    prediction_field: str = field(
        default="prediction", metadata={"help": "Field the generated text goes into"}
    )
    max_new_tokens: int = field(default=64, metadata={"help": "Tokens generated per record"})
    device: str = field(default="cpu", metadata={"help": "torch device, e.g. cuda"})


def run_predict(args: PredictArgs) -> int:
    from training.evaluate.causal_lm import generate, load_model

    model_dir = resolve_path(args.model_dir, processing_input("model"), "--model-dir")
    source = resolve_path(args.input, processing_input("data"), "--input")
    output = resolve_path(args.output, processing_output("predictions") / "predictions.jsonl", "--output")
    try:
        records = _read(source)
        prompts, problems = [], []
        for location, record in records:
            try:
                prompts.append(prompt_of(record, args.prompt_field))
            except FieldError as exc:
                problems.append(Problem(location, exc.field or args.prompt_field, exc.reason))
        if problems:
            raise InputError(problems)
    except InputError as exc:
        for problem in exc.problems[:100]:
            print(f"error: {problem}", file=sys.stderr)
        print(f"{len(exc.problems)} errors; nothing written to {output}", file=sys.stderr)
        return 1
    model, tokenizer = load_model(model_dir, args.device)
    predictions = generate(model, tokenizer, prompts, args.max_new_tokens)
    with AtomicOutputs() as out:
        handle = out.open(output)
        for (_, record), prediction in zip(records, predictions, strict=True):
            handle.write(dumps_record({**record, args.prediction_field: prediction}) + "\n")
    print(f"wrote {len(predictions)} predictions to {output}")
    return 0
