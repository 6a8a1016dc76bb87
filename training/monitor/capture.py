"""Streaming reader of captured endpoint traffic: SageMaker data capture and Bedrock invocation logs.

Reads every ``.jsonl``, ``.json`` and ``.gz`` (gzip of either) file under a directory, recursively, one
line at a time; each line is one JSON object, recognised by its shape:

- SageMaker data capture: ``{"captureData": {"endpointInput": {"data", "encoding", ...}, "endpointOutput":
  {...}}, "eventMetadata": {"eventId", "inferenceId"?, "inferenceTime"}, "eventVersion"}``. Encoding
  ``JSON``: ``data`` is the payload text; ``BASE64``: base64 of its bytes; ``CSV`` or anything else: the
  line is counted as ``unknown_encoding``.
- Bedrock model invocation log: ``{"schemaType": "ModelInvocationLog", "timestamp", "requestId",
  "operation", "modelId", "input": {"inputBodyJson"}, "output": {"outputBodyJson"}}``.

Payloads are read by ``request_prompt`` and ``response_answer`` (TGI/LMI ``inputs``, OpenAI-style,
Bedrock Converse and Anthropic ``messages``, ``prompt``; ``generated_text``, ``choices``, Converse/Nova
``output.message``, Anthropic ``content``, Llama ``generation``, Titan ``results``). A line that yields no
prompt is counted by reason (``MALFORMED_REASONS``) with a few examples and skipped; a readable request
whose response cannot be read is still a record (its answer is None) and the response is counted under
``response_problems``. Data never raises: an empty or missing directory is an empty window.

Bedrock writes one invocation log per account and region for every model, so a reader given ``model_id``
(a provisioned model's ARN, the ``modelId`` its callers pass) keeps only the invocation log lines of that
model; the others are counted as ``other_models``, not as malformed. SageMaker capture lines are not
filtered: their prefix is already one endpoint variant's.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import gzip
import json
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from training.monitor.profile import content_text

BAD_JSON = "bad_json"
UNKNOWN_RECORD = "unknown_record"
UNKNOWN_ENCODING = "unknown_encoding"
BAD_BASE64 = "bad_base64"
UNKNOWN_PAYLOAD = "unknown_payload"
NO_PROMPT = "no_prompt"
UNREADABLE_FILE = "unreadable_file"
MALFORMED_REASONS = (
    BAD_JSON,
    UNKNOWN_RECORD,
    UNKNOWN_ENCODING,
    BAD_BASE64,
    UNKNOWN_PAYLOAD,
    NO_PROMPT,
    UNREADABLE_FILE,
)
SUFFIXES = (".jsonl", ".json", ".gz")
MAX_EXAMPLES = 3
_EXAMPLE_CHARS = 200
# Finish reasons that mean the answer was cut at the token limit (TGI/OpenAI/Llama "length", Bedrock and
# Anthropic "max_tokens", Titan "LENGTH", Converse "model_context_window_exceeded"), compared lower-cased.
TRUNCATED_REASONS = frozenset({"length", "max_tokens", "max_length", "model_context_window_exceeded"})
# Chat-template markup of common model families (ChatML, Llama 2/3, Mistral, Gemma, Phi), removed from
# TGI/LMI ``inputs`` strings so that their lengths compare with the training records' plain text.
_TEMPLATE_MARKUP = re.compile(
    r"<\|start_header_id\|>\w*<\|end_header_id\|>|<\|im_start\|>\w*|<start_of_turn>\w*"
    r"|<\|[\w.-]{1,40}\|>|\[/?INST\]|<</?SYS>>|</?s>|<bos>|<eos>|<end_of_turn>"
)


class PayloadError(ValueError):
    """A payload that cannot be read; ``reason`` is one of MALFORMED_REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass
class Exchange:
    """One captured request and its response."""

    prompt: str
    answer: str | None
    finish_reason: str | None = None
    id: str | None = None
    time: str | None = None

    @property
    def truncated(self) -> bool:
        return (self.finish_reason or "").lower() in TRUNCATED_REASONS


def _strip_template(text: str) -> str:
    return _TEMPLATE_MARKUP.sub("", text).strip() if "<" in text or "[" in text else text


