"""The prompts to explain: read from test records as ``evaluate predict`` builds them, tokenized, sampled.

A record that yields no prompt (or no reference answer, when the reference is explained) is skipped and
counted, with its location and reason; only when no record is left is that an error.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.data.formats import FieldError, to_conversation
from training.data.io import Location, Problem, read_records

ANSWERS = ("generated", "reference")


@dataclass
class Prompt:
    """One record's prompt (and its reference answer when one is explained), then its tokens."""

    location: Location
    text: str
    reference: str | None = None
    ids: list[int] | None = None
    tokens: list[str] | None = None
    answer_ids: list[int] | None = None


class NoPrompts(Exception):
    """No record can be explained; ``problems`` says why for each."""

    def __init__(self, message: str, problems: list[Problem]) -> None:
        super().__init__(message)
        self.problems = problems


def read_prompts(path: Path, prompt_field: str, answer: str) -> tuple[list[Prompt], list[Problem]]:
    """The prompt of every record of ``path`` (and its reference answer when ``answer`` is ``reference``),
    and a Problem for each record skipped. Raises NoPrompts when the file has no record or none is usable."""
    # Imported here, not at the top: model_eval loads numpy, pandas and scikit-learn (seconds), and the
    # explain CLI imports this module (for ANSWERS) before it has parsed its arguments.
    from training.evaluate.model_eval import prompt_of

    prompts: list[Prompt] = []
    skipped: list[Problem] = []
    for item in read_records(path):
        if item.problem:
            skipped.append(item.problem)
            continue
        record = item.value
        if not isinstance(record, dict):
            skipped.append(Problem(item.location, None, "a record must be a JSON object"))
            continue
        try:
            text = prompt_of(record, prompt_field)
        except FieldError as exc:
            skipped.append(Problem(item.location, exc.field or prompt_field, exc.reason))
            continue
        if not text.strip():
            skipped.append(Problem(item.location, prompt_field, f"is empty: {text!r:.40}"))
            continue
        reference = None
        if answer == "reference":
            try:
                reference = _reference(record)
            except FieldError as exc:
                reason = f"no reference answer to explain: {exc.reason}"
                skipped.append(Problem(item.location, exc.field, reason))
                continue
        prompts.append(Prompt(item.location, text, reference))
    if not prompts and not skipped:
        raise NoPrompts(f"{path}: no records", [])
    if not prompts:
        raise NoPrompts(
            f"{path}: none of its {len(skipped)} records has a prompt (field '{prompt_field}', or a "
            "conversation's first user turn)"
            + (" and a reference answer (the assistant's answer to it)" if answer == "reference" else ""),
            skipped,
        )
    return prompts, skipped


def _reference(record: dict[str, Any]) -> str:
    """The assistant's answer to the first user turn: the reference ``evaluate model`` scores against."""
    turns = to_conversation(record).turns
    if len(turns) < 2:
        raise FieldError("messages", "has no assistant answer to use as the reference")
    return turns[1][1]


def token_texts(tokenizer: Any, text: str) -> tuple[list[int], list[str]]:
    """Token ids of ``text`` (no special tokens, as ``predict`` prompts) and each token's text.

    With a fast tokenizer each token's text is its slice of ``text``, including the whitespace before it, so
    the texts join back into the prompt (the heat map shows the prompt as written). Otherwise, or where
    offsets overlap (several byte-level tokens of one character), each token is decoded on its own."""
    try:
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = [tuple(span) for span in encoded["offset_mapping"]]
    except (NotImplementedError, KeyError, TypeError):
        encoded, offsets = tokenizer(text, add_special_tokens=False), []
    ids = list(encoded["input_ids"])
    ends = [end for _, end in offsets]
    if len(offsets) == len(ids) and all(b > a for a, b in zip([0, *ends], ends, strict=False)):
        starts = [0, *ends[:-1]]
        return ids, [text[start:end] for start, end in zip(starts, ends, strict=True)]
    return ids, [tokenizer.decode([token_id]) for token_id in ids]


def sample(items: list[Any], size: int, seed: int) -> list[Any]:
    """``size`` items drawn without replacement with ``random.Random(seed)``, kept in file order (all of them
    when there are fewer)."""
    if len(items) <= size:
        return list(items)
    chosen = sorted(random.Random(seed).sample(range(len(items)), size))
    return [items[i] for i in chosen]
