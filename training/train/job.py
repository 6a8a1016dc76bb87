"""One training job end to end: environment, data, model, loop, checkpoints, outputs and run.json."""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from training.data.io import write_json_atomic
from training.train.args import ArgumentError, TrainConfig
from training.train.checkpoint import (
    checkpoint_name,
    gather_state,
    is_complete,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from training.train.data import DataStats, Row, ensure_chat_template, load_examples, pack
from training.train.environment import TrainingEnvironment
from training.train.loop import Distributed, LoopResult, lr_factor, total_steps, train_loop
from training.train.model import (
    load_model,
    load_tokenizer,
    resolve_attention,
    resolve_model_path,
    resolve_precision,
    torch_dtype,
)
from training.train.outputs import save_model, write_run_file

# Test hook: when set, every rank writes the sha256 of its final weights here, so a test can prove that all
# ranks of a data-parallel run end identical. Nothing else in the job writes from ranks other than 0.
RANK_CHECKSUM_DIR = "TRAINING_RANK_CHECKSUM_DIR"


def setup_distributed(env: TrainingEnvironment) -> Distributed:
    import torch

    use_cuda = torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(env.local_rank)
    device = torch.device(f"cuda:{env.local_rank}" if use_cuda else "cpu")
    if env.world_size > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return Distributed(env.rank, env.world_size, device)


def _data_path(value: str | None, channel: Path | None, field_name: str, required: bool) -> Path | None:
    if value:
        return Path(value)
    if channel is not None:
        return channel
    if required:
        raise ArgumentError(field_name, "is required: a file or directory of records, or SM_CHANNEL_TRAIN")
    return None


def _wrap(model: Any, strategy: str, dist: Distributed) -> Any:
    if not dist.active:
        return model
    if strategy == "fsdp":
        from torch.distributed.fsdp import fully_shard

        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        layer_names = set(getattr(base, "_no_split_modules", None) or [])
        for module in model.modules():
            if type(module).__name__ in layer_names:
                fully_shard(module)
        fully_shard(model)
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [dist.device.index] if dist.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def _agreed_checkpoint(directory: Path, dist: Distributed) -> Path | None:
    """Rank 0's latest complete checkpoint, which every rank must also find complete on its own disk."""
    latest = latest_checkpoint(directory)
    step = int(latest.name.split("-")[1]) if latest is not None else -1
    (agreed,) = dist.all_reduce([float(step) if dist.rank == 0 else -1.0], op="max")
    if agreed < 0:
        return None
    path = directory / checkpoint_name(int(agreed))
    if not is_complete(path):
        raise RuntimeError(f"rank {dist.rank}: {path}, rank 0's latest checkpoint, is missing or incomplete")
    return path


def _rank_checksum(model: Any, dist: Distributed, strategy: str) -> None:
    directory = os.environ.get(RANK_CHECKSUM_DIR)
    if not directory or strategy == "fsdp":  # FSDP ranks hold different shards by design
        return
    digest = hashlib.sha256()
    for name, param in sorted(model.named_parameters()):
        digest.update(name.encode())
        digest.update(param.detach().float().cpu().numpy().tobytes())
    Path(directory).mkdir(parents=True, exist_ok=True)
    (Path(directory) / f"rank-{dist.rank}.sha256").write_text(digest.hexdigest())


@dataclass
class PreparedData:
    train_rows: list[Row]
    eval_rows: list[Row] | None
    train_stats: DataStats
    eval_stats: DataStats | None


def prepare_data(config: TrainConfig, env: TrainingEnvironment, tokenizer: Any) -> PreparedData:
    """Token rows for training and (when there is validation data) evaluation."""
    d = config.data
    train_path = _data_path(d.train_data, env.train_channel, "train_data", required=True)
    eval_path = _data_path(d.validation_data, env.validation_channel, "validation_data", required=False)
    load = partial(
        load_examples,
        tokenizer=tokenizer,
        text_format=d.text_format,
        max_seq_length=d.max_seq_length,
        completion_only=d.completion_only_loss,
    )
    examples, train_stats = load(train_path, field_name="train_data")
    train_rows = pack(examples, d.max_seq_length, d.packing, config.training.seed)
    if eval_path is None:
        return PreparedData(train_rows, None, train_stats, None)
    examples, eval_stats = load(eval_path, field_name="validation_data")
    return PreparedData(
        train_rows, pack(examples, d.max_seq_length, d.packing, config.training.seed), train_stats, eval_stats
    )


def run_training(config: TrainConfig, env: TrainingEnvironment, log: Any = print) -> LoopResult:
    """Train; on rank 0 write checkpoints, then the model and run.json. Returns where the loop ended."""
    import torch

    dist = setup_distributed(env)
    t = config.training
    precision = resolve_precision(config.model.precision)
    attention = resolve_attention(config.model.attn_implementation)
    base_path = resolve_model_path(config.model, env.model_channel)
    checkpoint_dir = Path(config.checkpoint.checkpoint_dir or env.checkpoint_dir)
    tokenizer = load_tokenizer(base_path, config.model.trust_remote_code)
    fallback_template = config.data.text_format == "chat" and ensure_chat_template(tokenizer)
    data = prepare_data(config, env, tokenizer)

    torch.manual_seed(t.seed)
    unwrapped = load_model(
        base_path, config.model, config.method, precision, attention, t.gradient_checkpointing, dist.device
    )
    model = _wrap(unwrapped, t.distributed, dist)
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=t.learning_rate, weight_decay=t.weight_decay
    )
    steps = total_steps(t, len(data.train_rows), dist.world_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, steps, t.warmup_ratio, t.lr_scheduler)
    )

    start_step, resumed_from, restored = 0, None, None
    latest = _agreed_checkpoint(checkpoint_dir, dist) if config.checkpoint.resume else None
    if latest is not None:
        extra = load_checkpoint(latest, model, optimizer)
        scheduler.load_state_dict(extra["scheduler"])
        start_step, resumed_from = int(extra["step"]), str(latest)
        restored = {"history": extra.get("history", []), "tokens": extra.get("tokens", 0)}
        if dist.rank == 0:
            log(f"resumed from {latest} at step {start_step} of {steps}")

    def save(step: int, progress: LoopResult) -> None:
        state = gather_state(model, optimizer)  # a collective under FSDP: every rank takes part
        if dist.rank == 0:
            extra = {
                "step": step,
                "scheduler": scheduler.state_dict(),
                "total_steps": steps,
                # The metric history so far: a resumed run's run.json and training-history.json start at
                # step 1, not at the step it resumed from.
                "history": progress.history,
                "tokens": progress.tokens,
            }
            path = save_checkpoint(checkpoint_dir, step, state, extra, config.checkpoint.save_total_limit)
            log(f"checkpoint saved: {path}")
        dist.barrier()

    def autocast() -> Any:
        if precision == "bf16":
            return torch.autocast(device_type=dist.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    collate_kwargs = {
        "pad_token_id": tokenizer.pad_token_id,
        "packing": config.data.packing,
        "flatten": attention == "flash_attention_2",
    }
    result = train_loop(
        model,
        optimizer,
        scheduler,
        data.train_rows,
        data.eval_rows,
        t,
        dist,
        collate_kwargs,
        start_step,
        save,
        config.checkpoint.save_steps,
        log,
        autocast,
        resumed_from,
        restored,
    )
    if result.stopped:
        return result
    _rank_checksum(unwrapped, dist, t.distributed)
    full_state = None
    if t.distributed == "fsdp" and dist.active:  # gather the shards: a collective, before rank 0 saves
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        full_state = get_model_state_dict(
            model, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
        )
    if dist.rank == 0:
        output_dir = Path(t.output_dir) if t.output_dir else env.model_dir
        m = config.method
        files = save_model(
            unwrapped,
            tokenizer,
            output_dir,
            m.method,
            m.merge_adapter,
            base_path,
            torch_dtype(precision),
            full_state,
        )
        resolved = {
            "precision": precision,
            "attn_implementation": attention,
            "world_size": dist.world_size,
            "chat_template": "fallback" if fallback_template else "tokenizer",
            "total_steps": steps,
            "train_rows": len(data.train_rows),
        }
        write_run_file(output_dir, run_record(config, base_path, resolved, data, result, files))
        # Beside the model artifact, SageMaker uploads SM_OUTPUT_DATA_DIR as output.tar.gz: the curve. Outside
        # a job it goes beside the model, so a local run writes only under its --output-dir.
        history = (env.output_data_dir or Path(output_dir)) / "training-history.json"
        write_json_atomic(history, result.history)
        history.chmod(0o644)
    dist.barrier()
    return result


def run_record(
    config: TrainConfig,
    base_path: str,
    resolved: dict[str, Any],
    data: PreparedData,
    result: LoopResult,
    files: list[str],
) -> dict[str, Any]:
    """Lineage for run.json: what went in (arguments, data hashes), what came out (metrics, files)."""
    return {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "base_model": base_path,
        "hyperparameters": config.as_dict(),
        "resolved": resolved,
        "data": {
            "train": _stats(data.train_stats),
            "validation": _stats(data.eval_stats) if data.eval_stats else None,
        },
        "metrics": {
            "final": {k: v for row in result.history for k, v in row.items() if k != "step"},
            "steps": result.step,
            "train_tokens": result.tokens,
            "train_seconds": round(result.seconds, 3),
            "history": result.history,
        },
        "resumed_from": result.resumed_from,
        "outputs": files,
    }


def _stats(stats: DataStats) -> dict[str, Any]:
    return {
        "files": stats.files,
        "records": stats.records,
        "truncated": stats.truncated,
        "dropped_no_target": stats.dropped_no_target,
        "tokens": stats.tokens,
        "target_tokens": stats.target_tokens,
    }
