"""``prepare``: the pipeline's data step in one command: format, validate, drop duplicates, split.

    python -m training.data prepare --input /opt/ml/processing/input/raw \
        --output-dir /opt/ml/processing/output --target chat --ratios 0.8 0.1 0.1 --seed 42

Every source record is converted to ``--target`` (the conversion of ``format``), checked by the validator of
``validate`` (shape, limits, labels, duplicates), and the valid records are split like ``split`` (seeded,
stratified, largest remainder) into ``<output-dir>/train/train.jsonl``, ``validation/validation.jsonl`` and
``test/test.jsonl``, which appear together or not at all, with ``baseline/baseline.json``: the capture
monitor's profile of the train split (``training/monitor/profile.py``; class labels from the source records,
as for stratification). Decisions:

- Duplicates (the validator's definition: same converted content, key order and ``id`` ignored) are dropped,
  the first copy kept, and counted in the summary: one repeated record in a large upload must not fail a
  whole pipeline execution. Any other invalid record fails the command with every problem named, and
  nothing is written.
- Stratification uses the label of the source record (before conversion), else of the converted one:
  converting to ``chat`` drops the ``label`` field that stratified splitting needs.
- Every split must receive at least one record; otherwise the command fails, naming the counts and ratios.
- ``--protected-attributes gender age_band`` keeps those fields of every source record (top level, or its
  ``metadata`` object) in the converted record's ``metadata`` object, in every split, so that the evaluation
  of the test split can measure fairness over them. A record without one (or with a value that is not a
  group label: a non-empty string, an integer or a boolean) is an error naming the record and the field,
  not a silent gap: a misspelt attribute, or an upstream join that lost it for some records, would otherwise
  measure fairness over fewer records than it claims ("not disclosed" is a group of its own, e.g.
  "unknown"). The trainers read only the conversation; duplicate detection and length limits ignore
  ``metadata``. Bedrock targets cannot carry it (their record shapes are fixed): the option is refused there.
  The split is stratified by label only, so a rare group may miss the test split; the evaluation then
  refuses to measure that attribute (a disparity needs two groups).

Two passes, each record converted once: pass 1 converts and validates, writes the kept records to a
temporary file in the output directory and keeps a label id per record; pass 2 streams that file into the
splits and profiles the train records into the baseline (bounded memory). Memory is O(records) small
integers (the validator's 8-byte duplicate hashes, a label id and a split id per record), independent of
record size.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from array import array
from dataclasses import dataclass, field
from pathlib import Path

from training.common.sagemaker import PROCESSING_ROOT, processing_input, resolve_path
from training.data.convert import ConversionArgs, converted_records
from training.data.formats import TARGET_CHOICES, label_of
from training.data.io import AtomicOutputs, dumps_record, require_input
from training.data.split import SPLIT_NAMES, assign_splits, ratios_problem
from training.data.validate import OK, build_validator, report
from training.monitor.profile import Profile, labels_of, record_parts


@dataclass
class PrepareArgs(ConversionArgs):
    """Format, validate, drop duplicates and split raw records into train/validation/test (pipeline step).

    Converts like format, validates like validate, and splits like split into
    <output-dir>/{train,validation,test}/<split>.jsonl, with the monitor's baseline of the train split in
    <output-dir>/baseline/baseline.json (all or none). Duplicates are dropped (first copy kept) and
    counted, not an error; any other invalid record fails the command and nothing is written.
    Stratification uses the source record's label (a chat target drops it). Every split must get at least
    one record. --protected-attributes go into every record's 'metadata' object (not with Bedrock targets).
    """

    input: str | None = field(
        default=None, metadata={"help": "Source file or directory (default in a Processing job: input/raw)"}
    )
    output_dir: str | None = field(
        default=None,
        metadata={
            "help": "Writes train/train.jsonl, validation/validation.jsonl, test/test.jsonl and "
            "baseline/baseline.json here, all or none (default in a Processing job: "
            "/opt/ml/processing/output)"
        },
    )
    target: str = field(default="chat", metadata={"help": "Target format", "choices": TARGET_CHOICES})
    ratios: list[float] = field(
        default_factory=lambda: [0.8, 0.1, 0.1],
        metadata={
            "help": "train validation test fractions, summing to 1; each split gets at least one record"
        },
    )
    seed: int = field(
        default=42, metadata={"help": "Random seed; the same seed and input give the same split"}
    )
    stratify: bool = field(
        default=True,
        metadata={"help": "Keep each label's share the same in every split (label of the source record)"},
    )

    @property
    def allow_duplicates(self) -> bool:
        """Duplicates are dropped and counted, never an error (see the module docstring)."""
        return True


def run_prepare(args: PrepareArgs) -> int:
    source = require_input(resolve_path(args.input, processing_input("raw"), "--input"), "--input")
    out_dir = resolve_path(args.output_dir, PROCESSING_ROOT / "output", "--output-dir")
    problem = ratios_problem(args.ratios)
    if problem:
        print(f"error: {problem}")
        return 2
    validator = build_validator(args)
    validator.count_duplicates = False  # dropped duplicates do not count towards the record limits
    strata = array("i")  # per kept record: label id (0 without stratification)
    labels = array("i")  # per kept record: label id, for the baseline
    label_ids: dict[str, int] = {}
    label_values: list[tuple[str, ...]] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, kept_name = tempfile.mkstemp(prefix=".prepare-", suffix=".jsonl.tmp", dir=out_dir)
    kept_path = Path(kept_name)
    try:
        # Pass 1: convert, validate, keep. Once a record is invalid nothing more is written, but every
        # record is still checked so that all problems are reported at once.
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="\n") as kept:
            for item, converted, status in converted_records(source, validator, args.keep_fields):
                if status != OK or not validator.ok:  # duplicates are dropped here
                    continue
                kept.write(dumps_record(converted) + "\n")
                # Not `source`: that names the input in the messages below.
                labelled = item.value if label_of(item.value) is not None else converted
                label_id = label_ids.setdefault(repr(label_of(labelled)), len(label_ids))
                if label_id == len(label_values):
                    label_values.append(labels_of(labelled))
                labels.append(label_id)
                strata.append(label_id if args.stratify else 0)
        validator.finish()
        report(validator)
        if not validator.ok:
            print(f"{source}: {validator.error_count} errors; nothing written to {out_dir}")
            return 1

        assignment = assign_splits(strata, args.ratios, args.seed)
        counts = [assignment.count(i) for i in range(len(SPLIT_NAMES))]
        summary = ", ".join(f"{name}={n}" for name, n in zip(SPLIT_NAMES, counts, strict=True))
        if not all(counts):
            ratios = " ".join(f"{r:g}" for r in args.ratios)
            print(
                f"error: {len(strata)} valid records split as {summary} with --ratios {ratios}; every split "
                f"needs at least one record: add records or change --ratios. Nothing written to {out_dir}"
            )
            return 1

        # Pass 2: stream the kept records into their splits (the lines are already converted JSON) and
        # profile the train split; the baseline appears with the splits or not at all.
        baseline, train = Profile(), SPLIT_NAMES.index("train")
        with AtomicOutputs() as out:
            handles = [out.open(out_dir / name / f"{name}.jsonl") for name in SPLIT_NAMES]
            with open(kept_path, encoding="utf-8", errors="surrogateescape", newline="\n") as kept:
                for index, line in enumerate(kept):
                    split = assignment[index]
                    handles[split].write(line)
                    parts = record_parts(json.loads(line)) if split == train else None
                    if parts is not None:
                        baseline.add(parts.prompt, parts.completion, label_values[labels[index]])
            document = baseline.baseline_document()
            text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
            out.open(out_dir / "baseline" / "baseline.json").write(text)
    finally:
        with contextlib.suppress(FileNotFoundError):
            kept_path.unlink()
    strata_count = len(label_ids) if args.stratify else 1
    print(f"{summary}; {validator.duplicates} duplicates dropped; {strata_count} strata; seed {args.seed}")
    return 0
