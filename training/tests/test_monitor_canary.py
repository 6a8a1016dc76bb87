"""The quality canary: the Lambda that asks a served variant the golden prompts (against a moto server, whose
sagemaker-runtime returns the answers a test queues; a botocore Stubber for endpoint errors and for Bedrock's
Converse), and the monitor job that scores the answers with training.evaluate's own code."""

from __future__ import annotations

import io
import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from training.evaluate.__main__ import main as evaluate_main
from training.monitor import canary
from training.monitor.__main__ import main
from training.monitor.canary_score import EMPTY_LABEL, PRIMARY_METRICS
from training.monitor.report import DEFAULT_THRESHOLDS, alarms
from training.tests.conftest import read_jsonl, write_jsonl

REPO = Path(__file__).resolve().parents[2]
ENDPOINT, VARIANT = "fmft-prod-llm", "current"
GOLDEN_KEY = "training-data/processed/exec-1/test/test.jsonl"
PREDICTIONS_KEY = "evaluation/monitoring/fmft-prod-llm/current/2026/11/29/10/job/canary/predictions.jsonl"


@pytest.fixture
def aws(moto_endpoint):
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).close()
    s3 = boto3.client("s3", region_name="us-east-1")
    for bucket in ("fmft-data", "fmft-evaluation"):
        s3.create_bucket(Bucket=bucket)
    runtime = boto3.client("sagemaker-runtime", region_name="us-east-1")
    sent: list[dict[str, Any]] = []

    def record(request, **_):
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        sent.append({"body": json.loads(request.body), "headers": headers})

    runtime.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint", record)
    return s3, runtime, sent, moto_endpoint


