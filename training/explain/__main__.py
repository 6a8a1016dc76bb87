"""Explain a trained model's answers: token-level attributions for a seeded sample of test prompts.

    python -m training.explain --model model.tar.gz --data test.jsonl --output-dir explanations \
        --samples 8 --seed 42 --max-new-tokens 32 --method occlusion --device cpu --work-dir work

--model is what ``python -m training.evaluate model`` takes: a training job's model.tar.gz (extracted, with
the launcher's checks, into <work-dir>/model) or a model or PEFT adapter directory. Each prompt is the one
``evaluate predict`` sends (the --prompt-field, else the system prompt and first user turn); the answer
explained is the model's greedy answer to it, or with --answer reference the record's assistant answer.
Attribution methods are described in training/explain/attribution.py. Writes explanations.json and
explanations.html to --output-dir, both or neither; a missing or unusable input is one line on stderr and
exit status 2, with nothing written.

Inside a SageMaker Processing job, paths default to /opt/ml/processing/input/model/model.tar.gz,
/opt/ml/processing/input/test/test.jsonl and /opt/ml/processing/output/explanations.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.common.args import USAGE_EXIT, UsageError, existing_path, model_directory, parse_into
from training.common.sagemaker import processing_input, processing_output, resolve_path
from training.data.io import Problem, require_input
from training.evaluate.args import MODEL_HELP, TEST_DATA_HELP
from training.explain.attribution import METHODS
from training.explain.prompts import ANSWERS, NoPrompts, Prompt, read_prompts, sample, token_texts
from training.explain.report import MAX_LISTED_SKIPS, summary, write_explanations
from training.run_module import ArchiveError

PROG = "python -m training.explain"


@dataclass
class ExplainArgs:
    """Token-level attributions of a trained model's answers for a seeded sample of test prompts."""

    model: str | None = field(default=None, metadata={"help": MODEL_HELP})
    data: str | None = field(default=None, metadata={"help": TEST_DATA_HELP})
    output_dir: str | None = field(
        default=None,
        metadata={"help": "Where explanations.json/.html go (default: output/explanations)"},
    )
    work_dir: str | None = field(
        default=None,
        metadata={"help": "Holds the extracted model (default: a temporary directory, removed afterwards)"},
    )
    samples: int = field(default=8, metadata={"help": "Prompts explained, drawn at random with --seed"})
    seed: int = field(default=42, metadata={"help": "Seed of the sample"})
    method: str = field(default="occlusion", metadata={"help": "Attribution method", "choices": METHODS})
    answer: str = field(
        default="generated",
        metadata={
            "help": "Explain the model's greedy answer, or the record's reference (assistant) answer",
            "choices": ANSWERS,
        },
    )
    max_new_tokens: int = field(default=32, metadata={"help": "Tokens generated per prompt (generated)"})
    prompt_field: str = field(
        default="prompt", metadata={"help": "Field with the model input; else the record's first user turn"}
    )
    steps: int = field(default=16, metadata={"help": "Integration steps (integrated-gradients)"})
    batch_size: int = field(
        default=16, metadata={"help": "Occluded copies or integration steps per forward pass"}
    )
    device: str = field(default="cpu", metadata={"help": "torch device, e.g. cuda"})


def _check_counts(args: ExplainArgs) -> None:
    for flag, value in (
        ("--samples", args.samples),
        ("--max-new-tokens", args.max_new_tokens),
        ("--steps", args.steps),
        ("--batch-size", args.batch_size),
    ):
        if value < 1:
            raise UsageError(f"{flag} {value}: must be at least 1")


def _tokenize(
    prompts: list[Prompt], tokenizer: Any, answer: str, max_new_tokens: int, limit: int | None
) -> tuple[list[Prompt], list[Problem]]:
    """Prompts with their tokens (and reference answer ids); a prompt that cannot be explained is skipped."""
    usable, skipped = [], []
    for prompt in prompts:
        prompt.ids, prompt.tokens = token_texts(tokenizer, prompt.text)
        if answer == "reference":
            prompt.answer_ids = list(tokenizer(prompt.reference, add_special_tokens=False)["input_ids"])
        answer_length = max_new_tokens if prompt.answer_ids is None else len(prompt.answer_ids)
        if not prompt.ids:
            skipped.append(Problem(prompt.location, None, "the prompt has no tokens"))
        elif prompt.answer_ids is not None and not prompt.answer_ids:
            skipped.append(Problem(prompt.location, None, "the reference answer has no tokens"))
        elif limit is not None and len(prompt.ids) + answer_length > limit:
            skipped.append(
                Problem(
                    prompt.location,
                    None,
                    f"{len(prompt.ids)} prompt tokens + {answer_length} answer tokens exceed the model's "
                    f"{limit} positions",
                )
            )
        else:
            usable.append(prompt)
    return usable, skipped


