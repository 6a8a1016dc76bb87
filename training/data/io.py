"""Streaming readers for JSONL, JSON arrays and CSV, and atomic writers.

Readers yield one ``Item`` per record and never hold more than one record (plus a read buffer) in memory, so
memory does not grow with the file. Files are read as ``utf-8-sig`` (a leading byte-order mark is dropped)
with ``surrogateescape``: a byte that is not valid UTF-8 becomes a lone surrogate (U+DC80..U+DCFF) that the
validators report with its location instead of the whole file failing to decode. Writers write to a
temporary file beside the target and ``os.replace`` it at the end, so a failed run leaves no partial output.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from training.common.args import UsageError

SUPPORTED_SUFFIXES = (".jsonl", ".json", ".csv")
# CSV cells holding these fields are JSON-decoded, so nested records (chat messages, label lists, answers)
# can travel in a spreadsheet.
CSV_JSON_FIELDS = frozenset({"messages", "labels", "answers", "system", "content"})
_READ_CHUNK = 1 << 16


@dataclass(frozen=True)
class Location:
    """Where a record came from: the file, its 1-based line, and its 1-based record number."""

    path: str
    line: int
    record: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line} (record {self.record})"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one record: where, which field, and why."""

    location: Location | None
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = str(self.location) if self.location else "dataset"
        if self.field:
            return f"{where}: field '{self.field}': {self.reason}"
        return f"{where}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        loc = self.location
        return {
            "file": loc.path if loc else None,
            "line": loc.line if loc else None,
            "record": loc.record if loc else None,
            "field": self.field,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Item:
    """A parsed record (``value``) or the reason it could not be parsed (``problem``)."""

    location: Location
    value: Any = None
    problem: Problem | None = None


def input_files(path: Path) -> list[Path]:
    """The data files behind ``path``: itself, or every supported file under a directory, sorted."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"{path}: no {', '.join(SUPPORTED_SUFFIXES)} files in this directory")
        return files
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    return [path]


def require_input(path: Path, flag: str) -> Path:
    """``path`` when it is a data file or a directory holding some; otherwise UsageError naming ``flag``, so a
    command stops with one line before it creates any output."""
    try:
        input_files(path)
    except FileNotFoundError as exc:
        raise UsageError(f"{flag} {exc}") from exc
    return path


def file_format(path: Path) -> str:
    """``jsonl``, ``json`` (an array of objects) or ``csv``, from the suffix; a ``.json`` holding JSON lines
    instead of an array is read as JSONL."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".json":
        with open(path, encoding="utf-8-sig", errors="surrogateescape") as handle:
            while True:
                char = handle.read(1)
                if not char or not char.isspace():
                    return "json" if char == "[" else "jsonl"
    return "jsonl"


def read_records(path: Path) -> Iterator[Item]:
    """Yield every record of every file behind ``path``."""
    for file in input_files(path):
        fmt = file_format(file)
        if fmt == "csv":
            yield from _read_csv(file)
        elif fmt == "json":
            yield from _read_json_array(file)
        else:
            yield from _read_jsonl(file)


def _read_jsonl(path: Path) -> Iterator[Item]:
    record = 0
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="\n") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            record += 1
            loc = Location(str(path), line_no, record)
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Item(loc, problem=Problem(loc, None, f"invalid JSON: {exc.msg} at column {exc.colno}"))
                continue
            yield Item(loc, value=value)


