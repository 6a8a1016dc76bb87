"""The retry policy of api/vectors/README.md, in the cases the shared vectors do not reach.

`RetryPolicy` is tested alone (backoff, full jitter bounds, Retry-After parsing); the client is tested against
a scripted stdlib HTTP server on loopback, which can send what the local server does not: Retry-After dates,
proxy pages, streams cut off halfway.
"""

from __future__ import annotations

import email.utils
import http.server
import json
import random
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from fmft_inference import ApiError, InferenceClient, RetryPolicy, StreamError, TransportError
from fmft_inference.retry import parse_retry_after

NOW = 1_750_000_000.0  # the clock the client is given, in POSIX seconds


# ---------------------------------------------------------------------------------------------- RetryPolicy


def test_backoff_doubles_from_the_base_up_to_the_max_delay_without_jitter() -> None:
    policy = RetryPolicy(base_delay_seconds=0.5, max_delay_seconds=8, jitter="none")
    assert [policy.backoff_seconds(n, random=lambda: 0.0) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 8, 8]


@pytest.mark.parametrize("attempts", range(1, 9))
def test_full_jitter_draws_the_backoff_uniformly_below_the_delay(attempts: int) -> None:
    policy = RetryPolicy()  # full jitter is the default
    delay = min(8.0, 0.5 * 2 ** (attempts - 1))
    rng = random.Random(attempts)
    draws = [policy.backoff_seconds(attempts, rng.random) for _ in range(2000)]
    assert all(0 <= draw < delay for draw in draws)
    # Uniform on [0, delay): the mean is delay/2 and both ends are reached (10% bands hold ~200 draws each).
    assert sum(draws) / len(draws) == pytest.approx(delay / 2, rel=0.05)
    assert min(draws) < 0.1 * delay and max(draws) > 0.9 * delay


def test_full_jitter_multiplies_the_delay_by_the_random_factor_exactly() -> None:
    policy = RetryPolicy(base_delay_seconds=0.5, max_delay_seconds=8)
    assert policy.backoff_seconds(3, random=lambda: 0.25) == 0.5
    assert policy.backoff_seconds(9, random=lambda: 0.999) == pytest.approx(7.992)
    assert policy.backoff_seconds(1, random=lambda: 0.0) == 0.0


def test_the_wait_is_the_longer_of_the_backoff_and_the_requested_wait() -> None:
    policy = RetryPolicy(jitter="none")
    assert policy.wait_seconds(1, retry_after=2, random=random.random) == 2
    assert policy.wait_seconds(4, retry_after=2, random=random.random) == 4
    assert policy.wait_seconds(1, retry_after=0, random=random.random) == 0.5


