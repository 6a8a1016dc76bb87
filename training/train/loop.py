"""The training loop: data order, token-weighted loss, DDP/FSDP, evaluation, metric lines, checkpoints.

Data order is a function of the optimizer step alone: the packed rows form an endless stream of seeded
per-epoch permutations, and step ``s`` takes rows ``[s*G, (s+1)*G)`` of it (``G`` = world size x batch size
x accumulation steps). Dropout is reseeded from the step too. A run resumed from a checkpoint therefore sees
exactly the batches it would have seen without the interruption.

The loss is the mean over every completion token of the optimizer step on all ranks (not a mean of
per-batch means), so gradient accumulation and the number of GPUs do not change what is optimised.
"""

from __future__ import annotations

import contextlib
import math
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from training.train.args import TrainingArguments
from training.train.data import IGNORE_INDEX, Row, collate
from training.train.metrics import format_line

SIGTERM_EXIT_CODE = 143


@dataclass
class Distributed:
    rank: int
    world_size: int
    device: Any

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def all_reduce(self, values: list[float], op: str = "sum") -> list[float]:
        if not self.active:
            return values
        import torch
        import torch.distributed as dist

        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM)
        return tensor.tolist()

    def barrier(self) -> None:
        if self.active:
            import torch.distributed as dist

            dist.barrier()


@dataclass
class LoopResult:
    step: int
    total_steps: int
    stopped: bool
    resumed_from: str | None
    history: list[dict[str, float]] = field(default_factory=list)
    tokens: int = 0
    seconds: float = 0.0


def rows_for_step(num_rows: int, seed: int, step: int, global_batch: int) -> list[int]:
    """Indices of the rows of optimizer step ``step`` in the endless stream of per-epoch permutations."""
    start, end = step * global_batch, (step + 1) * global_batch
    indices: list[int] = []
    for epoch in range(start // num_rows, (end - 1) // num_rows + 1):
        order = list(range(num_rows))
        random.Random(seed * 1_000_003 + epoch).shuffle(order)
        lo = max(start - epoch * num_rows, 0)
        hi = min(end - epoch * num_rows, num_rows)
        indices += order[lo:hi]
    return indices


def total_steps(args: TrainingArguments, num_rows: int, world_size: int) -> int:
    if args.max_steps > 0:
        return args.max_steps
    global_batch = world_size * args.per_device_train_batch_size * args.gradient_accumulation_steps
    return max(1, math.ceil(args.num_train_epochs * num_rows / global_batch))


def lr_factor(step: int, total: int, warmup_ratio: float, schedule: str) -> float:
    warmup = math.ceil(total * warmup_ratio)
    if step < warmup:
        return (step + 1) / (warmup + 1)
    if schedule == "constant":
        return 1.0
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * progress)) if schedule == "cosine" else max(0.0, 1 - progress)


def batch_nll(model: Any, batch: dict[str, Any], device: Any, autocast: Any) -> tuple[Any, int]:
    """Summed negative log-likelihood of the labelled tokens, and their count."""
    import torch.nn.functional as F

    labels = batch.pop("labels").to(device)
    inputs = {k: v.to(device) for k, v in batch.items()}
    with autocast():
        logits = model(**inputs, use_cache=False).logits
    targets = labels[:, 1:]
    nll = F.cross_entropy(
        logits[:, :-1].float().reshape(-1, logits.shape[-1]),
        targets.reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction="sum",
    )
    return nll, int((targets != IGNORE_INDEX).sum())