def queue_answers(moto_endpoint: str, bodies: list[Any]) -> None:
    """moto's sagemaker-runtime answers the next requests with these bodies, in order (one per new body)."""
    results = [
        {"Body": b if isinstance(b, str) else json.dumps(b), "ContentType": "application/json"}
        for b in bodies
    ]
    request = urllib.request.Request(
        f"{moto_endpoint}/moto-api/static/sagemaker/endpoint-results",
        data=json.dumps({"results": results}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request).close()


def put_golden(s3, lines: list[Any]) -> str:
    body = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    s3.put_object(Bucket="fmft-data", Key=GOLDEN_KEY, Body=body.encode())
    return f"s3://fmft-data/{GOLDEN_KEY}"


def event(task: str, records: int = 10, golden: str = f"s3://fmft-data/{GOLDEN_KEY}") -> dict[str, Any]:
    return {
        "endpointName": ENDPOINT,
        "variantName": VARIANT,
        "container": "lmi",
        "maxNewTokens": 16,
        "canary": {
            "goldenUri": golden,
            "predictionsBucket": "fmft-evaluation",
            "predictionsKey": PREDICTIONS_KEY,
            "records": records,
            "task": task,
        },
    }


def written(s3) -> list[dict[str, Any]]:
    body = s3.get_object(Bucket="fmft-evaluation", Key=PREDICTIONS_KEY)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def chat(system: str | None, question: str, answer: str | None) -> dict[str, Any]:
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": question})
    if answer is not None:
        messages.append({"role": "assistant", "content": answer})
    return {"messages": messages}


# ---------------------------------------------------------------------------------------------------------
# the Lambda


def test_chat_golden_records_are_asked_greedily_and_every_answer_or_error_is_written(aws):
    s3, runtime, sent, url = aws
    put_golden(
        s3,
        [
            chat("Label the review.", "great film", "pos"),
            "not json",
            chat(None, "awful plot", "neg"),
            chat(None, "no answer to compare with", None),
            chat(None, "fine acting", "pos"),
        ],
    )
    # TGI answers a list, LMI an object; the third body is no JSON at all.
    queue_answers(url, [[{"generated_text": "pos"}], {"generated_text": " neg"}, "<html>502</html>"])

    result = canary.run_canary(event("classification", records=5), s3, runtime)

    assert [r["body"] for r in sent] == [
        {"inputs": prompt, "parameters": {"max_new_tokens": 16, "do_sample": False}}
        for prompt in ("Label the review.\ngreat film", "awful plot", "fine acting")
    ]
    assert {r["headers"]["X-Amzn-SageMaker-Target-Variant"] for r in sent} == {VARIANT}
    assert {r["headers"]["Content-Type"] for r in sent} == {"application/json"}
    lines = written(s3)
    assert [{k: v for k, v in line.items() if k != "latencyMs"} for line in lines] == [
        {"label": "pos", "prediction": "pos"},
        {"label": "neg", "prediction": " neg"},
        {"label": "pos", "error": lines[2]["error"]},
    ]
    assert lines[2]["error"].startswith("UnreadableResponse: ")
    assert all(isinstance(line["latencyMs"], float) and line["latencyMs"] > 0 for line in lines)
    answered = [line["latencyMs"] for line in lines[:2]]
    assert result == {
        "records": 3,
        "errors": 1,
        "latencyP50Ms": pytest.approx(float(np.percentile(answered, 50)), abs=1e-3),
        "latencyP95Ms": pytest.approx(float(np.percentile(answered, 95)), abs=1e-3),
        "predictionsUri": f"s3://fmft-evaluation/{PREDICTIONS_KEY}",
        "skipped": 2,  # the line that is not JSON and the chat without an answer
        "unsent": 0,
    }


@pytest.mark.parametrize(
    ("task", "record", "prompt", "reference"),
    [
        (
            "summarization",
            {"document": "The council met on Monday.", "summary": "Council met."},
            "The council met on Monday.",
            {"summary": "Council met."},
        ),
        (
            "qa",
            {
                "context": "Paris is in France.",
                "question": "Where is Paris?",
                "answers": ["France", "in France"],
            },
            "Paris is in France.\n\nQuestion: Where is Paris?",
            {"answers": ["France", "in France"]},
        ),
        (
            "qa",
            {"context": "C", "question": "Q", "answers": {"text": ["A"], "answer_start": [0]}},
            "C\n\nQuestion: Q",
            {"answers": ["A"]},
        ),
        ("qa", chat(None, "Capital of Italy?", "Rome"), "Capital of Italy?", {"answers": ["Rome"]}),
        ("classification", {"text": "t", "labels": ["b", "a"]}, "t", {"labels": ["b", "a"]}),
        ("classification", {"text": "t", "label": 3}, "t", {"label": 3}),
        (
            "summarization",
            {"prompt": "Summarise: x y z", "completion": "x"},
            "Summarise: x y z",
            {"summary": "x"},
        ),
    ],
)
def test_task_records_keep_their_reference_fields(aws, task, record, prompt, reference):
    s3, runtime, sent, url = aws
    put_golden(s3, [record])
    queue_answers(url, [{"generated_text": "answer"}])
    result = canary.run_canary(event(task), s3, runtime)
    assert sent[0]["body"]["inputs"] == prompt
    [line] = written(s3)
    assert line == {**reference, "prediction": "answer", "latencyMs": line["latencyMs"]}
    assert (result["records"], result["errors"]) == (1, 0)


def test_only_the_configured_number_of_records_is_asked(aws):
    s3, runtime, sent, url = aws
    put_golden(s3, [chat(None, f"question {i}", f"answer {i}") for i in range(6)])
    queue_answers(url, [{"generated_text": f"a{i}"} for i in range(6)])
    assert canary.run_canary(event("qa", records=2), s3, runtime)["records"] == 2
    assert len(sent) == 2 and [line["prediction"] for line in written(s3)] == ["a0", "a1"]


def streaming(payload: Any) -> StreamingBody:
    raw = json.dumps(payload).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def test_endpoint_errors_and_throttling_after_retries_are_error_records_not_failures(aws):
    s3, _, _, _ = aws
    put_golden(s3, [chat(None, f"q{i}", "yes") for i in range(3)])
    runtime = boto3.client("sagemaker-runtime", region_name="us-east-1")
    with Stubber(runtime) as stub:
        stub.add_client_error(
            "invoke_endpoint", "ModelError", "Received server error (500) from primary", http_status_code=424
        )
        stub.add_client_error("invoke_endpoint", "ThrottlingException", "Rate exceeded", http_status_code=400)
        expected = {
            "EndpointName": ENDPOINT,
            "TargetVariant": VARIANT,
            "ContentType": "application/json",
            "Accept": "application/json",
            "Body": canary.request_body("q2", 16),
        }
        stub.add_response("invoke_endpoint", {"Body": streaming({"generated_text": "yes"})}, expected)
        result = canary.run_canary(event("classification"), s3, runtime)
        stub.assert_no_pending_responses()
    lines = written(s3)
    assert [line.get("error") for line in lines] == [
        "ModelError: Received server error (500) from primary",
        "ThrottlingException: Rate exceeded",
        None,
    ]
    assert "prediction" not in lines[0] and lines[2]["prediction"] == "yes"
    assert result["errors"] == 2 and result["latencyP50Ms"] == result["latencyP95Ms"] == lines[2]["latencyMs"]


def test_a_golden_set_that_cannot_be_read_or_is_unusable_is_one_error_line(aws):
    s3, runtime, sent, _ = aws
    result = canary.run_canary(event("qa", golden="s3://fmft-data/missing.jsonl"), s3, runtime)
    [line] = written(s3)
    assert line["error"].startswith("GoldenSetUnreadable: s3://fmft-data/missing.jsonl: NoSuchKey")
    assert (result["records"], result["errors"], result["latencyP95Ms"]) == (1, 1, None)
    put_golden(s3, ["{}", "[1]"])
    result = canary.run_canary(event("qa"), s3, runtime)
    [line] = written(s3)
    assert line["error"].startswith("GoldenSetEmpty: ") and "line 1: no prompt" in line["error"]
    assert (result["errors"], result["skipped"], sent) == (1, 2, [])


def test_the_canary_stops_asking_before_the_invocation_runs_out(aws):
    s3, runtime, sent, url = aws
    put_golden(s3, [chat(None, f"q{i}", "a") for i in range(4)])
    queue_answers(url, [{"generated_text": "a"}])
    left = iter([canary.RESERVE_MS + 60_000, canary.RESERVE_MS - 1])
    result = canary.run_canary(event("qa"), s3, runtime, remaining_ms=lambda: next(left))
    assert (result["records"], result["unsent"], len(sent), len(written(s3))) == (1, 3, 1, 1)


def test_the_handler_makes_its_clients_and_checks_its_event(aws):
    s3, _, _, url = aws
    put_golden(s3, [chat(None, "q", "a")])
    queue_answers(url, [{"generated_text": "a"}])
    assert canary.handler(event("qa"))["records"] == 1 and written(s3)[0]["prediction"] == "a"
    for change, message in [
        ({"container": "vllm"}, "container: got 'vllm'; allowed: lmi or tgi"),
        ({"maxNewTokens": 0}, "maxNewTokens: got 0"),
        ({"canary": None}, "canary: got None"),
        ({"canary": {**event("qa")["canary"], "records": 501}}, "canary.records: got 501"),
        ({"canary": {**event("qa")["canary"], "task": "perplexity"}}, "canary.task: got 'perplexity'"),
    ]:
        with pytest.raises(canary.CanaryInputError, match=re.escape(message)):
            canary.handler({**event("qa"), **change})


# ---------------------------------------------------------------------------------------------------------
# Bedrock provisioned models (moto's bedrock-runtime has InvokeModel only: Converse goes through botocore's
# Stubber, which checks each expected request, and the client validates it against the service model)

MODEL_ARN = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdef012345"


def bedrock_event(task: str, records: int = 10) -> dict[str, Any]:
    return {
        **event(task, records),
        "endpointName": "fmft-prod-claims-v2",
        "variantName": "bedrock",
        "modelId": MODEL_ARN,
    }


def reply(*texts: str) -> dict[str, Any]:
    """A Converse response holding these text blocks."""
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": t} for t in texts]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 12, "outputTokens": 3, "totalTokens": 15},
        "metrics": {"latencyMs": 140},
    }


