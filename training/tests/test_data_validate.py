"""One bad-input test per validation rule: exit code 1, and the message names file, line, field and reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.data.__main__ import main

CONV = "bedrock-conversation"


def bedrock(user: str = "hi", assistant: str = "hello", **extra: object) -> dict:
    record = {
        "schemaVersion": "bedrock-conversation-2024",
        "messages": [
            {"role": "user", "content": [{"text": user}]},
            {"role": "assistant", "content": [{"text": assistant}]},
        ],
    }
    record.update(extra)
    return record


def good_conv(n: int) -> list[dict]:
    return [bedrock(f"question {i}", f"answer {i}") for i in range(n)]


def run_validate(
    tmp_path: Path, lines: list[str], args: list[str], capsys, name: str = "d.jsonl"
) -> tuple[int, str]:
    path = tmp_path / name
    path.write_bytes(b"".join(line.encode("utf-8", "surrogateescape") + b"\n" for line in lines))
    code = main(["validate", "--input", str(path), *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def dumps(records: list[object]) -> list[str]:
    return [json.dumps(r) for r in records]


# (id, target args, lines, expected line number in the message (None: dataset-level), field, reason fragment)
CASES = [
    (
        "invalid-json",
        ["--target", "prompt-completion"],
        ['{"prompt": "a", "completion": "b"}', "{nope"],
        2,
        None,
        "invalid JSON",
    ),
    (
        "not-an-object",
        ["--target", "prompt-completion"],
        ["[1, 2]"],
        1,
        None,
        "must be a JSON object, got list",
    ),
    (
        "invalid-utf8",
        ["--target", "prompt-completion"],
        ['{"prompt": "caf\udce9", "completion": "b"}'],
        1,
        "prompt",
        "invalid UTF-8 byte 0xe9",
    ),
    (
        "control-char",
        ["--target", "prompt-completion"],
        dumps([{"prompt": "a\u0007", "completion": "b"}]),
        1,
        "prompt",
        "control character U+0007",
    ),
    (
        "missing-field",
        ["--target", "prompt-completion"],
        dumps([{"prompt": "a"}]),
        1,
        "completion",
        "is missing",
    ),
    (
        "wrong-type",
        ["--target", "prompt-completion"],
        dumps([{"prompt": 3, "completion": "b"}]),
        1,
        "prompt",
        "must be a string, got int 3",
    ),
    (
        "empty-field",
        ["--target", "prompt-completion"],
        dumps([{"prompt": "  ", "completion": "b"}]),
        1,
        "prompt",
        "is empty",
    ),
    (
        "bedrock-extra-field",
        ["--target", "bedrock-prompt-completion"],
        dumps([{"prompt": "a", "completion": "b", "id": 1}]),
        1,
        "id",
        "is not allowed",
    ),
    (
        "schema-version",
        ["--target", CONV],
        dumps([bedrock(schemaVersion=2024)]),  # Nova's guide: "schemaVersion can be any string value"
        1,
        "schemaVersion",
        "must be a string such as 'bedrock-conversation-2024', got 2024",
    ),
    (
        "bad-role",
        ["--target", CONV],
        dumps([{**bedrock(), "messages": [{"role": "bot", "content": [{"text": "x"}]}]}]),
        1,
        "messages[0].role",
        "'bot' is not allowed; expected 'user' or 'assistant'",
    ),
    (
        "first-turn-user",
        ["--target", CONV],
        dumps([{**bedrock(), "messages": bedrock()["messages"][::-1]}]),
        1,
        "messages[0].role",
        "first turn must be 'user'",
    ),
    (
        "last-turn-assistant",
        ["--target", CONV],
        dumps([{**bedrock(), "messages": bedrock()["messages"][:1]}]),
        1,
        "messages[0].role",
        "last turn must be 'assistant'",
    ),
    (
        "alternating",
        ["--target", CONV],
        dumps([{**bedrock(), "messages": [bedrock()["messages"][0], *bedrock()["messages"]]}]),
        1,
        "messages[1].role",
        "roles must alternate",
    ),
    (
        "content-not-list",
        ["--target", CONV],
        dumps([{**bedrock(), "messages": [{"role": "user", "content": "hi"}, bedrock()["messages"][1]]}]),
        1,
        "messages[0].content",
        "must be a list of {'text': ...} blocks",
    ),
    (
        "empty-text-block",
        ["--target", CONV],
        dumps([bedrock(user="")]),
        1,
        "messages[0].content[0].text",
        "is empty",
    ),
    (
        "system-not-list",
        ["--target", CONV],
        dumps([bedrock(system="be nice")]),
        1,
        "system",
        "must be a list",
    ),
    (
        "nova-reserved-keyword",
        ["--target", "bedrock", "--model-family", "amazon-nova", "--min-records", "1"],
        dumps([bedrock(user="User: hi")]),
        1,
        "messages[0].content[0].text",
        "reserved keyword 'User:'",
    ),
    (
        "chat-system-not-first",
        ["--target", "chat"],
        dumps(
            [
                {
                    "messages": [
                        {"role": "user", "content": "a"},
                        {"role": "system", "content": "s"},
                        {"role": "assistant", "content": "b"},
                    ]
                }
            ]
        ),
        1,
        "messages[1].role",
        "system message is only allowed first",
    ),
    (
        "max-chars",
        ["--target", "prompt-completion", "--max-chars", "5"],
        dumps([{"prompt": "abc", "completion": "def"}]),
        1,
        None,
        "record has 7 characters; the limit is 5",
    ),
    (
        "family-max-chars",
        ["--target", "bedrock", "--model-family", "amazon-titan-text"],
        dumps([{"prompt": "a" * 24_576, "completion": "b"}]),
        1,
        None,
        "characters; the limit is 24576",
    ),
    (
        "duplicate",
        ["--target", "prompt-completion"],
        dumps(
            [
                {"prompt": "a", "completion": "b"},
                {"prompt": "c", "completion": "d"},
                {"completion": "b", "prompt": "a"},
            ]
        ),
        3,
        None,
        "duplicate record: same content as",
    ),
    (
        "min-records",
        ["--target", "bedrock", "--model-family", "amazon-nova"],
        dumps(good_conv(7)),
        None,
        None,
        "7 valid records; at least 8 are required",
    ),
    (
        "max-records",
        ["--target", CONV, "--max-records", "2"],
        dumps(good_conv(3)),
        None,
        None,
        "3 records; at most 2 are allowed",
    ),
    (
        "label-not-in-set",
        ["--target", "classification", "--labels", "pos", "neg"],
        dumps([{"text": "a", "label": "pos"}, {"text": "b", "label": "meh"}]),
        2,
        "label",
        "label 'meh' is not in the label set; allowed: neg, pos",
    ),
    (
        "label-kind-mix",
        ["--target", "classification"],
        dumps([{"text": "a", "label": "pos"}, {"text": "b", "labels": ["x"]}]),
        2,
        "labels",
        "uses 'labels' but earlier records use 'label'",
    ),
    (
        "label-type-mix",
        ["--target", "classification"],
        dumps([{"text": "a", "label": "pos"}, {"text": "b", "label": 1}]),
        2,
        "label",
        "label 1 is of type int but earlier labels are str",
    ),
    (
        "label-and-labels",
        ["--target", "classification"],
        dumps([{"text": "a", "label": "x", "labels": ["y"]}]),
        1,
        "label",
        "exactly one of 'label'",
    ),
    (
        "labels-empty",
        ["--target", "classification"],
        dumps([{"text": "a", "labels": []}]),
        1,
        "labels",
        "must be a non-empty list",
    ),
    (
        "labels-repeated",
        ["--target", "classification"],
        dumps([{"text": "a", "labels": ["x", "x"]}]),
        1,
        "labels",
        "lists a label twice",
    ),
    (
        "label-bool",
        ["--target", "classification"],
        dumps([{"text": "a", "label": True}]),
        1,
        "label",
        "must be a non-empty string or an integer, got True",
    ),
    (
        "qa-answers-empty",
        ["--target", "qa"],
        dumps([{"context": "c", "question": "q", "answers": []}]),
        1,
        "answers",
        "must be a non-empty list",
    ),
    (
        "qa-answer-blank",
        ["--target", "qa"],
        dumps([{"context": "c", "question": "q", "answers": ["ok", ""]}]),
        1,
        "answers[1]",
        "is empty",
    ),
    (
        "summarization-missing",
        ["--target", "summarization"],
        dumps([{"document": "d"}]),
        1,
        "summary",
        "is missing",
    ),
]


@pytest.mark.parametrize(
    ("target_args", "lines", "line", "field", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_rule_rejects_bad_input(tmp_path, capsys, target_args, lines, line, field, reason) -> None:
    code, output = run_validate(tmp_path, lines, target_args, capsys)
    assert code == 1
    error_lines = [x for x in output.splitlines() if x.startswith("error:")]
    assert error_lines, output
    first = error_lines[0]
    assert reason in first, output
    location = f"{tmp_path / 'd.jsonl'}:{line} " if line is not None else "error: dataset:"
    assert location in first
    if field is not None:
        assert f"field '{field}'" in first


def test_token_limit_uses_local_tokenizer(tmp_path, capsys, word_tokenizer) -> None:
    lines = dumps(
        [{"prompt": "hello world", "completion": "hello"}, {"prompt": "hello world hello", "completion": "x"}]
    )
    code, output = run_validate(
        tmp_path,
        lines,
        ["--target", "prompt-completion", "--tokenizer", str(word_tokenizer), "--max-tokens", "3"],
        capsys,
    )
    assert code == 1
    assert f"{tmp_path / 'd.jsonl'}:2 (record 2): record has 4 tokens; the limit is 3" in output
    assert ":1 (record 1)" not in output


def test_valid_files_pass_in_every_input_format(tmp_path, capsys) -> None:
    records = [{"text": f"t{i}", "label": "a" if i % 2 else "b"} for i in range(4)]
    (tmp_path / "d.json").write_text(json.dumps(records), encoding="utf-8")
    assert main(["validate", "--input", str(tmp_path / "d.json"), "--target", "classification"]) == 0
    (tmp_path / "d.csv").write_text("text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in records))
    assert main(["validate", "--input", str(tmp_path / "d.csv"), "--target", "classification"]) == 0
    assert "4 records, target classification: valid" in capsys.readouterr().out


def test_nova_accepts_a_valid_conversation_file(tmp_path, capsys) -> None:
    code, output = run_validate(
        tmp_path, dumps(good_conv(8)), ["--target", "bedrock", "--model-family", "amazon-nova"], capsys
    )
    assert code == 0, output
    assert "8 records, target bedrock-conversation: valid" in output


def test_errors_are_counted_beyond_the_printed_maximum(tmp_path, capsys) -> None:
    lines = dumps([{"prompt": "", "completion": "b"}] * 5)
    code, output = run_validate(
        tmp_path, lines, ["--target", "prompt-completion", "--max-errors", "2"], capsys
    )
    assert code == 1
    assert output.count("error: ") == 3 and "... and 4 more errors" in output
    assert "INVALID (6 errors)" in output  # 5 empty prompts + too few valid records


def test_bedrock_target_needs_a_model_family(tmp_path, capsys) -> None:
    code, output = run_validate(tmp_path, dumps(good_conv(1)), ["--target", "bedrock"], capsys)
    assert code == 2
    assert output == (
        "python -m training.data validate: error: --target bedrock needs --model-family to choose between "
        "conversation and prompt/completion\n"
    )


def anthropic_sample(i: int) -> dict:
    """Shaped exactly like the records of Anthropic's Bedrock fine-tuning sample (json_mode_dataset.jsonl in
    anthropics/anthropic-cookbook, finetuning/): a string system prompt, string contents, a JSON answer."""
    answer = json.dumps({"answer": {"question": i, "square": i * i}}, indent=2)
    return {
        "system": "JSON Mode: Enabled",
        "messages": [
            {"role": "user", "content": f"what is {i} squared"},
            {"role": "assistant", "content": answer},
        ],
    }


HAIKU = ["--target", "bedrock", "--model-family", "anthropic-claude-3-haiku"]


def test_claude_3_haiku_accepts_records_shaped_like_anthropics_sample(tmp_path: Path, capsys) -> None:
    # 32 records: the family's minimum (the validator used to demand Nova's schemaVersion of every one).
    code, output = run_validate(tmp_path, dumps([anthropic_sample(i) for i in range(32)]), HAIKU, capsys)
    assert code == 0, output
    assert output.strip().endswith("32 records, target bedrock-claude-conversation: valid")


@pytest.mark.parametrize(
    ("record", "field", "reason"),
    [
        (
            bedrock(),  # Nova's shape
            "schemaVersion",
            "is not allowed; Claude 3 Haiku records hold only 'system' (optional) and 'messages'",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"text": "hi"}]},
                    {"role": "assistant", "content": "x"},
                ]
            },
            "messages[0].content",
            "must be a string; Claude 3 Haiku fine-tuning takes plain text, not [{'text': ...}] blocks",
        ),
        (
            {"system": ["Be brief."], "messages": anthropic_sample(1)["messages"]},
            "system",
            "must be a string, got list ['Be brief.']",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "hi", "name": "x"},
                    {"role": "assistant", "content": "y"},
                ]
            },
            "messages[0].name",
            "is not allowed; a message holds only role and content",
        ),
        (
            {"messages": [{"role": "user", "content": "hi"}]},
            "messages",
            "must be a list of at least two messages (user, then assistant), got "
            "[{'role': 'user', 'content': 'hi'}]",
        ),
        (
            {"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}]},
            "messages[0].role",
            "the first turn must be 'user', got 'assistant'",
        ),
    ],
    ids=["schema-version", "content-blocks", "system-list", "extra-key", "one-message", "first-turn"],
)
def test_claude_3_haiku_rejects_other_shapes(tmp_path: Path, capsys, record, field, reason) -> None:
    code, output = run_validate(tmp_path, dumps([record]), [*HAIKU, "--min-records", "1"], capsys)
    assert code == 1
    assert f"d.jsonl:1 (record 1): field '{field}': {reason}" in output, output


def test_every_model_family_cites_its_sources() -> None:
    from training.data.formats import BEDROCK_MODELS_CONTRACT, MODEL_FAMILIES, TARGETS

    table = json.loads(BEDROCK_MODELS_CONTRACT.read_text())
    assert set(table["families"]) == set(MODEL_FAMILIES)
    for name, family in table["families"].items():
        assert family["dataFormat"] in TARGETS, name
        assert family["source"] and all(u.startswith("https://") for u in family["source"]), name
    assert table["families"]["anthropic-claude-3-haiku"]["dataFormat"] == "bedrock-claude-conversation"
    assert table["families"]["anthropic-claude-3-haiku"]["source"][:2] == [
        "https://docs.aws.amazon.com/bedrock/latest/userguide/preparing-text-data.html",
        "https://platform.claude.com/cookbook/finetuning-finetuning-on-bedrock",
    ]
