"""Streaming profile of prompt/completion text: the training baseline and the monitored window alike.

Standard library only (data preparation imports it). Memory is bounded whatever the number of records: per
length a fixed histogram and a seeded reservoir sample of at most ``SAMPLE_SIZE`` values, writing-system
counts, a capped word counter and a label counter.

Lengths are counted in approximate tokens (``approx_tokens``: runs of letters/digits, single punctuation
marks, single CJK/kana/Thai characters; no model's tokenizer) and in characters. Baseline and monitor use
the same function, so their lengths compare; they are not the model's token counts.

``baseline.json`` (``schemaVersion`` 1), written by ``python -m training.monitor baseline`` and by
``python -m training.data prepare`` (``<output-dir>/baseline/baseline.json``, the train split)::

    {
      "schemaVersion": 1,
      "records": 1234,                       # records profiled
      "tokenCount": "approximate: ...",      # how lengths were counted (approx_tokens)
      "lengths": {                           # promptTokens, promptChars, completionTokens, completionChars
        "promptTokens": {
          "edges": [12, 18, ...],            # ascending cut points: bin 0 holds values < edges[0], bin i
                                             # edges[i-1] <= v < edges[i], the last bin v >= edges[-1]
          "counts": [120, 131, ...],         # len(edges) + 1 counts over all records
          "count": 1234, "mean": 23.4,
          "sample": [17, 40, ...]            # seeded reservoir sample (<= 2000 values) for KS/Wasserstein
        }, ...
      },
      "scripts": {"LATIN": 1200, "CYRILLIC": 30, "NONE": 4},   # dominant writing system of each prompt
      "vocabulary": {"words": {"the": 9120, ...},              # top words (lower-cased letter runs)
                     "totalWords": 51234, "coverage": 0.97},    # share of prompt words the top list covers
      "labels": {"counts": {"pos": 800, "neg": 434}, "multiLabel": false},  # or null
      "source": {"testDataUri": "s3://.../test.jsonl", "run": "fmft-prod-claims-v2"}  # optional
    }

``source`` is written only by the Bedrock customization workflow's ``prepare`` (training/bedrock/handlers.py):
the run's held-out test split (null when the run has none), which the capture monitor's planner uses as the
canary's golden set of that run's provisioned model, and the run's name. Readers ignore top-level keys they
do not know (``load_baseline`` reads only ``schemaVersion``, ``lengths``, ``vocabulary`` and ``labels``).

The edges are about ten quantiles of the data, chosen among fixed fine bins (``FINE_CUTS``) whose counts are
kept exactly, so the baseline is one pass. ``labels`` is present only when every record had a label (a
classification data set, whose answers are the labels).
"""

from __future__ import annotations

import json
import math
import random
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from training.data.formats import FieldError, label_of, to_conversation
from training.data.stats import dominant_script

SCHEMA_VERSION = 1
SAMPLE_SIZE = 2000
VOCABULARY_SIZE = 20000
QUANTILE_BINS = 10
LENGTHS = ("promptTokens", "promptChars", "completionTokens", "completionChars")
# Scripts written without spaces between words: every character is a token (and a word) of its own.
_NO_SPACES = "\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_NO_SPACES}]|[^\W{_NO_SPACES}]+|[^\w\s]")
_WORD = re.compile(rf"[{_NO_SPACES}]|[^\W\d_{_NO_SPACES}]+")
# The same on ASCII text (most traffic), several times faster.
_ASCII_TOKEN = re.compile(r"\w+|[^\w\s]", re.ASCII)
_ASCII_WORD = re.compile(r"[a-z]+")
# The baseline's word counter is pruned to its most common words when it holds this many times the
# vocabulary size; the window keeps at most this many distinct out-of-vocabulary words for its report.
_PRUNE_FACTOR = 10
OOV_WORDS_KEPT = 1000
MAX_LABELS = 1000


