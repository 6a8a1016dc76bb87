"""Checks a request against an operation's input shape in botocore's model: member names, required members,
types, enums, lengths, counts, ranges and patterns, at every nesting level.

Unknown values (``UNKNOWN``) are skipped; a partly known string (with ``MARKER`` pieces) is checked only where
its known part alone proves a violation (its literal length over the maximum). A JSON null is treated as an
absent member, as the AWS JSON protocols do.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.model import Shape, StructureShape

from tools.api_model.intrinsics import UNKNOWN, is_known, literal_length, show
from tools.api_model.records import Request

_MAX_LISTED = 12  # members/enum values named in a message before it says "..."


@dataclass(frozen=True)
class Violation:
    """One way a request breaks its operation's input shape; ``path`` is empty for the request itself."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def _upper_first(name: str) -> str:
    return name[:1].upper() + name[1:]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _listed(names: Any) -> str:
    names = list(names)
    head = ", ".join(names[:_MAX_LISTED])
    return head if len(names) <= _MAX_LISTED else f"{head}, ... ({len(names)} in all)"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__


_EXPECTED = {
    "structure": "an object",
    "list": "a list",
    "map": "an object (map)",
    "string": "a string",
    "blob": "a string (blob)",
    "boolean": "a boolean",
    "integer": "an integer",
    "long": "an integer",
    "float": "a number",
    "double": "a number",
    "timestamp": "a timestamp (string or number)",
}


_NUMBERS = ("integer", "long", "float", "double")


def _fits(kind: str, value: Any) -> bool:
    """Whether a value has the JSON type a shape type takes (numbers: see ShapeChecker._number)."""
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "structure" or kind == "map":
        return isinstance(value, dict)
    if kind == "list":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "blob":
        return isinstance(value, str | bytes)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "timestamp":
        return isinstance(value, str) or is_number  # ISO 8601 text or epoch seconds
    if kind in _NUMBERS:
        return isinstance(value, str) or is_number
    return True


