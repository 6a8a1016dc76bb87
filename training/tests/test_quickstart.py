"""The quick start of training/README.md, run as written: its commands are read from the README's quick-start
code block and run through the real CLIs, one subprocess each, in a temporary directory."""

from __future__ import annotations

import json
import math
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "training" / "README.md"
HEADING = "## Quick start (from a fresh clone)"


def quickstart_commands(text: str) -> list[list[str]]:
    """The commands of the first ```bash block after HEADING, continuation lines joined, comments dropped."""
    section = text.split(HEADING, 1)[1]
    block = section.split("```bash\n", 1)[1].split("\n```", 1)[0]
    commands, current = [], ""
    for line in block.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        current += stripped[:-1] + " " if stripped.endswith("\\") else stripped
        if not stripped.endswith("\\"):
            commands.append(shlex.split(current))
            current = ""
    return commands


def test_the_quickstart_block_is_what_the_test_runs() -> None:
    commands = quickstart_commands(README.read_text(encoding="utf-8"))
    assert [c[:3] for c in commands] == [
        [".venv/bin/python", "-m", "training.data"],
        [".venv/bin/python", "-m", "training.train.tiny"],
        [".venv/bin/python", "-m", "training.train"],
        [".venv/bin/python", "-m", "training.evaluate"],
    ]
    assert (REPO / "training" / "samples" / "chat.jsonl").is_file()


@pytest.mark.slow
def test_quickstart_runs_as_written_and_evaluates_the_model(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("peft")
    # The temporary directory stands in for a fresh clone: the package (and its samples) at training/.
    (tmp_path / "training").symlink_to(REPO / "training", target_is_directory=True)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
    }
    env.pop("PYTHONPATH", None)  # the package must come from the working directory, as in a clone
    for command in quickstart_commands(README.read_text(encoding="utf-8")):
        argv = [sys.executable, *command[1:]]
        done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{shlex.join(command)}\n{done.stdout}\n{done.stderr}"
    assert [p.name for p in sorted((tmp_path / "quickstart" / "data").iterdir())] == [
        "baseline",
        "test",
        "train",
        "validation",
    ]
    test_records = (tmp_path / "quickstart" / "data" / "test" / "test.jsonl").read_text().splitlines()
    report = json.loads((tmp_path / "quickstart" / "evaluation" / "evaluation.json").read_text())
    assert (
        report["metadata"]["task"] == "generation" and report["metadata"]["records"] == len(test_records) == 4
    )
    perplexity = report["generation_metrics"]["perplexity"]["value"]
    # Trained: far below an untrained model's perplexity, which is close to the vocabulary size (300).
    assert math.isfinite(perplexity) and 1 < perplexity < 150, perplexity
    run = json.loads((tmp_path / "quickstart" / "model" / "run.json").read_text())
    history = json.loads((tmp_path / "quickstart" / "model" / "training-history.json").read_text())
    assert [h["step"] for h in history] == [10, 20, 30, 40]
    # As the README says: everything under quickstart/, nothing else in the working directory.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quickstart", "training"]
    assert run["metrics"]["steps"] == 40 and run["data"]["train"]["records"] == 32
