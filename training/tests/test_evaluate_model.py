"""``evaluate model``: a training job's model.tar.gz in, evaluation.json out, with the tiny random GPT-2."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from training.evaluate import metric_names as names
from training.evaluate.__main__ import main
from training.evaluate.metrics import qa_per_example
from training.tests.conftest import read_jsonl, write_jsonl


@pytest.fixture
def model_archive(tiny_model_archive: Path) -> Path:
    return tiny_model_archive


def evaluate(*args: str | Path) -> int:
    return main(["model", *map(str, args)])


def report(out: Path) -> dict:
    return json.loads((out / "evaluation.json").read_text())


def chat(user: str, assistant: str) -> dict:
    """A record as `prepare --target chat` writes it."""
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]}


def test_perplexity_of_a_model_archive_matches_the_model_directory(
    tmp_path: Path, model_archive: Path, tiny_causal_lm: Path, monkeypatch
) -> None:
    data = write_jsonl(tmp_path / "test.jsonl", [chat("the cat sat", "on the mat"), chat("a dog", "ran")])
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # the default work dir goes here
    out, direct, again = tmp_path / "eval", tmp_path / "direct", tmp_path / "again"
    common = ["--task", "perplexity", "--data", data]
    assert evaluate(*common, "--model", model_archive, "--output-dir", out) == 0
    assert list(scratch.iterdir()) == []  # the temporary work dir (extracted model) is removed
    assert {p.name for p in out.iterdir()} == {
        "evaluation.json",
        "evaluation.csv",
        "evaluation.html",
        "records.json",
    }
    # What the pipeline's quality gate reads: generation_metrics.perplexity.value
    value = report(out)[names.GENERATION][names.PERPLEXITY]["value"]
    assert value > 1
    # 6 and 3 tokens of conversation text: 5 + 2 predicted.
    assert report(out)[names.GENERATION][names.TOKENS]["value"] == 7
    perplexity = ["perplexity", "--model-dir", str(tiny_causal_lm), "--data", str(data)]
    assert main([*perplexity, "--output-dir", str(direct)]) == 0
    assert report(direct)[names.GENERATION][names.PERPLEXITY]["value"] == value
    # A model directory works as well.
    assert evaluate(*common, "--model", tiny_causal_lm, "--output-dir", again) == 0
    assert report(again)[names.GENERATION][names.PERPLEXITY]["value"] == value


def test_qa_predicts_into_the_work_dir_then_scores(
    tmp_path: Path, model_archive: Path, tiny_causal_lm: Path
) -> None:
    records = [
        {
            "context": "the cat sat on the mat",
            "question": "the cat",
            "answers": ["sat", "the mat"],
            "id": "q1",
        },
        {"context": "a dog ran", "question": "a dog", "answers": ["ran"], "id": "q2"},
        {"context": "the dog sat", "question": "the mat", "answers": ["the cat"], "id": "q3"},
    ]
    data = write_jsonl(tmp_path / "test.jsonl", records)
    work, out = tmp_path / "work", tmp_path / "eval"
    args = ["--task", "qa", "--model", model_archive, "--data", data, "--output-dir", out, "--work-dir", work]
    assert evaluate(*args, "--max-new-tokens", "2") == 0
    assert (work / "model" / "config.json").is_file()  # --work-dir is kept
    predictions = read_jsonl(work / "predictions.jsonl")
    assert [p["id"] for p in predictions] == ["q1", "q2", "q3"]
    # The same predictions as `predict` on the model directory.
    direct = tmp_path / "direct.jsonl"
    predict = ["predict", "--model-dir", str(tiny_causal_lm), "--input", str(data), "--output", str(direct)]
    assert main([*predict, "--max-new-tokens", "2"]) == 0
    assert predictions == read_jsonl(direct)
    scores = qa_per_example([p["answers"] for p in predictions], [p["prediction"] for p in predictions])
    section = report(out)[names.QUESTION_ANSWERING]
    assert section[names.EXACT_MATCH]["value"] == pytest.approx(sum(scores[names.EXACT_MATCH]) / 3)
    assert section[names.TOKEN_F1]["value"] == pytest.approx(sum(scores[names.TOKEN_F1]) / 3)
    assert report(out)[names.METADATA]["records"] == 3


def test_chat_records_get_the_assistant_answer_as_reference(
    tmp_path: Path, model_archive: Path, capsys
) -> None:
    chats = [chat(f"the {w} sat", label) for w, label in (("cat", "pos"), ("dog", "neg"), ("mat", "pos"))]
    data = write_jsonl(tmp_path / "test.jsonl", chats)
    work, out = tmp_path / "work", tmp_path / "eval"
    args = ["--model", model_archive, "--data", data, "--output-dir", out, "--work-dir", work]
    assert evaluate("--task", "classification", *args, "--max-new-tokens", "1") == 0
    assert "3 records without 'label'" in capsys.readouterr().out
    predictions = read_jsonl(work / "predictions.jsonl")
    assert [p["label"] for p in predictions] == ["pos", "neg", "pos"]
    accuracy = sum(p["prediction"] == p["label"] for p in predictions) / 3
    assert report(out)[names.MULTICLASS][names.ACCURACY]["value"] == pytest.approx(accuracy)

    summaries = tmp_path / "summaries"
    assert (
        evaluate("--task", "summarization", *args[:4], "--output-dir", summaries, "--max-new-tokens", "2")
        == 0
    )
    assert set(report(summaries)[names.SUMMARIZATION]) == set(names.ROUGE)


def test_bad_paths_and_records_are_reported_without_a_report(
    tmp_path: Path, model_archive: Path, capsys
) -> None:
    data = write_jsonl(tmp_path / "test.jsonl", [{"text": "the cat"}])
    out = tmp_path / "eval"
    common = ["--task", "qa", "--output-dir", out]
    assert evaluate(*common, "--model", tmp_path / "none.tar.gz", "--data", data) == 2
    assert (
        capsys.readouterr().err == f"error: --model {tmp_path / 'none.tar.gz'}: no such file or directory\n"
    )
    assert evaluate(*common, "--model", model_archive, "--data", tmp_path / "none.jsonl") == 2
    assert capsys.readouterr().err == f"error: --data {tmp_path / 'none.jsonl'}: no such file or directory\n"
    assert evaluate("--task", "perplexity", "--output-dir", out, "--model", data, "--data", data) == 2
    assert capsys.readouterr().err.startswith(f"error: --model {data}: not a gzipped tar archive")
    # No reference and no conversation to take one from: refused before the model is even extracted.
    for model in (model_archive, data):
        assert evaluate(*common, "--model", model, "--data", data) == 1
        assert "test.jsonl:1 (record 1): unknown record shape" in capsys.readouterr().err
    assert not out.exists()


def test_fairness_over_the_test_split_that_prepare_writes(
    tmp_path: Path, model_archive: Path, capsys
) -> None:
    """The pipeline's path: prepare --target chat --protected-attributes, then model on test/test.jsonl."""
    from training.data.__main__ import main as prepare_main
    from training.evaluate.metrics import fairness_differences

    words = ["cat", "dog", "mat", "the", "a", "on"]
    raw = [
        {"text": f"{w} sat {v}", "label": "pos" if i % 2 else "neg", "gender": "f" if v == "cat" else "m"}
        for i, (w, v) in enumerate((w, v) for w in words for v in words[:2])
    ]
    source = write_jsonl(tmp_path / "raw.jsonl", raw)
    prepared = tmp_path / "prepared"
    args = [
        "--output-dir",
        str(prepared),
        "--ratios",
        "0.5",
        "0.1",
        "0.4",
        "--protected-attributes",
        "gender",
    ]
    assert prepare_main(["prepare", "--input", str(source), *args]) == 0
    test = prepared / "test" / "test.jsonl"
    assert {r["metadata"]["gender"] for r in read_jsonl(test)} == {"f", "m"}
    work, out = tmp_path / "work", tmp_path / "eval"
    common = [
        "--model",
        model_archive,
        "--data",
        test,
        "--work-dir",
        work,
        "--protected-attributes",
        "gender",
    ]
    assert evaluate("--task", "classification", *common, "--output-dir", out, "--max-new-tokens", "1") == 0
    predictions = read_jsonl(work / "predictions.jsonl")
    assert all(p["metadata"]["gender"] in "fm" for p in predictions)  # predict keeps the whole record
    classes = sorted({p["label"] for p in predictions} | {p["prediction"] for p in predictions})
    expected = fairness_differences(
        [{p["label"]} for p in predictions],
        [{p["prediction"]} for p in predictions],
        [p["metadata"]["gender"] for p in predictions],
        classes,
    )
    differences = (
        expected[names.DEMOGRAPHIC_PARITY_DIFFERENCE],
        expected[names.EQUAL_OPPORTUNITY_DIFFERENCE],
    )
    fairness = report(out)[names.FAIRNESS]
    gate = max(d for d in differences if math.isfinite(d))  # equal opportunity: NaN when undefined
    assert fairness[names.MAX_DISPARITY]["value"] == pytest.approx(gate)
    # The random model echoes the last word, and here gender goes with it: a disparity to find.
    assert gate > 0
    assert fairness[names.MEASURED] is True and list(fairness[names.ATTRIBUTES]) == ["gender"]

    # Perplexity: the gap between the groups' perplexities.
    ppl = tmp_path / "ppl"
    assert evaluate("--task", "perplexity", *common, "--output-dir", ppl) == 0
    groups = report(ppl)[names.PER_GROUP]
    values = [groups[k][names.PERPLEXITY]["value"] for k in ("gender=f", "gender=m")]
    assert report(ppl)[names.FAIRNESS][names.MAX_DISPARITY]["value"] == pytest.approx(
        max(values) - min(values)
    )

    # A test record without the attribute: refused before the model is extracted.
    records = read_jsonl(test)
    del records[1]["metadata"]
    bad, fresh = write_jsonl(tmp_path / "bad.jsonl", records), tmp_path / "fresh"
    capsys.readouterr()
    for task in ("classification", "perplexity"):
        argv = ["--task", task, "--model", model_archive, "--data", bad, "--work-dir", fresh]
        assert evaluate(*argv, "--output-dir", tmp_path / "none", "--protected-attributes", "gender") == 1
        assert f"{bad}:2 (record 2): field 'gender': is missing" in capsys.readouterr().err
        assert not (fresh / "model").exists() and not (tmp_path / "none").exists()