def converse(text: str, system: str | None = None, tokens: int = 16) -> dict[str, Any]:
    """The request the canary must send for one golden record."""
    request: dict[str, Any] = {
        "modelId": MODEL_ARN,
        "messages": [{"role": "user", "content": [{"text": text}]}],
        "inferenceConfig": {"maxTokens": tokens, "temperature": 0.0},
    }
    if system is not None:
        request["system"] = [{"text": system}]
    return request


def test_a_provisioned_model_is_asked_through_converse_with_the_system_text_apart(aws):
    s3, _, _, _ = aws
    put_golden(
        s3,
        [
            # The Bedrock conversation format of a run's test split: system blocks, content blocks.
            {
                "schemaVersion": "bedrock-conversation-2024",
                "system": [{"text": "You answer questions about invoices."}],
                "messages": [
                    {"role": "user", "content": [{"text": "What is the total of invoice 7?"}]},
                    {"role": "assistant", "content": [{"text": "70 euros"}]},
                ],
            },
            chat("Answer briefly.", "Capital of Italy?", "Rome"),  # a system message of its own
            {  # several turns before the answer: one user message, joined as the endpoint's prompt
                "messages": [
                    {"role": "user", "content": "Who wrote it?"},
                    {"role": "assistant", "content": "Which book?"},
                    {"role": "user", "content": "Dune."},
                    {"role": "assistant", "content": "Frank Herbert"},
                ]
            },
            {"context": "Paris is in France.", "question": "Where is Paris?", "answers": ["France"]},
            {"instruction": "Name the capital.", "input": "Spain", "output": "Madrid", "system": "Be terse."},
        ],
    )
    runtime = boto3.client("bedrock-runtime", region_name="us-east-1")
    with Stubber(runtime) as stub:
        stub.add_response(
            "converse",
            reply("70 ", "euros"),
            converse("What is the total of invoice 7?", "You answer questions about invoices."),
        )
        stub.add_response("converse", reply("Rome"), converse("Capital of Italy?", "Answer briefly."))
        stub.add_response("converse", reply("Frank Herbert"), converse("Who wrote it?\nWhich book?\nDune."))
        stub.add_response(
            "converse", reply("France"), converse("Paris is in France.\n\nQuestion: Where is Paris?")
        )
        stub.add_response("converse", reply("Madrid"), converse("Name the capital.\n\nSpain", "Be terse."))
        result = canary.run_canary(bedrock_event("qa"), s3, runtime)
        stub.assert_no_pending_responses()
    lines = written(s3)
    assert [{k: v for k, v in line.items() if k != "latencyMs"} for line in lines] == [
        {"answers": ["70 euros"], "prediction": "70 \neuros"},  # text blocks joined as the monitor reads them
        {"answers": ["Rome"], "prediction": "Rome"},
        {"answers": ["Frank Herbert"], "prediction": "Frank Herbert"},
        {"answers": ["France"], "prediction": "France"},
        {"answers": ["Madrid"], "prediction": "Madrid"},
    ]
    latencies = [line["latencyMs"] for line in lines]
    assert all(isinstance(v, float) and v > 0 for v in latencies)
    assert result["records"] == 5 and result["errors"] == 0 and result["skipped"] == 0
    assert result["latencyP50Ms"] == pytest.approx(float(np.percentile(latencies, 50)), abs=1e-3)


