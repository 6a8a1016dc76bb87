"""The errors the client raises: a problem document of the API, a failed stream, or no answer at all."""

from __future__ import annotations

from typing import Any

from .models import FieldError, Problem

__all__ = ["PROBLEM_TYPE_PREFIX", "ApiError", "InferenceError", "StreamError", "TransportError"]

#: Every problem type of the API is this URN followed by its code (api/problems.json).
PROBLEM_TYPE_PREFIX = "urn:fmft:problem:"


class InferenceError(Exception):
    """Base of the client's errors.

    `retryable` says whether the retry policy may repeat the request; `attempts` is how many HTTP requests the
    call made before raising (set on the error the call raises).
    """

    retryable: bool = False
    attempts: int = 0
    #: The least the retry policy waits before repeating the request (the server's Retry-After, if any).
    requested_wait_seconds: float = 0.0


class ApiError(InferenceError):
    """The API answered with an error status.

    Usually the answer is an RFC 9457 problem document (`problem`), whose members are copied to the
    attributes: `code` is the part of `type` after ``urn:fmft:problem:``. An error status without a problem
    document (a proxy's page) has `code` and `problem` None, `title` the reason phrase, and is retryable when
    the status is 502, 503 or 504.

    `retry_after_seconds` is the problem's `retryAfterSeconds`; `requested_wait_seconds` is what the retry
    policy waits at least: the `Retry-After` header (seconds, or an HTTP date counted from when the answer
    arrived), else `retry_after_seconds`, else 0.
    """

    def __init__(
        self,
        *,
        status: int,
        code: str | None = None,
        title: str = "",
        detail: str | None = None,
        instance: str | None = None,
        retryable: bool = False,
        retry_after_seconds: int | None = None,
        errors: list[FieldError] | None = None,
        problem: Problem | None = None,
        requested_wait_seconds: float = 0.0,
    ) -> None:
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.instance = instance
        self.retryable = retryable
        self.retry_after_seconds = retry_after_seconds
        self.errors: list[FieldError] = list(errors or [])
        self.problem = problem
        self.requested_wait_seconds = requested_wait_seconds
        super().__init__(self._message())

    @classmethod
    def from_problem(
        cls,
        problem: Problem,
        *,
        status: int | None = None,
        requested_wait_seconds: float | None = None,
        **extra: Any,
    ) -> ApiError:
        """The error a problem document describes; `status` is the HTTP status it came with, if any."""
        type_ = problem.get("type", "")
        code = type_[len(PROBLEM_TYPE_PREFIX) :] if type_.startswith(PROBLEM_TYPE_PREFIX) else (type_ or None)
        retry_after = problem.get("retryAfterSeconds")
        retry_after = (
            retry_after if isinstance(retry_after, int) and not isinstance(retry_after, bool) else None
        )
        if requested_wait_seconds is None:
            requested_wait_seconds = float(retry_after or 0)
        return cls(
            status=status if status is not None else _int_or(problem.get("status"), 0),
            code=code,
            title=str(problem.get("title", "")),
            detail=_str_or_none(problem.get("detail")),
            instance=_str_or_none(problem.get("instance")),
            retryable=problem.get("retryable") is True,
            retry_after_seconds=retry_after,
            errors=[e for e in problem.get("errors", []) or [] if isinstance(e, dict)],
            problem=problem,
            requested_wait_seconds=requested_wait_seconds,
            **extra,
        )

    @property
    def fields(self) -> list[str]:
        """The fields `errors` names: JSON Pointers into the request body (for `invalid-request`)."""
        return [error["field"] for error in self.errors if "field" in error]

    def _message(self) -> str:
        head = f"{self.status} {self.code or 'http-error'}: {self.title}".rstrip(": ")
        parts = [head]
        if self.detail:
            parts.append(self.detail)
        parts.extend(f"{error.get('field')}: {error.get('message')}" for error in self.errors)
        if self.instance:
            parts.append(f"(request {self.instance})")
        return " - ".join(parts)


class StreamError(ApiError):
    """A stream that failed after it started: its `error` event, with the `tokens` received before it."""

    def __init__(self, *, tokens: list[str], **kwargs: Any) -> None:
        self.tokens = list(tokens)
        super().__init__(**kwargs)


class TransportError(InferenceError):
    """No usable answer: the connection failed, timed out or closed early, or the body is not the API's.

    `retryable` is true when the connection failed before any answer (or, for a stream, before its first
    event). A stream cut off later carries the `tokens` it had received.
    """

    def __init__(self, message: str, *, retryable: bool, tokens: list[str] | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.tokens = list(tokens or [])


def _int_or(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
