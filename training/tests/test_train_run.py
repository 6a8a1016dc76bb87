"""Training runs of a tiny random Llama on CPU: loss goes down, outputs load, checkpoints resume exactly,
SIGTERM checkpoints and stops, half-written checkpoints are ignored."""

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
transformers = pytest.importorskip("transformers")
pytest.importorskip("peft")

from training.tests.conftest import write_jsonl  # noqa: E402
from training.train.__main__ import main  # noqa: E402
from training.train.args import ArgumentError, parse_config  # noqa: E402
from training.train.checkpoint import complete_checkpoints, latest_checkpoint  # noqa: E402
from training.train.environment import read_environment  # noqa: E402
from training.train.job import run_training  # noqa: E402
from training.train.metrics import parse_line  # noqa: E402
from training.train.tiny import build_tiny_model  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def arithmetic_chats(n: int, seed: int) -> list[dict]:
    import random

    rng = random.Random(seed)
    records = []
    for _ in range(n):
        a, b = rng.randint(0, 9), rng.randint(0, 9)
        records.append(
            {
                "messages": [
                    {"role": "user", "content": f"what is {a} plus {b}?"},
                    {"role": "assistant", "content": f"{a + b}"},
                ]
            }
        )
    return records


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("train-run")
    return {
        "model": build_tiny_model(
            root / "tiny", corpus=[f"what is {i} plus {j}? {i + j}" for i in range(10) for j in range(10)]
        ),
        "train": write_jsonl(root / "train.jsonl", arithmetic_chats(48, 0)),
        "validation": write_jsonl(root / "validation.jsonl", arithmetic_chats(8, 1)),
    }


def flags(ws: dict[str, Path], out: Path, **overrides: object) -> list[str]:
    values: dict[str, object] = {
        "model_name_or_path": ws["model"],
        "train_data": ws["train"],
        "output_dir": out / "model",
        "checkpoint_dir": out / "checkpoints",
        "max_seq_length": 64,
        "per_device_train_batch_size": 2,
        "learning_rate": 0.01,
        "warmup_ratio": 0.0,
        "lr_scheduler": "constant",
        "logging_steps": 5,
        "save_steps": 0,
        "lora_r": 4,
        "lora_dropout": 0.1,
        "seed": 3,
    }
    values.update(overrides)
    argv: list[str] = []
    for key, value in values.items():
        argv += [f"--{key}", str(value)]  # SageMaker hyperparameter style: --snake_case value
    return argv


def train(argv: list[str]) -> tuple[object, list[str]]:
    lines: list[str] = []
    config = parse_config(argv)
    env = read_environment({"SM_OUTPUT_DATA_DIR": str(Path(config.training.output_dir).parent / "output")})
    result = run_training(config, env, log=lines.append)
    return result, lines


def test_full_finetune_loss_decreases_and_writes_serving_layout(tmp_path: Path, workspace) -> None:
    result, lines = train(
        flags(
            workspace,
            tmp_path,
            method="full",
            max_steps=30,
            learning_rate=0.003,
            validation_data=workspace["validation"],
        )
    )
    losses = [row["train_loss"] for row in result.history]
    assert len(losses) == 6
    assert losses[0] > 2.0 and losses[-1] < 0.6 * losses[0], losses
    assert result.history[-1]["eval_loss"] < 0.75 * losses[0]
    metric_lines = [parse_line(line) for line in lines if line.startswith("metrics:")]
    assert [m["train_loss"] for m in metric_lines] == pytest.approx(losses, rel=1e-5)
    assert set(metric_lines[-1]) == {"train_loss", "eval_loss", "learning_rate", "tokens_per_second", "epoch"}
    model_dir = tmp_path / "model"
    names = {p.name for p in model_dir.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "run.json",
    } <= names
    assert "adapter_config.json" not in names
    run = json.loads((model_dir / "run.json").read_text())
    assert run["hyperparameters"]["method"]["method"] == "full"
    assert run["hyperparameters"]["training"]["max_steps"] == 30
    import hashlib

    digest = hashlib.sha256(workspace["train"].read_bytes()).hexdigest()
    assert run["data"]["train"]["files"] == {str(workspace["train"]): digest}
    assert run["data"]["train"]["records"] == 48
    assert run["metrics"]["steps"] == 30 and run["metrics"]["final"]["train_loss"] == pytest.approx(
        losses[-1]
    )
    assert run["libraries"]["torch"] == torch.__version__.split("+")[0]
    assert run["resolved"]["chat_template"] == "fallback"
    # The saved model is the trained one, and serving finds the chat template with the tokenizer.
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    assert tokenizer.chat_template and "<|assistant|>" in tokenizer.chat_template
    reloaded = AutoModelForCausalLM.from_pretrained(model_dir)
    original = AutoModelForCausalLM.from_pretrained(workspace["model"])
    assert not torch.equal(reloaded.lm_head.weight, original.lm_head.weight)


