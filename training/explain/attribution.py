"""Token attributions of a causal LM's answer to a prompt, with torch alone (no Captum in the job image).

Both methods explain one number, the log-probability the model gives the answer after the prompt:

    f(prompt) = log p(answer | prompt) = sum_t log p(a_t | prompt, a_<t)

``occlusion`` (the default): the attribution of prompt token i is f(prompt) - f(prompt with token i replaced
by the baseline token). It is exact, not an approximation: it is the log-probability the answer loses when
the model cannot see that token. Positive means the token supports the answer, negative that the answer is
likelier without it. The replacement keeps every other token at its position (deleting the token would move
the rest). It costs one forward pass of prompt + answer per prompt token, batched: every occluded copy has
the same length, so there is no padding and no attention mask to get wrong.

``integrated-gradients``: the path integral of the gradient of f along the straight line from the baseline
(every prompt token's embedding replaced by the baseline token's; the answer's embeddings unchanged) to the
real input embeddings, times (input - baseline), summed over the embedding dimensions (Sundararajan et al.
2017), with a midpoint Riemann sum of ``steps`` points. Completeness: the attributions sum to
f(input) - f(baseline) up to the sum's error, reported per sample as ``convergenceDelta``. It costs ``steps``
forward and backward passes whatever the prompt length: cheaper than occlusion for long prompts on a large
model, and it sees interactions that removing one token at a time does not, but it is an approximation.

The baseline token is the tokenizer's unknown token, else its padding token, else end-of-sequence: the
token that carries the least meaning of its own.

torch is imported inside the functions: the rest of the toolkit runs without it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

METHODS = ("occlusion", "integrated-gradients")


@dataclass
class Attribution:
    """One attribution per prompt token, and the log-probabilities they explain."""

    attributions: list[float]
    answer_log_prob: float
    # integrated-gradients only: f(baseline) and sum(attributions) - (f(input) - f(baseline)).
    baseline_log_prob: float | None = None
    convergence_delta: float | None = None


def baseline_token_id(tokenizer: Any) -> int:
    for token_id in (tokenizer.unk_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return int(token_id)
    return 0


def eos_token_ids(model: Any, tokenizer: Any) -> set[int]:
    """Every id that ends generation: the tokenizer's and the generation config's (one id or a list)."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif isinstance(configured, list | tuple):
        ids.update(int(i) for i in configured)
    return ids


def context_length(model: Any) -> int | None:
    """The most positions the model takes (None when its config does not say)."""
    config = getattr(model, "config", None)
    for name in ("max_position_embeddings", "n_positions"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def greedy_answer(model: Any, tokenizer: Any, prompt_ids: Sequence[int], max_new_tokens: int) -> list[int]:
    """The token ids of the greedy continuation (what ``evaluate predict`` answers), up to the end-of-sequence
    token. An answer that is only end-of-sequence is explained as that token: the decision to say nothing."""
    import torch

    device = next(model.parameters()).device
    eos = tokenizer.eos_token_id
    ids = torch.tensor([list(prompt_ids)], device=device)
    with torch.no_grad():
        generated = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=eos if eos is not None else 0,
        )
    answer = generated[0, ids.shape[1] :].tolist()
    stop = eos_token_ids(model, tokenizer)
    end = next((i for i, token in enumerate(answer) if token in stop), len(answer))
    return answer[:end] or answer[:1]


def _answer_log_probs(model: Any, prompt_len: int, answer_ids: Any, **inputs: Any) -> Any:
    """f of each row of a batch of prompt + answer (``input_ids`` or ``inputs_embeds``) of equal length."""
    import torch

    first = inputs.get("input_ids", inputs.get("inputs_embeds"))
    mask = torch.ones(first.shape[:2], dtype=torch.long, device=first.device)
    logits = model(**inputs, attention_mask=mask).logits.float()
    # Answer token t is predicted from the logits at the position before it.
    log_probs = torch.log_softmax(logits[:, prompt_len - 1 : -1], dim=-1)
    targets = answer_ids.expand(log_probs.shape[0], -1).unsqueeze(-1)
    return log_probs.gather(-1, targets).squeeze(-1).sum(-1)


