"""``split``: de-duplicate, then cut train/validation/test by ratio, seeded, stratified by label.

Two passes over the input: the first keeps, per record, an 8-byte hash (for de-duplication) and a small label
id; the split is decided from those; the second pass streams each record to its split's file. Memory is
O(records), independent of record size.
"""

from __future__ import annotations

import random
import sys
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.common.sagemaker import processing_input, processing_output, resolve_path
from training.data.formats import FieldError, check_source_record, label_of
from training.data.hashindex import HashIndex
from training.data.io import AtomicOutputs, Problem, dumps_record, read_records, require_input
from training.data.validate import record_hash

SPLIT_NAMES = ("train", "validation", "test")
MAX_REPORTED = 100


@dataclass
class SplitArgs:
    """De-duplicate and split a dataset into train/validation/test files (seeded, stratified)."""

    input: str | None = field(
        default=None,
        metadata={"help": "File or directory to split (default in a Processing job: input/data)"},
    )
    output_dir: str | None = field(
        default=None,
        metadata={"help": "Directory for train.jsonl, validation.jsonl, test.jsonl (default: output/splits)"},
    )
    ratios: list[float] = field(
        default_factory=lambda: [0.8, 0.1, 0.1],
        metadata={"help": "train validation test fractions, summing to 1"},
    )
    seed: int = field(
        default=42, metadata={"help": "Random seed; the same seed and input give the same split"}
    )
    stratify: bool = field(
        default=True,
        metadata={"help": "Keep each label's share the same in every split (records with label/labels)"},
    )
    dedup_fields: list[str] | None = field(
        default=None,
        metadata={"help": "Fields that define a duplicate (default: the whole record), e.g. prompt"},
    )
    dedup_normalize: bool = field(
        default=False, metadata={"help": "Ignore case and whitespace when finding duplicates"}
    )


def allocate(n: int, ratios: list[float]) -> list[int]:
    """Split ``n`` into counts proportional to ``ratios`` (largest remainder; ties go to earlier splits)."""
    exact = [n * r for r in ratios]
    counts = [int(x) for x in exact]
    order = sorted(range(len(ratios)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def ratios_problem(ratios: list[float]) -> str | None:
    """Why ``ratios`` are not three train/validation/test fractions, or None."""
    if len(ratios) != 3 or any(r < 0 for r in ratios) or abs(sum(ratios) - 1) > 1e-6:
        return f"--ratios must be three non-negative fractions summing to 1, got {ratios}"
    return None


def assign_splits(strata: array, ratios: list[float], seed: int) -> bytearray:
    """Split id per kept record: shuffle each stratum with its own seeded RNG, then cut it by ratio."""
    members: dict[int, array] = {}
    for index, stratum in enumerate(strata):
        members.setdefault(stratum, array("q")).append(index)
    assignment = bytearray(len(strata))
    for stratum in sorted(members):
        indices = members.pop(stratum)  # shuffled in place: no per-record Python objects
        random.Random(f"{seed}:{stratum}").shuffle(indices)
        start = 0
        for split_id, count in enumerate(allocate(len(indices), ratios)):
            for index in indices[start : start + count]:
                assignment[index] = split_id
            start += count
    return assignment


def _dedup_key(record: Any, fields: list[str] | None) -> Any:
    if fields and isinstance(record, dict):
        return {f: record.get(f) for f in fields}
    return record


def run_split(args: SplitArgs) -> int:
    source = require_input(resolve_path(args.input, processing_input("data"), "--input"), "--input")
    out_dir = resolve_path(args.output_dir, processing_output("splits"), "--output-dir")
    problem = ratios_problem(args.ratios)
    if problem:
        print(f"error: {problem}")
        return 2
    seen = HashIndex(with_values=False)
    keep = bytearray()  # per input record: 1 if kept (first copy), 0 if duplicate
    strata = array("i")  # per kept record: label id
    label_ids: dict[Any, int] = {}
    problems: list[Problem] = []
    error_count = 0
    # Pass 1 checks every record before anything is written: a file that is not records (an empty file, a
    # JSON value that is not an object, invalid UTF-8, an unknown shape) must not become three split files.
    for item in read_records(source):
        problem = item.problem
        if problem is None:
            try:
                check_source_record(item.value)
            except FieldError as exc:
                problem = Problem(item.location, exc.field, exc.reason)
        if problem is not None:
            error_count += 1
            if len(problems) < MAX_REPORTED:
                problems.append(problem)
            continue
        if error_count:
            continue  # only checking from here on
        key = record_hash(_dedup_key(item.value, args.dedup_fields), args.dedup_normalize)
        if seen.setdefault(key) is not None:
            keep.append(0)
            continue
        keep.append(1)
        label = label_of(item.value) if args.stratify else None
        strata.append(label_ids.setdefault(repr(label), len(label_ids)))
    if not error_count and not keep:
        error_count, problems = 1, [Problem(None, None, f"{source}: no records")]
    if error_count:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        if error_count > len(problems):
            print(f"error: ... and {error_count - len(problems)} more errors", file=sys.stderr)
        print(f"{source}: {error_count} errors; nothing written to {out_dir}", file=sys.stderr)
        return 1
    del seen
    assignment = assign_splits(strata, args.ratios, args.seed)
    counts = [0, 0, 0]
    with AtomicOutputs() as out:
        handles = [out.open(Path(out_dir) / f"{name}.jsonl") for name in SPLIT_NAMES]
        kept_index = 0
        for position, item in enumerate(read_records(source)):
            if not keep[position]:
                continue
            split_id = assignment[kept_index]
            kept_index += 1
            handles[split_id].write(dumps_record(item.value) + "\n")
            counts[split_id] += 1
    duplicates = len(keep) - sum(counts)
    summary = ", ".join(f"{name}={n}" for name, n in zip(SPLIT_NAMES, counts, strict=True))
    print(f"{summary}; {duplicates} duplicates removed; {len(label_ids)} strata; seed {args.seed}")
    return 0