def request_prompt(payload: Any) -> str:
    """The prompt text of a request payload; PayloadError when the shape is unknown or holds no text."""
    if isinstance(payload, dict):
        if isinstance(payload.get("inputs"), str):
            prompt = _strip_template(payload["inputs"])
        elif isinstance(payload.get("messages"), list):
            texts = [content_text(payload.get("system"))]
            texts += [content_text(m.get("content")) for m in payload["messages"] if isinstance(m, dict)]
            prompt = "\n".join(t for t in texts if t)
        elif isinstance(payload.get("prompt"), str):
            prompt = payload["prompt"]
        elif isinstance(payload.get("inputText"), str):  # Amazon Titan text
            prompt = payload["inputText"]
        else:
            raise PayloadError(UNKNOWN_PAYLOAD, f"request with keys {sorted(payload)[:8]}")
        if not prompt.strip():
            raise PayloadError(NO_PROMPT, "request without prompt text")
        return prompt
    raise PayloadError(UNKNOWN_PAYLOAD, f"request is a JSON {type(payload).__name__}, not an object")


def response_answer(payload: Any) -> tuple[str, str | None]:
    """(answer text, finish reason or None) of a response payload; PayloadError for an unknown shape."""
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        payload = payload[0]  # TGI/LMI: [{"generated_text": ...}]
    if not isinstance(payload, dict):
        raise PayloadError(UNKNOWN_PAYLOAD, f"response is a JSON {type(payload).__name__}")
    if isinstance(payload.get("generated_text"), str):
        details = payload.get("details")
        reason = details.get("finish_reason") if isinstance(details, dict) else None
        return payload["generated_text"], _reason(reason)
    choices = payload.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        choice = choices[0]
        message = choice.get("message")
        text = content_text(message.get("content")) if isinstance(message, dict) else choice.get("text")
        if isinstance(text, str):
            return text, _reason(choice.get("finish_reason"))
    output = payload.get("output")
    if isinstance(output, dict) and isinstance(output.get("message"), dict):  # Converse, Nova
        return content_text(output["message"].get("content")), _reason(payload.get("stopReason"))
    if isinstance(payload.get("content"), list):  # Anthropic messages
        return content_text(payload["content"]), _reason(payload.get("stop_reason"))
    if isinstance(payload.get("generation"), str):  # Llama on Bedrock
        return payload["generation"], _reason(payload.get("stop_reason"))
    results = payload.get("results")
    first = results[0] if isinstance(results, list) and results else None
    if isinstance(first, dict) and isinstance(first.get("outputText"), str):  # Titan text
        return results[0]["outputText"], _reason(results[0].get("completionReason"))
    raise PayloadError(UNKNOWN_PAYLOAD, f"response with keys {sorted(payload)[:8]}")


def _reason(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def decode_capture_data(part: Any) -> Any:
    """The JSON payload of an ``endpointInput``/``endpointOutput`` block."""
    if not isinstance(part, dict) or not isinstance(part.get("data"), str):
        raise PayloadError(UNKNOWN_RECORD, "capture block without a data string")
    encoding = part.get("encoding")
    text = part["data"]
    if encoding == "BASE64":
        try:
            text = base64.b64decode(text, validate=True).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError) as exc:
            raise PayloadError(BAD_BASE64, f"undecodable base64: {exc}") from exc
    elif encoding != "JSON":
        raise PayloadError(UNKNOWN_ENCODING, f"encoding {encoding!r} ({part.get('observedContentType')})")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(UNKNOWN_PAYLOAD, f"payload is not JSON: {exc.msg}") from exc


def parse_line(value: Any) -> tuple[Exchange, PayloadError | None]:
    """The exchange in one capture line (already JSON-decoded), and why its response could not be read
    (None when it could, or when none was captured: then ``answer`` is None). PayloadError when the line
    yields no prompt."""
    if not isinstance(value, dict):
        raise PayloadError(UNKNOWN_RECORD, f"line is a JSON {type(value).__name__}, not an object")
    sagemaker = isinstance(value.get("captureData"), dict)
    if sagemaker:
        data = value["captureData"]
        meta = value.get("eventMetadata") if isinstance(value.get("eventMetadata"), dict) else {}
        prompt = request_prompt(decode_capture_data(data.get("endpointInput")))
        ident, time = meta.get("inferenceId") or meta.get("eventId"), meta.get("inferenceTime")
        output = data.get("endpointOutput")
    elif value.get("schemaType") == "ModelInvocationLog":
        io_in = value.get("input") if isinstance(value.get("input"), dict) else {}
        io_out = value.get("output") if isinstance(value.get("output"), dict) else {}
        if "inputBodyJson" not in io_in:
            raise PayloadError(
                UNKNOWN_PAYLOAD, f"invocation log without inputBodyJson (keys {sorted(io_in)})"
            )
        prompt = request_prompt(io_in["inputBodyJson"])
        ident, time, output = value.get("requestId"), value.get("timestamp"), io_out.get("outputBodyJson")
    else:
        keys = sorted(value)[:8]
        raise PayloadError(UNKNOWN_RECORD, f"neither data capture nor invocation log (keys {keys})")
    exchange = Exchange(prompt, None, id=ident, time=time)
    if output is None:
        return exchange, None
    try:
        payload = decode_capture_data(output) if sagemaker else output
        exchange.answer, exchange.finish_reason = response_answer(payload)
    except PayloadError as problem:
        return exchange, problem
    return exchange, None


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO 8601 time (``Z`` allowed) as an aware UTC datetime; None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


