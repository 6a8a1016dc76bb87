"""Streaming validation of fine-tuning records against a target format and a model family's limits.

Memory is one record at a time plus an 8-byte hash per distinct record (for duplicate detection) and a count
per label; it does not depend on how long the records are.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.common.args import UsageError, existing_path
from training.common.sagemaker import processing_input, resolve_path
from training.data.formats import (
    METADATA_FIELD,
    MODEL_FAMILIES,
    TARGET_CHOICES,
    FieldError,
    TargetFormat,
    check_protected_attributes,
    check_reserved_keywords,
    record_text,
    resolve_target,
)
from training.data.hashindex import HashIndex
from training.data.io import Location, Problem, read_records, require_input


@dataclass
class Limits:
    min_records: int = 1
    max_records: int | None = None
    max_chars: int | None = None
    max_tokens: int | None = None
    reserved_keywords: tuple[str, ...] = ()


def limits_for(
    model_family: str | None,
    min_records: int | None = None,
    max_records: int | None = None,
    max_chars: int | None = None,
    max_tokens: int | None = None,
) -> Limits:
    """The family's limits from the table, each overridable; without a family only the given limits apply."""
    limits = Limits()
    if model_family:
        family = MODEL_FAMILIES[model_family]
        limits = Limits(
            family.min_records,
            family.max_records,
            family.max_chars,
            family.max_tokens,
            family.reserved_keywords,
        )
    if min_records is not None:
        limits.min_records = min_records
    if max_records is not None:
        limits.max_records = max_records
    if max_chars is not None:
        limits.max_chars = max_chars
    if max_tokens is not None:
        limits.max_tokens = max_tokens
    return limits


class TokenCounter:
    """Counts tokens with a local ``tokenizer.json`` (the Hugging Face ``tokenizers`` format)."""

    def __init__(self, path: str | Path) -> None:
        from tokenizers import Tokenizer  # optional dependency, only needed for token counts

        self._tokenizer = Tokenizer.from_file(str(path))

    def count(self, text: str) -> int:
        # Undecodable bytes (kept as lone surrogates) become U+FFFD: the tokenizer only takes valid text.
        clean = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        return len(self._tokenizer.encode(clean, add_special_tokens=False).ids)


def record_hash(record: Any, normalize: bool = False) -> int:
    """A 64-bit content hash; key order does not matter, and ``normalize`` ignores case and whitespace."""
    text = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    if normalize:
        text = " ".join(text.lower().split())
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


OK, INVALID, DUPLICATE = "ok", "invalid", "duplicate"
# Left out of duplicate detection: a record id, and the protected attributes (the same conversation with
# other attributes is the same training example).
_NOT_CONTENT = frozenset({"id", METADATA_FIELD})


