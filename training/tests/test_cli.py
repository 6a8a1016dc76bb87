"""Every command answers --help without side effects, and a missing input file or model directory is one line
on stderr with exit status 2, before any output exists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from training.data.__main__ import main as data_main
from training.evaluate.__main__ import main as evaluate_main
from training.tests.conftest import write_jsonl

HELP_COMMANDS = [
    ("training.data", []),
    *(("training.data", [c]) for c in ("validate", "format", "split", "stats", "prepare")),
    ("training.evaluate", []),
    *(
        ("training.evaluate", [c])
        for c in ("classification", "summarization", "qa", "perplexity", "predict", "model", "compare")
    ),
    ("training.train", []),
    ("training.train.tiny", []),
    ("training.train.launch", []),
    ("training.run_module", []),
    ("training.bench_stream_memory", []),
    ("training.monitor", []),
    *(("training.monitor", [c]) for c in ("run", "baseline")),
    ("training.explain", []),
    ("training.compliance", []),
    ("training.compliance", ["report"]),
]


def _entry_point(module: str):
    """``main`` of a module, or of a package's ``__main__`` (what ``python -m`` runs)."""
    import importlib

    target = importlib.import_module(module)
    if hasattr(target, "__path__"):
        target = importlib.import_module(f"{module}.__main__")
    return target.main


@pytest.mark.parametrize(
    ("module", "prefix"), HELP_COMMANDS, ids=lambda v: v if isinstance(v, str) else " ".join(v)
)
def test_help_prints_usage_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, module: str, prefix: list[str]
) -> None:
    if module in ("training.train", "training.train.tiny"):
        pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)

    def no_exec(*args: object) -> None:
        raise AssertionError(f"--help must not start a process: {args}")

    monkeypatch.setattr(os, "execvp", no_exec)
    main = _entry_point(module)
    try:
        code = main([*prefix, "--help"])
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr().out
    assert code in (0, None), out
    assert "usage" in out.lower() or (module == "training.run_module" and "run_module.py ARCHIVE" in out)
    assert sorted(os.listdir(tmp_path)) == []  # tiny used to create a directory named '--help'


def one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def test_missing_data_inputs_are_one_line_errors(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nope.jsonl"
    out = tmp_path / "out"
    cases = [
        (["validate", "--input", str(missing), "--target", "chat"], "validate", "--input"),
        (
            ["format", "--input", str(missing), "--output", str(out / "f.jsonl"), "--target", "chat"],
            "format",
            "--input",
        ),
        (["split", "--input", str(missing), "--output-dir", str(out)], "split", "--input"),
        (["stats", "--input", str(missing), "--output", str(out / "s.json")], "stats", "--input"),
        (["prepare", "--input", str(missing), "--output-dir", str(out)], "prepare", "--input"),
    ]
    for argv, command, flag in cases:
        assert data_main(argv) == 2, argv
        assert (
            one_error_line(capsys)
            == f"python -m training.data {command}: error: {flag} {missing}: no such file"
        )
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    assert data_main(["split", "--input", str(empty_dir), "--output-dir", str(out)]) == 2
    assert one_error_line(capsys) == (
        f"python -m training.data split: error: --input {empty_dir}: no .jsonl, .json, .csv files in this "
        "directory"
    )
    data = write_jsonl(tmp_path / "d.jsonl", [{"prompt": "a", "completion": "b"}])
    assert (
        data_main(
            ["validate", "--input", str(data), "--target", "chat", "--tokenizer", str(tmp_path / "t.json")]
        )
        == 2
    )
    assert one_error_line(capsys) == (
        f"python -m training.data validate: error: --tokenizer {tmp_path / 't.json'}: no such file"
    )
    assert not out.exists()


def test_missing_evaluation_inputs_and_models_are_one_line_errors(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nope.jsonl"
    data = write_jsonl(tmp_path / "d.jsonl", [{"text": "the cat"}])
    not_a_model = tmp_path / "not-a-model"
    not_a_model.mkdir()
    out = tmp_path / "out"
    p = "python -m training.evaluate"
    cases = [
        (["classification", "--predictions", str(missing), "--output-dir", str(out)],
         f"{p} classification: error: --predictions {missing}: no such file"),
        (["qa", "--predictions", str(missing), "--output-dir", str(out)],
         f"{p} qa: error: --predictions {missing}: no such file"),
        (["perplexity", "--model-dir", str(tmp_path / "m"), "--data", str(data), "--output-dir", str(out)],
         f"{p} perplexity: error: --model-dir {tmp_path / 'm'}: no such directory"),
        # Was a 77-line traceback from transformers.
        (["perplexity", "--model-dir", str(not_a_model), "--data", str(data), "--output-dir", str(out)],
         f"{p} perplexity: error: --model-dir {not_a_model}: not a model directory (it has no config.json or "
         "adapter_config.json)"),
        (["perplexity", "--model-dir", str(not_a_model), "--data", str(missing), "--output-dir", str(out)],
         f"{p} perplexity: error: --data {missing}: no such file"),
        (["predict", "--model-dir", str(not_a_model), "--input", str(data), "--output", str(out / "p.jsonl")],
         f"{p} predict: error: --model-dir {not_a_model}: not a model directory (it has no config.json or "
         "adapter_config.json)"),
        (["model", "--task", "perplexity", "--model", str(not_a_model), "--data", str(data), "--output-dir",
          str(out)],
         f"error: --model {not_a_model}: not a model: the directory has no config.json or "
         "adapter_config.json"),
        (["compare", "--reports", str(missing), str(data), "--output-dir", str(out)],
         f"{p} compare: error: --reports {missing}: no such file"),
    ]  # fmt: skip
    for argv, message in cases:
        assert evaluate_main(argv) == 2, argv
        assert one_error_line(capsys) == message
    assert not out.exists()


def test_adapter_whose_base_model_is_gone_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text('{"base_model_name_or_path": "/nowhere/base"}')
    data = write_jsonl(tmp_path / "d.jsonl", [{"text": "the cat"}])
    pytest.importorskip("transformers")
    argv = [
        "perplexity",
        "--model-dir",
        str(adapter),
        "--data",
        str(data),
        "--output-dir",
        str(tmp_path / "o"),
    ]
    assert evaluate_main(argv) == 2
    assert one_error_line(capsys) == (
        f"python -m training.evaluate perplexity: error: {adapter} is a PEFT adapter whose base model "
        "'/nowhere/base' is not a local directory; evaluate the merged model, or put the base model at that "
        "path"
    )


def test_train_bad_model_path_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    pytest.importorskip("torch")
    from training.train.__main__ import main as train_main

    data = write_jsonl(tmp_path / "d.jsonl", [{"prompt": "a", "completion": "b"}])
    common = [
        "--train-data",
        str(data),
        "--output-dir",
        str(tmp_path / "o"),
        "--checkpoint-dir",
        str(tmp_path / "c"),
    ]
    assert train_main(["--model-name-or-path", str(tmp_path / "nope"), *common]) == 2
    assert (
        one_error_line(capsys)
        == f"error: argument 'model_name_or_path': {tmp_path / 'nope'}: no such model directory"
    )
    assert train_main(["--model-name-or-path", str(tmp_path), *common]) == 2
    assert one_error_line(capsys) == (
        f"error: argument 'model_name_or_path': {tmp_path} is a directory without config.json: not a model "
        "directory"
    )
    assert not (tmp_path / "o").exists() and not (tmp_path / "c").exists()
