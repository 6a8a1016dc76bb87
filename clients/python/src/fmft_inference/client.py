"""The client: one method per operation of api/openapi.json, over urllib, with the API's retry policy."""

from __future__ import annotations

import contextlib
import http.client
import json
import random as _random
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any, Callable, TypeVar

from .errors import ApiError, InferenceError, StreamError, TransportError
from .models import (
    AnswerRequest,
    AnswerResponse,
    ClassifyRequest,
    ClassifyResponse,
    GenerateRequest,
    GenerateResponse,
    ModelList,
    StreamDone,
    SummarizeRequest,
    SummarizeResponse,
)
from .retry import RetryPolicy, parse_retry_after
from .sse import ServerSentEvent, iter_events

__all__ = ["InferenceClient", "TokenStream"]

__version__ = "0.1.0"

T = TypeVar("T")

_JSON_ACCEPT = "application/json, application/problem+json"
_STREAM_ACCEPT = "text/event-stream, application/problem+json"
# Statuses a proxy or load balancer answers with its own page when the API behind it is away.
_RETRYABLE_PROXY_STATUSES = frozenset({502, 503, 504})
# The execute-api host names the region: <api id>.execute-api.<region>.amazonaws.com[.cn].
_EXECUTE_API_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
# Reading a failed connection raises these (URLError, socket timeouts and resets are OSErrors).
_CONNECTION_ERRORS = (OSError, http.client.HTTPException)