def test_lora_writes_adapter_and_merged_model(tmp_path: Path, workspace) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    result, _ = train(flags(workspace, tmp_path, method="lora", max_steps=10, lora_dropout=0.0))
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < losses[0], losses
    model_dir = tmp_path / "model"
    assert {"config.json", "model.safetensors", "tokenizer.json", "run.json"} <= {
        p.name for p in model_dir.iterdir()
    }
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json"} <= {
        p.name for p in (model_dir / "adapter").iterdir()
    }
    ids = torch.tensor([[5, 9, 14, 20, 31]])
    merged = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    untrained = AutoModelForCausalLM.from_pretrained(workspace["model"]).eval()
    adapted = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(workspace["model"]), model_dir / "adapter"
    ).eval()
    with torch.no_grad():
        torch.testing.assert_close(merged(ids).logits, adapted(ids).logits, atol=1e-4, rtol=1e-4)
        assert (merged(ids).logits - untrained(ids).logits).abs().max() > 1e-3

    train(flags(workspace, tmp_path / "plain", method="lora", max_steps=2, merge_adapter=False))
    names = {p.name for p in (tmp_path / "plain" / "model").iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "run.json"} <= names
    assert "model.safetensors" not in names


def test_gradient_checkpointing_changes_memory_not_results_and_bf16_trains(tmp_path: Path, workspace) -> None:
    common = {"method": "lora", "max_steps": 3, "logging_steps": 1, "lora_dropout": 0.0}
    plain, _ = train(flags(workspace, tmp_path / "plain", **common))
    checkpointed, _ = train(flags(workspace, tmp_path / "gc", gradient_checkpointing=True, **common))
    assert [h["train_loss"] for h in checkpointed.history] == pytest.approx(
        [h["train_loss"] for h in plain.history], rel=1e-5
    )
    bf16, _ = train(flags(workspace, tmp_path / "bf16", precision="bf16", **common))
    assert [h["train_loss"] for h in bf16.history] == pytest.approx(
        [h["train_loss"] for h in plain.history], rel=0.05
    )
    run = json.loads((tmp_path / "bf16" / "model" / "run.json").read_text())
    assert run["resolved"]["precision"] == "bf16" and run["resolved"]["attn_implementation"] == "sdpa"


def test_resume_skips_half_written_checkpoints(tmp_path: Path, workspace) -> None:
    train(flags(workspace, tmp_path, max_steps=6, save_steps=3))
    checkpoints = tmp_path / "checkpoints"
    assert [p.name for p in complete_checkpoints(checkpoints)] == [
        "checkpoint-00000003",
        "checkpoint-00000006",
    ]
    # Step 6 as an interrupted S3 sync restores it: the manifest arrived, the state file only in part.
    state = checkpoints / "checkpoint-00000006" / "state.pt"
    state.write_bytes(state.read_bytes()[:100])
    # Step 9 as a crash mid-write leaves it, and one with no manifest at all.
    (checkpoints / ".tmp-checkpoint-00000009-x").mkdir()
    (checkpoints / "checkpoint-00000008").mkdir()
    (checkpoints / "checkpoint-00000008" / "state.pt").write_bytes(b"junk")
    result, lines = train(flags(workspace, tmp_path, max_steps=10, save_steps=3))
    assert f"resumed from {checkpoints / 'checkpoint-00000003'} at step 3 of 10" in lines
    assert result.resumed_from == str(checkpoints / "checkpoint-00000003")
    assert result.step == 10 and result.history[0]["step"] == 5
    assert latest_checkpoint(checkpoints).name == "checkpoint-00000009"
    # A checkpoint of another method is refused, not half-loaded.
    with pytest.raises(
        ArgumentError, match=r"argument 'checkpoint_dir': .*written for another model or method"
    ):
        train(flags(workspace, tmp_path, method="full", max_steps=12, save_steps=3))


