"""``python -m training.monitor score-canary``: the promotion workflow's scoring job writes canary.json, the
same section ``run`` puts into result.json, whatever the answers are; only a wrong flag fails it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from training.monitor.__main__ import main
from training.monitor.canary_score import score_canary
from training.tests.conftest import write_jsonl

REPO = Path(__file__).resolve().parents[2]
ANSWERS = [
    {"label": "pos", "prediction": "pos", "latencyMs": 120.0},
    {"label": "neg", "prediction": "pos", "latencyMs": 340.0},
    {"label": "neg", "prediction": " neg\n", "latencyMs": 95.0},
    {"label": "pos", "prediction": "pos", "latencyMs": 800.0},
    {"label": "pos", "latencyMs": 3.0, "error": "UnreadableResponse: not JSON"},
]


def score(tmp_path: Path, predictions: Path, task: str = "classification") -> tuple[int, dict]:
    out = tmp_path / "score"
    code = main(["score-canary", "--predictions", str(predictions), "--task", task, "--output-dir", str(out)])
    written = out / "canary.json"
    return code, json.loads(written.read_text(encoding="utf-8")) if written.exists() else {}


def test_the_answers_are_scored_into_canary_json_as_run_scores_them(tmp_path, capsys):
    (tmp_path / "canary").mkdir()
    write_jsonl(tmp_path / "canary" / "predictions.jsonl", ANSWERS)
    code, written = score(tmp_path, tmp_path / "canary")
    assert code == 0
    assert written == score_canary(tmp_path / "canary", "classification")
    assert written["status"] == "scored" and written["records"] == 5 and written["answered"] == 4
    assert written["score"] == 0.75 and written["scoreMetric"] == "accuracy"
    assert written["errorRate"] == 0.2 and written["errorsByCode"] == {"UnreadableResponse": 1}
    assert written["latencyMs"]["p95"] == pytest.approx(731.0)  # 340 + 0.85 * (800 - 340)
    assert "canary scored: 5 records, 1 errors, accuracy 0.7500" in capsys.readouterr().out
    # The file itself works as well as its directory.
    assert score(tmp_path, tmp_path / "canary" / "predictions.jsonl")[1]["score"] == 0.75


@pytest.mark.parametrize(
    ("lines", "status"),
    [
        (None, "missing"),
        ([{"label": "pos", "latencyMs": 1.0, "error": "ModelError: down"}], "unscored"),
    ],
)
def test_nothing_to_score_is_a_status_not_a_failure(tmp_path, lines, status):
    (tmp_path / "canary").mkdir()
    if lines is not None:
        write_jsonl(tmp_path / "canary" / "predictions.jsonl", lines)
    code, written = score(tmp_path, tmp_path / "canary")
    assert code == 0 and written["status"] == status and "problem" in written
    assert written.get("score") is None and written == score_canary(tmp_path / "canary", "classification")


def run_module(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "SM_PROCESSING_ROOT"} | env
    return subprocess.run(
        [sys.executable, "-m", "training.monitor", "score-canary", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_bad_flags_exit_2_and_write_nothing(tmp_path):
    out = tmp_path / "out"
    cases = [
        (
            ("--predictions", str(tmp_path), "--task", "perplexity", "--output-dir", str(out)),
            "invalid choice",
        ),
        (("--predictions", str(tmp_path), "--output-dir", str(out)), "required: --task"),
        (
            ("--task", "qa", "--output-dir", str(out)),
            "--predictions is required when not running in a SageMaker",
        ),
        (("--predictions", str(tmp_path), "--task", "qa"), "--output-dir is required when not running"),
    ]
    for args, message in cases:
        done = run_module(*args)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
    assert not out.exists()


def test_in_a_processing_job_the_channels_are_the_defaults(tmp_path):
    canary = tmp_path / "input" / "canary"
    canary.mkdir(parents=True)
    write_jsonl(canary / "predictions.jsonl", ANSWERS[:2])
    done = run_module("--task", "classification", SM_PROCESSING_ROOT=str(tmp_path))
    assert done.returncode == 0, done.stderr
    written = json.loads((tmp_path / "output" / "score" / "canary.json").read_text(encoding="utf-8"))
    assert written["status"] == "scored" and written["score"] == 0.5


def test_an_output_that_cannot_be_written_exits_1(tmp_path, capsys):
    (tmp_path / "score").write_text("a file where the directory should be", encoding="utf-8")
    code, _ = score(tmp_path, tmp_path / "nothing")
    assert code == 1 and "cannot write to" in capsys.readouterr().err