def test_converse_errors_are_error_records_with_their_latency_like_an_endpoints(aws):
    s3, _, _, _ = aws
    put_golden(s3, [chat(None, f"q{i}", "yes") for i in range(5)])
    runtime = boto3.client("bedrock-runtime", region_name="us-east-1")
    with Stubber(runtime) as stub:
        for code, message, status in [
            ("ThrottlingException", "Too many requests, please wait before trying again.", 429),
            ("ModelNotReadyException", "The model is not ready to serve inference requests.", 429),
            ("ValidationException", "The provided model identifier is invalid.", 400),
            ("ModelTimeoutException", "Model has timed out in processing the request.", 408),
        ]:
            stub.add_client_error("converse", code, message, http_status_code=status)
        stub.add_response("converse", reply("yes"), converse("q4", tokens=8))
        result = canary.run_canary({**bedrock_event("classification"), "maxNewTokens": 8}, s3, runtime)
        stub.assert_no_pending_responses()
    lines = written(s3)
    assert [line.get("error") for line in lines] == [
        "ThrottlingException: Too many requests, please wait before trying again.",
        "ModelNotReadyException: The model is not ready to serve inference requests.",
        "ValidationException: The provided model identifier is invalid.",
        "ModelTimeoutException: Model has timed out in processing the request.",
        None,
    ]
    assert [("prediction" in line, line["label"]) for line in lines] == [(False, "yes")] * 4 + [(True, "yes")]
    assert all(line["latencyMs"] > 0 for line in lines)
    assert result["errors"] == 4 and result["latencyP50Ms"] == result["latencyP95Ms"] == lines[4]["latencyMs"]


