"""The quality canary's Lambda: ask one served variant or Bedrock provisioned model the golden prompts and
write its answers for scoring.

Lambda handler ``training.monitor.canary.handler``. Before a target's monitor job, the monitoring state
machine calls it with::

    {"endpointName": "fmft-prod-llm", "variantName": "current", "container": "lmi" | "tgi",
     "modelId": "" | "arn:aws:bedrock:<region>:<account>:provisioned-model/<id>", "maxNewTokens": 256,
     "canary": {"goldenUri": "s3://.../test/test.jsonl", "predictionsBucket": "...",
                "predictionsKey": "<run prefix>canary/predictions.jsonl", "records": 50,
                "task": "classification" | "summarization" | "qa"}}

(``canary`` is the run's object from ``plan.py``, ``modelId`` the run's: ``""`` for an endpoint run). It reads
the first ``records`` usable records of the golden set, sends each prompt to the variant (InvokeEndpoint with
TargetVariant, greedy decoding) or, with a ``modelId``, to that provisioned model (bedrock-runtime Converse;
``container`` is then ignored) and writes one line per record to ``predictionsBucket/predictionsKey``, in the
format ``python -m training.evaluate <task>`` reads, plus the client-side latency::

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
- Bedrock: ``Converse(modelId, messages=[{"role": "user", "content": [{"text": turns}]}], system=[{"text":
  system}] (only when the record has system text), inferenceConfig={"maxTokens": N, "temperature": 0.0})``:
  the record's system text goes in ``system`` and the rest of its prompt (every turn before the last answer,
  joined by newlines) is one user message. The answer is the text blocks of ``output.message.content``
  (``response_answer`` again, as the monitor reads Converse invocation logs).
- A record whose request fails (after botocore's adaptive retries: a throttled record is an error too; for
  Bedrock also ModelNotReadyException, ValidationException...) or whose response cannot be read is written
  with ``error`` (``"<Code>: <message>"``) and without a prediction; nothing raises for one record. A golden
  set that cannot be read or holds no usable record is one error line naming it, so the monitor job still
  has its input and reports an error rate of 1.
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
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from training.data.formats import FieldError, to_conversation
from training.monitor.capture import PayloadError, response_answer
from training.monitor.profile import content_text, record_parts

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
# The modelId of a Bedrock run: the provisioned model's ARN (plan.py's ListProvisionedModelThroughputs).
_PROVISIONED_MODEL_ARN = re.compile(
    r"arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:provisioned-model/[^/\s]+"
)
_MAX_LOGGED_SKIPS = 20


class CanaryInputError(ValueError):
    """The event is not a canary run; the message names the field, the value and what is allowed."""


@dataclass
class Golden:
    """One golden record: the prompt to send and the reference fields of its predictions line; for Converse
    the prompt apart: its system text ("" when none) and the rest (the user message)."""

    prompt: str
    reference: dict[str, Any]
    system: str = ""
    turns: str = ""


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
    system, turns = converse_parts(record, parts.prompt)
    return Golden(parts.prompt, reference, system, turns)


def converse_parts(record: dict[str, Any], prompt: str) -> tuple[str, str]:
    """(system text, the rest) of a golden record's ``prompt`` (``record_parts``'s: system text and every turn
    before the last answer, joined by newlines), for Converse, which takes the system prompt apart. A record
    with nothing but system text is sent whole as the user message."""
    system: list[str]
    turns: list[str]
    messages = record.get("messages")
    if isinstance(messages, list):
        system, turns = [content_text(record.get("system"))], []
        for message in messages:
            if isinstance(message, dict):
                text = content_text(message.get("content"))
                (system if message.get("role") == "system" else turns).append(text)
        last = messages[-1] if messages else None
        if isinstance(last, dict) and last.get("role") == "assistant":
            turns.pop()
    elif isinstance(record.get("prompt"), str) and isinstance(record.get("completion"), str):
        return "", prompt
    else:
        try:
            conversation = to_conversation(record)
        except FieldError:
            return "", prompt
        system, turns = [conversation.system or ""], [text for _, text in conversation.turns[:-1]]
    rest = "\n".join(t for t in turns if t)
    if not rest.strip():
        return "", prompt
    return "\n".join(t for t in system if t), rest


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


def converse_request(model_id: str, example: Golden, max_new_tokens: int) -> dict[str, Any]:
    """The Converse request of one golden record: greedy, at most ``max_new_tokens`` tokens."""
    request: dict[str, Any] = {
        "modelId": model_id,
        "messages": [{"role": "user", "content": [{"text": example.turns or example.prompt}]}],
        "inferenceConfig": {"maxTokens": max_new_tokens, "temperature": 0.0},
    }
    if example.system:
        request["system"] = [{"text": example.system}]
    return request


def _error(code: Any, message: Any) -> str:
    return f"{code}: {message}"[:_MAX_ERROR_CHARS]


def _failure(exc: Exception) -> str:
    """``"<Code>: <message>"`` of a request that failed after the retries."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        detail = exc.response.get("Error", {})
        return _error(detail.get("Code", "ClientError"), detail.get("Message", exc))
    return _error(type(exc).__name__, exc)  # timeouts and connection errors


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
    except (ClientError, BotoCoreError) as exc:
        return None, _ms(start), _failure(exc)
    latency = _ms(start)
    try:
        answer, _ = response_answer(json.loads(payload))
    except (ValueError, PayloadError) as exc:  # not JSON, or a shape no container returns
        return None, latency, _error("UnreadableResponse", f"{exc}; body starts {payload[:80]!r}")
    return answer, latency, None


def ask_bedrock(runtime: Any, request: dict[str, Any]) -> tuple[str | None, float, str | None]:
    """``ask`` for a Bedrock provisioned model: one Converse request (``converse_request``)."""
    from botocore.exceptions import BotoCoreError, ClientError

    start = time.perf_counter()
    try:
        response = runtime.converse(**request)
    except (ClientError, BotoCoreError) as exc:
        return None, _ms(start), _failure(exc)
    latency = _ms(start)
    try:
        answer, _ = response_answer(
            {"output": response.get("output"), "stopReason": response.get("stopReason")}
        )
    except PayloadError as exc:  # no output.message
        return None, latency, _error("UnreadableResponse", exc)
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
    model_id = event.get("modelId", "")
    if not isinstance(model_id, str) or (model_id and not _PROVISIONED_MODEL_ARN.fullmatch(model_id)):
        raise fail("modelId", model_id, "'' (an endpoint) or a Bedrock provisioned model ARN")
    if not model_id and event.get("container") not in CONTAINERS:  # Converse needs no container
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
    return {**event, "modelId": model_id}


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
        if event["modelId"]:
            request = converse_request(event["modelId"], example, event["maxNewTokens"])
            answer, latency, error = ask_bedrock(runtime, request)
        else:
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
    # SageMaker allows a real-time invocation 60 s, so the read timeout is a little above it; a Converse
    # call gets the same, so RESERVE_MS covers both.
    invoke = Config(retries={"max_attempts": 3, "mode": "adaptive"}, read_timeout=70, connect_timeout=10)
    storage = Config(retries={"max_attempts": 10, "mode": "adaptive"})
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    bedrock = isinstance(event, dict) and bool(event.get("modelId"))
    runtime = boto3.client("bedrock-runtime" if bedrock else "sagemaker-runtime", config=invoke)
    return run_canary(event, boto3.client("s3", config=storage), runtime, remaining)