class StopFlag:
    """Set by SIGTERM (spot interruption, StopTrainingJob): finish the step, checkpoint, exit."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def install(self) -> None:
        self._previous = signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True

    def restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


def evaluate(
    model: Any, rows: list[Row], batch_size: int, dist: Distributed, collate_kwargs: dict, autocast: Any
) -> float:
    """Token-weighted mean NLL of the validation rows, each rank scoring every world_size-th row.

    Every rank runs the same number of forward passes (FSDP gathers weights inside each one); a rank short
    of rows scores a stand-in row and discards the result.
    """
    import torch

    model.eval()
    nll, count = 0.0, 0
    mine = rows[dist.rank :: dist.world_size]
    batches = math.ceil(math.ceil(len(rows) / dist.world_size) / batch_size)
    with torch.no_grad():
        for b in range(batches):
            chunk = mine[b * batch_size : (b + 1) * batch_size]
            loss, n = batch_nll(model, collate(chunk or rows[:1], **collate_kwargs), dist.device, autocast)
            if chunk:
                nll, count = nll + float(loss), count + n
    model.train()
    nll, count = dist.all_reduce([nll, float(count)])
    return nll / max(count, 1.0)


def train_loop(
    model: Any,
    optimizer: Any,
    scheduler: Any,
    train_rows: list[Row],
    eval_rows: list[Row] | None,
    args: TrainingArguments,
    dist: Distributed,
    collate_kwargs: dict[str, Any],
    start_step: int,
    save: Callable[[int, LoopResult], None],
    save_steps: int,
    log: Callable[[str], None],
    autocast: Any,
    resumed_from: str | None = None,
    restored: dict[str, Any] | None = None,
) -> LoopResult:
    """Run optimizer steps ``start_step .. total`` and return where it stopped and the logged metrics.

    ``restored`` is what a checkpoint kept of the interrupted run (``history``, ``tokens``): the metric
    history and token count go on from there, so run.json describes the whole run, not its last leg.
    ``save(step, result)`` is called at every checkpoint with the result so far."""
    import torch

    total = total_steps(args, len(train_rows), dist.world_size)
    per_rank = args.per_device_train_batch_size
    accum = args.gradient_accumulation_steps
    global_batch = dist.world_size * per_rank * accum
    trainable = [p for p in model.parameters() if p.requires_grad]
    stop = StopFlag()
    stop.install()
    result = LoopResult(start_step, total, False, resumed_from)
    if restored:
        result.history = [
            dict(row) for row in restored.get("history", []) if row.get("step", 0) <= start_step
        ]
        result.tokens = int(restored.get("tokens", 0))
    window_nll = window_count = window_tokens = 0.0
    window_start = time.perf_counter()
    started = window_start
    model.train()
    try:
        step = start_step
        while step < total:
            torch.manual_seed(args.seed + step * dist.world_size + dist.rank)  # dropout, resumable
            indices = rows_for_step(len(train_rows), args.seed, step, global_batch)
            micro = []
            for k in range(accum):
                offset = (k * dist.world_size + dist.rank) * per_rank
                micro.append([train_rows[i] for i in indices[offset : offset + per_rank]])
            local_targets = sum(1 for rows in micro for r in rows for t in r.labels[1:] if t != IGNORE_INDEX)
            (global_targets,) = dist.all_reduce([float(local_targets)])
            for k, rows in enumerate(micro):
                # DDP averages gradients over ranks; scale so the result is the mean over all target tokens.
                sync = k == accum - 1 or not hasattr(model, "no_sync")
                with contextlib.nullcontext() if sync else model.no_sync():
                    batch = collate(rows, **collate_kwargs)
                    nll, count = batch_nll(model, batch, dist.device, autocast)
                    (nll * dist.world_size / max(global_targets, 1.0)).backward()
                window_nll += float(nll.detach())
                window_count += count
                window_tokens += sum(len(r.input_ids) for r in rows)  # padding is not throughput
            if args.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(trainable, args.max_grad_norm)
            learning_rate = optimizer.param_groups[0]["lr"]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            result.step = step
            values: dict[str, float] = {}
            if step % args.logging_steps == 0 or step == total:
                nll_sum, n, tokens_sum = dist.all_reduce([window_nll, window_count, window_tokens])
                now = time.perf_counter()
                values.update(
                    train_loss=nll_sum / max(n, 1.0),
                    learning_rate=learning_rate,
                    tokens_per_second=tokens_sum / max(now - window_start, 1e-9),
                    epoch=step * global_batch / len(train_rows),
                )
                result.tokens += int(tokens_sum)
                window_nll = window_count = window_tokens = 0.0
                window_start = now
            if eval_rows and ((args.eval_steps and step % args.eval_steps == 0) or step == total):
                values["eval_loss"] = evaluate(
                    model, eval_rows, args.per_device_eval_batch_size, dist, collate_kwargs, autocast
                )
            if values:
                result.history.append({"step": step, **values})
                if dist.rank == 0:
                    log(format_line(step, values))
            (stopping,) = dist.all_reduce([1.0 if stop.requested else 0.0], op="max")
            if (save_steps and step % save_steps == 0) or (stopping and step < total):
                save(step, result)
            if stopping and step < total:
                result.stopped = True
                break
    finally:
        stop.restore()
    result.seconds = time.perf_counter() - started
    return result