def test_a_converse_reply_without_a_message_is_unreadable_not_a_failure():
    # Botocore's model makes output a union that holds message, so only a service change could send this.
    class Runtime:
        def converse(self, **_: Any) -> dict[str, Any]:
            return {"output": {}, "stopReason": "end_turn"}

    answer, latency, error = canary.ask_bedrock(Runtime(), converse("q"))
    assert answer is None and latency >= 0 and error is not None
    assert error.startswith("UnreadableResponse: ")


def test_the_handler_asks_bedrock_with_a_model_id_and_needs_no_container(aws, monkeypatch):
    s3, _, _, _ = aws
    put_golden(s3, [chat(None, "q", "a")])
    runtime = boto3.client("bedrock-runtime", region_name="us-east-1")
    stub = Stubber(runtime)
    stub.add_response("converse", reply("a"), converse("q"))
    made: list[str] = []
    real = boto3.client

    def client(service: str, **kw: Any) -> Any:
        made.append(service)
        return runtime if service == "bedrock-runtime" else real(service, **kw)

    monkeypatch.setattr(boto3, "client", client)
    with stub:
        result = canary.handler({**bedrock_event("qa"), "container": None})
    stub.assert_no_pending_responses()
    assert "sagemaker-runtime" not in made and "bedrock-runtime" in made
    assert result["errors"] == 0 and written(s3)[0]["prediction"] == "a"
    for model_id, message in [
        (None, "modelId: got None; allowed: '' (an endpoint) or a Bedrock provisioned model ARN"),
        ("amazon.nova-micro-v1:0", "modelId: got 'amazon.nova-micro-v1:0'"),
        ("arn:aws:bedrock:us-east-1:123456789012:custom-model/x", "modelId: got 'arn:aws:bedrock"),
    ]:
        with pytest.raises(canary.CanaryInputError, match=re.escape(message)):
            canary.handler({**bedrock_event("qa"), "modelId": model_id})
    # An endpoint run ("" or, from an older state machine, no modelId) still needs its container.
    with pytest.raises(canary.CanaryInputError, match="container: got None"):
        canary.handler({**event("qa"), "modelId": "", "container": None})


# ---------------------------------------------------------------------------------------------------------
# the monitor job


def run_job(tmp_path: Path, *flags: str) -> tuple[int, dict, dict[str, float]]:
    out = tmp_path / "out"
    argv = ["run", "--capture", str(tmp_path / "no-capture"), "--output-dir", str(out)]
    code = main([*argv, "--endpoint-name", "chat-prod", "--variant-name", "AllTraffic", *flags])
    if code:
        return code, {}, {}
    result = json.loads((out / "result.json").read_text(encoding="utf-8"))
    data = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    return code, result, {d["MetricName"]: d["Value"] for d in data["MetricData"]}


ANSWERS = {
    "classification": [
        ({"label": "pos"}, "pos"),
        ({"label": "neg"}, "pos"),
        ({"label": "neg"}, " neg\n"),
        ({"label": "pos"}, "pos"),
        ({"label": "neu"}, "neu"),
    ],
    "summarization": [
        ({"summary": "The council approved the budget."}, "Council approves budget."),
        ({"summary": "Rain is expected on Friday."}, "Friday will bring rain."),
        ({"summary": "The team won the final."}, "The team lost the final."),
    ],
    "qa": [
        ({"answers": ["Paris", "paris, France"]}, "Paris"),
        ({"answers": ["1969"]}, "It was in 1969."),
        ({"answers": ["blue"]}, "red"),
    ],
}