@dataclass
class DatasetValidator:
    """Checks records one by one (``check``) and the dataset as a whole (``finish``)."""

    target: TargetFormat
    limits: Limits
    allowed_labels: set[str] | None = None
    allow_duplicates: bool = False
    tokens: TokenCounter | None = None
    max_reported: int = 100
    # Every record must carry a group for each (check_protected_attributes).
    protected_attributes: tuple[str, ...] = ()
    # Whether allowed duplicates count towards the record limits (not when they are dropped from the output).
    count_duplicates: bool = True
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    error_count: int = 0
    valid_records: int = 0
    duplicates: int = 0
    label_counts: Counter = field(default_factory=Counter)
    _seen: HashIndex = field(default_factory=HashIndex)
    _files: list[str] = field(default_factory=list)
    _label_kind: tuple[str, str] | None = None
    _label_type: tuple[type, str] | None = None

    def error(self, location: Location | None, field_name: str | None, reason: str) -> None:
        self.error_count += 1
        if len(self.problems) < self.max_reported:
            self.problems.append(Problem(location, field_name, reason))

    def warn(self, location: Location | None, field_name: str | None, reason: str) -> None:
        if len(self.warnings) < self.max_reported:
            self.warnings.append(Problem(location, field_name, reason))

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def check(self, location: Location, record: Any) -> str:
        """Check one record already in the target format; returns OK, INVALID or DUPLICATE."""
        if not isinstance(record, dict):
            self.error(location, None, f"a record must be a JSON object, got {type(record).__name__}")
            return INVALID
        try:
            self.target.check(record)
            check_reserved_keywords(record, self.limits.reserved_keywords)
            check_protected_attributes(record, self.protected_attributes)
        except FieldError as exc:
            self.error(location, exc.field, exc.reason)
            return INVALID
        if not self._check_length(location, record) or not self._check_label(location, record):
            return INVALID
        if not self._files or self._files[-1] != location.path:
            self._files.append(location.path)
        # File index and line packed in one int: this map is the only per-record memory validation keeps.
        packed = ((len(self._files) - 1) << 40) | location.line
        content = {k: v for k, v in record.items() if k not in _NOT_CONTENT}
        first = self._seen.setdefault(record_hash(content), packed)
        if first is not None:
            self.duplicates += 1
            if not self.allow_duplicates:
                where = f"{self._files[first >> 40]}:{first & ((1 << 40) - 1)}"
                self.error(location, None, f"duplicate record: same content as {where}")
            return DUPLICATE
        self.valid_records += 1
        return OK

    def _check_length(self, location: Location, record: dict[str, Any]) -> bool:
        text = record_text(record)
        if "\ufffd" in text:
            self.warn(
                location, None, "contains U+FFFD replacement characters: the text was mis-decoded upstream"
            )
        if self.limits.max_chars is not None and len(text) > self.limits.max_chars:
            reason = f"record has {len(text)} characters; the limit is {self.limits.max_chars}"
            self.error(location, None, reason)
            return False
        if self.tokens is not None and self.limits.max_tokens is not None:
            count = self.tokens.count(text)
            if count > self.limits.max_tokens:
                self.error(
                    location, None, f"record has {count} tokens; the limit is {self.limits.max_tokens}"
                )
                return False
        return True

    def _check_label(self, location: Location, record: dict[str, Any]) -> bool:
        if "label" in record:
            kind, values = "label", [record["label"]]
        elif "labels" in record and self.target.name == "classification":
            kind, values = "labels", record["labels"]
        else:
            return True
        where = f"{location.path}:{location.line}"
        if self._label_kind is None:
            self._label_kind = (kind, where)
        elif self._label_kind[0] != kind:
            first_kind, first_where = self._label_kind
            reason = f"uses '{kind}' but earlier records use '{first_kind}' (first at {first_where})"
            self.error(location, kind, reason)
            return False
        for value in values:
            if self._label_type is None:
                self._label_type = (type(value), where)
            elif type(value) is not self._label_type[0]:
                first_type, first_where = self._label_type
                reason = (
                    f"label {value!r} is of type {type(value).__name__} but earlier labels are "
                    f"{first_type.__name__} (first at {first_where})"
                )
                self.error(location, kind, reason)
                return False
            if self.allowed_labels is not None and str(value) not in self.allowed_labels:
                allowed = ", ".join(sorted(self.allowed_labels))
                self.error(location, kind, f"label {value!r} is not in the label set; allowed: {allowed}")
                return False
        self.label_counts.update(str(v) for v in values)
        return True

    def finish(self) -> None:
        """Dataset-level rules: record count limits and rare labels."""
        count = self.valid_records + (
            self.duplicates if self.allow_duplicates and self.count_duplicates else 0
        )
        if count < self.limits.min_records:
            self.error(None, None, f"{count} valid records; at least {self.limits.min_records} are required")
        if self.limits.max_records is not None and count > self.limits.max_records:
            self.error(None, None, f"{count} records; at most {self.limits.max_records} are allowed")
        for label, n in sorted(self.label_counts.items()):
            if n == 1:
                self.warn(
                    None, "label", f"label {label!r} has a single example; it cannot appear in every split"
                )

    def summary(self) -> dict[str, Any]:
        return {
            "valid": self.ok,
            "target": self.target.name,
            "valid_records": self.valid_records,
            "duplicates": self.duplicates,
            "error_count": self.error_count,
            "errors": [p.as_dict() for p in self.problems],
            "warnings": [p.as_dict() for p in self.warnings],
            "labels": dict(sorted(self.label_counts.items())),
        }


