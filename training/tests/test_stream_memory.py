"""Streaming: peak memory on a 50 MB file stays within a few MB of the peak on a 1 MB file."""

from __future__ import annotations

import json
from pathlib import Path

from training.bench_stream_memory import generate, measure


def test_generate_writes_distinct_records_of_the_requested_size(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    records = generate(path, 100_000, 1000)
    assert path.stat().st_size >= 100_000 and records == len(path.read_text().splitlines()) == 96


def test_generated_json_array_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    records = generate(path, 50_000, 100, as_array=True)
    assert len(json.loads(path.read_text())) == records


def test_validate_and_stats_memory_does_not_grow_with_file_size(tmp_path: Path) -> None:
    # 10,000-character records: 50 MB is ~5,000 records, so per-record bookkeeping (hashes, lengths) is tiny
    # and any growth would come from holding file contents.
    results = measure(50, 10_000, ["validate", "stats"], tmp_path)
    for command in ("validate", "stats"):
        assert results[command]["large_records"] > 5000
        assert results[command]["growth_mb"] < 15, results


def test_json_array_validate_memory_does_not_grow_with_file_size(tmp_path: Path) -> None:
    results = measure(30, 10_000, ["validate"], tmp_path, file_format="json")
    assert results["validate"]["growth_mb"] < 15, results
