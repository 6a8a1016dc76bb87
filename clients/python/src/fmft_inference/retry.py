"""The retry policy every client of the API implements (api/vectors/README.md, "The retry policy")."""

from __future__ import annotations

import datetime
import email.utils
from dataclasses import dataclass
from typing import Callable

__all__ = ["RetryPolicy", "parse_retry_after"]

JITTER_MODES = ("full", "none")


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before repeating a request.

    Before attempt ``n + 1`` (after ``n`` attempts) the client waits ``max(backoff, retry_after)``, where
    ``backoff = min(max_delay_seconds, base_delay_seconds * 2 ** (n - 1)) * jitter`` and ``retry_after`` is
    what the server asked for (`Retry-After`, else the problem's `retryAfterSeconds`, else 0). A wait longer
    than `max_wait_seconds` is not taken: the error is raised as it is. After `max_attempts` attempts in all
    the last error is raised.
    """

    max_attempts: int = 3
    """Attempts in all, the first included; 1 never retries."""
    base_delay_seconds: float = 0.5
    """The backoff before the second attempt (before jitter); it doubles with each attempt."""
    max_delay_seconds: float = 8.0
    """The most the backoff grows to (before jitter)."""
    max_wait_seconds: float = 30.0
    """The longest wait the client accepts; a server asking for more gets its error raised at once."""
    jitter: str = "full"
    """``"full"``: the backoff times a uniform random factor in [0, 1) (AWS's "full jitter"), so that clients
    throttled together do not retry together; ``"none"``: factor 1, for tests."""

    def __post_init__(self) -> None:
        problems = []
        if (
            isinstance(self.max_attempts, bool)
            or not isinstance(self.max_attempts, int)
            or self.max_attempts < 1
        ):
            problems.append(f"max_attempts must be an integer of at least 1, got {self.max_attempts!r}")
        for name in ("base_delay_seconds", "max_delay_seconds", "max_wait_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                problems.append(f"{name} must be a number of at least 0, got {value!r}")
        if self.jitter not in JITTER_MODES:
            problems.append(f"jitter must be one of {', '.join(JITTER_MODES)}, got {self.jitter!r}")
        if problems:
            raise ValueError("Invalid RetryPolicy:\n- " + "\n- ".join(problems))

    def backoff_seconds(self, attempts: int, random: Callable[[], float]) -> float:
        """The backoff after `attempts` attempts; `random` gives the jitter factor in [0, 1)."""
        delay = min(self.max_delay_seconds, self.base_delay_seconds * 2 ** (attempts - 1))
        return delay * random() if self.jitter == "full" else delay

    def wait_seconds(self, attempts: int, retry_after: float, random: Callable[[], float]) -> float:
        """The wait after `attempts` attempts, before the next, when the server asked for `retry_after`."""
        return max(self.backoff_seconds(attempts, random), retry_after)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds a `Retry-After` header asks for (RFC 9110 10.2.3), or None when absent or malformed.

    The header is either a number of seconds or an HTTP date (IMF-fixdate, or the obsolete RFC 850 and
    asctime forms); a date is counted from `now` (POSIX seconds) and a date already past is 0.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        # HTTP dates are GMT; the asctime form, which RFC 9110 still asks recipients to read, has no zone.
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, when.timestamp() - now)
