"""Champion and challenger (training/evaluate/paired.py and ``evaluate model --champion-model``): paired
bootstrap deltas with intervals, the decision with margin and guards, and the pipeline's evaluation step
writing what its gate reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training.evaluate import metric_names as names
from training.evaluate import paired
from training.evaluate.metrics import multiclass_metrics


def mean_records(scores: dict[str, list[float]], references: list[str] | None = None) -> dict:
    n = len(next(iter(scores.values())))
    return {
        "kind": "mean",
        "section": names.SUMMARIZATION,
        "references": references or [f"r{i}" for i in range(n)],
        "scores": scores,
    }


def test_a_uniform_gain_has_that_delta_and_a_tight_interval():
    rng = np.random.default_rng(1)
    champion = rng.uniform(0.2, 0.6, 400)
    metrics = paired.paired_bootstrap(
        mean_records({"rougeL": list(champion + 0.1)}), mean_records({"rougeL": list(champion)})
    )
    m = metrics["summarization_metrics.rougeL"]
    assert m["delta"] == pytest.approx(0.1)
    # Every record gains exactly 0.1: every paired resample has delta 0.1.
    assert m["ci"] == pytest.approx([0.1, 0.1])
    assert m["higher_is_better"] is True and m["records"] == 400
    reports = ({}, {})
    assert paired.decide(metrics, "summarization_metrics.rougeL", 0.05, {}, reports)["better"] is True
    assert paired.decide(metrics, "summarization_metrics.rougeL", 0.1, {}, reports)["better"] is False


def test_noise_alone_is_not_better_and_the_interval_matches_the_normal_approximation():
    rng = np.random.default_rng(2)
    n = 2000
    a, b = rng.normal(0.5, 0.1, n), rng.normal(0.5, 0.1, n)
    metrics = paired.paired_bootstrap(mean_records({"rougeL": list(a)}), mean_records({"rougeL": list(b)}))
    m = metrics["summarization_metrics.rougeL"]
    assert m["ci"][0] < 0 < m["ci"][1] or abs(m["delta"]) > 0  # an interval around the observed delta
    expected_half_width = 1.96 * np.std(a - b) / np.sqrt(n)
    assert (m["ci"][1] - m["ci"][0]) / 2 == pytest.approx(expected_half_width, rel=0.15)
    decision = paired.decide(metrics, "summarization_metrics.rougeL", 0.0, {}, ({}, {}))
    assert decision["better"] is (m["ci"][0] > 0)


def test_classification_pairs_records_and_recomputes_every_metric():
    truth = ["a", "b"] * 150
    candidate = {
        "kind": "classification",
        "section": names.MULTICLASS,
        "multilabel": False,
        "references": truth,
        "predictions": truth,
    }
    champion = dict(candidate, predictions=["a"] * 300)
    metrics = paired.paired_bootstrap(candidate, champion, rounds=200)
    accuracy = metrics[f"{names.MULTICLASS}.accuracy"]
    assert accuracy["candidate"] == 1.0
    assert accuracy["champion"] == multiclass_metrics(truth, ["a"] * 300)["accuracy"] == 0.5
    assert accuracy["ci"][0] > 0.4
    assert paired.decide(metrics, f"{names.MULTICLASS}.accuracy", 0.3, {}, ({}, {}))["better"] is True


def test_perplexity_is_lower_is_better_and_pairs_texts_by_index():
    candidate = {
        "kind": "perplexity",
        "texts": [0, 1, 2, 3],
        "nll": [2.0, 2.0, 2.0, 9.0],
        "tokens": [4, 4, 4, 4],
    }
    # Text 3 was not scored by the champion: it is left out of both.
    champion = {"kind": "perplexity", "texts": [0, 1, 2], "nll": [4.0, 4.0, 4.0], "tokens": [4, 4, 4]}
    metrics = paired.paired_bootstrap(candidate, champion, rounds=200)
    m = metrics[f"{names.GENERATION}.{names.PERPLEXITY}"]
    assert m["records"] == 3
    assert m["candidate"] == pytest.approx(np.exp(0.5)) and m["champion"] == pytest.approx(np.exp(1.0))
    assert m["higher_is_better"] is False and m["delta"] < 0
    decision = paired.decide(metrics, f"{names.GENERATION}.{names.PERPLEXITY}", 0.5, {}, ({}, {}))
    assert decision["better"] is True  # lower by exp(1) - exp(0.5) = 1.07 on every resample


def test_runs_over_different_records_or_measures_cannot_be_paired():
    with pytest.raises(paired.PairingError, match=r"different test records \(record 2\)"):
        paired.paired_bootstrap(
            mean_records({"rougeL": [0.1, 0.2]}, ["x", "y"]), mean_records({"rougeL": [0.1, 0.2]}, ["x", "z"])
        )
    classification = {
        "kind": "classification",
        "section": names.MULTICLASS,
        "multilabel": False,
        "references": ["a"],
        "predictions": ["a"],
    }
    with pytest.raises(paired.PairingError, match="measured different things"):
        paired.paired_bootstrap(mean_records({"rougeL": [0.1]}), classification)
    with pytest.raises(
        paired.PairingError, match=r"primary metric 'summarization_metrics\.rouge9' is not measured"
    ):
        metrics = paired.paired_bootstrap(
            mean_records({"rougeL": [0.1] * 3}), mean_records({"rougeL": [0.1] * 3})
        )
        paired.decide(metrics, "summarization_metrics.rouge9", 0, {}, ({}, {}))


def test_a_guard_that_gets_worse_beyond_its_tolerance_blocks_a_better_primary():
    champion = [0.3] * 300
    metrics = paired.paired_bootstrap(
        mean_records({"rougeL": [0.5] * 300}), mean_records({"rougeL": champion}), rounds=100
    )
    fairness = lambda d: {names.FAIRNESS: {names.MAX_DISPARITY: {"value": d}}}  # noqa: E731
    key = f"{names.FAIRNESS}.{names.MAX_DISPARITY}"
    worse = paired.decide(
        metrics, "summarization_metrics.rougeL", 0.0, {key: 0.05}, (fairness(0.3), fairness(0.1))
    )
    assert worse["better"] is False
    assert worse["guards"][key] == pytest.approx(
        {"candidate": 0.3, "champion": 0.1, "worse_by": 0.2, "tolerance": 0.05, "ok": False}
    )
    assert any("worse beyond tolerance 0.05" in r for r in worse["reasons"])
    within = paired.decide(
        metrics, "summarization_metrics.rougeL", 0.0, {key: 0.05}, (fairness(0.12), fairness(0.1))
    )
    assert within["better"] is True


# ---------------------------------------------------------------- the pipeline's evaluation step


@pytest.fixture
def archive(tiny_model_archive: Path) -> Path:
    return tiny_model_archive


def _run(*args: str | Path) -> int:
    pytest.importorskip("torch")
    from training.evaluate.__main__ import main

    return main(["model", *map(str, args)])


def _data(tmp_path: Path) -> Path:
    rows = [
        {
            "messages": [
                {"role": "user", "content": "the cat sat"},
                {"role": "assistant", "content": "on the mat"},
            ]
        },
        {
            "messages": [
                {"role": "user", "content": "a dog"},
                {"role": "assistant", "content": "ran to the cat"},
            ]
        },
    ] * 3
    path = tmp_path / "test.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_the_same_model_as_champion_is_not_better_and_the_gate_reads_zero(tmp_path: Path, archive: Path):
    out = tmp_path / "eval"
    common = ["--task", "perplexity", "--data", _data(tmp_path), "--output-dir", out, "--model", archive]
    assert (
        _run(
            *common, "--champion-model", archive, "--champion-name", "arn:champion", "--bootstrap-rounds", 100
        )
        == 0
    )
    report = json.loads((out / "evaluation.json").read_text())
    assert report[paired.SECTION]["better"] == {"value": 0.0}
    assert report[paired.SECTION]["primary_delta"] == {"value": 0.0}
    comparison = json.loads((out / paired.COMPARISON_FILE).read_text())
    assert comparison["champion"] == "arn:champion" and comparison["better"] is False
    assert comparison["primary_metric"] == "generation_metrics.perplexity"
    assert "not better by more than 0.0" in comparison["reasons"][0]


def test_without_a_champion_the_candidate_passes_and_the_champion_model_is_not_read(
    tmp_path: Path, archive: Path
):
    out = tmp_path / "eval"
    common = ["--task", "perplexity", "--data", _data(tmp_path), "--output-dir", out, "--model", archive]
    missing = tmp_path / "no-such-model.tar.gz"
    assert _run(*common, "--champion-model", missing, "--champion-present", "false") == 0
    report = json.loads((out / "evaluation.json").read_text())
    assert report[paired.SECTION] == {"better": {"value": 1.0}}
    assert "no production version" in json.loads((out / paired.COMPARISON_FILE).read_text())["reasons"][0]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--guards", "max_disparity"], "--guards 'max_disparity': allowed: section.metric=<tolerance >= 0>"),
        (["--confidence", "0.3"], "--confidence 0.3: allowed: 0.5 <= confidence < 1"),
        (["--bootstrap-rounds", "10"], "--bootstrap-rounds 10: allowed: at least 100"),
        (["--primary-metric", "perplexity"], "--primary-metric 'perplexity': allowed: section.metric"),
        (["--margin", "-1"], "--margin -1.0: allowed: a number >= 0"),
    ],
)
def test_bad_comparison_options_fail_before_any_model_loads(tmp_path, archive, capsys, option, message):
    out = tmp_path / "eval"
    common = ["--task", "perplexity", "--data", _data(tmp_path), "--output-dir", out, "--model", archive]
    assert _run(*common, "--champion-model", archive, *option) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
