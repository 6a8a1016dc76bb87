"""``perplexity`` and ``predict``: evaluate a local model directory (what the training job writes).

``predict`` writes a predictions file in the same shape an endpoint or Bedrock batch job yields, so every
task report is computed from a predictions file, whichever way the predictions were made.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from training.common.args import model_directory
from training.common.sagemaker import processing_input, processing_output, resolve_path
from training.data.formats import FieldError, to_conversation
from training.data.io import AtomicOutputs, Problem, dumps_record, read_records, require_input
from training.evaluate import metric_names as names
from training.evaluate.args import PerplexityArgs, PredictArgs
from training.evaluate.fairness import GroupCollector, attribute_spec, fairness_section, group_key
from training.evaluate.metrics import bootstrap_std
from training.evaluate.report import RECORDS_KEY, entry
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


# A text needs two tokens to be scored: perplexity predicts each token from the ones before it.
TOO_SHORT = "fewer than two tokens: nothing to predict (perplexity predicts each token from the ones before)"
MAX_LISTED_SKIPS = 100


def perplexity_report(
    losses: list[Any],
    examples: Examples,
    seed: int,
    skipped: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Perplexity over every scored text, per group of each attribute, and which texts could not be scored
    and why.

    ``examples.groups`` has one label per text (scored or not) per attribute; ``skipped`` one ``{"index",
    "record", "tokens", "reason"}`` per text that was not scored. A group none of whose texts can be scored
    has no perplexity: its entry says why, and the group gap is over the groups that have one."""
    from training.evaluate.causal_lm import perplexity_from_losses

    skipped = skipped or []
    ppl, loss, tokens = perplexity_from_losses(losses)
    nll = np.array([x.nll for x in losses])
    count = np.array([x.tokens for x in losses])

    def sample_ppl(idx: np.ndarray) -> float:
        return float(np.exp(nll[idx].sum() / max(1, count[idx].sum())))

    texts = len(examples.references)
    reasons: dict[str, int] = {}
    for skip in skipped:
        reasons[skip["reason"]] = reasons.get(skip["reason"], 0) + 1
    meta = report_metadata("generation", examples)
    meta.update(
        texts_scored=texts - len(skipped),
        texts_skipped=len(skipped),
        skip_reasons=reasons,
        skipped=[
            {**{k: v for k, v in s.items() if k != "index"}, **_groups_of(examples, s["index"])}
            for s in skipped[:MAX_LISTED_SKIPS]
        ],
    )
    report: dict[str, Any] = {
        names.METADATA: meta,
        names.GENERATION: {
            names.PERPLEXITY: entry(ppl, bootstrap_std(len(losses), sample_ppl, seed)),
            names.LOSS: entry(loss),
            names.TOKENS: entry(tokens),
        },
    }
    all_groups: dict[str, dict[str, Any]] = {}
    disparities: dict[str, dict[str, float]] = {}
    details: dict[str, dict[str, Any]] = {}
    for attribute, groups in examples.groups.items():
        per_group = _perplexity_per_group(losses, groups, skipped)
        values = [v[names.PERPLEXITY]["value"] for v in per_group.values() if names.PERPLEXITY in v]
        gap = max(values) - min(values) if len(values) > 1 else float("nan")
        disparities[attribute] = {f"{names.PERPLEXITY}{names.GROUP_GAP_SUFFIX}": gap}
        not_scored = [g for g, v in per_group.items() if names.PERPLEXITY not in v]
        details[attribute] = {"groups_not_scored": not_scored} if not_scored else {}
        all_groups.update({group_key(examples.attributes, attribute, g): v for g, v in per_group.items()})
    report[names.FAIRNESS] = fairness_section(examples.attributes, examples.groups, disparities, details)
    if all_groups:
        report[names.PER_GROUP] = all_groups
    # Per text (windows summed), by its index in the test file: what a champion comparison pairs up.
    per_text: dict[int, list[float]] = {}
    for x in losses:
        acc = per_text.setdefault(int(x.index), [0.0, 0.0])
        acc[0] += float(x.nll)
        acc[1] += float(x.tokens)
    order = sorted(per_text)
    report[RECORDS_KEY] = {
        "kind": "perplexity",
        "texts": order,
        "nll": [per_text[i][0] for i in order],
        "tokens": [per_text[i][1] for i in order],
    }
    return report


