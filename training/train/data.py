"""Records -> token rows: chat template or plain prompt/completion, completion-only labels, packing.

Every record is read with ``training.data.io`` and reduced to its meaning with ``training.data.formats`` (the
same readers and shapes as ``python -m training.data``), then rendered as text segments that are either
prompt (label -100) or completion (trained on). Segments are tokenized one by one, so the token boundary
between prompt and completion is exactly where generation starts at inference time.

Packing concatenates examples into rows of at most ``max_seq_length`` tokens. ``position_ids`` restart at 0
for every example; with no attention mask, transformers turns those restarts into a block-diagonal causal
mask (sdpa/eager) or variable-length kernels (flash attention), so no example attends to another. The first
label of every example is -100, so no loss crosses a boundary either.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import TemplateError

from training.data.formats import FieldError, to_conversation, write_prompt_completion
from training.data.io import input_files, read_records

IGNORE_INDEX = -100

# Used, and saved with the tokenizer so serving renders prompts the same way, when the base model's tokenizer
# has no chat template of its own. Each turn is "<|role|>\n" + text + "\n"; assistant turns end with EOS.
# Newlines are Jinja string literals: transformers renders templates with trim_blocks, which would eat a
# newline written right after a block tag.
FALLBACK_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] }}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}"
    "{{ '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)


class DataError(ValueError):
    """A record that cannot become a training example: where it is and which field is wrong."""


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]


@dataclass
class DataStats:
    records: int = 0
    truncated: int = 0
    dropped_no_target: int = 0
    tokens: int = 0
    target_tokens: int = 0
    files: dict[str, str] = field(default_factory=dict)  # path -> sha256


def ensure_chat_template(tokenizer: Any) -> bool:
    """Give ``tokenizer`` the fallback template when it has none; True when the fallback was set."""
    if getattr(tokenizer, "chat_template", None):
        return False
    tokenizer.chat_template = FALLBACK_CHAT_TEMPLATE
    return True


def chat_segments(tokenizer: Any, messages: list[dict[str, str]]) -> list[tuple[str, bool]]:
    """The rendered conversation cut into (text, is_completion) pieces, one completion per assistant turn."""
    segments: list[tuple[str, bool]] = []
    done = ""
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        try:
            prompt = tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True)
            full = tokenizer.apply_chat_template(messages[: i + 1], tokenize=False)
        except TemplateError as exc:  # e.g. a template that rejects a system message
            raise DataError(f"field 'messages': the chat template rejected this conversation: {exc}") from exc
        if not (prompt.startswith(done) and full.startswith(prompt)):
            raise DataError(
                "the chat template does not render conversations incrementally (a longer conversation does "
                "not start with the rendering of its prefix), so prompt and completion tokens cannot be told "
                "apart; use text_format=plain or a tokenizer with a prefix-stable template"
            )
        segments += [(prompt[len(done) :], False), (full[len(prompt) :], True)]
        done = full
    return [(text, target) for text, target in segments if text]


def record_segments(record: dict[str, Any], tokenizer: Any, text_format: str) -> list[tuple[str, bool]]:
    if text_format == "plain":
        pair = write_prompt_completion(record)
        return [(pair["prompt"], False), (pair["completion"], True)]
    conv = to_conversation(record)
    messages = [{"role": "system", "content": conv.system}] if conv.system else []
    messages += [{"role": role, "content": text} for role, text in conv.turns]
    return chat_segments(tokenizer, messages)


def tokenize_segments(
    tokenizer: Any, segments: Sequence[tuple[str, bool]], text_format: str, completion_only: bool
) -> Example:
    input_ids: list[int] = []
    labels: list[int] = []
    for index, (text, is_target) in enumerate(segments):
        # Chat templates write their own BOS; plain text gets the tokenizer's special tokens on the prompt.
        special = text_format == "plain" and index == 0
        ids = tokenizer(text, add_special_tokens=special)["input_ids"]
        input_ids += ids
        labels += ids if (is_target or not completion_only) else [IGNORE_INDEX] * len(ids)
    if text_format == "plain" and tokenizer.eos_token_id is not None:
        input_ids.append(tokenizer.eos_token_id)
        labels.append(tokenizer.eos_token_id)
    if labels:
        labels[0] = IGNORE_INDEX  # nothing predicts an example's first token (matters when packed)
    return Example(input_ids, labels)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_examples(
    path: Path, tokenizer: Any, text_format: str, max_seq_length: int, completion_only: bool, field_name: str
) -> tuple[list[Example], DataStats]:
    """Tokenized examples of every record under ``path``; the first bad record raises a DataError naming its
    file, line and field (``field_name`` is the argument that pointed at the data)."""
    stats = DataStats()
    try:
        files = input_files(path)
    except FileNotFoundError as exc:
        raise DataError(f"argument '{field_name}': {exc}") from exc
    stats.files = {str(f): sha256_file(f) for f in files}
    examples: list[Example] = []
    for item in read_records(path):
        stats.records += 1
        if item.problem is not None:
            raise DataError(f"{field_name}: {item.problem}")
        if not isinstance(item.value, dict):
            raise DataError(f"{field_name}: {item.location}: a record must be a JSON object")
        try:
            segments = record_segments(item.value, tokenizer, text_format)
        except FieldError as exc:
            where = f"field '{exc.field}': " if exc.field else ""
            raise DataError(f"{field_name}: {item.location}: {where}{exc.reason}") from exc
        except DataError as exc:
            raise DataError(f"{field_name}: {item.location}: {exc}") from exc
        example = tokenize_segments(tokenizer, segments, text_format, completion_only)
        if len(example.input_ids) > max_seq_length:
            stats.truncated += 1
            example = Example(example.input_ids[:max_seq_length], example.labels[:max_seq_length])
        targets = sum(1 for label in example.labels if label != IGNORE_INDEX)
        if targets == 0:
            stats.dropped_no_target += 1
            continue
        stats.tokens += len(example.input_ids)
        stats.target_tokens += targets
        examples.append(example)
    if not examples:
        raise DataError(
            f"argument '{field_name}': {path} holds no usable example ({stats.records} records, "
            f"{stats.dropped_no_target} with no completion token left within max_seq_length={max_seq_length})"
        )
    return examples, stats


@dataclass
class Row:
    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]


def pack(examples: Sequence[Example], max_seq_length: int, packing: bool, seed: int) -> list[Row]:
    """Rows of at most ``max_seq_length`` tokens, examples in a seeded order, positions restarting per
    example. Without packing every example is its own row."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    rows: list[Row] = []
    current = Row([], [], [])
    for index in order:
        example = examples[index]
        length = len(example.input_ids)
        if current.input_ids and (not packing or len(current.input_ids) + length > max_seq_length):
            rows.append(current)
            current = Row([], [], [])
        current.input_ids += example.input_ids
        current.labels += example.labels
        current.position_ids += list(range(length))
    if current.input_ids:
        rows.append(current)
    return rows