class ShapeChecker:
    """Checks requests; remembers the model patterns that Python's ``re`` cannot run, for the summary."""

    def __init__(self) -> None:
        self._patterns: dict[str, re.Pattern[str] | None] = {}
        self.skipped_patterns: set[str] = set()
        self._lookups: dict[tuple[str, str, bool], dict[str, str]] = {}

    def check(self, request: Request, shape: StructureShape | None) -> list[Violation]:
        """Every violation of ``shape`` (the operation's input shape; None when it takes no input)."""
        if shape is None:
            if request.params in ({}, None, UNKNOWN):
                return []
            return [Violation("", "the operation takes no input, but the request has members")]
        return list(self._value(request.params, shape, "", "", request, top=True))

    # ----------------------------------------------------------------------------------------- by shape type

    def _value(
        self, value: Any, shape: Shape, path: str, generic: str, request: Request, top: bool = False
    ) -> Iterator[Violation]:
        if value is UNKNOWN or value is None:
            return
        kind = shape.type_name
        if kind in ("string", "blob") and generic in request.serialized and isinstance(value, dict | list):
            return  # the integration serializes the object into this member (see Request.serialized)
        if kind == "structure" and shape.metadata.get("document"):
            return  # a document member takes any JSON
        if not _fits(kind, value):
            expected = _EXPECTED.get(kind, kind)
            yield Violation(path, f"expected {expected} ({shape.name}), got {_kind(value)} {show(value)}")
        elif kind == "structure":
            yield from self._structure(value, shape, path, generic, request, top)
        elif kind == "list":
            yield from self._count(len(value), shape, path, "items")
            for index, item in enumerate(value):
                yield from self._value(item, shape.member, f"{path}[{index}]", f"{generic}[]", request)
        elif kind == "map":
            yield from self._count(len(value), shape, path, "entries")
            for key, item in value.items():
                entry = f'{path}["{key}"]'
                yield from self._value(key, shape.key, f"{entry} (key)", f"{generic}{{}}", request)
                yield from self._value(item, shape.value, entry, f"{generic}{{}}", request)
        elif kind == "string":
            yield from self._string(value, shape, path)
        elif kind == "blob" and isinstance(value, str) and is_known(value):
            yield from self._count(len(value.encode()), shape, path, "bytes")
        elif kind in _NUMBERS:
            yield from self._number(value, shape, path, integral=kind in ("integer", "long"))

    def _structure(
        self,
        value: dict[str, Any],
        shape: StructureShape,
        path: str,
        generic: str,
        request: Request,
        top: bool,
    ) -> Iterator[Violation]:
        lookup = self._member_lookup(shape, request)
        present: set[str] = set()
        for key, item in value.items():
            if top and key in request.added:
                continue  # a member the integration itself consumes (see Request.added)
            name = lookup.get(key)
            if name is None:
                yield Violation(
                    _join(path, key),
                    f'unknown member "{key}": {shape.name} has {_listed(self._names(shape, request))}',
                )
                continue
            if item is None:
                continue
            present.add(name)
            # ``generic`` names members as the model does, whatever the request's case (Request.serialized).
            yield from self._value(item, shape.members[name], _join(path, key), _join(generic, name), request)
        exempt = request.filled_by_caller if top else {}
        for name in shape.required_members:
            if name not in present and name not in exempt:
                shown = _upper_first(name) if request.pascal_case else name
                yield Violation(path, f'missing required member "{shown}" of {shape.name}')
        if shape.metadata.get("union") and len(present) > 1:
            yield Violation(
                path, f"{shape.name} is a union: set exactly one of its members, not {_listed(present)}"
            )

    def _member_lookup(self, shape: StructureShape, request: Request) -> dict[str, str]:
        """Request key -> member name. Step Functions and Scheduler write camelCase members in PascalCase."""
        cache_key = (request.service, shape.name, request.pascal_case)  # shape names repeat across services
        if cache_key not in self._lookups:
            lookup = {name: name for name in shape.members}
            if request.pascal_case:
                for name in shape.members:
                    lookup.setdefault(_upper_first(name), name)
            self._lookups[cache_key] = lookup
        return self._lookups[cache_key]

    @staticmethod
    def _names(shape: StructureShape, request: Request) -> list[str]:
        return [_upper_first(name) if request.pascal_case else name for name in shape.members]

    # -------------------------------------------------------------------------------------------- scalars

    def _string(self, value: str, shape: Shape, path: str) -> Iterator[Violation]:
        metadata = shape.metadata
        maximum, minimum = metadata.get("max"), metadata.get("min")
        if not is_known(value):
            length = literal_length(value)
            if maximum is not None and length > maximum:
                yield Violation(
                    path,
                    f"length of the known part alone is {length}, which exceeds the maximum {maximum} "
                    f"(the deployed value is longer): {show(value)}",
                )
            return
        if shape.enum and value not in shape.enum:
            yield Violation(path, f"{show(value)} is not one of {shape.name}'s values: {_listed(shape.enum)}")
            return
        if maximum is not None and len(value) > maximum:
            yield Violation(path, f"length {len(value)} exceeds the maximum {maximum}: {show(value)}")
        if minimum is not None and len(value) < minimum:
            yield Violation(path, f"length {len(value)} is below the minimum {minimum}: {show(value)}")
        pattern = metadata.get("pattern")
        if pattern is not None:
            compiled = self._compiled(pattern)
            if compiled is not None and compiled.fullmatch(value) is None:
                # "." matches no line break in Java's regexes either; models write [\S\s] where one may occur.
                hint = (
                    " (it holds a line break, which . does not match)"
                    if "\n" in value and "." in pattern
                    else ""
                )
                yield Violation(path, f"{show(value)} does not match the pattern {pattern}{hint}")

    def _compiled(self, pattern: str) -> re.Pattern[str] | None:
        """The model's pattern as a Python regex, or None (counted) where Python would not read it as AWS
        does: it does not compile, compiles with a warning, or uses Java's class intersection (&&)."""
        if pattern not in self._patterns:
            compiled = None
            if "&&" not in pattern:
                with warnings.catch_warnings():
                    warnings.simplefilter("error")
                    try:
                        compiled = re.compile(pattern)
                    except (re.error, Warning):
                        compiled = None
            self._patterns[pattern] = compiled
        if self._patterns[pattern] is None:
            self.skipped_patterns.add(pattern)
        return self._patterns[pattern]

    def _number(self, value: Any, shape: Shape, path: str, integral: bool) -> Iterator[Violation]:
        # A numeric string is accepted where the API wants a number: values that pass through CloudFormation
        # (custom resource properties) or a String pipeline parameter arrive as text, and whoever sends the
        # request may convert them. What the definition alone proves wrong is a literal that is not a number
        # at all, or a number (given either way) outside the model's range.
        expected = "an integer" if integral else "a number"
        if isinstance(value, str):
            if not is_known(value):
                return
            try:
                number: int | float = int(value) if integral else float(value)
            except ValueError:
                yield Violation(path, f"expected {expected} ({shape.name}), got the string {show(value)}")
                return
        else:  # a JSON number (_fits has excluded the rest)
            if integral and isinstance(value, float) and not value.is_integer():
                yield Violation(path, f"expected {expected} ({shape.name}), got {value}")
                return
            number = value
        maximum, minimum = shape.metadata.get("max"), shape.metadata.get("min")
        if maximum is not None and number > maximum:
            yield Violation(path, f"{number} exceeds the maximum {maximum}")
        if minimum is not None and number < minimum:
            yield Violation(path, f"{number} is below the minimum {minimum}")

    @staticmethod
    def _count(count: int, shape: Shape, path: str, unit: str) -> Iterator[Violation]:
        maximum, minimum = shape.metadata.get("max"), shape.metadata.get("min")
        if maximum is not None and count > maximum:
            yield Violation(path, f"{count} {unit} exceed the maximum {maximum}")
        if minimum is not None and count < minimum:
            yield Violation(path, f"{count} {unit} are below the minimum {minimum}")
