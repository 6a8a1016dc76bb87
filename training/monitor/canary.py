"""The quality canary's Lambda: ask one served variant the golden prompts and write its answers for scoring.

Lambda handler ``training.monitor.canary.handler``. Before a target's monitor job, the monitoring state
machine calls it with::

    {"endpointName": "fmft-prod-llm", "variantName": "current", "container": "lmi" | "tgi",
     "maxNewTokens": 256,
     "canary": {"goldenUri": "s3://.../test/test.jsonl", "predictionsBucket": "...",
                "predictionsKey": "<run prefix>canary/predictions.jsonl", "records": 50,
                "task": "classification" | "summarization" | "qa"}}

(``canary`` is the run's object from ``plan.py``). It reads the first ``records`` usable records of the golden
set, sends each prompt to the variant (InvokeEndpoint with TargetVariant, greedy decoding) and writes one
line per record to ``predictionsBucket/predictionsKey``, in the format ``python -m training.evaluate <task>``
reads, plus the client-side latency::

    {"label": "pos", "prediction": "pos", "latencyMs": 212.4}                   classification
    {"labels": ["a", "b"], "prediction": "a, b", "latencyMs": 250.0}           multi-label golden records
    {"summary": "...", "prediction": "...", "latencyMs": 1840.2}                summarization
    {"answers": ["Paris"], "prediction": "Paris", "latencyMs": 301.7}           qa
    {"answers": ["Paris"], "latencyMs": 12.5, "error": "ModelError: ..."}       no answer: no prediction

It returns ``{"records", "errors", "latencyP50Ms", "latencyP95Ms", "predictionsUri", "skipped", "unsent"}``.

- Golden records: chat records (``messages``, Bedrock conversation, prompt/completion, instruction) give
  the prompt (system text and every turn before the last answer, joined by newlines: ``record_parts`` of the
  monitor's profile, which the baseline uses too) and the reference (the last assistant turn). Task records
  keep their own reference fields (classification ``label``/``labels``, summarization ``summary``/
  ``highlights``, qa ``answers``/``answer``) and their prompt is the conversation ``prepare`` trains on. A
  line that is not JSON or has no prompt or reference is skipped (counted in ``skipped``, and logged).
- Requests: ``{"inputs": prompt, "parameters": {"max_new_tokens": N, "do_sample": false}}``, the text
  generation request of both LMI and TGI; responses are read by the capture monitor's ``response_answer``
  (``[{"generated_text"}]`` of TGI, ``{"generated_text"}`` of LMI, and the other shapes it knows).
- A record whose request fails (after botocore's adaptive retries: a throttled record is an error too) or
  whose response cannot be read is written with ``error`` (``"<Code>: <message>"``) and without a
  prediction; nothing raises for one record. A golden set that cannot be read or holds no usable record is
  one error line naming it, so the monitor job still has its input and reports an error rate of 1.
- Latency: time.perf_counter around the call and the body read, in milliseconds; the percentiles are over
  the answered records (linear interpolation, as numpy.percentile).
- Time: records are asked one at a time (latency without self-inflicted queueing); the handler stops asking
  when less than ``RESERVE_MS`` of the invocation remains and counts the rest as ``unsent``.

Standard library and the Lambda runtime's boto3 only (imported when called).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from training.monitor.capture import PayloadError, response_answer
from training.monitor.profile import record_parts

TASKS = ("classification", "summarization", "qa")
CONTAINERS = ("lmi", "tgi")
MAX_RECORDS = 500
MAX_NEW_TOKENS = 4096
PREDICTIONS_FILE = "predictions.jsonl"
# Field of the reference in each task's predictions record (training/evaluate/tasks.py).
REFERENCE_FIELDS = {"classification": "label", "summarization": "summary", "qa": "answers"}
# Stop asking when less than this remains of the invocation: one worst-case call (three attempts of the 60 s
# that SageMaker allows a real-time invocation) and the write.
RESERVE_MS = 240_000
_MAX_ERROR_CHARS = 500
_MAX_LOGGED_SKIPS = 20


class CanaryInputError(ValueError):
    """The event is not a canary run; the message names the field, the value and what is allowed."""


@dataclass
class Golden:
    """One golden record: the prompt to send and the reference fields of its predictions line."""

    prompt: str
    reference: dict[str, Any]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile with linear interpolation between ranks (numpy's default); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _label(value: Any) -> str | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or _text(value):
        return value
    return None


def _answers(value: Any) -> list[str] | None:
    if isinstance(value, dict):  # SQuAD {"text": [...], "answer_start": [...]}
        value = value.get("text")
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    return None


def task_reference(record: dict[str, Any], task: str) -> dict[str, Any] | None:
    """The record's own reference fields for ``task``, as training.evaluate reads them; None when absent."""
    if task == "classification":
        labels = record.get("labels")
        if isinstance(labels, list) and labels and all(_label(v) is not None for v in labels):
            return {"labels": labels}
        label = _label(record.get("label"))
        return None if label is None else {"label": label}
    if task == "summarization":
        summary = _text(record.get("summary")) or _text(record.get("highlights"))
        return None if summary is None else {"summary": summary}
    answers = _answers(record.get("answers"))
    if answers is None and _text(record.get("answer")):
        answers = [record["answer"]]
    return None if answers is None else {"answers": answers}


