"""split: exact ratios, seeded determinism, stratification, and no record in two splits."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from training.data.__main__ import main
from training.data.split import allocate
from training.tests.conftest import read_jsonl, write_jsonl


def run_split(tmp_path: Path, records: list, *args: str, name: str = "out") -> dict[str, list]:
    source = write_jsonl(tmp_path / "in.jsonl", records)
    out = tmp_path / name
    assert main(["split", "--input", str(source), "--output-dir", str(out), *args]) == 0
    return {s: read_jsonl(out / f"{s}.jsonl") for s in ("train", "validation", "test")}


def test_allocate_uses_largest_remainder() -> None:
    assert allocate(10, [0.8, 0.1, 0.1]) == [8, 1, 1]
    assert allocate(7, [0.5, 0.25, 0.25]) == [3, 2, 2]  # 3.5/1.75/1.75: the two .75 remainders win
    assert allocate(3, [0.8, 0.1, 0.1]) == [3, 0, 0]
    assert sum(allocate(1001, [0.7, 0.2, 0.1])) == 1001


def test_stratified_split_keeps_label_shares(tmp_path: Path) -> None:
    records = [{"text": f"t{i}", "label": "a" if i < 80 else "b"} for i in range(100)]
    splits = run_split(tmp_path, records, "--ratios", "0.8", "0.1", "0.1")
    counts = {name: Counter(r["label"] for r in rs) for name, rs in splits.items()}
    assert counts == {
        "train": Counter(a=64, b=16),
        "validation": Counter(a=8, b=2),
        "test": Counter(a=8, b=2),
    }


def test_same_seed_same_split_other_seed_other_split(tmp_path: Path) -> None:
    records = [{"text": f"t{i}", "label": str(i % 3)} for i in range(60)]
    first = run_split(tmp_path, records, "--seed", "7", name="a")
    again = run_split(tmp_path, records, "--seed", "7", name="b")
    other = run_split(tmp_path, records, "--seed", "8", name="c")
    assert first == again
    assert first["test"] != other["test"]


def test_duplicates_removed_before_split_so_no_record_is_in_two_splits(tmp_path: Path, capsys) -> None:
    base = [{"prompt": f"p{i}", "completion": "c"} for i in range(50)]
    records = base + base[:20] + [{"completion": "c", "prompt": "p0"}]
    splits = run_split(tmp_path, records, "--ratios", "0.6", "0.2", "0.2")
    all_records = [json.dumps(r, sort_keys=True) for rs in splits.values() for r in rs]
    assert len(all_records) == len(set(all_records)) == 50
    assert [len(splits[s]) for s in ("train", "validation", "test")] == [30, 10, 10]
    assert "21 duplicates removed" in capsys.readouterr().out


def test_dedup_on_chosen_fields_with_normalisation(tmp_path: Path) -> None:
    records = [
        {"prompt": "Hello  World", "completion": "a"},
        {"prompt": "hello world", "completion": "b"},
        {"prompt": "other", "completion": "c"},
    ]
    splits = run_split(
        tmp_path, records, "--dedup-fields", "prompt", "--dedup-normalize", "--ratios", "1", "0", "0"
    )
    assert splits["train"] == [records[0], records[2]]


def test_multilabel_records_stratify_by_label_set(tmp_path: Path) -> None:
    records = [{"text": f"t{i}", "labels": ["x", "y"] if i % 2 else ["y", "x", "z"]} for i in range(20)]
    splits = run_split(tmp_path, records, "--ratios", "0.5", "0.5", "0")
    shares = {n: Counter(len(r["labels"]) for r in rs) for n, rs in splits.items()}
    assert shares["train"] == Counter({2: 5, 3: 5}) and shares["validation"] == Counter({2: 5, 3: 5})


def test_bad_ratios_and_unparseable_input_fail_without_output(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"a": 1}])
    assert (
        main(
            [
                "split",
                "--input",
                str(source),
                "--output-dir",
                str(tmp_path / "o"),
                "--ratios",
                "0.5",
                "0.6",
                "0",
            ]
        )
        == 2
    )
    (tmp_path / "bad.jsonl").write_text('{"a": 1}\n{oops\n', encoding="utf-8")
    assert main(["split", "--input", str(tmp_path / "bad.jsonl"), "--output-dir", str(tmp_path / "o")]) == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("name", "content", "messages"),
    [
        ("empty.jsonl", b"", ["dataset: {path}: no records"]),
        ("empty-array.json", b"[]", ["dataset: {path}: no records"]),
        (
            "array-line.jsonl",  # a JSON array where a record belongs
            b'[{"prompt": "a", "completion": "b"}]\n',
            ["{path}:1 (record 1): a record must be a JSON object, got list"],
        ),
        (
            "bad-utf8.jsonl",
            b'{"prompt": "caf\xe9", "completion": "ok"}\n{"prompt": "a", "completion": "b"}\n',
            ["{path}:1 (record 1): field 'prompt': invalid UTF-8 byte 0xe9 at character 3"],
        ),
        (
            "bad-utf8-in-id.jsonl",
            b'{"id": "\xff", "prompt": "a", "completion": "b"}\n',
            ["{path}:1 (record 1): field 'id': invalid UTF-8 byte 0xff at character 0"],
        ),
        (
            "schema.jsonl",
            b'{"prompt": "a", "completion": "b"}\n{"messages": [{"role": "robot", "content": "x"}]}\n'
            b'{"foo": 1}\n',
            [
                "{path}:2 (record 2): field 'messages[0].role': 'robot' is not allowed; expected user, "
                "assistant or system",
                "{path}:3 (record 3): unknown record shape with fields ['foo']; expected one of: messages "
                "(chat); prompt + completion; instruction [+ input] + output; text + label|labels; "
                "document + summary; context + question + answers",
            ],
        ),
    ],
    ids=["empty", "empty-json-array", "json-array-record", "invalid-utf8", "invalid-utf8-in-id", "schema"],
)
def test_split_validates_first_and_writes_nothing_on_bad_input(
    tmp_path: Path, capsys, name: str, content: bytes, messages: list[str]
) -> None:
    source = tmp_path / name
    source.write_bytes(content)
    out = tmp_path / "out"
    assert main(["split", "--input", str(source), "--output-dir", str(out)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        *(f"error: {m.format(path=source)}" for m in messages),
        f"{source}: {len(messages)} errors; nothing written to {out}",
    ]
    assert not out.exists()


def test_split_accepts_every_source_shape_and_plain_text(tmp_path: Path) -> None:
    records = [
        {"prompt": "p", "completion": "c"},
        {"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]},
        {"instruction": "i", "output": "o"},
        {"text": "t", "label": "x"},
        {"document": "d", "summary": "s"},
        {"context": "c", "question": "q", "answers": ["a"]},
        {"text": "plain held-out text"},
        {"input": "continued pre-training text"},
    ]
    splits = run_split(tmp_path, records, "--ratios", "1", "0", "0", "--no-stratify")
    assert len(splits["train"]) == 8