def test_an_invalid_policy_names_every_problem_at_once() -> None:
    with pytest.raises(ValueError) as caught:
        RetryPolicy(max_attempts=0, base_delay_seconds=-1, max_wait_seconds=float("nan"), jitter="half")
    message = str(caught.value)
    for fragment in (
        "max_attempts",
        "base_delay_seconds",
        "max_wait_seconds",
        "jitter must be one of full, none",
    ):
        assert fragment in message
    assert "max_delay_seconds" not in message


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        (email.utils.formatdate(NOW + 90, usegmt=True), 90.0),  # IMF-fixdate
        ("Sun, 15 Jun 2025 16:06:40 GMT", 3600.0),  # NOW is 15:06:40 GMT that day
        ("Sunday, 15-Jun-25 16:06:40 GMT", 3600.0),  # RFC 850, obsolete but allowed
        ("Sun Jun 15 16:06:40 2025", 3600.0),  # asctime, obsolete but allowed: GMT
        (email.utils.formatdate(NOW - 60, usegmt=True), 0.0),  # already past
        (None, None),
        ("", None),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("Sun, 15 Jun 2025", None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == expected


# ------------------------------------------------------------------------------- a scripted HTTP server


class ScriptedServer:
    """Answers each request with its next reply: `(status, headers, body)`, `"reset"`, or a stream."""

    def __init__(self) -> None:
        self.replies: list[Any] = []
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.requests.append({"method": self.command, "path": self.path, "body": body})
                reply = server.replies.pop(0)
                if reply == "reset":
                    self.close_connection = True  # closes without a status line
                    return
                status, headers, payload = reply
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if isinstance(payload, list):  # a stream: chunks, then the connection closes
                    self.end_headers()
                    for chunk in payload:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                    return
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1/"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.01,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    yield scripted
    scripted.close()


def problem(code: str, status: int, retryable: bool, retry_after: int | None = None, headers=None) -> tuple:
    document: dict[str, Any] = {"type": f"urn:fmft:problem:{code}", "title": code, "status": status}
    document["retryable"] = retryable
    if retry_after is not None:
        document["retryAfterSeconds"] = retry_after
    all_headers = {"Content-Type": "application/problem+json", **(headers or {})}
    return (status, all_headers, json.dumps(document).encode())


def generated(text: str = "ok") -> tuple:
    body = {"model": "serving", "text": text, "finishReason": "stop", "cached": False}
    return (200, {"Content-Type": "application/json"}, json.dumps(body).encode())


def sse(*events: tuple[str, Any]) -> list[bytes]:
    return [f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events]


def client_for(server: ScriptedServer, waits: list[float], **kwargs: Any) -> InferenceClient:
    kwargs.setdefault("retry", RetryPolicy(jitter="none"))
    return InferenceClient(server.url, api_key="k", sleep=waits.append, clock=lambda: NOW, **kwargs)


# ---------------------------------------------------------------------------------------- the client


def test_retry_after_as_an_http_date_is_counted_from_the_clock_and_wins_over_the_problem(
    server: ScriptedServer,
) -> None:
    date = email.utils.formatdate(NOW + 12, usegmt=True)
    server.replies = [problem("model-not-ready", 503, True, 30, {"Retry-After": date}), generated()]
    waits: list[float] = []
    assert client_for(server, waits).generate("serving", prompt="hi")["text"] == "ok"
    assert waits == [12.0]
    assert len(server.requests) == 2


def test_a_retry_after_date_already_past_leaves_the_backoff(server: ScriptedServer) -> None:
    date = email.utils.formatdate(NOW - 3600, usegmt=True)
    server.replies = [problem("unavailable", 503, True, None, {"Retry-After": date}), generated()]
    waits: list[float] = []
    client_for(server, waits).generate("serving", prompt="hi")
    assert waits == [0.5]


def test_without_retry_after_the_problems_retry_after_seconds_is_waited(server: ScriptedServer) -> None:
    server.replies = [problem("model-throttled", 429, True, 2), generated()]
    waits: list[float] = []
    client_for(server, waits).generate("serving", prompt="hi")
    assert waits == [2.0]


def test_the_client_draws_full_jitter_from_its_random(server: ScriptedServer) -> None:
    server.replies = ["reset", "reset", generated()]
    waits: list[float] = []
    factors = iter([0.25, 0.75])
    client = client_for(server, waits, retry=RetryPolicy(), random=lambda: next(factors))
    client.generate("serving", prompt="hi")
    assert waits == [0.5 * 0.25, 1.0 * 0.75]


def test_a_requested_wait_longer_than_max_wait_is_not_taken(server: ScriptedServer) -> None:
    server.replies = [problem("quota-exceeded", 429, True, 3600, {"Retry-After": "3600"})]
    waits: list[float] = []
    with pytest.raises(ApiError) as caught:
        client_for(server, waits, retry=RetryPolicy(max_wait_seconds=30, jitter="none")).generate(
            "serving", prompt="x"
        )
    assert (caught.value.code, caught.value.retryable, caught.value.retry_after_seconds) == (
        "quota-exceeded",
        True,
        3600,
    )
    assert caught.value.attempts == 1
    assert waits == [] and len(server.requests) == 1


def test_a_backoff_longer_than_max_wait_is_not_taken_either(server: ScriptedServer) -> None:
    server.replies = ["reset"]
    waits: list[float] = []
    policy = RetryPolicy(base_delay_seconds=4, max_wait_seconds=3, jitter="none")
    with pytest.raises(TransportError) as caught:
        client_for(server, waits, retry=policy).list_models()
    assert caught.value.retryable and caught.value.attempts == 1
    assert waits == []


def test_a_wait_equal_to_max_wait_is_taken(server: ScriptedServer) -> None:
    server.replies = [problem("model-not-ready", 503, True, 30, {"Retry-After": "30"}), generated()]
    waits: list[float] = []
    client_for(server, waits, retry=RetryPolicy(max_wait_seconds=30, jitter="none")).generate(
        "serving", prompt="x"
    )
    assert waits == [30.0]


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_proxy_page_with_502_503_or_504_is_retried(server: ScriptedServer, status: int) -> None:
    server.replies = [(status, {"Content-Type": "text/html"}, b"<html>Bad gateway</html>"), generated()]
    waits: list[float] = []
    assert client_for(server, waits).generate("serving", prompt="hi")["text"] == "ok"
    assert waits == [0.5]


@pytest.mark.parametrize("status", [500, 404, 429])
def test_other_statuses_without_a_problem_document_are_raised_at_once(
    server: ScriptedServer, status: int
) -> None:
    server.replies = [(status, {"Content-Type": "application/json"}, b'{"message": "Internal server error"}')]
    waits: list[float] = []
    with pytest.raises(ApiError) as caught:
        client_for(server, waits).generate("serving", prompt="hi")
    error = caught.value
    assert (error.status, error.code, error.problem, error.retryable) == (status, None, None, False)
    assert error.detail == '{"message": "Internal server error"}'
    assert waits == [] and len(server.requests) == 1


def test_a_problem_that_is_not_retryable_is_raised_at_once_whatever_its_status(
    server: ScriptedServer,
) -> None:
    server.replies = [problem("model-error", 503, False)]
    waits: list[float] = []
    with pytest.raises(ApiError) as caught:
        client_for(server, waits).generate("serving", prompt="hi")
    assert (caught.value.code, caught.value.status, caught.value.attempts) == ("model-error", 503, 1)
    assert waits == []


def test_max_attempts_stops_with_the_last_error(server: ScriptedServer) -> None:
    server.replies = [problem("throttled", 429, True, 1), "reset"]
    waits: list[float] = []
    with pytest.raises(TransportError) as caught:
        client_for(server, waits, retry=RetryPolicy(max_attempts=2, jitter="none")).list_models()
    assert caught.value.attempts == 2 and caught.value.retryable
    assert waits == [1.0]


def test_a_stream_closed_before_its_first_event_is_retried(server: ScriptedServer) -> None:
    done = {"model": "serving", "finishReason": "stop"}
    server.replies = [
        (200, {"Content-Type": "text/event-stream"}, []),
        (200, {"Content-Type": "text/event-stream"}, sse(("token", {"text": "Hi"}), ("done", done))),
    ]
    waits: list[float] = []
    stream = client_for(server, waits).generate_stream("serving", prompt="hi")
    assert (list(stream), stream.done, stream.text, stream.attempts) == (["Hi"], done, "Hi", 2)
    assert waits == [0.5]


def test_a_stream_cut_off_after_a_token_raises_with_the_tokens_and_is_not_retried(
    server: ScriptedServer,
) -> None:
    server.replies = [(200, {"Content-Type": "text/event-stream"}, sse(("token", {"text": "Hel"})))]
    waits: list[float] = []
    stream = client_for(server, waits).generate_stream("serving", prompt="hi")
    assert next(stream) == "Hel"
    with pytest.raises(TransportError) as caught:
        next(stream)
    assert (caught.value.tokens, caught.value.retryable) == (["Hel"], False)
    assert waits == [] and len(server.requests) == 1
    with pytest.raises(StopIteration):
        next(stream)


def test_an_error_event_is_a_stream_error_with_the_problem(server: ScriptedServer) -> None:
    error = {"type": "urn:fmft:problem:model-timeout", "title": "t", "status": 504, "retryable": True}
    error["retryAfterSeconds"] = 1
    events = sse(("token", {"text": "a"}), ("token", {"text": "b"}), ("error", error))
    server.replies = [(200, {"Content-Type": "text/event-stream"}, events)]
    waits: list[float] = []
    with (
        client_for(server, waits).generate_stream("serving", prompt="hi") as stream,
        pytest.raises(StreamError) as caught,
    ):
        for _ in stream:
            pass
    assert (caught.value.code, caught.value.status, caught.value.tokens) == ("model-timeout", 504, ["a", "b"])
    assert stream.done is None and waits == []


def test_an_unknown_event_is_skipped(server: ScriptedServer) -> None:
    events = sse(
        ("token", {"text": "a"}), ("progress", {"pct": 50}), ("done", {"model": "m", "finishReason": "stop"})
    )
    server.replies = [(200, {"Content-Type": "text/event-stream"}, events)]
    stream = client_for(server, []).generate_stream("serving", prompt="hi")
    assert list(stream) == ["a"] and stream.done == {"model": "m", "finishReason": "stop"}


def test_the_body_goes_as_json_with_the_api_key_and_an_escaped_model_id(server: ScriptedServer) -> None:
    server.replies = [generated(), generated()]
    client = client_for(server, [])
    client.generate("a/b c", {"prompt": "é", "parameters": {"maxNewTokens": 3}})
    client.generate("serving", prompt="é", parameters={"maxNewTokens": 3})
    first, second = server.requests
    assert first["path"] == "/v1/models/a%2Fb%20c/generate"
    assert (
        json.loads(first["body"])
        == json.loads(second["body"])
        == {"prompt": "é", "parameters": {"maxNewTokens": 3}}
    )


def test_a_body_and_keywords_together_are_refused() -> None:
    client = InferenceClient("http://127.0.0.1:9/v1/", api_key="k")
    with pytest.raises(TypeError, match="not both"):
        client.generate("serving", {"prompt": "a"}, prompt="b")  # type: ignore[call-overload]


def test_the_signing_region_comes_from_an_execute_api_host_or_must_be_given() -> None:
    from botocore.credentials import Credentials

    credentials = Credentials("AKIDEXAMPLE", "secret")
    url = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/v1/"
    assert InferenceClient(url, credentials=credentials).region == "eu-west-1"
    assert InferenceClient(url, credentials=credentials, region="us-east-1").region == "us-east-1"
    with pytest.raises(ValueError, match="region is needed"):
        InferenceClient("https://api.example.com/v1/", credentials=credentials)