def approx_tokens(text: str) -> int:
    """Approximate token count: runs of letters/digits, single punctuation marks, single CJK/kana/Thai
    characters (regex ``\\w+|[^\\w\\s]`` with no-space scripts split per character). Not a model's tokenizer;
    baseline and monitor both use this function, so their lengths compare."""
    return len((_ASCII_TOKEN if text.isascii() else _TOKEN).findall(text))


def words(text: str) -> list[str]:
    """Lower-cased words: runs of letters (digits and punctuation excluded), CJK/kana/Thai per character."""
    text = text.lower()
    return (_ASCII_WORD if text.isascii() else _WORD).findall(text)


def _fine_cuts(limit: int = 1 << 26) -> tuple[int, ...]:
    cuts, value = [], 1
    while value < limit:
        cuts.append(value)
        value = max(value + 1, math.ceil(value * 1.08))
    return tuple(cuts)


# Fixed fine bins (every integer up to 12, then 8% steps): exact counts from which the baseline picks its
# quantile edges; about 200 bins up to 2**26.
FINE_CUTS = _fine_cuts()


class Reservoir:
    """Uniform sample of at most ``size`` values of a stream (algorithm R), seeded."""

    def __init__(self, size: int = SAMPLE_SIZE, seed: int = 0) -> None:
        self.size = size
        self.seen = 0
        self.values: list[int] = []
        self._random = random.Random(seed).random

    def add(self, value: int) -> None:
        self.seen += 1
        if len(self.values) < self.size:
            self.values.append(value)
        else:
            slot = int(self._random() * self.seen)
            if slot < self.size:
                self.values[slot] = value