def _explain(prompt: Prompt, lm: Any, tokenizer: Any, args: ExplainArgs, model_name: str) -> dict[str, Any]:
    from training.explain.attribution import attribute, baseline_token_id, greedy_answer, normalized

    assert prompt.ids is not None and prompt.tokens is not None
    answer_ids = prompt.answer_ids or greedy_answer(lm, tokenizer, prompt.ids, args.max_new_tokens)
    result = attribute(
        args.method, lm, prompt.ids, answer_ids, baseline_token_id(tokenizer), args.steps, args.batch_size
    )
    answer = tokenizer.decode(answer_ids, skip_special_tokens=True).strip() or tokenizer.decode(answer_ids)
    item: dict[str, Any] = {
        "record": str(prompt.location),
        "prompt": prompt.text,
        "tokens": prompt.tokens,
        "tokenIds": prompt.ids,
        "attributions": result.attributions,
        "scores": normalized(result.attributions),
        "answer": answer,
        "answerTokens": [tokenizer.decode([t]) for t in answer_ids],
        "answerSource": args.answer,
        "answerLogProb": result.answer_log_prob,
        "method": args.method,
        "model": model_name,
    }
    if result.convergence_delta is not None:
        item.update(baselineLogProb=result.baseline_log_prob, convergenceDelta=result.convergence_delta)
    return item


def _report_problems(message: str, problems: list[Problem], output: Path) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    for problem in problems[:10]:
        print(f"  {problem}", file=sys.stderr)
    if len(problems) > 10:
        print(f"  ... and {len(problems) - 10} more", file=sys.stderr)
    print(f"nothing written to {output}", file=sys.stderr)
    return USAGE_EXIT


def run(args: ExplainArgs) -> int:
    started = time.perf_counter()
    model = resolve_path(args.model, processing_input("model") / "model.tar.gz", "--model")
    data = resolve_path(args.data, processing_input("test") / "test.jsonl", "--data")
    output = resolve_path(args.output_dir, processing_output("explanations"), "--output-dir")
    _check_counts(args)
    existing_path(model, "--model")
    require_input(data, "--data")
    # Read before the model is extracted and loaded: bad test data fails in seconds.
    try:
        prompts, skipped = read_prompts(data, args.prompt_field, args.answer)
    except NoPrompts as exc:
        return _report_problems(f"--data {exc}", exc.problems, output)
    # Imported only now: trained_model loads numpy, pandas and scikit-learn (seconds), which parsing the
    # arguments, --help and a usage error do not need.
    from training.evaluate.trained_model import model_directory as unpacked_model

    work_dir = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="explain-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    try:
        try:
            model_dir = unpacked_model(model, work_dir)
        except ArchiveError as exc:
            raise UsageError(f"--model {exc}") from exc
        model_directory(model_dir, "--model")
        from training.evaluate.causal_lm import load_model
        from training.explain.attribution import baseline_token_id, context_length

        lm, tokenizer = load_model(model_dir, args.device)
        usable, too_long = _tokenize(prompts, tokenizer, args.answer, args.max_new_tokens, context_length(lm))
        unreadable = len(skipped)
        # In file order, whichever check skipped them.
        skipped = sorted(skipped + too_long, key=lambda p: (p.location.path, p.location.record))
        if not usable:
            return _report_problems(f"--data {data}: no record can be explained", skipped, output)
        for problem in skipped[:10]:
            print(f"warning: skipped {problem}", file=sys.stderr)
        if skipped:
            print(f"warning: {len(skipped)} records skipped (see summary.skipped)", file=sys.stderr)
        chosen = sample(usable, args.samples, args.seed)
        explaining = time.perf_counter()
        explanations = [_explain(p, lm, tokenizer, args, str(args.model or model)) for p in chosen]
        attribution_seconds = time.perf_counter() - explaining
    finally:
        if not args.work_dir:
            shutil.rmtree(work_dir, ignore_errors=True)
    baseline_id = baseline_token_id(tokenizer)
    report = {
        "summary": summary(
            explanations,
            method=args.method,
            model=str(args.model or model),
            data=str(data),
            answerSource=args.answer,
            seed=args.seed,
            records=len(prompts) + unreadable,
            skippedRecords=len(skipped),
            skipped=[p.as_dict() for p in skipped[:MAX_LISTED_SKIPS]],
            baselineToken=tokenizer.convert_ids_to_tokens(baseline_id),
            **({"steps": args.steps} if args.method == "integrated-gradients" else {}),
            maxNewTokens=args.max_new_tokens if args.answer == "generated" else None,
            device=args.device,
            createdAt=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            # Generation and attribution alone; runtimeSeconds adds reading, extracting and loading the model.
            attributionSeconds=round(attribution_seconds, 3),
            runtimeSeconds=round(time.perf_counter() - started, 3),
        ),
        "explanations": explanations,
    }
    write_explanations(report, output)
    top = ", ".join(repr(t["token"]) for t in report["summary"]["topTokens"][:5])
    print(
        f"explained {len(explanations)} of {len(usable)} prompts ({args.method}) in "
        f"{attribution_seconds:.2f} s ({report['summary']['runtimeSeconds']:.1f} s in all); top tokens: {top}"
    )
    print(f"wrote {output}/explanations.json, explanations.html")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_into(ExplainArgs, sys.argv[1:] if argv is None else argv, prog=PROG)
    try:
        return run(args)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return USAGE_EXIT


if __name__ == "__main__":
    sys.exit(main())