def _read_json_array(path: Path) -> Iterator[Item]:
    """Stream the elements of a top-level JSON array with ``raw_decode`` over a growing window."""
    decoder = json.JSONDecoder()
    with open(path, encoding="utf-8-sig", errors="surrogateescape") as handle:
        buffer = handle.read(_READ_CHUNK)
        line = 1
        pos = 0
        eof = False

        def skip(chars: str) -> None:
            nonlocal pos, line
            while pos < len(buffer) and buffer[pos] in chars:
                if buffer[pos] == "\n":
                    line += 1
                pos += 1

        def refill() -> bool:
            nonlocal buffer, pos, eof
            # Read at least as much as is pending: a huge element then costs O(n log n), not O(n^2).
            chunk = handle.read(max(_READ_CHUNK, len(buffer) - pos))
            buffer = buffer[pos:] + chunk
            pos = 0
            eof = not chunk
            return bool(chunk)

        skip(" \t\r\n")
        if buffer[pos : pos + 1] != "[":
            loc = Location(str(path), line, 0)
            yield Item(loc, problem=Problem(loc, None, "invalid JSON: a .json file must hold an array"))
            return
        pos += 1
        record = 0
        expect_value = True
        while True:
            skip(" \t\r\n")
            if pos >= len(buffer):
                if refill():
                    continue
                loc = Location(str(path), line, record + 1)
                yield Item(loc, problem=Problem(loc, None, "invalid JSON: array is not closed with ']'"))
                return
            char = buffer[pos]
            if char == "]":
                return
            if char == ",":
                if expect_value:
                    loc = Location(str(path), line, record + 1)
                    yield Item(loc, problem=Problem(loc, None, "invalid JSON: unexpected ','"))
                    return
                pos += 1
                expect_value = True
                continue
            record += 1
            loc = Location(str(path), line, record)
            if not expect_value:
                yield Item(loc, problem=Problem(loc, None, "invalid JSON: expected ',' between elements"))
                return
            while True:
                try:
                    value, end = decoder.raw_decode(buffer, pos)
                    # A number at the window's edge may continue in the next chunk.
                    if end == len(buffer) and not eof and refill():
                        continue
                    break
                except json.JSONDecodeError as exc:
                    if not eof and refill():
                        continue
                    reason = f"invalid JSON: {exc.msg}"
                    yield Item(loc, problem=Problem(loc, None, reason))
                    return
            line += buffer.count("\n", pos, end)
            pos = end
            expect_value = False
            yield Item(loc, value=value)


def _read_csv(path: Path) -> Iterator[Item]:
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            return
        header = [h.strip().lstrip("\ufeff") for h in header]
        start_line = reader.line_num + 1
        record = 0
        for row in reader:
            end_line = reader.line_num
            if not any(cell.strip() for cell in row):
                start_line = end_line + 1
                continue
            record += 1
            loc = Location(str(path), start_line, record)
            start_line = end_line + 1
            if len(row) != len(header):
                reason = f"CSV row has {len(row)} columns, the header has {len(header)}"
                yield Item(loc, problem=Problem(loc, None, reason))
                continue
            value: dict[str, Any] = {}
            problem = None
            for name, cell in zip(header, row, strict=True):
                if name in CSV_JSON_FIELDS and cell.lstrip()[:1] in ("[", "{"):
                    try:
                        value[name] = json.loads(cell)
                    except json.JSONDecodeError as exc:
                        problem = Problem(loc, name, f"CSV cell is not valid JSON: {exc.msg}")
                        break
                else:
                    value[name] = cell
            yield Item(loc, problem=problem) if problem else Item(loc, value=value)


def dumps_record(record: Any) -> str:
    """One JSONL line; non-ASCII text stays readable."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def current_umask() -> int:
    """The process umask (reading it means setting it: set it back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class AtomicOutputs:
    """Open several output files that all appear together on success, or not at all.

    >>> with AtomicOutputs() as out:
    ...     out.open(Path("train.jsonl")).write("...")
    """

    def __init__(self) -> None:
        self._pending: list[tuple[IO[str], Path, Path]] = []

    def open(self, target: Path) -> IO[str]:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        # mkstemp creates 0600 files; the output gets the mode open() would give it (0666 less the umask).
        os.fchmod(fd, 0o666 & ~current_umask())
        handle = os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="\n")
        self._pending.append((handle, Path(tmp), target))
        return handle

    def __enter__(self) -> AtomicOutputs:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            for handle, _, _ in self._pending:
                handle.flush()
                os.fsync(handle.fileno())
                handle.close()
            for _, tmp, target in self._pending:
                os.replace(tmp, target)
        else:
            for handle, tmp, _ in self._pending:
                handle.close()
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
        self._pending.clear()


def write_text_atomic(target: Path, text: str) -> None:
    with AtomicOutputs() as out:
        out.open(target).write(text)


def write_json_atomic(target: Path, value: Any) -> None:
    write_text_atomic(target, json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