def _run_script(argv: list[str], output_data_dir: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(REPO),
        "TOKENIZERS_PARALLELISM": "false",
        "SM_OUTPUT_DATA_DIR": str(output_data_dir),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "training.train", *argv],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_sigterm_checkpoints_and_a_restart_resumes_to_the_same_result(tmp_path: Path, workspace) -> None:
    steps = 40
    # A metrics line every step: the resumed run's history must hold the steps before the interruption too.
    argv = flags(workspace, tmp_path, max_steps=steps, save_steps=2, logging_steps=1)
    first = _run_script(argv, tmp_path / "output")
    checkpoints = tmp_path / "checkpoints"
    deadline = time.monotonic() + 60
    while latest_checkpoint(checkpoints) is None and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    first.send_signal(signal.SIGTERM)
    out, _ = first.communicate(timeout=60)
    assert first.returncode == 143, out
    stopped_at = int(latest_checkpoint(checkpoints).name.split("-")[1])
    assert 2 <= stopped_at < steps
    assert f"stopped by SIGTERM at step {stopped_at} of {steps}" in out
    assert not (tmp_path / "model").exists()  # nothing final is written by an interrupted run

    # The restart runs in this process (saves a second interpreter start); the DDP test restarts torchrun.
    second, lines = train(argv)
    assert (
        f"resumed from {checkpoints / f'checkpoint-{stopped_at:08d}'} at step {stopped_at} of {steps}"
        in lines
    )
    assert second.step == steps and not second.stopped
    run = json.loads((tmp_path / "model" / "run.json").read_text())
    assert run["metrics"]["steps"] == steps and run["resumed_from"].endswith(f"{stopped_at:08d}")
    history = json.loads((tmp_path / "output" / "training-history.json").read_text())
    # The whole run's history, restored from the checkpoint: it used to start at the resumed step.
    assert [row["step"] for row in history] == list(range(1, steps + 1))
    assert run["metrics"]["history"] == history and second.history == history
    assert second.tokens > 0 and run["metrics"]["train_tokens"] == second.tokens

    # The same job without the interruption ends with the same adapter, bit for bit, and the same losses.
    straight, _ = train(flags(workspace, tmp_path / "straight", max_steps=steps, logging_steps=1))
    assert [row["train_loss"] for row in history] == pytest.approx(
        [row["train_loss"] for row in straight.history], rel=1e-5
    )
    assert second.tokens == straight.tokens
    from safetensors.torch import load_file

    resumed = load_file(tmp_path / "model" / "adapter" / "adapter_model.safetensors")
    straight = load_file(tmp_path / "straight" / "model" / "adapter" / "adapter_model.safetensors")
    assert resumed.keys() == straight.keys()
    for name in resumed:
        torch.testing.assert_close(resumed[name], straight[name], atol=1e-6, rtol=0)


def test_cli_reports_bad_arguments_and_data_with_field_names(tmp_path: Path, workspace, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0 and "--lora-target-modules" in capsys.readouterr().out
    if not torch.cuda.is_available():
        assert main(flags(workspace, tmp_path, method="qlora")) == 2
        assert "argument 'method': qlora needs a CUDA device" in capsys.readouterr().err
    assert main([*flags(workspace, tmp_path), "--lora_r", "0", "--max_steps", "-1"]) == 2
    err = capsys.readouterr().err
    assert "argument 'lora_r': must be at least 1, got 0" in err and "argument 'max_steps'" in err
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"messages": [{"role": "robot", "content": "x"}]}])
    assert main(flags(workspace, tmp_path, train_data=bad)) == 2
    assert "field 'messages[0].role': 'robot' is not allowed" in capsys.readouterr().err
    args = [a for a in flags(workspace, tmp_path) if a not in ("--train_data", str(workspace["train"]))]
    assert main(args) == 2
    assert "argument 'train_data': is required" in capsys.readouterr().err
