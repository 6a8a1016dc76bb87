"""``stats``: profile a dataset: counts, length distributions, labels, duplicates, empty fields, encoding.

Streams the input; per record it keeps only a few integers (lengths, for exact percentiles, and a hash).
"""

from __future__ import annotations

import functools
import math
import unicodedata
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.common.sagemaker import processing_input, processing_output, resolve_path
from training.data.formats import record_text, text_problem
from training.data.hashindex import HashIndex
from training.data.io import read_records, require_input, write_json_atomic, write_text_atomic
from training.data.validate import TokenCounter, record_hash

MAX_EXAMPLES = 10
# Letters looked at per record to guess its writing system; enough to tell scripts apart, cheap on big files.
_SCRIPT_SAMPLE = 200


@dataclass
class StatsArgs:
    """Profile a dataset: counts, lengths, labels, duplicates, empty fields, encoding problems."""

    input: str | None = field(
        default=None,
        metadata={"help": "File or directory to profile (default in a Processing job: input/data)"},
    )
    output: str | None = field(
        default=None,
        metadata={
            "help": "stats.json to write; a readable stats.txt goes beside it (default: output/stats/)"
        },
    )
    tokenizer: str | None = field(default=None, metadata={"help": "Local tokenizer.json for token lengths"})


def distribution(values: array | list[int]) -> dict[str, float | int]:
    """min/mean/p50/p90/p99/max, percentiles by the nearest-rank method."""
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    n = len(ordered)

    def rank(p: float) -> int:
        return ordered[max(0, math.ceil(p / 100 * n) - 1)]

    return {
        "count": n,
        "min": ordered[0],
        "mean": round(sum(ordered) / n, 3),
        "p50": rank(50),
        "p90": rank(90),
        "p99": rank(99),
        "max": ordered[-1],
    }


def text_fields(record: dict[str, Any]) -> dict[str, str]:
    """Named texts of one record: top-level strings, chat turns by role, system blocks, answers."""
    fields: dict[str, str] = {}
    for key, value in record.items():
        if key in ("id", "schemaVersion", "group"):
            continue
        if isinstance(value, str):
            fields[key] = value
        elif key == "messages" and isinstance(value, list):
            for message in value:
                if isinstance(message, dict):
                    name = f"messages.{message.get('role')}"
                    fields[name] = fields.get(name, "") + _content_text(message.get("content"))
        elif key in ("system", "answers") and isinstance(value, list):
            fields[key] = "\n".join(_content_text(v) for v in value)
    return fields


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text", ""))
    if isinstance(content, list):
        return "\n".join(_content_text(c) for c in content)
    return ""


def _empty_fields(record: dict[str, Any]) -> list[str]:
    empty = [k for k, v in record.items() if v is None or v == [] or (isinstance(v, str) and not v.strip())]
    for message in record.get("messages") or []:
        if isinstance(message, dict) and not _content_text(message.get("content")).strip():
            empty.append("messages[].content")
    return empty


@functools.lru_cache(maxsize=65536)
def _script(char: str) -> str:
    name = unicodedata.name(char, "")
    return name.split(" ")[0] if name else "UNKNOWN"


def dominant_script(text: str) -> str | None:
    """The Unicode script (LATIN, CYRILLIC, CJK...) of most of the first letters of ``text``."""
    sample = text[: _SCRIPT_SAMPLE * 4]
    if sample.isascii():  # the common case, decided without looking at every character
        return "LATIN" if any(c.isalpha() for c in sample) else None
    scripts: Counter = Counter()
    seen = 0
    for char in sample:
        if char.isalpha():
            scripts[_script(char)] += 1
            seen += 1
            if seen >= _SCRIPT_SAMPLE:
                break
    return scripts.most_common(1)[0][0] if scripts else None