@pytest.mark.parametrize("task", sorted(ANSWERS))
def test_the_job_scores_the_answers_as_training_evaluate_does(tmp_path, task):
    latencies = [120.0, 340.5, 95.25, 800.0, 410.0][: len(ANSWERS[task])]
    answered = [
        {**reference, "prediction": prediction, "latencyMs": latency}
        for (reference, prediction), latency in zip(ANSWERS[task], latencies, strict=True)
    ]
    reference_field = canary.REFERENCE_FIELDS[task]
    errors = [
        {
            reference_field: answered[0][reference_field],
            "latencyMs": 60000.0,
            "error": "ModelError: timed out",
        },
        {reference_field: answered[0][reference_field], "latencyMs": 3.0, "error": "ModelError: <b>boom</b>"},
    ]
    (tmp_path / "canary").mkdir()
    write_jsonl(tmp_path / "canary" / "predictions.jsonl", [*answered[:1], *errors, *answered[1:]])

    code, result, values = run_job(tmp_path, "--canary", str(tmp_path / "canary"), "--canary-task", task)

    # training.evaluate itself on the answered records: the failed ones are the error rate's, not the score's.
    write_jsonl(tmp_path / "answered.jsonl", answered)
    direct = [task, "--predictions", str(tmp_path / "answered.jsonl"), "--output-dir", str(tmp_path / "ev")]
    assert evaluate_main(direct) == 0
    report = json.loads((tmp_path / "ev" / "evaluation.json").read_text(encoding="utf-8"))
    section, expected = next((k, v) for k, v in report.items() if k.endswith("_metrics"))
    records = len(answered) + len(errors)
    assert code == 0
    assert values["CanaryScore"] == expected[PRIMARY_METRICS[task]]["value"]
    assert values["CanaryRecords"] == records and values["CanaryErrorRate"] == 2 / records
    assert values["CanaryLatencyP95"] == pytest.approx(np.percentile(latencies, 95))
    section_out = result["canary"]
    assert section_out["section"] == section and section_out["status"] == "scored"
    assert section_out["metrics"] == {
        k: v["value"] for k, v in expected.items() if isinstance(v, dict) and "value" in v
    }
    assert section_out["latencyMs"]["p50"] == pytest.approx(np.percentile(latencies, 50))
    assert section_out["errorsByCode"] == {"ModelError": 2}
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "Quality canary" in page and "&lt;b&gt;boom&lt;/b&gt;" in page and "<b>boom" not in page


def test_the_scores_of_a_known_case(tmp_path):
    write_jsonl(
        tmp_path / "p.jsonl", [{"label": r["label"], "prediction": p} for r, p in ANSWERS["classification"]]
    )
    _, result, values = run_job(
        tmp_path, "--canary", str(tmp_path / "p.jsonl"), "--canary-task", "classification"
    )
    assert values["CanaryScore"] == 0.8  # 4 of 5 right (" neg\n" is neg)
    assert values["CanaryErrorRate"] == 0.0 and "CanaryLatencyP95" not in values  # no latency recorded
    assert result["alarms"] == []


def test_an_empty_classification_answer_is_a_wrong_label_not_an_unscorable_file(tmp_path):
    write_jsonl(
        tmp_path / "p.jsonl",
        [{"label": "pos", "prediction": "pos"}, {"label": "neg", "prediction": "  "}],
    )
    _, result, values = run_job(
        tmp_path, "--canary", str(tmp_path / "p.jsonl"), "--canary-task", "classification"
    )
    assert values["CanaryScore"] == 0.5 and result["canary"]["emptyAnswers"] == 1
    assert result["canary"]["metrics"]["accuracy"] == 0.5 and EMPTY_LABEL == "(empty answer)"


def test_missing_canary_answers_are_reported_and_the_run_still_reports(tmp_path):
    (tmp_path / "empty").mkdir()
    for where in (tmp_path / "none", tmp_path / "empty"):
        code, result, values = run_job(tmp_path, "--canary", str(where), "--canary-task", "qa")
        assert (
            code == 0
            and result["canary"]["status"] == "missing"
            and "no such file" in result["canary"]["problem"]
        )
        assert values == {
            "MonitorRun": 1.0,
            "CapturedRecords": 0.0,
            "MalformedRecords": 0.0,
            "BaselineMissing": 1.0,
            "CanaryRecords": 0.0,
        }


