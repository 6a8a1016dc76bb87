"""Perplexity and predictions from a local Hugging Face causal LM (a model directory or a PEFT adapter).

Perplexity is exp(total negative log-likelihood / total predicted tokens) over the whole held-out set, so a
batch of long texts weighs more than a batch of short ones; averaging per-batch means would get this wrong
whenever batches hold different numbers of tokens. Texts longer than ``max_length`` are cut into consecutive
windows, each scored on its own (the first token of a window is context, not predicted).

torch and transformers are imported inside the functions: the rest of the toolkit runs without them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.common.args import UsageError


@dataclass
class SequenceLoss:
    """Summed negative log-likelihood (nats) and number of predicted tokens of one scored window."""

    index: int
    nll: float
    tokens: int


def load_model(model_dir: str | Path, device: str = "cpu") -> tuple[Any, Any]:
    """Model and tokenizer from a local directory, never from a hub. An adapter directory (with
    ``adapter_config.json``) is loaded on top of the base model it names, which needs ``peft``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(model_dir)
    tokenizer_dir = path
    adapter_config = path / "adapter_config.json"
    if adapter_config.is_file():
        try:
            from peft import AutoPeftModelForCausalLM
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise SystemExit(f"{path} is a PEFT adapter; install peft to evaluate it") from exc
        # Checked before peft loads it: a missing base would otherwise be looked up on the hub.
        base = json.loads(adapter_config.read_text()).get("base_model_name_or_path")
        if not base or not Path(base).is_dir():
            raise UsageError(
                f"{path} is a PEFT adapter whose base model {base!r} is not a local directory; "
                "evaluate the merged model, or put the base model at that path"
            )
        model = AutoPeftModelForCausalLM.from_pretrained(str(path), local_files_only=True)
        # Training jobs often save only the adapter; the tokenizer then sits with the base model.
        if not any((path / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json")):
            tokenizer_dir = Path(json.loads(adapter_config.read_text())["base_model_name_or_path"])
    else:
        model = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)
    model.to(device)
    model.eval()
    return model, tokenizer


def windows(token_ids: Sequence[Sequence[int]], max_length: int) -> Iterator[tuple[int, list[int]]]:
    """(text index, window) pairs; windows of one token predict nothing and are skipped."""
    for index, ids in enumerate(token_ids):
        for start in range(0, len(ids), max_length):
            window = list(ids[start : start + max_length])
            if len(window) > 1:
                yield index, window


def score_windows(
    model: Any, batches: Sequence[Sequence[tuple[int, list[int]]]], pad_id: int = 0
) -> list[SequenceLoss]:
    """Summed NLL and predicted-token count per window; padding is masked out of both."""
    import torch
    import torch.nn.functional as F

    device = next(model.parameters()).device
    losses: list[SequenceLoss] = []
    with torch.no_grad():
        for batch in batches:
            width = max(len(w) for _, w in batch)
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, (_, window) in enumerate(batch):
                ids[row, : len(window)] = torch.tensor(window)
                mask[row, : len(window)] = 1
            ids, mask = ids.to(device), mask.to(device)
            logits = model(input_ids=ids, attention_mask=mask).logits.float()
            # Token t is predicted from the logits at t-1; padded targets are ignored.
            targets = ids[:, 1:].masked_fill(mask[:, 1:] == 0, -100)
            nll = F.cross_entropy(
                logits[:, :-1].reshape(-1, logits.size(-1)),
                targets.reshape(-1),
                ignore_index=-100,
                reduction="none",
            ).view(len(batch), -1)
            for row, (index, _) in enumerate(batch):
                counted = int((targets[row] != -100).sum())
                losses.append(SequenceLoss(index, float(nll[row].sum()), counted))
    return losses


def tokenize(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text, without special tokens (what perplexity scores)."""
    return [list(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in texts]


def sequence_losses(
    model: Any, tokenizer: Any, texts: Sequence[str], batch_size: int = 8, max_length: int = 1024
) -> list[SequenceLoss]:
    return token_losses(model, tokenizer, tokenize(tokenizer, texts), batch_size, max_length)


def token_losses(
    model: Any,
    tokenizer: Any,
    token_ids: Sequence[Sequence[int]],
    batch_size: int = 8,
    max_length: int = 1024,
) -> list[SequenceLoss]:
    """Losses of every window of every text (``index`` is the text's position in ``token_ids``); a text
    shorter than two tokens has no window and no loss."""
    all_windows = list(windows(token_ids, max_length))
    # Similar lengths in a batch waste less compute on padding; the result does not depend on the order.
    all_windows.sort(key=lambda w: len(w[1]))
    batches = [all_windows[i : i + batch_size] for i in range(0, len(all_windows), batch_size)]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return score_windows(model, batches, pad_id)


def perplexity_from_losses(losses: Sequence[SequenceLoss]) -> tuple[float, float, int]:
    """(perplexity, mean NLL per token, total tokens) from summed losses: token-weighted, not batch means."""
    total_nll = sum(x.nll for x in losses)
    total_tokens = sum(x.tokens for x in losses)
    if total_tokens == 0:
        raise ValueError("no token to predict: every text is shorter than two tokens")
    loss = total_nll / total_tokens
    return math.exp(loss), loss, total_tokens


def generate(model: Any, tokenizer: Any, prompts: Sequence[str], max_new_tokens: int = 64) -> list[str]:
    """Greedy continuation of each prompt, one at a time (no padding effects), without the prompt text."""
    import torch

    device = next(model.parameters()).device
    eos = tokenizer.eos_token_id
    outputs = []
    with torch.no_grad():
        for prompt in prompts:
            ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"].to(device)
            generated = model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=eos if eos is not None else 0,
            )
            outputs.append(tokenizer.decode(generated[0, ids.shape[1] :], skip_special_tokens=True).strip())
    return outputs