def _groups_of(examples: Examples, index: int) -> dict[str, Any]:
    """What a skipped text's listing says of its groups: ``group`` for the legacy --group-field, as before;
    ``groups`` per attribute for --protected-attributes."""
    if not examples.groups:
        return {}
    if not examples.attributes.required:
        return {"group": next(iter(examples.groups.values()))[index]}
    return {"groups": {a: g[index] for a, g in examples.groups.items()}}


def _perplexity_per_group(
    losses: list[Any], groups: list[str], skipped: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    from training.evaluate.causal_lm import perplexity_from_losses

    skipped_per_group: dict[str, int] = {}
    for skip in skipped:
        g = groups[skip["index"]]
        skipped_per_group[g] = skipped_per_group.get(g, 0) + 1
    per_group: dict[str, dict[str, Any]] = {}
    for g in sorted(set(groups)):
        group_losses = [x for x in losses if groups[x.index] == g]
        counts = {
            "count": groups.count(g),
            "texts_scored": groups.count(g) - skipped_per_group.get(g, 0),
            "texts_skipped": skipped_per_group.get(g, 0),
        }
        if not group_losses:
            per_group[g] = {**counts, "not_scored": f"every text of this group has {TOO_SHORT}"}
            continue
        g_ppl, g_loss, g_tokens = perplexity_from_losses(group_losses)
        per_group[g] = {
            names.PERPLEXITY: entry(g_ppl),
            names.LOSS: entry(g_loss),
            names.TOKENS: entry(g_tokens),
            **counts,
        }
    return per_group


def run_perplexity(args: PerplexityArgs) -> int:
    from training.evaluate.causal_lm import load_model, token_losses, tokenize

    model_dir = resolve_path(args.model_dir, processing_input("model"), "--model-dir")
    data = resolve_path(args.data, processing_input("data"), "--data")
    require_input(data, "--data")
    model_directory(model_dir, "--model-dir")
    output = resolve_path(args.output_dir, processing_output("evaluation"), "--output-dir")

    attributes = attribute_spec(args.protected_attributes, args.group_field)

    def build() -> dict[str, Any]:
        records = _read(data)
        texts, locations, problems = [], [], []
        collector = GroupCollector(attributes)
        for location, record in records:
            collector.add(location, record)
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
            locations.append(location)
        groups = collector.finish(str(data))
        problems += collector.problems
        if problems:
            raise InputError(problems)
        model, tokenizer = load_model(model_dir, args.device)
        token_ids = tokenize(tokenizer, texts)
        skipped = [
            {"index": i, "record": str(locations[i]), "tokens": len(ids), "reason": TOO_SHORT}
            for i, ids in enumerate(token_ids)
            if len(ids) < 2
        ]
        if len(skipped) == len(texts):
            raise InputError(
                [
                    Problem(
                        None,
                        args.text_field,
                        f"no text can be scored: all {len(texts)} texts have {TOO_SHORT}",
                    )
                ]
            )
        for skip in skipped[:10]:
            print(
                f"warning: {skip['record']}: not scored: {skip['tokens']} token(s), {TOO_SHORT}",
                file=sys.stderr,
            )
        if skipped:
            print(
                f"warning: {len(skipped)} of {len(texts)} texts not scored (see metadata.skipped)",
                file=sys.stderr,
            )
        losses = token_losses(model, tokenizer, token_ids, args.batch_size, args.max_length)
        examples = Examples(texts, texts, groups, str(data), attributes)
        return perplexity_report(losses, examples, args.seed, skipped)

    return finish(build, output)


def run_predict(args: PredictArgs) -> int:
    from training.evaluate.causal_lm import generate, load_model

    model_dir = resolve_path(args.model_dir, processing_input("model"), "--model-dir")
    source = resolve_path(args.input, processing_input("data"), "--input")
    output = resolve_path(args.output, processing_output("predictions") / "predictions.jsonl", "--output")
    require_input(source, "--input")
    model_directory(model_dir, "--model-dir")
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