def answer_log_prob(model: Any, prompt_ids: Sequence[int], answer_ids: Sequence[int]) -> float:
    """f(prompt): log p(answer | prompt), in nats."""
    import torch

    device = next(model.parameters()).device
    ids = torch.tensor([[*prompt_ids, *answer_ids]], device=device)
    answer = torch.tensor([list(answer_ids)], device=device)
    with torch.no_grad():
        return float(_answer_log_probs(model, len(prompt_ids), answer, input_ids=ids)[0])


def occlusion(
    model: Any,
    prompt_ids: Sequence[int],
    answer_ids: Sequence[int],
    baseline_id: int,
    batch_size: int = 16,
) -> Attribution:
    """Leave-one-token-out: f(prompt) - f(prompt with token i replaced by ``baseline_id``), per token i."""
    import torch

    device = next(model.parameters()).device
    sequence = torch.tensor([*prompt_ids, *answer_ids], device=device)
    answer = sequence[len(prompt_ids) :].unsqueeze(0)
    full = answer_log_prob(model, prompt_ids, answer_ids)
    scores: list[float] = []
    with torch.no_grad():
        for start in range(0, len(prompt_ids), batch_size):
            positions = torch.arange(start, min(start + batch_size, len(prompt_ids)), device=device)
            batch = sequence.repeat(len(positions), 1)
            batch[torch.arange(len(positions), device=device), positions] = baseline_id
            occluded = _answer_log_probs(model, len(prompt_ids), answer, input_ids=batch)
            scores.extend(full - float(v) for v in occluded)
    return Attribution(scores, full)


@contextlib.contextmanager
def _frozen(model: Any) -> Iterator[None]:
    """No parameter gradients while the input's are computed: a third less backward work, no .grad memory."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def integrated_gradients(
    model: Any,
    prompt_ids: Sequence[int],
    answer_ids: Sequence[int],
    baseline_id: int,
    steps: int = 16,
    batch_size: int = 16,
) -> Attribution:
    """Integrated gradients of f over the prompt's input embeddings, from the baseline token's embeddings."""
    import torch

    device = next(model.parameters()).device
    n = len(prompt_ids)
    ids = torch.tensor([[*prompt_ids, *answer_ids]], device=device)
    answer = ids[:, n:]
    embed = model.get_input_embeddings()
    with torch.no_grad():
        real = embed(ids)
        base = real.clone()
        base[:, :n] = embed(torch.tensor([baseline_id], device=device))
        full = float(_answer_log_probs(model, n, answer, inputs_embeds=real)[0])
        empty = float(_answer_log_probs(model, n, answer, inputs_embeds=base)[0])
    difference = real - base  # zero at the answer's positions: only the prompt is attributed
    alphas = (torch.arange(steps, device=device, dtype=torch.float32) + 0.5) / steps
    gradient_sum = torch.zeros_like(real[0, :n], dtype=torch.float32)
    with _frozen(model), torch.enable_grad():
        for start in range(0, steps, batch_size):
            alpha = alphas[start : start + batch_size].to(real.dtype).view(-1, 1, 1)
            points = (base + alpha * difference).detach().requires_grad_(True)
            values = _answer_log_probs(model, n, answer, inputs_embeds=points)
            (gradient,) = torch.autograd.grad(values.sum(), points)
            gradient_sum += gradient[:, :n].float().sum(0)
    scores = (difference[0, :n].float() * gradient_sum / steps).sum(-1).tolist()
    return Attribution(scores, full, empty, sum(scores) - (full - empty))


def attribute(
    method: str,
    model: Any,
    prompt_ids: Sequence[int],
    answer_ids: Sequence[int],
    baseline_id: int,
    steps: int = 16,
    batch_size: int = 16,
) -> Attribution:
    if method == "occlusion":
        return occlusion(model, prompt_ids, answer_ids, baseline_id, batch_size)
    if method == "integrated-gradients":
        return integrated_gradients(model, prompt_ids, answer_ids, baseline_id, steps, batch_size)
    raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")


def normalized(scores: Sequence[float]) -> list[float]:
    """Scores divided by the largest magnitude: in [-1, 1], the strongest token at +-1; all 0 if all are."""
    peak = max((abs(s) for s in scores), default=0.0)
    return [s / peak if peak > 0 else 0.0 for s in scores]
