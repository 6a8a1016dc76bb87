"""Spot-safe checkpoints: never half-written, always resumable.

A checkpoint is written by rank 0 into a hidden temporary directory, its files flushed to disk, then a
manifest (``checkpoint.json``: step and the size of every file) written last, and the directory renamed to
``checkpoint-<step>`` (eight digits: ``checkpoint-00000100``) in one ``os.rename``. A checkpoint counts as
complete only when its manifest is there and every file it lists has the listed size: the rename protects the
local disk, the manifest protects a copy that SageMaker's S3 sync of ``/opt/ml/checkpoints`` caught (or
restored) half-way. Besides weights, optimizer and scheduler, the state keeps the metric history so far.

Weights and optimizer state use ``torch.distributed.checkpoint.state_dict`` with full (unsharded) state
dicts, so the same files serve a single process, DDP and FSDP. For LoRA only the trainable weights are kept.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from training.data.io import current_umask
from training.train.args import ArgumentError

MANIFEST = "checkpoint.json"
STATE = "state.pt"
_NAME = re.compile(r"^checkpoint-(\d+)$")


def checkpoint_name(step: int) -> str:
    """``checkpoint-00000100``: eight digits, so the names sort in step order."""
    return f"checkpoint-{step:08d}"


def _options(**kwargs: Any) -> Any:
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, ignore_frozen_params=True, **kwargs)


def gather_state(model: Any, optimizer: Any) -> dict[str, Any]:
    """Full state of the trainable weights and the optimizer; a collective: every rank must call it."""
    from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_optimizer_state_dict

    options = _options(cpu_offload=True)
    return {
        "model": get_model_state_dict(model, options=options),
        "optimizer": get_optimizer_state_dict(model, optimizer, options=options),
    }


def save_checkpoint(
    directory: Path, step: int, state: dict[str, Any], extra: dict[str, Any], keep: int
) -> Path:
    """Write ``checkpoint-<step>`` atomically (rank 0 only) and keep the ``keep`` newest complete ones."""
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    target = directory / checkpoint_name(step)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-checkpoint-{step:08d}-", dir=directory))
    try:
        tmp.chmod(0o777 & ~current_umask())  # mkdtemp makes it 0700; mkdir would follow the umask
        with open(tmp / STATE, "wb") as handle:
            torch.save({**state, **extra}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        files = {p.name: p.stat().st_size for p in tmp.iterdir()}
        summary = {k: v for k, v in extra.items() if k not in ("scheduler", "history")}
        manifest = {"step": step, "files": files, **summary}
        with open(tmp / MANIFEST, "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        if target.exists():  # the same step again (a resumed run re-saving): replace it whole
            shutil.rmtree(target)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in complete_checkpoints(directory)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def is_complete(path: Path) -> bool:
    match = _NAME.match(path.name)
    manifest_path = path / MANIFEST
    if not match or not manifest_path.is_file():
        return False
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        return manifest["step"] == int(match.group(1)) and all(
            (path / name).is_file() and (path / name).stat().st_size == size
            for name, size in manifest["files"].items()
        )
    except (ValueError, KeyError, TypeError, OSError):
        return False


def complete_checkpoints(directory: Path) -> list[Path]:
    """Complete checkpoints, oldest first; temporary and half-written ones are left out."""
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if p.is_dir() and is_complete(p)]
    return sorted(found, key=lambda p: int(_NAME.match(p.name).group(1)))  # type: ignore[union-attr]


def latest_checkpoint(directory: Path) -> Path | None:
    found = complete_checkpoints(directory)
    return found[-1] if found else None


def load_checkpoint(path: Path, model: Any, optimizer: Any) -> dict[str, Any]:
    """Restore weights and optimizer state on every rank; returns the rest (step, scheduler, metrics)."""
    import torch
    from torch.distributed.checkpoint.state_dict import set_model_state_dict, set_optimizer_state_dict

    state = torch.load(path / STATE, map_location="cpu", weights_only=True)  # tensors and numbers only
    options = _options(strict=False)
    result = set_model_state_dict(model, state.pop("model"), options=options)
    if result.unexpected_keys:
        raise ArgumentError(
            "checkpoint_dir",
            f"{path} holds weights this model does not have ({', '.join(result.unexpected_keys[:3])}...): "
            "it was written for another model or method; use a new checkpoint_dir, or --no-resume",
        )
    set_optimizer_state_dict(model, optimizer, state.pop("optimizer"), options=options)
    return state
