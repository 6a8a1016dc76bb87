"""The server-sent events parser: the format's edge cases, fed in awkward chunks."""

from __future__ import annotations

import pytest

from fmft_inference.sse import ServerSentEvent, iter_events


def events_of(text: str, chunk_size: int | None = None) -> list[ServerSentEvent]:
    raw = text.encode("utf-8")
    chunks = (
        [raw] if chunk_size is None else [raw[i : i + chunk_size] for i in range(0, len(raw), chunk_size)]
    )
    return list(iter_events(chunks))


STREAM = (
    'event: token\ndata: {"text": "Hel"}\n\nevent: token\ndata: {"text": "lo"}\n\nevent: done\ndata: {}\n\n'
)
EXPECTED = [
    ServerSentEvent("token", '{"text": "Hel"}'),
    ServerSentEvent("token", '{"text": "lo"}'),
    ServerSentEvent("done", "{}"),
]


@pytest.mark.parametrize("chunk_size", [None, 1, 2, 3, 7])
@pytest.mark.parametrize("line_end", ["\n", "\r\n", "\r"])
def test_events_are_the_same_whatever_the_line_ends_and_chunks(line_end: str, chunk_size: int | None) -> None:
    assert events_of(STREAM.replace("\n", line_end), chunk_size) == EXPECTED


def test_comments_other_fields_and_a_missing_space_are_handled() -> None:
    text = ": keep-alive\nid: 7\nretry: 100\nevent:token\ndata:x\n\n"
    assert events_of(text) == [ServerSentEvent("token", "x")]


def test_data_lines_are_joined_by_newlines_and_an_event_defaults_to_message() -> None:
    assert events_of("data: a\ndata:  b\n\n") == [ServerSentEvent("message", "a\n b")]


def test_an_event_without_data_is_not_dispatched_and_does_not_leak_its_name() -> None:
    assert events_of("event: token\n\ndata: x\n\n") == [ServerSentEvent("message", "x")]


def test_an_event_the_stream_ends_before_is_dropped() -> None:
    assert events_of("event: token\ndata: x\n\nevent: done\ndata: {}\n") == [ServerSentEvent("token", "x")]


def test_multibyte_characters_split_across_chunks_and_json_line_separators_survive() -> None:
    text = 'event: token\ndata: {"text": "é€\u2028😀"}\n\n'
    assert events_of(text, chunk_size=1) == [ServerSentEvent("token", '{"text": "é€\u2028😀"}')]
