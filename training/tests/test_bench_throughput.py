"""The training-throughput benchmark on CPU: both runs measured on the same real tokens, padding counted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_cpu_smoke_run_reports_both_runs(tmp_path: Path) -> None:
    output = tmp_path / "train-throughput.json"
    command = [
        sys.executable,
        str(REPO / "bench" / "train_throughput.py"),
        "--tiny",
        "--synthetic", "32",
        "--steps", "3",
        "--warmup-steps", "1",
        "--seq-len", "128",
        # One packed row per step: sdpa collation pads packed rows only to the widest row of a batch.
        "--batch-size", "1",
        "--baseline-batch-size", "4",
        "--device", "cpu",
        "--output", str(output),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(output.read_text())

    ours, baseline = result["runs"]["ours"], result["runs"]["baseline"]
    for run in (ours, baseline):
        assert run["tokens_per_s"] > 0
        assert run["step_time_median_s"] > 0
        assert run["mfu"] is None  # no peak FLOPs on CPU
        assert run["peak_memory_bytes"] is None
        assert run["warmup_steps"] == 1
        assert run["forward_tokens"] == run["real_tokens"] + run["padding_tokens"]
    assert ours["measured_steps"] == 3
    assert ours["padding_tokens"] == 0 and ours["padding_fraction"] == 0
    # The baseline trains on exactly the examples our measured steps packed, padded per batch.
    assert baseline["real_tokens"] == ours["real_tokens"]
    assert baseline["measured_steps"] == -(-result["data"]["examples_in_measured_steps"] // 4)
    assert 0 < result["baseline_padding_fraction"] < 1
    assert result["baseline_padding_fraction"] == baseline["padding_fraction"]
    assert result["speedup_tokens_per_s"] == ours["tokens_per_s"] / baseline["tokens_per_s"]
    assert result["peak_tflops"] is None
    assert result["model"]["flops_per_token"] == 4 * result["model"]["flops_parameters"]  # LoRA: 4N
    # N leaves out only the input embedding (vocab x hidden 32); the tiny Llama's head is untied and counted.
    model = result["model"]
    assert model["input_embedding_parameters"] > 0 and model["input_embedding_parameters"] % 32 == 0
    assert model["flops_parameters"] + model["input_embedding_parameters"] == model["parameters"]
    assert result["environment"]["gpu"] is None and result["environment"]["torch"]
    assert "speedup" in done.stdout and "baseline" in done.stdout