def collate(rows: Sequence[Row], pad_token_id: int, packing: bool, flatten: bool) -> dict[str, Any]:
    """Tensors for one micro-batch.

    Packed rows carry ``position_ids`` and no attention mask; padding at the end of a shorter row is its own
    sequence (positions from 0, labels -100), so it neither sees nor is seen by the examples. With
    ``flatten`` (flash attention) the rows become one long row. Unpacked rows are right-padded with an
    attention mask.
    """
    import torch

    if packing and flatten:
        return {
            "input_ids": torch.tensor([[t for r in rows for t in r.input_ids]]),
            "labels": torch.tensor([[t for r in rows for t in r.labels]]),
            "position_ids": torch.tensor([[t for r in rows for t in r.position_ids]]),
        }
    width = max(len(r.input_ids) for r in rows)
    input_ids, labels, positions, mask = [], [], [], []
    for r in rows:
        pad = width - len(r.input_ids)
        input_ids.append(r.input_ids + [pad_token_id] * pad)
        labels.append(r.labels + [IGNORE_INDEX] * pad)
        positions.append(r.position_ids + list(range(pad)))
        mask.append([1] * len(r.input_ids) + [0] * pad)
    batch = {"input_ids": torch.tensor(input_ids), "labels": torch.tensor(labels)}
    if packing:
        batch["position_ids"] = torch.tensor(positions)
    else:
        batch["attention_mask"] = torch.tensor(mask)
    return batch
