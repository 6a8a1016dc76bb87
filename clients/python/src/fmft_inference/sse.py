"""Server-sent events (the WHATWG HTML "event stream" format) read from a binary stream."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from typing import NamedTuple

__all__ = ["ServerSentEvent", "iter_events"]

# The format's line ends. str.splitlines would also split at U+2028, which JSON text may hold unescaped.
_LINE_END = re.compile(r"\r\n|\r|\n")


class ServerSentEvent(NamedTuple):
    event: str
    """The `event:` field; "message" when the event has none."""
    data: str
    """The `data:` lines, joined by newlines."""


def iter_events(chunks: Iterable[bytes]) -> Iterator[ServerSentEvent]:
    """The events of a stream given as chunks of bytes (e.g. an HTTP response's lines), in order.

    An event ends at a blank line; `:` lines are comments; a field's value loses one leading space; fields
    other than `event` and `data` are ignored; an event without data is not dispatched, nor one the stream
    ends before its blank line.
    """
    event, data = "", []
    for line in _iter_lines(chunks):
        if line == "":
            if data:
                yield ServerSentEvent(event or "message", "\n".join(data))
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)


def _iter_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """The complete lines of the stream, without their line ends; a last line without one is dropped."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    buffer = ""
    for chunk in chunks:
        buffer += decoder.decode(chunk)
        start = 0
        for match in _LINE_END.finditer(buffer):
            if match.group() == "\r" and match.end() == len(buffer):
                break  # maybe the first half of a CRLF split across chunks: decide with the next chunk
            yield buffer[start : match.start()]
            start = match.end()
        buffer = buffer[start:]
    buffer += decoder.decode(b"", final=True)
    if buffer.endswith("\r"):
        yield buffer[:-1]
