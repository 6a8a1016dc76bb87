"""Readers report exact locations; the JSON-array reader streams; writers leave nothing behind on failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.data import io
from training.data.io import AtomicOutputs, read_records


def test_jsonl_reports_line_numbers_and_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n{broken\n', encoding="utf-8")
    items = list(read_records(path))
    assert [i.value for i in items[:2]] == [{"a": 1}, {"a": 2}]
    assert [(i.location.line, i.location.record) for i in items] == [(1, 1), (3, 2), (4, 3)]
    assert items[2].problem is not None and "invalid JSON" in items[2].problem.reason


@pytest.mark.parametrize(
    ("name", "content"), [("d.jsonl", b'{"a": 1}\n'), ("d.json", b'[{"a": 1}]'), ("d.csv", b"a\n1\n")]
)
def test_byte_order_mark_is_ignored(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(b"\xef\xbb\xbf" + content)
    assert [i.value for i in read_records(path)] in ([{"a": 1}], [{"a": "1"}])


def test_json_array_streams_across_small_chunks_with_line_numbers(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(io, "_READ_CHUNK", 7)  # force every element to straddle several reads
    records = [{"text": "x" * n, "n": 12345678 + n} for n in range(20)]
    path = tmp_path / "d.json"
    path.write_text("[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n", encoding="utf-8")
    items = list(read_records(path))
    assert [i.value for i in items] == records
    assert [i.location.line for i in items] == list(range(2, 22))
    assert items[-1].location.record == 20


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('[{"a": 1}, {"a": 2}', "not closed"),
        ('[{"a": 1} {"a": 2}]', "expected ','"),
        ('[{"a": 1}, {"a": }]', "invalid JSON"),
    ],
)
def test_json_array_errors(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "d.json"
    path.write_text(content, encoding="utf-8")
    problems = [i.problem for i in read_records(path) if i.problem]
    assert len(problems) == 1 and reason in problems[0].reason


def test_dot_json_with_json_lines_is_read_as_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text('{"a": 1}\n{"a": 2}\n', encoding="utf-8")
    assert [i.value for i in read_records(path)] == [{"a": 1}, {"a": 2}]


def test_csv_decodes_json_cells_and_reports_start_line_of_multiline_rows(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('text,labels\n"two\nlines","[""a"", ""b""]"\nthird,"[""c""]"\n', encoding="utf-8")
    items = list(read_records(path))
    assert items[0].value == {"text": "two\nlines", "labels": ["a", "b"]}
    assert [i.location.line for i in items] == [2, 4]


def test_csv_column_count_and_bad_json_cell(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('text,labels\na,b,c\nd,"[oops"\n', encoding="utf-8")
    problems = [i.problem for i in read_records(path)]
    assert problems[0].reason == "CSV row has 3 columns, the header has 2" and problems[0].location.line == 2
    assert problems[1].field == "labels" and "not valid JSON" in problems[1].reason


def test_directory_input_reads_every_supported_file_sorted(tmp_path: Path) -> None:
    (tmp_path / "b.jsonl").write_text('{"n": 2}\n', encoding="utf-8")
    (tmp_path / "a.csv").write_text("n\n1\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    assert [i.value for i in read_records(tmp_path)] == [{"n": "1"}, {"n": 2}]


def test_atomic_outputs_commit_together_or_not_at_all(tmp_path: Path) -> None:
    with AtomicOutputs() as out:
        out.open(tmp_path / "a.txt").write("A")
        out.open(tmp_path / "b.txt").write("B")
    assert (tmp_path / "a.txt").read_text() == "A" and (tmp_path / "b.txt").read_text() == "B"
    with pytest.raises(RuntimeError), AtomicOutputs() as out:
        out.open(tmp_path / "c.txt").write("C")
        raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_outputs_follow_the_umask_like_open(tmp_path: Path, umask: int) -> None:
    """They were 0600 whatever the umask (tempfile.mkstemp), so a serving container or a colleague running
    as another user could not read them."""
    import os

    previous = os.umask(umask)
    try:
        with AtomicOutputs() as out:
            out.open(tmp_path / "atomic.jsonl").write("{}\n")
        with open(tmp_path / "plain.jsonl", "w") as handle:
            handle.write("{}\n")
    finally:
        os.umask(previous)
    mode = (tmp_path / "atomic.jsonl").stat().st_mode & 0o777
    assert mode == (tmp_path / "plain.jsonl").stat().st_mode & 0o777 == 0o666 & ~umask
    assert os.umask(previous) == previous  # reading the umask left it as it was
    os.umask(previous)
