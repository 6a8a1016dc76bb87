"""format: every source shape to every target it can express; failures leave no output file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.data.__main__ import main
from training.tests.conftest import read_jsonl

INSTRUCTION = {"instruction": "Translate to French", "input": "cat", "output": "chat"}
PROMPT = {"prompt": "2+2?", "completion": "4"}
CHAT = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
    ]
}


def run_format(tmp_path: Path, records: list, *args: str) -> tuple[int, Path]:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    output = tmp_path / "out" / "data.jsonl"
    code = main(["format", "--input", str(source), "--output", str(output), "--min-records", "1", *args])
    return code, output


def test_bedrock_conversation_for_nova(tmp_path: Path) -> None:
    code, output = run_format(
        tmp_path, [INSTRUCTION, PROMPT, CHAT], "--target", "bedrock", "--model-family", "amazon-nova"
    )
    assert code == 0
    records = read_jsonl(output)
    assert records[0] == {
        "schemaVersion": "bedrock-conversation-2024",
        "messages": [
            {"role": "user", "content": [{"text": "Translate to French\n\ncat"}]},
            {"role": "assistant", "content": [{"text": "chat"}]},
        ],
    }
    assert records[2]["system"] == [{"text": "Be brief."}]
    assert [m["role"] for m in records[2]["messages"]] == ["user", "assistant"]


def test_bedrock_prompt_completion_for_titan_puts_system_in_prompt(tmp_path: Path) -> None:
    code, output = run_format(
        tmp_path, [INSTRUCTION, PROMPT, CHAT], "--target", "bedrock", "--model-family", "amazon-titan-text"
    )
    assert code == 0
    assert read_jsonl(output) == [
        {"prompt": "Translate to French\n\ncat", "completion": "chat"},
        {"prompt": "2+2?", "completion": "4"},
        {"prompt": "Be brief.\n\nhi", "completion": "hello"},
    ]


def test_chat_target_from_bedrock_conversation(tmp_path: Path) -> None:
    bedrock = {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "S"}],
        "messages": [
            {"role": "user", "content": [{"text": "u"}]},
            {"role": "assistant", "content": [{"text": "a"}]},
        ],
    }
    code, output = run_format(tmp_path, [bedrock], "--target", "chat")
    assert code == 0
    assert read_jsonl(output) == [
        {
            "messages": [
                {"role": "system", "content": "S"},
                {"role": "user", "content": "u"},
                {"role": "assistant", "content": "a"},
            ]
        }
    ]


def test_task_targets_normalise_field_aliases_and_keep_group(tmp_path: Path) -> None:
    code, output = run_format(
        tmp_path, [{"sentence": "good", "label": "pos", "group": "g1", "x": 1}], "--target", "classification"
    )
    assert code == 0 and read_jsonl(output) == [{"text": "good", "label": "pos", "group": "g1"}]
    code, output = run_format(
        tmp_path, [{"article": "long", "highlights": "short"}], "--target", "summarization"
    )
    assert code == 0 and read_jsonl(output) == [{"document": "long", "summary": "short"}]
    squad = {
        "context": "Paris is in France.",
        "question": "Where?",
        "answers": {"text": ["France"], "answer_start": [12]},
    }
    code, output = run_format(tmp_path, [squad], "--target", "qa")
    assert code == 0 and read_jsonl(output) == [
        {"context": "Paris is in France.", "question": "Where?", "answers": ["France"]}
    ]


def test_classification_record_becomes_a_conversation(tmp_path: Path) -> None:
    code, output = run_format(
        tmp_path, [{"text": "t", "labels": ["a", "b"]}], "--target", "prompt-completion"
    )
    assert code == 0 and read_jsonl(output) == [{"prompt": "t", "completion": "a, b"}]


@pytest.mark.parametrize(
    ("records", "args", "message"),
    [
        (
            [
                PROMPT,
                {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}] * 2},
            ],
            ["--target", "prompt-completion"],
            "in.jsonl:2 (record 2): field 'messages': has 4 turns; prompt/completion holds exactly one",
        ),
        (
            [PROMPT, {"foo": "bar"}],
            ["--target", "chat"],
            "in.jsonl:2 (record 2): unknown record shape with fields ['foo']",
        ),
        ([PROMPT, PROMPT], ["--target", "chat"], "in.jsonl:2 (record 2): duplicate record"),
        ([PROMPT], ["--target", "summarization"], "field 'document': is missing"),
    ],
)
def test_failures_write_nothing(tmp_path: Path, capsys, records, args, message) -> None:
    code, output = run_format(tmp_path, records, *args)
    out = capsys.readouterr()
    assert code == 1
    assert message in out.err
    assert not output.exists()
    assert not output.parent.exists() or list(output.parent.iterdir()) == []


def test_drop_duplicates(tmp_path: Path, capsys) -> None:
    code, output = run_format(tmp_path, [PROMPT, CHAT, PROMPT], "--target", "chat", "--drop-duplicates")
    assert code == 0 and len(read_jsonl(output)) == 2
    assert "1 duplicates dropped" in capsys.readouterr().out


def test_dropped_duplicates_do_not_count_towards_the_record_limit(tmp_path: Path, capsys) -> None:
    code, output = run_format(
        tmp_path, [PROMPT, PROMPT], "--target", "chat", "--drop-duplicates", "--min-records", "2"
    )
    assert code == 1 and "1 valid records; at least 2 are required" in capsys.readouterr().err
    assert not output.exists()


def test_processing_job_defaults(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "processing"
    (root / "input" / "data").mkdir(parents=True)
    (root / "input" / "data" / "part-0.jsonl").write_text(json.dumps(PROMPT) + "\n", encoding="utf-8")
    monkeypatch.setenv("SM_PROCESSING_ROOT", str(root))
    monkeypatch.setattr("training.common.sagemaker.PROCESSING_ROOT", root)
    assert main(["format", "--target", "chat"]) == 0
    assert read_jsonl(root / "output" / "formatted" / "data.jsonl")[0]["messages"][1] == {
        "role": "assistant",
        "content": "4",
    }


def test_missing_input_outside_a_processing_job_is_an_error(monkeypatch, capsys) -> None:
    monkeypatch.delenv("SM_PROCESSING_ROOT", raising=False)
    assert main(["format", "--target", "chat"]) == 2
    assert capsys.readouterr().err == (
        "python -m training.data format: error: --input is required when not running in a SageMaker "
        "Processing job\n"
    )


def test_bedrock_format_for_claude_3_haiku_is_anthropics(tmp_path: Path) -> None:
    """{"system": str, "messages": [{"role", "content": str}]}: no schemaVersion, no content blocks."""
    code, output = run_format(
        tmp_path,
        [INSTRUCTION, PROMPT, CHAT],
        "--target",
        "bedrock",
        "--model-family",
        "anthropic-claude-3-haiku",
    )
    assert code == 0
    assert read_jsonl(output) == [
        {
            "messages": [
                {"role": "user", "content": "Translate to French\n\ncat"},
                {"role": "assistant", "content": "chat"},
            ]
        },
        {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]},
        {
            "system": "Be brief.",
            "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
        },
    ]


def test_protected_attributes_go_into_metadata_of_every_non_bedrock_target(tmp_path: Path) -> None:
    source = {**INSTRUCTION, "age": 30, "member": True, "metadata": {"region": "eu"}}
    attributes = ["--protected-attributes", "age", "member", "region"]
    expected = {"age": 30, "member": True, "region": "eu"}  # integers and booleans are group labels too
    for target in ("chat", "prompt-completion"):
        code, output = run_format(tmp_path, [source], "--target", target, *attributes)
        assert code == 0, target
        (record,) = read_jsonl(output)
        assert record["metadata"] == expected
    code, output = run_format(tmp_path, [{**squad_record(), **expected}], "--target", "qa", *attributes)
    assert code == 0 and read_jsonl(output)[0]["metadata"] == expected
    # Formatting a formatted file again keeps them (read back from metadata).
    chat = {**CHAT, "metadata": expected}
    code, output = run_format(tmp_path, [chat], "--target", "chat", *attributes)
    assert code == 0 and read_jsonl(output) == [chat]
    # Without the option nothing changes: no metadata.
    code, output = run_format(tmp_path, [source], "--target", "chat")
    assert code == 0 and "metadata" not in read_jsonl(output)[0]


def squad_record() -> dict:
    return {"context": "Paris is in France.", "question": "Where?", "answers": ["France"]}


@pytest.mark.parametrize("family", ["amazon-nova", "anthropic-claude-3-haiku", "amazon-titan-text"])
def test_bedrock_formats_are_refused_protected_attributes(tmp_path: Path, capsys, family: str) -> None:
    code, output = run_format(
        tmp_path,
        [INSTRUCTION],
        "--target",
        "bedrock",
        "--model-family",
        family,
        "--protected-attributes",
        "g",
    )
    assert code == 2 and "--protected-attributes: bedrock-" in capsys.readouterr().err
    assert not output.exists()
