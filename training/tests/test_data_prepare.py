"""prepare: format + validate + drop duplicates + split in one command, all three files or none."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from training.data.__main__ import main
from training.tests.conftest import read_jsonl, write_jsonl

SPLITS = ("train", "validation", "test")


def instruction(i: int) -> dict:
    return {"instruction": f"Summarise note {i}", "input": f"note {i} text", "output": f"summary {i}"}


def prepare(source: Path, out: Path, *args: str) -> int:
    return main(["prepare", "--input", str(source), "--output-dir", str(out), *args])


def read_splits(out: Path) -> dict[str, list]:
    return {s: read_jsonl(out / s / f"{s}.jsonl") for s in SPLITS}


def files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()) if path.exists() else []


def test_converts_validates_and_splits_into_three_files(tmp_path: Path, capsys) -> None:
    source = write_jsonl(tmp_path / "raw.jsonl", [instruction(i) for i in range(20)])
    out = tmp_path / "out"
    assert prepare(source, out, "--target", "chat", "--ratios", "0.8", "0.1", "0.1", "--seed", "3") == 0
    assert files_under(out) == [
        "baseline/baseline.json",
        "test/test.jsonl",
        "train/train.jsonl",
        "validation/validation.jsonl",
    ]
    splits = read_splits(out)
    assert [len(splits[s]) for s in SPLITS] == [16, 2, 2]
    everything = [r for s in SPLITS for r in splits[s]]
    assert sorted(r["messages"][0]["content"] for r in everything) == sorted(
        f"Summarise note {i}\n\nnote {i} text" for i in range(20)
    )
    assert {(tuple(r), tuple(m["role"] for m in r["messages"])) for r in everything} == {
        (("messages",), ("user", "assistant"))
    }
    assert capsys.readouterr().out.strip().splitlines()[-1] == (
        "train=16, validation=2, test=2; 0 duplicates dropped; 1 strata; seed 3"
    )


def test_same_seed_same_bytes_other_seed_other_split(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "raw.jsonl", [instruction(i) for i in range(40)])
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        assert prepare(source, tmp_path / name, "--seed", seed) == 0
    read = {n: {s: (tmp_path / n / s / f"{s}.jsonl").read_bytes() for s in SPLITS} for n in "abc"}
    assert read["a"] == read["b"]
    assert read["a"]["test"] != read["c"]["test"]


def test_duplicates_are_dropped_first_copy_kept_and_counted(tmp_path: Path, capsys) -> None:
    records = [instruction(i) for i in range(10)]
    records.insert(3, dict(reversed(list(instruction(1).items()))))  # same content, other key order
    records.append({"prompt": "Summarise note 2\n\nnote 2 text", "completion": "summary 2"})  # same chat
    records.append(instruction(9))
    source = write_jsonl(tmp_path / "raw.jsonl", records)
    out = tmp_path / "out"
    assert prepare(source, out, "--ratios", "0.6", "0.2", "0.2") == 0
    splits = read_splits(out)
    kept = [json.dumps(r, sort_keys=True) for s in SPLITS for r in splits[s]]
    assert len(kept) == len(set(kept)) == 10
    assert [len(splits[s]) for s in SPLITS] == [6, 2, 2]
    assert "; 3 duplicates dropped; " in capsys.readouterr().out


def test_an_invalid_record_fails_naming_every_problem_and_writes_nothing(tmp_path: Path, capsys) -> None:
    records = [instruction(i) for i in range(10)]
    records[4]["output"] = "  "
    records[7] = {"colour": "blue"}
    source = write_jsonl(tmp_path / "raw.jsonl", [*records, instruction(0)])
    out = tmp_path / "out"
    assert prepare(source, out) == 1
    captured = capsys.readouterr()
    assert f"{source}:5 (record 5): field 'output': is empty" in captured.err
    assert f"{source}:8 (record 8): unknown record shape with fields ['colour']" in captured.err
    assert "2 errors; nothing written" in captured.out  # the duplicate is not an error
    assert files_under(out) == []


def test_limit_overrides_apply(tmp_path: Path, capsys) -> None:
    source = write_jsonl(tmp_path / "raw.jsonl", [instruction(i) for i in range(10)])
    out = tmp_path / "out"
    assert prepare(source, out, "--max-records", "9") == 1
    assert "10 records; at most 9 are allowed" in capsys.readouterr().err
    assert prepare(source, out, "--max-chars", "10") == 1
    assert files_under(out) == []


def test_chat_target_is_stratified_by_the_source_label(tmp_path: Path, capsys) -> None:
    # Converting to chat drops 'label' (the answer becomes the assistant turn): the source label still
    # stratifies, so each split keeps the 80/20 share.
    records = [{"text": f"review {i}", "label": "pos" if i % 5 else "neg"} for i in range(100)]
    source = write_jsonl(tmp_path / "raw.jsonl", records)
    out = tmp_path / "out"
    assert prepare(source, out, "--target", "chat", "--ratios", "0.8", "0.1", "0.1") == 0
    splits = read_splits(out)
    assert all("label" not in r for s in SPLITS for r in splits[s])
    shares = {s: Counter(r["messages"][-1]["content"] for r in splits[s]) for s in SPLITS}
    assert shares == {
        "train": Counter(pos=64, neg=16),
        "validation": Counter(pos=8, neg=2),
        "test": Counter(pos=8, neg=2),
    }
    assert "; 2 strata; " in capsys.readouterr().out
    # The monitor's baseline: the train split's answers are the source labels, which it keeps.
    baseline = json.loads((out / "baseline" / "baseline.json").read_text(encoding="utf-8"))
    assert baseline["labels"] == {"counts": {"pos": 64, "neg": 16}, "multiLabel": False}


def test_the_monitor_baseline_profiles_the_train_split(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "raw.jsonl", [instruction(i) for i in range(50)])
    out = tmp_path / "out"
    assert prepare(source, out, "--ratios", "0.8", "0.1", "0.1", "--no-stratify") == 0
    baseline = json.loads((out / "baseline" / "baseline.json").read_text(encoding="utf-8"))
    train = read_jsonl(out / "train" / "train.jsonl")
    assert baseline["schemaVersion"] == 1 and baseline["records"] == len(train) == 40
    assert baseline["lengths"]["promptTokens"]["count"] == 40 and baseline["labels"] is None
    assert {"summarise", "note", "text"} <= set(baseline["vocabulary"]["words"])
    # every prompt is "Summarise note <i>\n\nnote <i> text": 6 approximate tokens
    assert baseline["lengths"]["promptTokens"]["sample"] == [6] * 40


def test_no_baseline_when_prepare_fails(tmp_path: Path) -> None:
    records = [instruction(i) for i in range(10)]
    records[3]["output"] = ""
    out = tmp_path / "out"
    assert prepare(write_jsonl(tmp_path / "raw.jsonl", records), out) == 1
    assert prepare(write_jsonl(tmp_path / "few.jsonl", records[:2]), out) == 1  # a split would be empty
    assert files_under(out) == []


def test_a_split_without_records_is_refused(tmp_path: Path, capsys) -> None:
    source = write_jsonl(tmp_path / "raw.jsonl", [instruction(i) for i in range(5)])
    out = tmp_path / "out"
    assert prepare(source, out, "--ratios", "0.8", "0.1", "0.1") == 1
    message = capsys.readouterr().out
    assert "5 valid records split as train=4, validation=1, test=0 with --ratios 0.8 0.1 0.1" in message
    assert "every split needs at least one record" in message
    assert files_under(out) == []
    assert prepare(source, out, "--ratios", "0.5", "0.6", "0") == 2


def test_a_directory_of_several_files_is_one_data_set(tmp_path: Path, capsys) -> None:
    raw = tmp_path / "raw"
    (raw / "more").mkdir(parents=True)
    write_jsonl(raw / "a.jsonl", [instruction(i) for i in range(6)])
    (raw / "b.csv").write_text(
        "prompt,completion\n" + "".join(f"question {i},answer {i}\n" for i in range(4)), encoding="utf-8"
    )
    chats = [
        {"messages": [{"role": "user", "content": f"hi {i}"}, {"role": "assistant", "content": "yo"}]}
        for i in range(10)
    ]
    (raw / "more" / "c.json").write_text(json.dumps(chats), encoding="utf-8")
    (raw / "notes.txt").write_text("not data", encoding="utf-8")
    out = tmp_path / "out"
    assert prepare(raw, out, "--ratios", "0.6", "0.2", "0.2") == 0
    splits = read_splits(out)
    assert [len(splits[s]) for s in SPLITS] == [12, 4, 4]
    users = sorted(r["messages"][0]["content"] for s in SPLITS for r in splits[s])
    kinds = Counter(u.split()[0] for u in users)
    assert kinds == Counter(Summarise=6, question=4, hi=10)
    assert "train=12, validation=4, test=4; 0 duplicates dropped" in capsys.readouterr().out


# ------------------------------------------------------------------------------ protected attributes


def review(i: int) -> dict:
    """A classification source record: gender at the top level, age_band in a metadata object (both are
    read; the converted record holds both in metadata)."""
    return {
        "text": f"review {i}",
        "label": "pos" if i % 4 else "neg",
        "gender": "fm"[i % 2],
        "metadata": {"age_band": ["18-29", "30-49", "50+"][i % 3], "source": "ignored"},
    }


def test_protected_attributes_reach_every_split_of_the_chat_target(tmp_path: Path) -> None:
    from training.data.formats import to_conversation, write_prompt_completion

    records = [review(i) for i in range(40)]
    source = write_jsonl(tmp_path / "raw.jsonl", records)
    out = tmp_path / "out"
    assert prepare(source, out, "--target", "chat", "--protected-attributes", "gender", "age_band") == 0
    splits = read_splits(out)
    by_text = {r["text"]: r for r in records}
    for split in SPLITS:
        assert splits[split], split
        for record in splits[split]:
            assert list(record) == ["messages", "metadata"]
            origin = by_text[record["messages"][0]["content"]]
            assert record["metadata"] == {
                "gender": origin["gender"],
                "age_band": origin["metadata"]["age_band"],
            }
            # What the trainers read (text_format chat and plain) ignores it.
            assert to_conversation(record).turns == [("user", origin["text"]), ("assistant", origin["label"])]
            assert write_prompt_completion(record) == {
                "prompt": origin["text"],
                "completion": origin["label"],
            }
    # The test split is valid chat data that carries both attributes.
    test = str(out / "test" / "test.jsonl")
    args = ["validate", "--input", test, "--target", "chat", "--protected-attributes", "gender", "age_band"]
    assert main(args) == 0
    assert main([*args[:-2], "age"]) == 1  # an attribute the records lack


def test_protected_attributes_reach_the_test_split_of_a_task_target(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "raw.jsonl", [{**review(i), "id": i} for i in range(20)])
    out = tmp_path / "out"
    args = [
        "--target",
        "classification",
        "--protected-attributes",
        "age_band",
        "--ratios",
        "0.5",
        "0.25",
        "0.25",
    ]
    assert prepare(source, out, *args) == 0
    test = read_splits(out)["test"]
    assert len(test) == 5
    for record in test:
        assert list(record) == ["text", "label", "id", "metadata"]  # keep_fields, then the attributes
        i = record["id"]
        assert record["metadata"] == {"age_band": review(i)["metadata"]["age_band"]}


def test_a_record_without_a_protected_attribute_fails_naming_record_and_field(tmp_path: Path, capsys) -> None:
    records = [review(i) for i in range(10)]
    del records[3]["gender"]
    records[6]["gender"] = ""
    records[7]["metadata"]["age_band"] = ["18-29"]
    source = write_jsonl(tmp_path / "raw.jsonl", records)
    out = tmp_path / "out"
    assert prepare(source, out, "--protected-attributes", "gender", "age_band") == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"error: {source}:4 (record 4): field 'gender': is missing; --protected-attributes needs it in every "
        "record (in 'metadata' or at the top level)",
        f"error: {source}:7 (record 7): field 'gender': is empty",
        f"error: {source}:8 (record 8): field 'age_band': must be a group label (a string, integer or "
        "boolean), got list ['18-29']",
    ]
    assert captured.out == f"{source}: 3 errors; nothing written to {out}\n"
    assert files_under(out) == []


def test_protected_attributes_are_not_training_content(tmp_path: Path, capsys) -> None:
    """The same conversation with other attributes is a duplicate, and attributes count towards no limit."""
    records = [review(i) for i in range(10)]
    records.append({**review(0), "gender": "x" * 50})
    source = write_jsonl(tmp_path / "raw.jsonl", records)
    out = tmp_path / "out"
    args = ["--protected-attributes", "gender", "--max-chars", "12", "--ratios", "0.6", "0.2", "0.2"]
    assert prepare(source, out, *args) == 0  # "review 0" + "neg" is 12 characters with the newline
    assert "; 1 duplicates dropped; " in capsys.readouterr().out
    assert sum(len(records) for records in read_splits(out).values()) == 10


def test_bedrock_targets_cannot_carry_protected_attributes(tmp_path: Path, capsys) -> None:
    source = write_jsonl(tmp_path / "raw.jsonl", [review(i) for i in range(10)])
    out = tmp_path / "out"
    args = ["--target", "bedrock", "--model-family", "amazon-nova", "--protected-attributes", "gender"]
    assert prepare(source, out, *args) == 2
    assert capsys.readouterr().err == (
        "python -m training.data prepare: error: --protected-attributes: bedrock-conversation records cannot "
        "carry them (Bedrock accepts no other fields); keep the evaluation data in a format that can, e.g. "
        "--target chat\n"
    )
    assert files_under(out) == []