def golden_example(record: Any, task: str) -> Golden:
    """Prompt and reference of one golden record; ValueError saying why it cannot be asked."""
    parts = record_parts(record)
    if parts is None or not parts.prompt.strip():
        raise ValueError("no prompt (not a chat, prompt/completion or task record)")
    reference = task_reference(record, task)
    if reference is None:
        answer = parts.completion
        if not answer.strip():
            raise ValueError(f"no reference: neither {task} reference fields nor a last assistant turn")
        reference = {REFERENCE_FIELDS[task]: [answer] if task == "qa" else answer}
    return Golden(parts.prompt, reference)


def read_golden(lines: Iterable[bytes], task: str, limit: int) -> tuple[list[Golden], list[str]]:
    """The first ``limit`` usable records of a JSONL stream, and why each skipped line was skipped."""
    golden: list[Golden] = []
    skipped: list[str] = []
    for number, raw in enumerate(lines, start=1):
        if len(golden) >= limit:
            break
        text = raw.decode("utf-8", errors="replace").lstrip("\ufeff")
        if not text.strip():
            continue
        try:
            golden.append(golden_example(json.loads(text), task))
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            skipped.append(f"line {number}: {exc}")
    return golden, skipped


def request_body(prompt: str, max_new_tokens: int) -> bytes:
    """The text generation request of LMI and TGI alike: greedy, at most ``max_new_tokens`` new tokens."""
    parameters = {"max_new_tokens": max_new_tokens, "do_sample": False}
    return json.dumps({"inputs": prompt, "parameters": parameters}, ensure_ascii=False).encode("utf-8")


def _error(code: Any, message: Any) -> str:
    return f"{code}: {message}"[:_MAX_ERROR_CHARS]


def ask(runtime: Any, endpoint: str, variant: str, body: bytes) -> tuple[str | None, float, str | None]:
    """(answer or None, latency in ms, error or None) of one request; never raises for the model's failure."""
    from botocore.exceptions import BotoCoreError, ClientError

    start = time.perf_counter()
    try:
        response = runtime.invoke_endpoint(
            EndpointName=endpoint,
            TargetVariant=variant,
            ContentType="application/json",
            Accept="application/json",
            Body=body,
        )
        payload = response["Body"].read()
    except ClientError as exc:
        detail = exc.response.get("Error", {})
        return None, _ms(start), _error(detail.get("Code", "ClientError"), detail.get("Message", exc))
    except BotoCoreError as exc:  # timeouts and connection errors, after the retries
        return None, _ms(start), _error(type(exc).__name__, exc)
    latency = _ms(start)
    try:
        answer, _ = response_answer(json.loads(payload))
    except (ValueError, PayloadError) as exc:  # not JSON, or a shape no container returns
        return None, latency, _error("UnreadableResponse", f"{exc}; body starts {payload[:80]!r}")
    return answer, latency, None


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)