class InferenceClient:
    """A client of the inference API of one environment.

    Authenticate with an API key (`api_key`, sent as ``x-api-key``) or with IAM: `credentials` are botocore
    credentials (e.g. ``botocore.session.get_session().get_credentials()``), each request is signed with SigV4
    for service ``execute-api`` in `region` (by default the region in an execute-api host name). Signing needs
    the ``iam`` extra (botocore). Both may be given when the stage asks for both.

    Every call follows `retry` (see `RetryPolicy`): a problem whose `retryable` is true, a connection that
    fails before any answer, and a 502, 503 or 504 that is not a problem document are repeated after a wait;
    nothing else is. `sleep` and `random` (the jitter factor, in [0, 1)) are replaceable so tests can record
    the waits instead of sleeping; `clock` (POSIX seconds) counts a `Retry-After` date. `timeout` is seconds
    for connecting and for each read (a stream may last longer in all).

    Calls return the API's JSON as the TypedDicts of `fmft_inference.models`, raise `ApiError` for an error
    answer and `TransportError` when there is no usable answer. `base_url` (ending in ``/``), `region` (None
    without credentials) and `retry` are readable attributes.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        credentials: Any | None = None,
        region: str | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], object] = time.sleep,
        random: Callable[[], float] = _random.random,
        timeout: float = 60.0,
        clock: Callable[[], float] = time.time,
        user_agent: str | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be an http(s) URL such as https://<api>/v1/, got {base_url!r}")
        if credentials is not None and region is None:
            match = _EXECUTE_API_HOST.match(parts.hostname or "")
            if match is None:
                raise ValueError(
                    f"region is needed to sign requests to {parts.hostname}, which is not an execute-api host"
                )
            region = match.group(1)
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.retry = retry if retry is not None else RetryPolicy()
        self._api_key = api_key
        self._credentials = credentials
        self.region = region
        self._sleep = sleep
        self._random = random
        self._timeout = timeout
        self._clock = clock
        self._user_agent = user_agent or (
            f"fmft-inference-client/{__version__} Python/{sys.version_info[0]}.{sys.version_info[1]}"
        )
        self._opener = urllib.request.build_opener()
        if credentials is not None:
            _signer(credentials, region or "")  # fail now, not at the first call, when botocore is missing

    # -- operations ------------------------------------------------------------------------------------

    def list_models(self) -> ModelList:
        """The models this environment serves (GET /models)."""
        return self._call_json("GET", "models", None)

    def generate(self, model: str, body: GenerateRequest | None = None, /, **fields: Any) -> GenerateResponse:
        """Text generated from a prompt (POST /models/{model}/generate).

        The body is a `GenerateRequest` dict or its members as keywords, named as the API names them:
        ``client.generate("serving", prompt="Hi", parameters={"maxNewTokens": 64})``.
        """
        return self._call_json("POST", _model_path(model, "generate"), _body(body, fields))

    def generate_stream(
        self, model: str, body: GenerateRequest | None = None, /, **fields: Any
    ) -> TokenStream:
        """The tokens of a generation as they come (POST /models/{model}/generate-stream, server-sent events).

        Returns a `TokenStream` once the first event has arrived: iterate it for the token strings; its
        `done` then holds the final `done` event (finish reason, usage, version). Errors before the first
        event are raised here and retried as any call; an `error` event is raised while iterating, as a
        `StreamError` holding the tokens received before it, and is never retried. Use it as a context
        manager (or call `close()`) when you may stop iterating early.
        """
        path = _model_path(model, "generate-stream")
        payload = _body(body, fields)
        stream, attempts = self._with_retries(lambda: self._open_stream(path, payload))
        stream.attempts = attempts
        return stream

    def classify(self, model: str, body: ClassifyRequest | None = None, /, **fields: Any) -> ClassifyResponse:
        """The one of `labels` the model gives a text (POST /models/{model}/classify)."""
        return self._call_json("POST", _model_path(model, "classify"), _body(body, fields))

    def summarize(
        self, model: str, body: SummarizeRequest | None = None, /, **fields: Any
    ) -> SummarizeResponse:
        """A summary of a document (POST /models/{model}/summarize)."""
        return self._call_json("POST", _model_path(model, "summarize"), _body(body, fields))

    def answer(self, model: str, body: AnswerRequest | None = None, /, **fields: Any) -> AnswerResponse:
        """The answer to a question about a context (POST /models/{model}/answer)."""
        return self._call_json("POST", _model_path(model, "answer"), _body(body, fields))

    # -- retries ---------------------------------------------------------------------------------------

    def _with_retries(self, attempt: Callable[[], T]) -> tuple[T, int]:
        """`attempt()` repeated as the retry policy says; its value and the attempts it took."""
        attempts = 0
        while True:
            attempts += 1
            try:
                return attempt(), attempts
            except InferenceError as err:
                err.attempts = attempts
                if not err.retryable or attempts >= self.retry.max_attempts:
                    raise
                wait = self.retry.wait_seconds(attempts, err.requested_wait_seconds, self._random)
                if wait > self.retry.max_wait_seconds:
                    raise
                self._sleep(wait)

    def _call_json(self, method: str, path: str, body: Mapping[str, Any] | None) -> Any:
        def attempt() -> Any:
            with self._open(method, path, body, _JSON_ACCEPT) as response:
                try:
                    raw = response.read()
                except _CONNECTION_ERRORS as err:
                    raise TransportError(
                        f"{method} {path}: the answer was cut off: {err}", retryable=False
                    ) from err
            try:
                return json.loads(raw)
            except ValueError as err:
                raise TransportError(
                    f"{method} {path}: the answer is not JSON: {err}", retryable=False
                ) from err

        result, _ = self._with_retries(attempt)
        return result

    def _open_stream(self, path: str, body: Mapping[str, Any]) -> TokenStream:
        response = self._open("POST", path, body, _STREAM_ACCEPT)
        try:
            content_type = response.headers.get("Content-Type", "")
            if not content_type.startswith("text/event-stream"):
                raise TransportError(
                    f"POST {path}: expected an event stream, got {content_type!r}", retryable=False
                )
            events = iter_events(iter(response.readline, b""))
            try:
                first = next(events)
            except StopIteration:
                raise TransportError(
                    f"POST {path}: the stream ended before its first event", retryable=True
                ) from None
            except (*_CONNECTION_ERRORS, ValueError) as err:
                # Nothing has been read yet, so repeating the request loses nothing.
                raise TransportError(
                    f"POST {path}: the stream failed before its first event: {err}", retryable=True
                ) from err
        except BaseException:
            response.close()
            raise
        return TokenStream(response, events, first)

    # -- HTTP ------------------------------------------------------------------------------------------

    def _open(
        self, method: str, path: str, body: Mapping[str, Any] | None, accept: str
    ) -> http.client.HTTPResponse:
        """The response to one request when its status is 2xx; otherwise raises its `ApiError`."""
        url = self.base_url + path
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Accept": accept, "User-Agent": self._user_agent}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self._api_key is not None:
            headers["x-api-key"] = self._api_key
        if self._credentials is not None:
            headers = _sign(self._credentials, self.region or "", method, url, data, headers)
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            return self._opener.open(request, timeout=self._timeout)
        except urllib.error.HTTPError as err:
            with contextlib.closing(err):
                try:
                    raw = err.read()
                except _CONNECTION_ERRORS:
                    raw = b""
            raise self._api_error(err.code, str(err.reason or ""), err.headers, raw) from None
        except _CONNECTION_ERRORS as err:
            reason = getattr(err, "reason", None) or err
            raise TransportError(f"{method} {url}: no answer: {reason}", retryable=True) from err

    def _api_error(self, status: int, reason: str, headers: Any, raw: bytes) -> ApiError:
        retry_after = parse_retry_after(headers.get("Retry-After") if headers else None, self._clock())
        problem = _problem_document(raw)
        if problem is not None:
            return ApiError.from_problem(problem, status=status, requested_wait_seconds=retry_after)
        return ApiError(
            status=status,
            title=reason or http.client.responses.get(status, ""),
            detail=raw[:500].decode("utf-8", "replace").strip() or None,
            retryable=status in _RETRYABLE_PROXY_STATUSES,
            requested_wait_seconds=retry_after or 0.0,
        )


class TokenStream(Iterator[str]):
    """The tokens of `InferenceClient.generate_stream`, as an iterator of strings.

    While iterating, `tokens` holds the tokens received so far; after the last one, `done` holds the stream's
    `done` event (`StreamDone`: model, version, finishReason, usage) and `text` the whole text. An `error`
    event raises `StreamError` with the tokens received before it; a connection that fails or ends before
    `done` raises `TransportError` with them. `attempts` is how many requests it took to start.
    """

    def __init__(
        self, response: http.client.HTTPResponse, events: Iterator[ServerSentEvent], first: ServerSentEvent
    ):
        self._response = response
        self._events = events
        self._next: ServerSentEvent | None = first
        self._closed = False
        self.tokens: list[str] = []
        self.done: StreamDone | None = None
        self.attempts = 1

    @property
    def text(self) -> str:
        """The tokens received so far, joined."""
        return "".join(self.tokens)

    def __iter__(self) -> TokenStream:
        return self

    def __next__(self) -> str:
        while not self._closed:
            event = self._read_event()
            if event.event == "token":
                token = self._data(event).get("text")
                if not isinstance(token, str):
                    self._fail(TransportError(f"a token event without text: {event.data!r}", retryable=False))
                self.tokens.append(token)
                return token
            if event.event == "done":
                self.done = self._data(event)  # type: ignore[assignment]
                self.close()
            elif event.event == "error":
                self._fail(StreamError.from_problem(self._data(event), tokens=self.tokens))
            # Other events are for later versions of the API: skipped.
        raise StopIteration

    def close(self) -> None:
        """Closes the connection; iterating then stops."""
        if not self._closed:
            self._closed = True
            self._response.close()

    def __enter__(self) -> TokenStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _read_event(self) -> ServerSentEvent:
        if self._next is not None:
            event, self._next = self._next, None
            return event
        try:
            return next(self._events)
        except StopIteration:
            self._fail(
                TransportError("the stream ended before its done event", retryable=False, tokens=self.tokens)
            )
        except (*_CONNECTION_ERRORS, ValueError) as err:
            self._fail(TransportError(f"the stream failed: {err}", retryable=False, tokens=self.tokens), err)
        raise AssertionError("unreachable")  # pragma: no cover

    def _data(self, event: ServerSentEvent) -> dict[str, Any]:
        try:
            data = json.loads(event.data)
        except ValueError as err:
            self._fail(
                TransportError(f"a {event.event} event whose data is not JSON: {err}", retryable=False), err
            )
        if not isinstance(data, dict):
            self._fail(TransportError(f"a {event.event} event whose data is not an object", retryable=False))
        return data

    def _fail(self, error: InferenceError, cause: BaseException | None = None) -> None:
        self.close()
        error.attempts = self.attempts
        if isinstance(error, TransportError) and not error.tokens:
            error.tokens = list(self.tokens)
        raise error from cause


def _model_path(model: str, operation: str) -> str:
    return f"models/{urllib.parse.quote(model, safe='')}/{operation}"


def _body(body: Mapping[str, Any] | None, fields: dict[str, Any]) -> dict[str, Any]:
    if body is not None and fields:
        raise TypeError("pass the request body as a dict or as keyword arguments, not both")
    return dict(body) if body is not None else fields


def _problem_document(raw: bytes) -> dict[str, Any] | None:
    """The RFC 9457 problem document `raw` holds, or None (a proxy's page, an empty body)."""
    try:
        document = json.loads(raw)
    except ValueError:
        return None
    if isinstance(document, dict) and isinstance(document.get("type"), str):
        return document
    return None


def _signer(credentials: Any, region: str) -> Any:
    try:
        from botocore.auth import SigV4Auth
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "signing with IAM credentials needs botocore: pip install 'fmft-inference-client[iam]'"
        ) from err
    return SigV4Auth(credentials, "execute-api", region)


def _sign(
    credentials: Any, region: str, method: str, url: str, data: bytes | None, headers: dict[str, str]
) -> dict[str, str]:
    """`headers` with SigV4's (Authorization, X-Amz-Date, X-Amz-Security-Token) for this request, now."""
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method=method, url=url, data=data or b"", headers=dict(headers))
    _signer(credentials, region).add_auth(request)
    return dict(request.headers.items())
