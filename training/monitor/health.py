"""Health of a window's answers: empty, truncated, refusing, not JSON, and their length against the baseline.

- Empty: the answer is empty or whitespace.
- Truncated: the finish reason says the token limit cut it (``capture.TRUNCATED_REASONS``).
- Refusal: the first ``REFUSAL_SCAN_CHARS`` characters of the answer contain one of ``REFUSAL_PHRASES``,
  case-insensitive, curly apostrophes read as straight ones. Refusals open the answer; scanning only its
  start keeps quotes of such phrases later in a long answer from counting.
- Invalid JSON (only with ``--expect-json``): the answer, stripped of surrounding whitespace, is not a JSON
  document. Markdown code fences around it count as invalid: the caller's parser would fail on them too.
- Completion length: PSI of the answers' approximate token counts over the baseline completions' bins.

Rates are shares of the records that have an answer (a capture without the response counts in none).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from training.monitor.capture import Exchange
from training.monitor.drift import psi
from training.monitor.profile import Baseline, Profile

REFUSAL_SCAN_CHARS = 300
REFUSAL_PHRASES = (
    "i'm sorry, but i can",
    "i am sorry, but i can",
    "i'm sorry, i can't",
    "i'm sorry, i cannot",
    "sorry, i can't help",
    "i can't help with",
    "i cannot help with",
    "i can't assist with",
    "i cannot assist with",
    "i can't provide",
    "i cannot provide",
    "i can't comply",
    "i cannot comply",
    "i'm unable to",
    "i am unable to",
    "i'm not able to",
    "i am not able to",
    "i won't be able to",
    "i must decline",
    "as an ai language model",
    "as an ai, i",
    "against my guidelines",
)

# Fewest answers whose rates are reported: one refusal in two answers is no signal to alarm on.
MIN_HEALTH_ANSWERS = 20


_REFUSAL = re.compile("|".join(map(re.escape, REFUSAL_PHRASES)))


def is_refusal(answer: str) -> bool:
    start = answer[:REFUSAL_SCAN_CHARS].lower().replace("\u2019", "'")
    return _REFUSAL.search(start) is not None


def is_json(answer: str) -> bool:
    try:
        json.loads(answer)
    except ValueError:
        return False
    return True


@dataclass
class Health:
    """Counts over a window's answers."""

    expect_json: bool = False
    answers: int = 0
    empty: int = 0
    truncated: int = 0
    refusals: int = 0
    invalid_json: int = 0

    def add(self, exchange: Exchange) -> None:
        answer = exchange.answer
        if answer is None:
            return
        self.answers += 1
        blank = not answer.strip()
        self.empty += blank
        self.truncated += exchange.truncated
        self.refusals += not blank and is_refusal(answer)
        if self.expect_json:
            self.invalid_json += blank or not is_json(answer)

    def result(
        self, baseline: Baseline | None, window: Profile, min_records: int, min_answers: int = 1
    ) -> dict[str, Any]:
        """Counts, rates (None with fewer than ``min_answers`` answers: too few to alarm on) and the
        completion length PSI (None without baseline or with fewer than ``min_records`` answers, as for the
        drift statistics)."""
        n = self.answers

        def rate(count: int) -> float | None:
            return count / n if n and n >= min_answers else None

        completion_psi = None
        if baseline is not None and window.completions >= min_records:
            expected = baseline.lengths("completionTokens")["counts"]
            completion_psi = psi(expected, window.lengths["completionTokens"].counts)
        return {
            "answers": n,
            "empty": self.empty,
            "truncated": self.truncated,
            "refusals": self.refusals,
            "invalidJson": self.invalid_json if self.expect_json else None,
            "emptyAnswerRate": rate(self.empty),
            "truncatedAnswerRate": rate(self.truncated),
            "refusalRate": rate(self.refusals),
            "invalidJsonRate": rate(self.invalid_json) if self.expect_json else None,
            "completionTokensPsi": completion_psi,
        }