def report(validator: DatasetValidator, stream: Any = None) -> None:
    stream = stream or sys.stderr
    for warning in validator.warnings:
        print(f"warning: {warning}", file=stream)
    for problem in validator.problems:
        print(f"error: {problem}", file=stream)
    hidden = validator.error_count - len(validator.problems)
    if hidden > 0:
        print(f"error: ... and {hidden} more errors", file=stream)


@dataclass
class LimitArgs:
    """What the validator checks beyond the target's shape: limits that override a model family's, allowed
    labels, protected attributes; shared by ``validate``, ``format`` and ``prepare``."""

    tokenizer: str | None = field(default=None, metadata={"help": "Local tokenizer.json for token limits"})
    min_records: int | None = field(default=None, metadata={"help": "Override the family's minimum records"})
    max_records: int | None = field(default=None, metadata={"help": "Override the family's maximum records"})
    max_chars: int | None = field(
        default=None, metadata={"help": "Override the maximum characters per record"}
    )
    max_tokens: int | None = field(default=None, metadata={"help": "Override the maximum tokens per record"})
    labels: list[str] | None = field(default=None, metadata={"help": "Allowed labels (classification)"})
    protected_attributes: list[str] | None = field(
        default=None,
        metadata={
            "help": "Fields whose groups fairness is measured over, e.g. gender age_band: every record "
            "must carry each (a string, integer or boolean), read from the record's 'metadata' object or "
            "its top level; format and prepare write them into 'metadata'. Not with Bedrock targets"
        },
    )
    max_errors: int = field(default=100, metadata={"help": "How many errors to print"})


@dataclass
class ValidateArgs(LimitArgs):
    """Check that a dataset is valid for a target format and a model family's limits."""

    input: str | None = field(
        default=None,
        metadata={"help": "File or directory to check (default in a Processing job: input/data)"},
    )
    target: str = field(default="bedrock", metadata={"help": "Target format", "choices": TARGET_CHOICES})
    model_family: str | None = field(
        default=None,
        metadata={"help": "Base model family whose limits apply", "choices": list(MODEL_FAMILIES)},
    )
    allow_duplicates: bool = field(default=False, metadata={"help": "Accept duplicate records"})


def build_validator(args: Any) -> DatasetValidator:
    try:
        target = resolve_target(args.target, args.model_family)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    attributes = tuple(args.protected_attributes or ())
    if attributes and not target.carries_metadata:
        raise UsageError(
            f"--protected-attributes: {target.name} records cannot carry them (Bedrock accepts no other "
            "fields); keep the evaluation data in a format that can, e.g. --target chat"
        )
    if len(set(attributes)) != len(attributes):
        raise UsageError(f"--protected-attributes names an attribute twice: {' '.join(attributes)}")
    limits = limits_for(
        args.model_family, args.min_records, args.max_records, args.max_chars, args.max_tokens
    )
    return DatasetValidator(
        target,
        limits,
        allowed_labels=set(args.labels) if args.labels else None,
        allow_duplicates=args.allow_duplicates,
        tokens=TokenCounter(existing_path(args.tokenizer, "--tokenizer", "file")) if args.tokenizer else None,
        max_reported=args.max_errors,
        protected_attributes=attributes,
    )


def run_validate(args: ValidateArgs) -> int:
    source = require_input(resolve_path(args.input, processing_input("data"), "--input"), "--input")
    validator = build_validator(args)
    for item in read_records(source):
        if item.problem:
            validator.error(item.problem.location, item.problem.field, item.problem.reason)
        else:
            validator.check(item.location, item.value)
    validator.finish()
    report(validator)
    status = "valid" if validator.ok else f"INVALID ({validator.error_count} errors)"
    print(f"{source}: {validator.valid_records} records, target {validator.target.name}: {status}")
    return 0 if validator.ok else 1
