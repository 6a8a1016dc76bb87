"""``format``: convert any supported source records to one target format, validating as it writes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.common.sagemaker import processing_input, processing_output, resolve_path
from training.data.formats import (
    METADATA_FIELD,
    MODEL_FAMILIES,
    TARGET_CHOICES,
    FieldError,
    attribute_of,
    is_missing,
)
from training.data.io import AtomicOutputs, Item, dumps_record, read_records, require_input
from training.data.validate import DUPLICATE, OK, DatasetValidator, LimitArgs, build_validator, report


@dataclass
class ConversionArgs(LimitArgs):
    """What converting source records to a target needs, shared by ``format`` and ``prepare``."""

    model_family: str | None = field(
        default=None,
        metadata={
            "help": "Base model family (chooses the Bedrock format and limits)",
            "choices": list(MODEL_FAMILIES),
        },
    )
    keep_fields: list[str] = field(
        default_factory=lambda: ["id", "group"],
        metadata={"help": "Fields copied unchanged into task formats (classification, summarization, qa)"},
    )


@dataclass
class FormatArgs(ConversionArgs):
    """Convert records (instruction, prompt/completion, chat, task) to a target format."""

    input: str | None = field(
        default=None, metadata={"help": "Source file or directory (default in a Processing job: input/data)"}
    )
    output: str | None = field(
        default=None,
        metadata={"help": "Output JSONL file (default in a Processing job: output/formatted/data.jsonl)"},
    )
    target: str = field(default="bedrock", metadata={"help": "Target format", "choices": TARGET_CHOICES})
    drop_duplicates: bool = field(
        default=False, metadata={"help": "Drop repeated records instead of failing"}
    )

    @property
    def allow_duplicates(self) -> bool:
        return self.drop_duplicates


def converted_records(
    source: Path, validator: DatasetValidator, keep_fields: list[str]
) -> Iterator[tuple[Item, dict[str, Any], str]]:
    """Every source record converted to the validator's target and checked by it: yields (source item,
    converted record, status: OK, INVALID or DUPLICATE). Unreadable, non-object and unconvertible records
    become the validator's errors and are not yielded. ``keep_fields`` are copied into task formats; the
    validator's protected attributes into every record's ``metadata`` (the validator then requires them)."""
    target = validator.target
    keep = target.task_fields and keep_fields
    attributes = validator.protected_attributes
    for item in read_records(source):
        if item.problem:
            validator.error(item.problem.location, item.problem.field, item.problem.reason)
            continue
        record: Any = item.value
        if not isinstance(record, dict):
            reason = f"a record must be a JSON object, got {type(record).__name__}"
            validator.error(item.location, None, reason)
            continue
        try:
            converted = target.write(record)
        except FieldError as exc:
            validator.error(item.location, exc.field, exc.reason)
            continue
        if keep:
            converted.update({k: record[k] for k in keep_fields if k in record})
        if attributes:
            values = {name: attribute_of(record, name) for name in attributes}
            converted[METADATA_FIELD] = {k: v for k, v in values.items() if not is_missing(v)}
        yield item, converted, validator.check(item.location, converted)


class _Abort(Exception):
    """Raised inside the atomic writer so that no output file is left behind."""


def run_format(args: FormatArgs) -> int:
    source = require_input(resolve_path(args.input, processing_input("data"), "--input"), "--input")
    output = resolve_path(args.output, processing_output("formatted") / "data.jsonl", "--output")
    validator = build_validator(args)
    validator.count_duplicates = not args.drop_duplicates
    target = validator.target
    written = 0
    try:
        with AtomicOutputs() as out:
            handle = out.open(output)
            for _, converted, status in converted_records(source, validator, args.keep_fields):
                if status == OK and validator.ok:
                    handle.write(dumps_record(converted) + "\n")
                    written += 1
                elif status == DUPLICATE and args.drop_duplicates:
                    continue
            validator.finish()
            if not validator.ok:
                raise _Abort
    except _Abort:
        report(validator)
        print(f"{source}: {validator.error_count} errors; nothing written to {output}")
        return 1
    report(validator)
    dropped = f", {validator.duplicates} duplicates dropped" if validator.duplicates else ""
    print(f"wrote {written} {target.name} records to {output}{dropped}")
    return 0