@dataclass
class CaptureReader:
    """Reads a window directory; counts what it could not read. ``start``/``end`` bound record times."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None
    model_id: str | None = None  # None or "": every invocation log line counts, whatever its modelId
    files: int = 0
    lines: int = 0
    records: int = 0
    outside_window: int = 0
    other_models: int = 0
    malformed: Counter[str] = field(default_factory=Counter)
    response_problems: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    first_time: dt.datetime | None = None
    last_time: dt.datetime | None = None

    def _count(self, counter: Counter[str], reason: str, where: str, detail: str) -> None:
        counter[reason] += 1
        key = reason if counter is self.malformed else f"response:{reason}"
        bucket = self.examples.setdefault(key, [])
        if len(bucket) < MAX_EXAMPLES:
            bucket.append(f"{where}: {detail}"[:_EXAMPLE_CHARS])

    def _other_model(self, value: Any) -> bool:
        """Whether ``value`` is an invocation log line of another model than ``model_id``."""
        return (
            bool(self.model_id)
            and isinstance(value, dict)
            and value.get("schemaType") == "ModelInvocationLog"
            and value.get("modelId") != self.model_id
        )

    def read(self, directory: Path) -> Iterator[Exchange]:
        """Every exchange under ``directory`` (files sorted by path) whose time is inside the window."""
        if not directory.is_dir():
            return
        for item in data_lines(directory):
            if isinstance(item, UnreadableFile):
                self._count(self.malformed, UNREADABLE_FILE, item.name, item.error)
                continue
            if item.first_of_file:
                self.files += 1
            if item.text is not None:
                exchange = self._line(item.text, item.where)
                if exchange is not None:
                    yield exchange

    def _line(self, line: str, where: str) -> Exchange | None:
        self.lines += 1
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            self._count(
                self.malformed, BAD_JSON, where, f"{exc.msg} at column {exc.colno}: {line.strip()[:60]}"
            )
            return None
        if self._other_model(value):
            self.other_models += 1
            return None
        try:
            exchange, response_problem = parse_line(value)
        except PayloadError as error:
            self._count(self.malformed, error.reason, where, str(error))
            return None
        if response_problem is not None:
            self._count(self.response_problems, response_problem.reason, where, str(response_problem))
        moment = parse_time(exchange.time)
        if moment is not None:
            if (self.start and moment < self.start) or (self.end and moment >= self.end):
                self.outside_window += 1
                return None
            self.first_time = moment if self.first_time is None else min(self.first_time, moment)
            self.last_time = moment if self.last_time is None else max(self.last_time, moment)
        self.records += 1
        return exchange


def _open(path: Path) -> TextIO:
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="\n")
    return open(path, encoding="utf-8-sig", errors="replace", newline="\n")


@dataclasses.dataclass(frozen=True)
class DataLine:
    """A non-blank line (``text``) at ``where`` (``<file>:<line>``); a file with none yields one DataLine
    with ``text`` None, so every file is counted."""

    where: str
    text: str | None
    first_of_file: bool


@dataclasses.dataclass(frozen=True)
class UnreadableFile:
    name: str
    error: str


def data_lines(directory: Path) -> Iterator[DataLine | UnreadableFile]:
    """The non-blank lines of every JSON Lines file under ``directory`` (``.jsonl``, ``.json``, ``.gz``; files
    sorted by path, gzip read as text, a BOM dropped), streamed; a file that cannot be read or decompressed
    ends with an UnreadableFile after the lines read before the error."""
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    for path in files:
        name = str(path.relative_to(directory))
        first = True
        try:
            with _open(path) as handle:
                for line_no, line in enumerate(handle, start=1):
                    if line.strip():
                        yield DataLine(f"{name}:{line_no}", line, first)
                        first = False
        except (OSError, EOFError, zlib.error) as exc:
            if first:
                yield DataLine(name, None, True)
            yield UnreadableFile(name, f"{type(exc).__name__}: {exc}")
            continue
        if first:
            yield DataLine(name, None, True)
