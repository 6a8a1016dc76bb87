"""Capture reader: SageMaker data capture (JSON, BASE64, CSV), gzip, Bedrock invocation logs, bad lines by
reason, and every payload adapter."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from training.monitor.capture import CaptureReader, Exchange, PayloadError, request_prompt, response_answer

CHAT = {"messages": [{"role": "user", "content": "What is the capital of France?"}]}
ANSWER = {"choices": [{"message": {"role": "assistant", "content": "Paris."}, "finish_reason": "stop"}]}


def block(payload: Any, mode: str, encoding: str = "JSON") -> dict[str, Any]:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    data = base64.b64encode(text.encode()).decode() if encoding == "BASE64" else text
    return {"observedContentType": "application/json", "mode": mode, "data": data, "encoding": encoding}


def capture_line(
    request: Any = CHAT,
    response: Any = ANSWER,
    encoding: str = "JSON",
    time: str = "2026-11-29T10:00:01Z",
    **blocks: Any,
) -> str:
    data = {"endpointInput": block(request, "INPUT", encoding)}
    if response is not None:
        data["endpointOutput"] = block(response, "OUTPUT", encoding)
    data.update(blocks)
    meta = {"eventId": "e1", "inferenceId": "i1", "inferenceTime": time}
    return json.dumps({"captureData": data, "eventMetadata": meta, "eventVersion": "0"})


def bedrock_line(
    body_in: Any, body_out: Any, operation: str = "Converse", model_id: str = "amazon.nova-lite-v1:0"
) -> str:
    return json.dumps(
        {
            "schemaType": "ModelInvocationLog",
            "schemaVersion": "1.0",
            "timestamp": "2026-11-29T10:20:00Z",
            "requestId": "r1",
            "operation": operation,
            "modelId": model_id,
            "input": {"inputContentType": "application/json", "inputBodyJson": body_in, "inputTokenCount": 9},
            "output": {
                "outputContentType": "application/json",
                "outputBodyJson": body_out,
                "outputTokenCount": 3,
            },
        }
    )


def read(directory: Path, **window: Any) -> tuple[list[Exchange], CaptureReader]:
    reader = CaptureReader(**window)
    return list(reader.read(directory)), reader


def test_reads_every_encoding_and_file_kind_and_counts_bad_lines_by_reason(tmp_path: Path) -> None:
    hour = tmp_path / "ep" / "AllTraffic" / "2026" / "11" / "29" / "10"
    hour.mkdir(parents=True)
    good = [capture_line(), capture_line(encoding="BASE64")]
    bad = [
        "{not json",
        capture_line(encoding="CSV"),
        json.dumps({"captureData": {"endpointInput": {"data": "!!!not base64", "encoding": "BASE64"}}}),
        capture_line(request={"image": "abc"}),
        capture_line(request={"inputs": "   "}),
        json.dumps({"hello": "world"}),
        capture_line(request="not json at all"),
    ]
    (hour / "a.jsonl").write_text("\n".join(good + bad) + "\n\n", encoding="utf-8")
    converse = {
        "messages": [{"role": "user", "content": [{"text": "Hi there"}]}],
        "system": [{"text": "Be kind"}],
    }
    nova_out = {"output": {"message": {"content": [{"text": "Hello!"}]}}, "stopReason": "max_tokens"}
    with gzip.open(tmp_path / "bedrock.json.gz", "wt", encoding="utf-8") as handle:
        handle.write(bedrock_line(converse, nova_out) + "\n" + bedrock_line({"foo": 1}, {}) + "\n")
    (tmp_path / "c.json").write_text(capture_line() + "\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")

    exchanges, reader = read(tmp_path)

    assert [e.prompt for e in exchanges] == [
        "Be kind\nHi there",
        "What is the capital of France?",
        "What is the capital of France?",
        "What is the capital of France?",
    ]
    assert exchanges[0].answer == "Hello!" and exchanges[0].truncated and exchanges[0].id == "r1"
    assert (
        exchanges[1].answer == "Paris." and exchanges[1].finish_reason == "stop" and exchanges[1].id == "i1"
    )
    assert (reader.files, reader.lines, reader.records) == (3, 12, 4)
    assert dict(reader.malformed) == {
        "unknown_payload": 3,  # {"image"}, a request that is not JSON, a Bedrock body of unknown shape
        "bad_json": 1,
        "unknown_encoding": 1,
        "bad_base64": 1,
        "no_prompt": 1,
        "unknown_record": 1,
    }
    assert reader.examples["bad_json"] == [
        "ep/AllTraffic/2026/11/29/10/a.jsonl:3: Expecting property name enclosed in double quotes "
        "at column 2: {not json"
    ]
    assert all(len(v) <= 3 for v in reader.examples.values())


def test_a_bad_response_keeps_the_record_without_an_answer(tmp_path: Path) -> None:
    lines = [
        capture_line(response={"error": "model timeout"}),
        capture_line(response=None),  # capture of requests only
        capture_line(response="{truncated", encoding="JSON"),
    ]
    (tmp_path / "a.jsonl").write_text("\n".join(lines), encoding="utf-8")
    exchanges, reader = read(tmp_path)
    assert [e.answer for e in exchanges] == [None, None, None]
    assert dict(reader.response_problems) == {"unknown_payload": 2}
    assert not reader.malformed


def test_a_corrupt_gzip_file_is_counted_and_the_next_file_still_read(tmp_path: Path) -> None:
    data = gzip.compress(((capture_line() + "\n") * 200).encode())
    (tmp_path / "a.jsonl.gz").write_bytes(data[: len(data) // 2])
    (tmp_path / "b.jsonl.gz").write_bytes(b"not gzip at all")
    (tmp_path / "c.jsonl").write_text(capture_line() + "\n", encoding="utf-8")
    exchanges, reader = read(tmp_path)
    assert reader.malformed["unreadable_file"] == 2
    assert 1 < len(exchanges) < 201 and reader.records == len(exchanges)


def test_missing_or_empty_directory_is_an_empty_window(tmp_path: Path) -> None:
    assert read(tmp_path / "missing")[1].records == 0
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    exchanges, reader = read(tmp_path)
    assert exchanges == [] and (reader.files, reader.lines, sum(reader.malformed.values())) == (1, 0, 0)


def test_records_outside_the_window_are_skipped_and_counted(tmp_path: Path) -> None:
    times = ["2026-11-29T09:59:59Z", "2026-11-29T10:00:00Z", "2026-11-29T10:59:59.5Z", "2026-11-29T11:00:00Z"]
    (tmp_path / "a.jsonl").write_text("\n".join(capture_line(time=t) for t in times), encoding="utf-8")
    start = dt.datetime(2026, 11, 29, 10, tzinfo=dt.UTC)
    exchanges, reader = read(tmp_path, start=start, end=start + dt.timedelta(hours=1))
    assert (len(exchanges), reader.outside_window) == (2, 2)
    assert reader.first_time == start and reader.last_time and reader.last_time.minute == 59


@pytest.mark.parametrize(
    ("payload", "prompt"),
    [
        (
            {"inputs": "Summarise: the cat sat.", "parameters": {"max_new_tokens": 64}},
            "Summarise: the cat sat.",
        ),
        (
            {
                "inputs": "<|im_start|>system\nBe brief<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                "<|im_start|>assistant\n"
            },
            "Be brief\n\nHi",
        ),
        ({"inputs": "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nHi [/INST]"}, "S\n\n\nHi"),
        (
            {"inputs": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"},
            "Hi",
        ),
        ({"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"}]}, "S\nHi"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "Look"}, {"type": "image_url"}]}
                ]
            },
            "Look",
        ),
        ({"system": [{"text": "S"}], "messages": [{"role": "user", "content": [{"text": "Hi"}]}]}, "S\nHi"),
        ({"system": "S", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 10}, "S\nHi"),
        ({"prompt": "Once upon a time", "max_gen_len": 20}, "Once upon a time"),
        ({"inputText": "Titan prompt"}, "Titan prompt"),
    ],
)
def test_request_adapters(payload: Any, prompt: str) -> None:
    assert request_prompt(payload) == prompt


@pytest.mark.parametrize(
    ("payload", "reason"),
    [({"foo": "bar"}, "unknown_payload"), (["a"], "unknown_payload"), ({"messages": []}, "no_prompt")],
)
def test_unreadable_requests(payload: Any, reason: str) -> None:
    with pytest.raises(PayloadError) as info:
        request_prompt(payload)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    ("payload", "answer", "reason", "truncated"),
    [
        ([{"generated_text": "A", "details": {"finish_reason": "length"}}], "A", "length", True),
        ({"generated_text": "B"}, "B", None, False),
        ({"choices": [{"message": {"content": "C"}, "finish_reason": "length"}]}, "C", "length", True),
        ({"choices": [{"text": "D", "finish_reason": "stop"}]}, "D", "stop", False),
        (
            {"output": {"message": {"content": [{"text": "E"}]}}, "stopReason": "end_turn"},
            "E",
            "end_turn",
            False,
        ),
        ({"content": [{"type": "text", "text": "F"}], "stop_reason": "max_tokens"}, "F", "max_tokens", True),
        ({"generation": "G", "stop_reason": "length"}, "G", "length", True),
        ({"results": [{"outputText": "H", "completionReason": "LENGTH"}]}, "H", "LENGTH", True),
        ({"generated_text": ""}, "", None, False),
    ],
)
def test_response_adapters(payload: Any, answer: str, reason: str | None, truncated: bool) -> None:
    text, finish = response_answer(payload)
    assert (text, finish) == (answer, reason)
    assert Exchange("p", text, finish).truncated is truncated


def test_unknown_response_shapes() -> None:
    for payload in ({"error": "x"}, "text", [], 3):
        with pytest.raises(PayloadError):
            response_answer(payload)


PROVISIONED = "arn:aws:bedrock:us-east-1:111122223333:provisioned-model/abc123"
CONVERSE = {"messages": [{"role": "user", "content": [{"text": "Total of invoice 7?"}]}]}
NOVA_ANSWER = {"output": {"message": {"content": [{"text": "70 euros."}]}}, "stopReason": "end_turn"}


def mixed_logs(tmp_path: Path) -> Path:
    """One hour of an account's invocation logs (three models) and a SageMaker capture file."""
    lines = [
        bedrock_line(CONVERSE, NOVA_ANSWER, model_id=PROVISIONED),
        bedrock_line(CONVERSE, NOVA_ANSWER, model_id="amazon.nova-lite-v1:0"),
        bedrock_line({"foo": 1}, {}, model_id="arn:aws:bedrock:us-east-1:111122223333:provisioned-model/zzz"),
        bedrock_line(CONVERSE, NOVA_ANSWER, model_id=PROVISIONED),
        bedrock_line({"foo": 1}, {}, model_id=PROVISIONED),
    ]
    with gzip.open(tmp_path / "20261129T1020Z_abc.json.gz", "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    (tmp_path / "capture.jsonl").write_text(capture_line() + "\n", encoding="utf-8")
    return tmp_path


def test_a_model_id_keeps_only_that_models_invocation_logs_and_counts_the_others(tmp_path: Path) -> None:
    exchanges, reader = read(mixed_logs(tmp_path), model_id=PROVISIONED)
    # Its two readable lines and the SageMaker capture line, which is never filtered.
    assert [e.prompt for e in exchanges] == ["Total of invoice 7?"] * 2 + ["What is the capital of France?"]
    assert (reader.lines, reader.records, reader.other_models) == (6, 3, 2)
    # Another model's unreadable line is another model's, not malformed; this model's is malformed.
    assert dict(reader.malformed) == {"unknown_payload": 1}


@pytest.mark.parametrize("model_id", [None, ""])
def test_without_a_model_id_every_invocation_log_line_counts(tmp_path: Path, model_id: str | None) -> None:
    exchanges, reader = read(mixed_logs(tmp_path), model_id=model_id)
    assert (len(exchanges), reader.other_models, dict(reader.malformed)) == (4, 0, {"unknown_payload": 2})