class LengthProfile:
    """Histogram over fixed cut points, count, mean and reservoir sample of one length."""

    def __init__(self, edges: Sequence[int | float] = FINE_CUTS, seed: int = 0) -> None:
        self.edges = list(edges)
        self.counts = [0] * (len(self.edges) + 1)
        self.count = 0
        self.total = 0
        self.max = 0
        self.sample = Reservoir(seed=seed)

    def add(self, value: int) -> None:
        self.counts[bisect_right(self.edges, value)] += 1
        self.count += 1
        self.total += value
        self.max = max(self.max, value)
        self.sample.add(value)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    def quantile_edges(self, bins: int = QUANTILE_BINS) -> list[int | float]:
        """About ``bins`` quantiles of the data, chosen among this histogram's edges (no empty bin)."""
        cuts: list[int | float] = []
        cumulative, target = 0, 1
        for edge, count in zip(self.edges, self.counts, strict=False):
            cumulative += count
            while target < bins and cumulative >= self.count * target / bins and cumulative < self.count:
                if not cuts or cuts[-1] != edge:
                    cuts.append(edge)
                target += 1
        return cuts

    def coarsened(self, bins: int = QUANTILE_BINS) -> dict[str, Any]:
        """Quantile edges and the exact counts of the coarse bins (the fine bins summed)."""
        edges = self.quantile_edges(bins)
        counts = [0] * (len(edges) + 1)
        for index, count in enumerate(self.counts):
            lower = self.edges[index - 1] if index else -math.inf  # the fine bin's values are >= lower
            counts[bisect_right(edges, lower)] += count
        return {
            "edges": edges,
            "counts": counts,
            "count": self.count,
            "mean": round(self.mean, 4),
            "sample": list(self.sample.values),
        }

    def summary(self) -> dict[str, Any]:
        """count, mean, max and quantiles of the sample, for the report."""
        values = sorted(self.sample.values)
        if not values:
            return {"count": 0}
        quantiles = {f"p{p}": values[min(len(values) - 1, len(values) * p // 100)] for p in (50, 90, 99)}
        return {"count": self.count, "mean": round(self.mean, 3), **quantiles, "max": self.max}


def label_key(label: str) -> str:
    """Labels compare case-insensitively, without surrounding spaces or a final full stop."""
    return label.strip().rstrip(".").strip().casefold()


class BaselineError(ValueError):
    """A baseline.json that cannot be used: unreadable, not JSON, or not schemaVersion 1."""


@dataclass(frozen=True)
class Baseline:
    """A loaded baseline.json (the document) with the sets the window is checked against."""

    document: dict[str, Any]
    vocabulary: frozenset[str]
    labels: frozenset[str] | None
    multi_label: bool

    def lengths(self, name: str) -> dict[str, Any]:
        return self.document["lengths"][name]


def load_baseline(path: Path) -> Baseline:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(f"{path}: cannot read baseline: {exc}") from exc
    if not isinstance(document, dict) or document.get("schemaVersion") != SCHEMA_VERSION:
        version = document.get("schemaVersion") if isinstance(document, dict) else None
        raise BaselineError(
            f"{path}: not a baseline.json of schemaVersion {SCHEMA_VERSION} (got {version!r})"
        )
    try:
        for name in LENGTHS:
            length = document["lengths"][name]
            if len(length["counts"]) != len(length["edges"]) + 1 or not isinstance(length["sample"], list):
                raise BaselineError(f"{path}: lengths.{name}: counts must be one more than edges")
        vocabulary = frozenset(document["vocabulary"]["words"])
        labels = document.get("labels")
        known = frozenset(label_key(str(k)) for k in labels["counts"]) if labels else None
        return Baseline(document, vocabulary, known, bool(labels and labels.get("multiLabel")))
    except (KeyError, TypeError) as exc:
        raise BaselineError(f"{path}: baseline.json is missing {exc}") from exc


class Profile:
    """Add (prompt, completion, labels) records one at a time.

    Without a baseline it profiles training data (``baseline_document``): fine length bins and a word
    counter (``vocabulary_size`` 0: no words, for a window that has no baseline). With one it profiles a
    window against it: lengths binned on the baseline's edges, and counts of words outside the baseline
    vocabulary and of answers that are not a baseline label.
    """

    def __init__(
        self, reference: Baseline | None = None, *, vocabulary_size: int = VOCABULARY_SIZE, seed: int = 0
    ) -> None:
        self.reference = reference
        self.vocabulary_size = vocabulary_size
        self.lengths = {
            name: LengthProfile(reference.lengths(name)["edges"] if reference else FINE_CUTS, seed + i)
            for i, name in enumerate(LENGTHS)
        }
        self.records = 0
        self.completions = 0
        self.scripts: Counter[str] = Counter()
        self.word_counts: Counter[str] = Counter()  # all words (baseline) or out-of-vocabulary ones (window)
        self.total_words = 0
        self.oov_words = 0
        self.labels: Counter[str] = Counter()
        self.labelled = 0
        self.multi_label = False
        self.unseen_labels = 0

    def add(self, prompt: str, completion: str | None = None, labels: Sequence[str] = ()) -> None:
        """One record; ``completion`` None when no answer was captured."""
        self.records += 1
        lengths = self.lengths
        lengths["promptTokens"].add(approx_tokens(prompt))
        lengths["promptChars"].add(len(prompt))
        self.scripts[dominant_script(prompt) or "NONE"] += 1
        if self.reference is not None or self.vocabulary_size:
            self._add_words(words(prompt))
        if completion is not None:
            self.completions += 1
            lengths["completionTokens"].add(approx_tokens(completion))
            lengths["completionChars"].add(len(completion))
            if self.reference is not None and self.reference.labels is not None and completion.strip():
                self.unseen_labels += not self._is_known_label(completion)
        if labels:
            self.labelled += 1
            self.multi_label |= len(labels) > 1
            if len(self.labels) < MAX_LABELS or all(x in self.labels for x in labels):
                self.labels.update(labels)

    def _add_words(self, found: list[str]) -> None:
        self.total_words += len(found)
        if self.reference is None:  # baseline: count every word, pruned to the most common now and then
            self.word_counts.update(found)
            if len(self.word_counts) > _PRUNE_FACTOR * self.vocabulary_size:
                self.word_counts = Counter(dict(self.word_counts.most_common(2 * self.vocabulary_size)))
            return
        known = self.reference.vocabulary
        unknown = [w for w in found if w not in known]
        self.oov_words += len(unknown)
        counts = self.word_counts
        for word in unknown:  # a few of them for the report, at most OOV_WORDS_KEPT distinct
            if word in counts or len(counts) < OOV_WORDS_KEPT:
                counts[word] += 1

    def _is_known_label(self, answer: str) -> bool:
        assert self.reference is not None and self.reference.labels is not None
        parts = answer.split(",") if self.reference.multi_label else [answer]
        return all(label_key(p) in self.reference.labels for p in parts)

    def baseline_document(self) -> dict[str, Any]:
        """The baseline.json document of the records added so far (see the module docstring)."""
        top = self.word_counts.most_common(self.vocabulary_size)
        covered = sum(n for _, n in top)
        classification = self.records > 0 and self.labelled == self.records and len(self.labels) < MAX_LABELS
        return {
            "schemaVersion": SCHEMA_VERSION,
            "records": self.records,
            "tokenCount": "approximate: training.monitor.profile.approx_tokens (regex \\w+|[^\\w\\s])",
            "lengths": {name: profile.coarsened() for name, profile in self.lengths.items()},
            "scripts": dict(self.scripts.most_common()),
            "vocabulary": {
                "words": dict(top),
                "totalWords": self.total_words,
                "coverage": round(covered / self.total_words, 6) if self.total_words else 1.0,
            },
            "labels": {"counts": dict(self.labels.most_common()), "multiLabel": self.multi_label}
            if classification
            else None,
        }


class Parts(NamedTuple):
    prompt: str
    completion: str
    labels: tuple[str, ...]


def content_text(content: Any) -> str:
    """Text of a message content: a string, a ``{"text": ...}`` block or a list of blocks (images and other
    non-text blocks are skipped)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        text = content.get("text")
        return text if isinstance(text, str) else ""
    if isinstance(content, list):
        return "\n".join(t for t in (content_text(c) for c in content) if t)
    return ""


def labels_of(record: dict[str, Any]) -> tuple[str, ...]:
    """The record's class label(s) as strings (``label``, or ``labels`` in their order); () when none."""
    label = label_of(record)
    if label is None:
        return ()
    if isinstance(record.get("labels"), list):
        return tuple(str(v) for v in record["labels"])
    return (str(label),)


def record_parts(record: Any) -> Parts | None:
    """(prompt, completion, labels) of one training record in any of the project's formats, or None.

    The prompt is everything the model reads (system text and every turn before the last answer, joined by
    newlines, as the monitor joins a captured request); the completion is the last assistant turn. Task
    records (instruction, classification, summarization, QA) become their chat conversation; plain text
    records (``text`` or ``input`` alone) are a prompt with an empty completion.
    """
    if not isinstance(record, dict):
        return None
    labels = labels_of(record)
    messages = record.get("messages")
    if isinstance(messages, list):
        texts = [content_text(record.get("system"))]
        texts += [content_text(m.get("content")) for m in messages if isinstance(m, dict)]
        last = messages[-1] if messages else None
        completion = ""
        if isinstance(last, dict) and last.get("role") == "assistant":
            completion = texts.pop()
        return Parts("\n".join(t for t in texts if t), completion, labels)
    if isinstance(record.get("prompt"), str) and isinstance(record.get("completion"), str):
        return Parts(record["prompt"], record["completion"], labels)
    try:
        conversation = to_conversation(record)
    except FieldError:
        text = next((record[k] for k in ("text", "input") if isinstance(record.get(k), str)), None)
        return Parts(text, "", labels) if text is not None else None
    texts = [conversation.system or ""] + [t for _, t in conversation.turns[:-1]]
    return Parts("\n".join(t for t in texts if t), conversation.turns[-1][1], labels)
