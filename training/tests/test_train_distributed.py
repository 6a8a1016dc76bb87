"""Real two-process ``torchrun`` runs (gloo on CPU).

DDP + LoRA: SIGTERM to torchrun mid-run (what SageMaker does to a spot job) makes the ranks agree on a step,
rank 0 checkpoints it, everyone stops; a restart resumes, both ranks end with identical weights, and the
result equals one process on the same global batch. FSDP + full fine-tuning matches one process too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from safetensors.torch import load_file  # noqa: E402

from training.tests.conftest import write_jsonl  # noqa: E402
from training.tests.test_train_run import arithmetic_chats, flags, train  # noqa: E402
from training.train.checkpoint import latest_checkpoint  # noqa: E402
from training.train.job import RANK_CHECKSUM_DIR  # noqa: E402
from training.train.tiny import build_tiny_model  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture
def workspace(tmp_path: Path) -> dict[str, Path]:
    return {
        "model": build_tiny_model(tmp_path / "tiny"),
        "train": write_jsonl(tmp_path / "train.jsonl", arithmetic_chats(24, 0)),
        "validation": write_jsonl(tmp_path / "validation.jsonl", arithmetic_chats(6, 1)),
    }


def torchrun(argv: list[str], tmp_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(REPO),
        RANK_CHECKSUM_DIR: str(tmp_path / "checksums"),
        "SM_OUTPUT_DATA_DIR": str(tmp_path / "output"),
    }
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    return subprocess.Popen(
        [*command, "-m", "training.train", *argv],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def assert_same_weights(a_dir: Path, b_dir: Path, weights: str) -> None:
    a, b = load_file(a_dir / weights), load_file(b_dir / weights)
    assert a.keys() == b.keys() and len(a) > 0
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=1e-5, rtol=1e-4)


@pytest.mark.slow
def test_ddp_sigterm_then_resume_matches_one_process(tmp_path: Path, workspace) -> None:
    # Constant learning rate: the trajectory does not depend on max_steps, so the run can be cut anywhere.
    common = {
        "per_device_train_batch_size": 1,
        "save_steps": 5,
        "logging_steps": 4,
        "lora_dropout": 0.0,
        "learning_rate": 0.003,
        "validation_data": workspace["validation"],
    }
    checkpoints = tmp_path / "ddp" / "checkpoints"
    killed = torchrun(flags(workspace, tmp_path / "ddp", max_steps=5000, **common), tmp_path)
    deadline = time.monotonic() + 120
    while latest_checkpoint(checkpoints) is None and killed.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    killed.send_signal(signal.SIGTERM)
    out, _ = killed.communicate(timeout=120)
    assert killed.returncode != 0  # torchrun reports its own termination
    stopped = [line for line in out.splitlines() if line.startswith("stopped by SIGTERM")]
    assert len(stopped) == 1, out  # printed by rank 0 only
    stopped_at = int(stopped[0].split()[5])
    assert 5 <= stopped_at < 5000
    assert latest_checkpoint(checkpoints).name == f"checkpoint-{stopped_at:08d}"
    assert not (tmp_path / "ddp" / "model").exists()

    steps = stopped_at + 3
    resumed = torchrun(flags(workspace, tmp_path / "ddp", max_steps=steps, **common), tmp_path)
    out, _ = resumed.communicate(timeout=240)
    assert resumed.returncode == 0, out
    assert out.count(f"resumed from {checkpoints / f'checkpoint-{stopped_at:08d}'} at step {stopped_at}") == 1
    sums = {p.name: p.read_text() for p in (tmp_path / "checksums").iterdir()}
    assert set(sums) == {"rank-0.sha256", "rank-1.sha256"}
    assert sums["rank-0.sha256"] == sums["rank-1.sha256"]
    run = json.loads((tmp_path / "ddp" / "model" / "run.json").read_text())
    assert run["resolved"]["world_size"] == 2 and run["metrics"]["steps"] == steps

    # Two ranks x 1 row = one process x 2 rows: the loss is the mean over all target tokens of the step.
    single, _ = train(
        flags(
            workspace, tmp_path / "single", **{**common, "per_device_train_batch_size": 2, "max_steps": steps}
        )
    )
    assert run["metrics"]["final"]["eval_loss"] == pytest.approx(single.history[-1]["eval_loss"], rel=1e-4)
    assert_same_weights(
        tmp_path / "ddp" / "model", tmp_path / "single" / "model", "adapter/adapter_model.safetensors"
    )


@pytest.mark.slow
def test_fsdp_full_finetune_matches_one_process(tmp_path: Path, workspace) -> None:
    common = {
        "method": "full",
        "max_steps": 8,
        "save_steps": 4,
        "logging_steps": 4,
        "learning_rate": 0.003,
        "validation_data": workspace["validation"],
    }
    argv = flags(workspace, tmp_path / "fsdp", per_device_train_batch_size=1, distributed="fsdp", **common)
    proc = torchrun(argv, tmp_path)
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, out
    # Only rank 0 logs and writes: one metrics line per logging step, one set of outputs.
    lines = [line for line in out.splitlines() if line.startswith("metrics:")]
    assert [line.split()[1] for line in lines] == ["step=4", "step=8"]
    checkpoint_names = sorted(p.name for p in (tmp_path / "fsdp" / "checkpoints").iterdir())
    assert checkpoint_names == ["checkpoint-00000004", "checkpoint-00000008"]
    run = json.loads((tmp_path / "fsdp" / "model" / "run.json").read_text())
    assert run["resolved"]["world_size"] == 2 and run["metrics"]["steps"] == 8

    single, _ = train(flags(workspace, tmp_path / "single", per_device_train_batch_size=2, **common))
    assert [h["train_loss"] for h in run["metrics"]["history"]] == pytest.approx(
        [h["train_loss"] for h in single.history], rel=1e-4
    )
    assert_same_weights(tmp_path / "fsdp" / "model", tmp_path / "single" / "model", "model.safetensors")