def test_only_errors_report_the_error_rate_and_no_score(tmp_path):
    write_jsonl(tmp_path / "p.jsonl", [{"error": "GoldenSetUnreadable: s3://x/y.jsonl: NoSuchKey: gone"}])
    _, result, values = run_job(
        tmp_path, "--canary", str(tmp_path / "p.jsonl"), "--canary-task", "summarization"
    )
    assert result["canary"]["status"] == "unscored" and values["CanaryErrorRate"] == 1.0
    assert "CanaryScore" not in values and result["alarms"] == ["CanaryErrorRate"]


def test_the_canary_flags_go_together(tmp_path, capsys):
    assert run_job(tmp_path, "--canary", str(tmp_path))[0] == 2
    assert "--canary and --canary-task go together" in capsys.readouterr().err
    assert run_job(tmp_path, "--canary-task", "qa")[0] == 2
    with pytest.raises(SystemExit):
        run_job(tmp_path, "--canary", str(tmp_path), "--canary-task", "perplexity")
    assert not (tmp_path / "out").exists()


def test_a_score_alarms_below_its_threshold_and_the_others_above(tmp_path):
    bad = {"CanaryScore": 0.1, "CanaryErrorRate": 0.2, "CanaryLatencyP95": 12500.0, "CanaryRecords": 50.0}
    good = {"CanaryScore": 0.9, "CanaryErrorRate": 0.0, "CanaryLatencyP95": 900.0, "CanaryRecords": 50.0}
    assert alarms(bad, DEFAULT_THRESHOLDS) == ["CanaryScore", "CanaryErrorRate", "CanaryLatencyP95"]
    assert alarms(good, DEFAULT_THRESHOLDS) == []
    assert alarms({"CanaryScore": DEFAULT_THRESHOLDS["canaryMinimumScore"]}, DEFAULT_THRESHOLDS) == []
    write_jsonl(tmp_path / "p.jsonl", [{"answers": ["Paris"], "prediction": "Paris", "latencyMs": 2400}])
    flags = ["--canary", str(tmp_path / "p.jsonl"), "--canary-task", "qa"]
    _, result, _ = run_job(
        tmp_path, *flags, "--thresholds", "canaryMinimumScore=0.99", "canaryLatencyP95Ms=3000"
    )
    assert result["alarms"] == [] and result["thresholds"]["canaryLatencyP95Ms"] == 3000
    _, result, _ = run_job(tmp_path, *flags, "--thresholds", "canaryLatencyP95Ms=1000")
    assert result["alarms"] == ["CanaryLatencyP95"]
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "below 0.2" in page and "above 1000" in page


def test_the_canarys_file_is_what_the_job_scores(aws, tmp_path):
    s3, runtime, _, url = aws
    golden = [
        {"document": "The council met and approved the budget.", "summary": "Council approves budget."},
        {"document": "Heavy rain is forecast for Friday.", "summary": "Rain on Friday."},
    ]
    put_golden(s3, golden)
    queue_answers(
        url, [[{"generated_text": "Council approves the budget."}], [{"generated_text": "Sun all week."}]]
    )
    returned = canary.run_canary(event("summarization"), s3, runtime)
    (tmp_path / "canary").mkdir()
    s3.download_file("fmft-evaluation", PREDICTIONS_KEY, str(tmp_path / "canary" / canary.PREDICTIONS_FILE))

    _, result, values = run_job(
        tmp_path, "--canary", str(tmp_path / "canary"), "--canary-task", "summarization"
    )

    assert values["CanaryRecords"] == returned["records"] == 2 and values["CanaryErrorRate"] == 0
    assert values["CanaryLatencyP95"] == pytest.approx(returned["latencyP95Ms"], abs=1e-3)
    assert 0 < values["CanaryScore"] < 1 and values["CanaryScore"] == result["canary"]["metrics"]["rougeL"]
    assert read_jsonl(tmp_path / "canary" / "predictions.jsonl")[0]["summary"] == "Council approves budget."
