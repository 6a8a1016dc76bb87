"""Values of a Step Functions state's ``Parameters``/``Arguments`` as far as the definition tells them.

JSONPath states: a key ending in ``.$`` takes its value from a path or an intrinsic function at run time; the
key without the suffix is the member. ``States.Array`` is parsed, because its literal elements are often long
strings that the API limits (``ContainerArguments.$: States.Array('--x', $.y)``); other intrinsics yield
values known only at run time. JSONata states: a ``{% ... %}`` string is an expression, known only at run
time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tools.api_model.intrinsics import MARKER, UNKNOWN

# Intrinsics whose result is always a string (of unknown content); the others may return any JSON type.
_STRING_INTRINSICS = frozenset(
    {
        "States.Format",
        "States.JsonToString",
        "States.Base64Encode",
        "States.Base64Decode",
        "States.Hash",
        "States.UUID",
    }
)


def jsonpath_value(node: Any) -> Any:
    """A JSONPath state's Parameters (or a part of them) with dynamic members evaluated."""
    if isinstance(node, list):
        return [jsonpath_value(item) for item in node]
    if not isinstance(node, dict):
        return node
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key.endswith(".$"):
            result[key.removesuffix(".$")] = _dynamic(value)
        else:
            result[key] = jsonpath_value(value)
    return result


def jsonata_value(node: Any) -> Any:
    """A JSONata state's Arguments (or a part of them) with expressions as unknown values."""
    if isinstance(node, str):
        stripped = node.strip()
        return UNKNOWN if stripped.startswith("{%") and stripped.endswith("%}") else node
    if isinstance(node, list):
        return [jsonata_value(item) for item in node]
    if isinstance(node, dict):
        return {key: jsonata_value(value) for key, value in node.items()}
    return node


def _dynamic(expression: Any) -> Any:
    if isinstance(expression, str) and expression.startswith("States."):
        try:
            call, end = _Parser(expression).call(0)
        except ValueError:
            return UNKNOWN  # Step Functions rejects a malformed intrinsic when the state machine is created
        return _evaluate(call) if end == len(expression.rstrip()) else UNKNOWN
    return UNKNOWN  # a path ($.x, $$.Execution.Name) or a variable


@dataclass(frozen=True)
class _Path:
    text: str


@dataclass(frozen=True)
class _Call:
    name: str
    arguments: tuple[Any, ...]


def _evaluate(node: Any) -> Any:
    if isinstance(node, _Path):
        return UNKNOWN
    if not isinstance(node, _Call):
        return node  # a literal string, number, boolean or null
    if node.name == "States.Array":
        return [_evaluate(argument) for argument in node.arguments]
    return MARKER if node.name in _STRING_INTRINSICS else UNKNOWN


class _Parser:
    """Recursive-descent parser of one intrinsic call: ``States.Name(argument, ...)`` where an argument is a
    'quoted string' (backslash escapes ', {, } and \\), a number, true/false/null, a path or another call."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _skip_spaces(self, at: int) -> int:
        while at < len(self.text) and self.text[at].isspace():
            at += 1
        return at

    def call(self, at: int) -> tuple[_Call, int]:
        start = at
        while at < len(self.text) and (self.text[at].isalnum() or self.text[at] == "."):
            at += 1
        name = self.text[start:at]
        if not name.startswith("States.") or at >= len(self.text) or self.text[at] != "(":
            raise ValueError(f"not an intrinsic call at {start}")
        arguments: list[Any] = []
        at = self._skip_spaces(at + 1)
        if at < len(self.text) and self.text[at] == ")":
            return _Call(name, ()), at + 1
        while True:
            argument, at = self._argument(self._skip_spaces(at))
            arguments.append(argument)
            at = self._skip_spaces(at)
            if at >= len(self.text):
                raise ValueError("unterminated call")
            if self.text[at] == ")":
                return _Call(name, tuple(arguments)), at + 1
            if self.text[at] != ",":
                raise ValueError(f"expected , or ) at {at}")
            at += 1

    def _argument(self, at: int) -> tuple[Any, int]:
        if at >= len(self.text):
            raise ValueError("missing argument")
        char = self.text[at]
        if char == "'":
            return self._string(at + 1)
        if char == "$":
            return self._path(at)
        if self.text.startswith("States.", at):
            return self.call(at)
        end = at
        while end < len(self.text) and self.text[end] not in ",)" and not self.text[end].isspace():
            end += 1
        word = self.text[at:end]
        literals = {"true": True, "false": False, "null": None}
        if word in literals:
            return literals[word], end
        try:
            return (float(word) if any(c in word for c in ".eE") else int(word)), end
        except ValueError:
            raise ValueError(f"unexpected argument {word!r}") from None

    def _string(self, at: int) -> tuple[str, int]:
        pieces: list[str] = []
        while at < len(self.text):
            char = self.text[at]
            if char == "\\" and at + 1 < len(self.text):
                pieces.append(self.text[at + 1])
                at += 2
            elif char == "'":
                return "".join(pieces), at + 1
            else:
                pieces.append(char)
                at += 1
        raise ValueError("unterminated string")

    def _path(self, at: int) -> tuple[_Path, int]:
        start, depth, quote = at, 0, ""
        while at < len(self.text):
            char = self.text[at]
            if quote:
                quote = "" if char == quote else quote
            elif char in "'\"":
                quote = char
            elif char in "[(":
                depth += 1
            elif char in "])":
                if depth == 0:
                    break
                depth -= 1
            elif char == "," and depth == 0:
                break
            at += 1
        return _Path(self.text[start:at].strip()), at