def _checked(event: Any) -> dict[str, Any]:
    def fail(name: str, value: Any, allowed: str) -> CanaryInputError:
        return CanaryInputError(f"{name}: got {value!r:.120}; allowed: {allowed}")

    if not isinstance(event, dict):
        raise fail("event", event, "an object")
    for name in ("endpointName", "variantName"):
        if not isinstance(event.get(name), str) or not event[name]:
            raise fail(name, event.get(name), "a name")
    if event.get("container") not in CONTAINERS:
        raise fail("container", event.get("container"), " or ".join(CONTAINERS))
    tokens = event.get("maxNewTokens")
    if isinstance(tokens, bool) or not isinstance(tokens, int) or not 1 <= tokens <= MAX_NEW_TOKENS:
        raise fail("maxNewTokens", tokens, f"a whole number from 1 to {MAX_NEW_TOKENS}")
    canary = event.get("canary")
    if not isinstance(canary, dict):
        raise fail("canary", canary, "the run's canary object of the planner")
    for name in ("goldenUri", "predictionsBucket", "predictionsKey"):
        if not isinstance(canary.get(name), str) or not canary[name]:
            raise fail(f"canary.{name}", canary.get(name), "a non-empty string")
    if not canary["goldenUri"].startswith("s3://") or "/" not in canary["goldenUri"][5:]:
        raise fail("canary.goldenUri", canary["goldenUri"], "s3://bucket/key")
    records = canary.get("records")
    if isinstance(records, bool) or not isinstance(records, int) or not 1 <= records <= MAX_RECORDS:
        raise fail("canary.records", records, f"a whole number from 1 to {MAX_RECORDS}")
    if canary.get("task") not in TASKS:
        raise fail("canary.task", canary.get("task"), ", ".join(TASKS))
    return event


def _lines(s3: Any, uri: str) -> Iterator[bytes]:
    bucket, key = uri[5:].split("/", 1)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        yield from body.iter_lines()
    finally:
        body.close()


def run_canary(
    event: dict[str, Any], s3: Any, runtime: Any, remaining_ms: Callable[[], int] | None = None
) -> dict[str, Any]:
    """Ask, write and summarise (the handler with its clients given); see the module docstring."""
    from botocore.exceptions import BotoCoreError, ClientError

    event = _checked(event)
    canary = event["canary"]
    task, golden_uri = canary["task"], canary["goldenUri"]
    lines: list[dict[str, Any]] = []
    latencies: list[float] = []
    unsent = 0
    try:
        with contextlib.closing(_lines(s3, golden_uri)) as stream:
            golden, skipped = read_golden(stream, task, canary["records"])
    except (ClientError, BotoCoreError) as exc:
        detail = exc.response.get("Error", {}) if isinstance(exc, ClientError) else {}
        reason = _error(detail.get("Code", type(exc).__name__), detail.get("Message", exc))
        golden, skipped = [], []
        lines.append({"error": _error("GoldenSetUnreadable", f"{golden_uri}: {reason}")})
    else:
        if not golden:
            reasons = "; ".join(skipped[:3]) or "empty"
            lines.append({"error": _error("GoldenSetEmpty", f"{golden_uri}: no usable record ({reasons})")})
    for index, example in enumerate(golden):
        if remaining_ms is not None and remaining_ms() < RESERVE_MS:
            unsent = len(golden) - index
            print(f"stopped asking: under {RESERVE_MS} ms of the invocation left; {unsent} records unsent")
            break
        body = request_body(example.prompt, event["maxNewTokens"])
        answer, latency, error = ask(runtime, event["endpointName"], event["variantName"], body)
        if error is None:
            latencies.append(latency)
            lines.append({**example.reference, "prediction": answer, "latencyMs": latency})
        else:
            lines.append({**example.reference, "latencyMs": latency, "error": error})
    for reason in skipped[:_MAX_LOGGED_SKIPS]:
        print(f"skipped golden record: {golden_uri} {reason}")
    bucket, key = canary["predictionsBucket"], canary["predictionsKey"]
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    s3.put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"), ContentType="application/x-ndjson")
    errors = sum(1 for line in lines if "error" in line)
    return {
        "records": len(lines),
        "errors": errors,
        "latencyP50Ms": _round(percentile(latencies, 50)),
        "latencyP95Ms": _round(percentile(latencies, 95)),
        "predictionsUri": f"s3://{bucket}/{key}",
        "skipped": len(skipped),
        "unsent": unsent,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    import boto3  # the Lambda runtime's; imported here so the canary's logic needs no AWS SDK
    from botocore.config import Config

    # Throttling is retried (adaptive: the client also slows down); a record still throttled is an error.
    # SageMaker allows a real-time invocation 60 s, so the read timeout is a little above it.
    invoke = Config(retries={"max_attempts": 3, "mode": "adaptive"}, read_timeout=70, connect_timeout=10)
    storage = Config(retries={"max_attempts": 10, "mode": "adaptive"})
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return run_canary(
        event, boto3.client("s3", config=storage), boto3.client("sagemaker-runtime", config=invoke), remaining
    )
