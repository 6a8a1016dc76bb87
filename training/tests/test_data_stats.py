"""stats: counts, exact length percentiles, labels, duplicates, empty fields and encoding problems."""

from __future__ import annotations

import json
from pathlib import Path

from training.data.__main__ import main
from training.data.stats import distribution, dominant_script


def test_distribution_nearest_rank() -> None:
    values = list(range(1, 101))
    assert distribution(values) == {
        "count": 100,
        "min": 1,
        "mean": 50.5,
        "p50": 50,
        "p90": 90,
        "p99": 99,
        "max": 100,
    }
    assert distribution([7]) == {"count": 1, "min": 7, "mean": 7.0, "p50": 7, "p90": 7, "p99": 7, "max": 7}
    assert distribution([]) == {"count": 0}


def test_dominant_script() -> None:
    assert dominant_script("hello мир мир") == "CYRILLIC"
    assert dominant_script("12345") is None


def test_stats_profile_written_and_parsed_back(tmp_path: Path, capsys, word_tokenizer) -> None:
    lines = [
        json.dumps({"text": "hello world", "label": "pos"}),
        json.dumps({"text": "hello", "label": "neg"}),
        json.dumps({"text": "hello world", "label": "pos"}),  # duplicate
        json.dumps({"text": "", "label": "pos"}),  # empty field
        json.dumps({"text": "bad \u0007 bell", "label": "neg"}),  # control character
        json.dumps({"text": "mis\ufffddecoded", "label": "neg"}),  # replacement character
        '{"text": "caf\xe9", "label": "pos"}',  # invalid UTF-8 (Latin-1 byte)
        "{not json",
    ]
    path = tmp_path / "d.jsonl"
    path.write_bytes(
        b"\n".join(line.encode("latin-1" if i == 6 else "utf-8") for i, line in enumerate(lines)) + b"\n"
    )
    out = tmp_path / "stats" / "stats.json"
    assert (
        main(["stats", "--input", str(path), "--output", str(out), "--tokenizer", str(word_tokenizer)]) == 0
    )
    stats = json.loads(out.read_text(encoding="utf-8"))
    assert stats["records"] == 8
    assert stats["parse_errors"] == 1
    assert stats["duplicates"] == 1
    assert stats["unique_records"] == 6
    assert stats["label_distribution"] == {"pos": 4, "neg": 3}
    assert stats["empty_fields"] == {"text": 1}
    assert stats["encoding_problems"] == {
        "invalid_utf8": 1,
        "control_characters": 1,
        "replacement_characters": 1,
    }
    # text lengths: 11, 5, 11, 0, 10, 11, 4 -> sorted 0 4 5 10 11 11 11
    assert stats["char_lengths"]["text"] == {
        "count": 7,
        "min": 0,
        "mean": 7.429,
        "p50": 10,
        "p90": 11,
        "p99": 11,
        "max": 11,
    }
    # words of text + label per record: 3, 2, 3, 1, 4 (the bell is a word), 2, 2 -> sorted 1 2 2 2 3 3 4
    tokens = {"count": 7, "min": 1, "mean": 2.429, "p50": 2, "p90": 4, "p99": 4, "max": 4}
    assert stats["token_lengths"]["record"] == tokens
    assert stats["examples"]["invalid_utf8"][0].endswith(
        "d.jsonl:7 (record 7): invalid UTF-8 byte 0xe9 at character 3"
    )
    summary = (out.with_suffix(".txt")).read_text(encoding="utf-8")
    assert "records: 8 (6 unique, 1 duplicates, 1 unparseable)" in summary
    assert "pos" in summary and summary in capsys.readouterr().out


def test_stats_of_chat_records_by_role(tmp_path: Path) -> None:
    record = {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "sys"}],
        "messages": [
            {"role": "user", "content": [{"text": "abcd"}]},
            {"role": "assistant", "content": [{"text": ""}]},
        ],
    }
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    out = tmp_path / "s.json"
    assert main(["stats", "--input", str(path), "--output", str(out)]) == 0
    stats = json.loads(out.read_text())
    assert stats["char_lengths"]["messages.user"]["max"] == 4
    assert stats["char_lengths"]["system"]["max"] == 3
    assert stats["empty_fields"] == {"messages[].content": 1}