@dataclass
class DatasetStats:
    tokens: TokenCounter | None = None
    records: int = 0
    parse_errors: int = 0
    duplicates: int = 0
    field_lengths: dict[str, array] = field(default_factory=dict)
    record_tokens: array = field(default_factory=lambda: array("I"))
    labels: Counter = field(default_factory=Counter)
    empty_fields: Counter = field(default_factory=Counter)
    encoding: Counter = field(default_factory=Counter)
    scripts: Counter = field(default_factory=Counter)
    fields_seen: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    _seen: HashIndex = field(default_factory=lambda: HashIndex(with_values=False))

    def _example(self, kind: str, text: str) -> None:
        bucket = self.examples.setdefault(kind, [])
        if len(bucket) < MAX_EXAMPLES:
            bucket.append(text)

    def add(self, location: Any, record: Any) -> None:
        self.records += 1
        if not isinstance(record, dict):
            self.parse_errors += 1
            self._example("parse_errors", f"{location}: not a JSON object")
            return
        self.fields_seen.update(record.keys())
        if self._seen.setdefault(record_hash({k: v for k, v in record.items() if k != "id"})) is not None:
            self.duplicates += 1
            self._example("duplicates", str(location))
        texts = text_fields(record)
        texts["record"] = record_text(record)
        for name, text in texts.items():
            self.field_lengths.setdefault(name, array("I")).append(len(text))
        full = texts["record"]
        if self.tokens is not None:
            self.record_tokens.append(self.tokens.count(full))
        for name in _empty_fields(record):
            self.empty_fields[name] += 1
            self._example("empty_fields", f"{location}: {name}")
        problem = text_problem(full)
        if problem:
            kind = "invalid_utf8" if "UTF-8" in problem or "surrogate" in problem else "control_characters"
            self.encoding[kind] += 1
            self._example(kind, f"{location}: {problem}")
        if "\ufffd" in full:
            self.encoding["replacement_characters"] += 1
            self._example("replacement_characters", str(location))
        script = dominant_script(full)
        self.scripts[script or "NONE"] += 1
        if "label" in record:
            self.labels[str(record["label"])] += 1
        elif isinstance(record.get("labels"), list):
            self.labels.update(str(v) for v in record["labels"])

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "records": self.records,
            "parse_errors": self.parse_errors,
            "duplicates": self.duplicates,
            "unique_records": self.records - self.parse_errors - self.duplicates,
            "fields": dict(sorted(self.fields_seen.items())),
            "char_lengths": {k: distribution(v) for k, v in sorted(self.field_lengths.items())},
            "label_distribution": dict(self.labels.most_common()),
            "empty_fields": dict(sorted(self.empty_fields.items())),
            "encoding_problems": {
                k: self.encoding.get(k, 0)
                for k in ("invalid_utf8", "control_characters", "replacement_characters")
            },
            "scripts": dict(self.scripts.most_common()),
            "examples": self.examples,
        }
        if self.tokens is not None:
            result["token_lengths"] = {"record": distribution(self.record_tokens)}
        return result


def summary_text(stats: dict[str, Any]) -> str:
    lines = [
        f"records: {stats['records']} ({stats['unique_records']} unique, {stats['duplicates']} duplicates, "
        f"{stats['parse_errors']} unparseable)",
        "character lengths:",
    ]
    for name, d in stats["char_lengths"].items():
        if d.get("count"):
            lines.append(
                f"  {name:<22} min {d['min']:>7}  mean {d['mean']:>10}  p50 {d['p50']:>7}  "
                f"p90 {d['p90']:>7}  p99 {d['p99']:>7}  max {d['max']:>7}"
            )
    for name, d in stats.get("token_lengths", {}).items():
        if d.get("count"):
            lines.append(
                f"token lengths ({name}): min {d['min']} mean {d['mean']} p50 {d['p50']} p90 {d['p90']} "
                f"p99 {d['p99']} max {d['max']}"
            )
    if stats["label_distribution"]:
        total = sum(stats["label_distribution"].values())
        lines.append("labels:")
        for label, n in stats["label_distribution"].items():
            lines.append(f"  {label:<22} {n:>7}  {100 * n / total:5.1f}%")
    lines.append(f"empty fields: {stats['empty_fields'] or 'none'}")
    lines.append(f"encoding problems: {stats['encoding_problems']}")
    lines.append(f"scripts: {stats['scripts']}")
    return "\n".join(lines)


def compute_stats(source: Path, tokenizer: str | None = None) -> dict[str, Any]:
    stats = DatasetStats(tokens=TokenCounter(tokenizer) if tokenizer else None)
    for item in read_records(source):
        if item.problem:
            stats.records += 1
            stats.parse_errors += 1
            stats._example("parse_errors", str(item.problem))
        else:
            stats.add(item.location, item.value)
    return stats.as_dict()


def run_stats(args: StatsArgs) -> int:
    source = require_input(resolve_path(args.input, processing_input("data"), "--input"), "--input")
    stats = compute_stats(source, args.tokenizer)
    text = summary_text(stats)
    print(text)
    output = args.output or (str(processing_output("stats") / "stats.json") if args.input is None else None)
    if output:
        write_json_atomic(Path(output), stats)
        write_text_atomic(Path(output).with_suffix(".txt"), text + "\n")
        print(f"wrote {output}")
    return 0
