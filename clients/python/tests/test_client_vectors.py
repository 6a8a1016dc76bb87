"""Every case of api/vectors/vectors.json against the local server: result or error, attempts and waits.

The waits are recorded by the client's replaceable sleep, with the jitter the vectors ask for ("none").
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.credentials import Credentials
from conftest import VECTORS, LocalServer

from fmft_inference import ApiError, InferenceClient, RetryPolicy, StreamError

CASES: list[dict[str, Any]] = VECTORS["cases"]
SERVER: dict[str, Any] = VECTORS["server"]


def make_client(case: dict[str, Any], url: str, waits: list[float]) -> InferenceClient:
    """The client a case describes: the vectors' retry policy with the case's settings on top."""
    settings = case.get("client", {})
    policy = VECTORS["retryPolicy"]
    retry = RetryPolicy(
        max_attempts=settings.get("maxAttempts", policy["maxAttempts"]),
        base_delay_seconds=policy["baseDelaySeconds"],
        max_delay_seconds=policy["maxDelaySeconds"],
        max_wait_seconds=settings.get("maxWaitSeconds", policy["maxWaitSeconds"]),
        jitter=policy["jitter"],
    )

    def no_random() -> float:
        raise AssertionError("jitter 'none' must not draw a random factor")

    if settings.get("auth", "api-key") == "sigv4":
        credentials = Credentials(
            SERVER["credentials"]["accessKeyId"], SERVER["credentials"]["secretAccessKey"]
        )
        return InferenceClient(
            url,
            credentials=credentials,
            region=SERVER["region"],
            retry=retry,
            sleep=waits.append,
            random=no_random,
        )
    return InferenceClient(
        url,
        api_key=settings.get("apiKey", SERVER["apiKey"]),
        retry=retry,
        sleep=waits.append,
        random=no_random,
    )


def run_call(client: InferenceClient, call: dict[str, Any]) -> Any:
    """The call of a case, its value as the vectors write it."""
    operation = call["operation"]
    if operation == "listModels":
        return client.list_models()
    if operation == "generateStream":
        stream = client.generate_stream(call["model"], call["body"])
        tokens = list(stream)
        assert stream.tokens == tokens
        return {"tokens": tokens, "done": stream.done}
    method = {"generate": client.generate, "classify": client.classify, "summarize": client.summarize}.get(
        operation, client.answer if operation == "answer" else None
    )
    assert method is not None, f"unknown operation {operation}"
    return method(call["model"], call["body"])


def error_as_vector(error: ApiError) -> dict[str, Any]:
    """The members of `expect.error` the error has."""
    actual: dict[str, Any] = {"code": error.code, "status": error.status, "retryable": error.retryable}
    if error.retry_after_seconds is not None:
        actual["retryAfterSeconds"] = error.retry_after_seconds
    if error.code == "invalid-request":
        actual["fields"] = sorted(error.fields)
    if isinstance(error, StreamError) and error.tokens:
        actual["tokens"] = error.tokens
    return actual


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_vector(case: dict[str, Any], local_server: LocalServer) -> None:
    local_server.script(case["script"])
    waits: list[float] = []
    client = make_client(case, local_server.url, waits)
    expect = case["expect"]

    if "error" in expect:
        with pytest.raises(ApiError) as caught:
            run_call(client, case["call"])
        expected = dict(expect["error"])
        if "fields" in expected:
            expected["fields"] = sorted(expected["fields"])
        assert error_as_vector(caught.value) == expected
        assert caught.value.attempts == expect["attempts"]
    else:
        assert run_call(client, case["call"]) == expect["result"]

    requests = local_server.requests()
    assert len(requests) == expect["attempts"]
    assert waits == expect["waitsSeconds"]
    for request in requests:
        headers = request["headers"]
        if case.get("client", {}).get("auth") == "sigv4":
            assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
            assert "/us-east-1/execute-api/aws4_request" in headers["authorization"]
            assert "x-api-key" not in headers
        else:
            assert headers["x-api-key"] == case.get("client", {}).get("apiKey", SERVER["apiKey"])
            assert "authorization" not in headers


def test_every_operation_of_the_vectors_is_a_client_method() -> None:
    operations = {case["call"]["operation"] for case in CASES}
    assert operations == {"listModels", "generate", "generateStream", "classify", "summarize", "answer"}
