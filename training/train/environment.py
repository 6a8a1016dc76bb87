"""Where a SageMaker training job puts things, read from its ``SM_*`` variables with local fallbacks, and the
process's place in a ``torchrun`` group.

SageMaker copies each input channel to ``/opt/ml/input/data/<channel>`` (``SM_CHANNEL_<NAME>``), uploads
``SM_MODEL_DIR`` as the model artifact, ``SM_OUTPUT_DATA_DIR`` as extra output, and syncs
``/opt/ml/checkpoints`` to S3 when checkpointing is configured. Outside a job the same names fall back to
folders under the working directory, so the script runs unchanged on a laptop.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CHECKPOINT_DIR = "/opt/ml/checkpoints"


@dataclass(frozen=True)
class TrainingEnvironment:
    train_channel: Path | None
    validation_channel: Path | None
    model_channel: Path | None
    model_dir: Path
    # SageMaker uploads this folder as output.tar.gz; None outside a job (extra output goes beside the model).
    output_data_dir: Path | None
    checkpoint_dir: Path
    hosts: tuple[str, ...]
    current_host: str
    num_gpus: int
    rank: int
    local_rank: int
    world_size: int

    @property
    def is_main(self) -> bool:
        """Only this process writes outputs and checkpoints."""
        return self.rank == 0

    @property
    def node_rank(self) -> int:
        return self.hosts.index(self.current_host) if self.current_host in self.hosts else 0


def _path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name)
    return Path(value) if value else None


def read_environment(env: Mapping[str, str] | None = None) -> TrainingEnvironment:
    """The job's paths, hosts and ranks; every value has a local default."""
    env = os.environ if env is None else env
    hosts = tuple(json.loads(env["SM_HOSTS"])) if env.get("SM_HOSTS") else ("localhost",)
    # Inside a job /opt/ml/checkpoints is the synced folder; locally it usually is not writable.
    in_job = "SM_MODEL_DIR" in env or "SM_TRAINING_ENV" in env
    default_checkpoints = DEFAULT_CHECKPOINT_DIR if in_job else "checkpoints"
    return TrainingEnvironment(
        train_channel=_path(env, "SM_CHANNEL_TRAIN"),
        validation_channel=_path(env, "SM_CHANNEL_VALIDATION"),
        model_channel=_path(env, "SM_CHANNEL_MODEL"),
        model_dir=Path(env.get("SM_MODEL_DIR", "model")),
        output_data_dir=_path(env, "SM_OUTPUT_DATA_DIR"),
        checkpoint_dir=Path(default_checkpoints),
        hosts=hosts,
        current_host=env.get("SM_CURRENT_HOST", hosts[0]),
        num_gpus=int(env.get("SM_NUM_GPUS", "0")),
        rank=int(env.get("RANK", "0")),
        local_rank=int(env.get("LOCAL_RANK", "0")),
        world_size=int(env.get("WORLD_SIZE", "1")),
    )


def torchrun_command(env: TrainingEnvironment, script_args: list[str], master_port: int = 29500) -> list[str]:
    """The ``torchrun`` line that starts one process per GPU on every host of the job (one on CPU)."""
    return [
        "torchrun",
        f"--nnodes={len(env.hosts)}",
        f"--node_rank={env.node_rank}",
        f"--nproc_per_node={max(env.num_gpus, 1)}",
        f"--master_addr={env.hosts[0]}",
        f"--master_port={master_port}",
        "-m",
        "training.train",
        *script_args,
    ]
