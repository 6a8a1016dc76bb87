"""Champion and challenger: is the candidate better than the production version on the same test records?

Each task report carries its per-record data under ``RECORDS_KEY`` (``write_report`` moves it into
``records.json`` beside evaluation.json): per-example scores (summarization, qa), references and predictions
(classification), or the summed negative log-likelihood and token count of each text (perplexity). Two runs
over the same test split pair up record by record, and a paired bootstrap (``rounds`` resamples of the
records with replacement, the same resample for both models) gives every metric's delta, candidate minus
champion, with a percentile confidence interval.

The decision (``decide``):

- the **primary** metric must improve by more than ``margin`` (in the metric's own units, oriented so that
  "improve" means higher for accuracy or ROUGE and lower for perplexity) at the interval's worse end: with
  the default 95% confidence, the candidate is better by more than ``margin`` with 97.5% one-sided
  confidence;
- each **guard** metric (``{"section.metric": tolerance}``; any metric of the two reports, e.g.
  ``fairness_metrics.max_disparity``) must not get worse by more than its tolerance (point estimate; a
  guard is a floor, not a claim of improvement);
- without a champion, the candidate is better by definition (the absolute quality gate still applies).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from training.evaluate import metric_names as names
from training.evaluate.metrics import ClassificationSubsets
from training.evaluate.report import RECORDS_FILE, RECORDS_KEY, flatten

__all__ = ["RECORDS_FILE", "RECORDS_KEY", "decide", "paired_bootstrap"]
COMPARISON_FILE = "comparison.json"
SECTION = "champion_comparison"
"""evaluation.json section the pipeline's gate reads: ``better.value`` is 1.0 or 0.0."""


class PairingError(ValueError):
    """The two runs cannot be paired (different tasks, or different test records)."""


def _statistics(data: dict[str, Any]) -> tuple[int, Callable[[np.ndarray], dict[str, float]]]:
    """(record count, metrics of a subset of records by index) of one run's per-record data."""
    kind = data["kind"]
    if kind == "mean":
        section = data["section"]
        arrays = {k: np.asarray(v, dtype=float) for k, v in data["scores"].items()}
        n = len(next(iter(arrays.values()))) if arrays else 0
        return n, lambda idx: {f"{section}.{k}": float(a[idx].mean()) for k, a in arrays.items()}
    if kind == "classification":
        section = data["section"]
        subsets = ClassificationSubsets(data["references"], data["predictions"], data["multilabel"])
        return len(data["references"]), lambda idx: {
            f"{section}.{k}": v for k, v in subsets.metrics(idx).items()
        }
    if kind == "perplexity":
        nll = np.asarray(data["nll"], dtype=float)
        tokens = np.asarray(data["tokens"], dtype=float)
        key = f"{names.GENERATION}.{names.PERPLEXITY}"
        return len(nll), lambda idx: {key: float(math.exp(nll[idx].sum() / max(1.0, tokens[idx].sum())))}
    raise PairingError(f"unknown per-record data kind {kind!r}")


def _aligned(candidate: dict[str, Any], champion: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both runs' data over the records both scored, in the same order; PairingError when they differ."""
    if candidate["kind"] != champion["kind"] or candidate.get("section") != champion.get("section"):
        raise PairingError(
            f"the runs measured different things: {candidate['kind']}/{candidate.get('section')} and "
            f"{champion['kind']}/{champion.get('section')}"
        )
    if candidate["kind"] == "perplexity":
        # Texts are paired by their index in the test file; a text one model could not score is left out.
        a = dict(
            zip(candidate["texts"], zip(candidate["nll"], candidate["tokens"], strict=True), strict=True)
        )
        b = dict(zip(champion["texts"], zip(champion["nll"], champion["tokens"], strict=True), strict=True))
        common = sorted(set(a) & set(b))
        if not common:
            raise PairingError("no text was scored by both models")
        pick = lambda d: {  # noqa: E731
            "kind": "perplexity",
            "texts": common,
            "nll": [d[i][0] for i in common],
            "tokens": [d[i][1] for i in common],
        }
        return pick(a), pick(b)
    refs_a, refs_b = candidate.get("references"), champion.get("references")
    if refs_a is not None and refs_a != refs_b:
        first = next((i for i, (x, y) in enumerate(zip(refs_a, refs_b, strict=False)) if x != y), None)
        where = f"record {first + 1}" if first is not None else f"{len(refs_a)} vs {len(refs_b)} records"
        raise PairingError(f"the runs scored different test records ({where})")
    n_a, _ = _statistics(candidate)
    n_b, _ = _statistics(champion)
    if n_a != n_b:
        raise PairingError(f"the runs scored different numbers of records: {n_a} and {n_b}")
    return candidate, champion


def paired_bootstrap(
    candidate: dict[str, Any],
    champion: dict[str, Any],
    rounds: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Per metric: both values on all records, the delta (candidate - champion) and its percentile interval
    over ``rounds`` paired resamples."""
    if not 0.5 <= confidence < 1:
        raise ValueError(f"confidence: got {confidence}; allowed: 0.5 <= confidence < 1")
    if rounds < 100:
        raise ValueError(f"rounds: got {rounds}; allowed: at least 100")
    candidate, champion = _aligned(candidate, champion)
    n, stat_a = _statistics(candidate)
    _, stat_b = _statistics(champion)
    everything = np.arange(n)
    value_a, value_b = stat_a(everything), stat_b(everything)
    rng = np.random.default_rng(seed)
    deltas: dict[str, list[float]] = {k: [] for k in value_a}
    for _ in range(rounds):
        idx = rng.integers(0, n, size=n)
        a, b = stat_a(idx), stat_b(idx)
        for k in deltas:
            deltas[k].append(a[k] - b[k])
    tail = (1 - confidence) / 2 * 100
    out: dict[str, dict[str, Any]] = {}
    for key, samples in deltas.items():
        low, high = np.percentile(np.asarray(samples), [tail, 100 - tail])
        out[key] = {
            "candidate": value_a[key],
            "champion": value_b[key],
            "delta": value_a[key] - value_b[key],
            "ci": [float(low), float(high)],
            "higher_is_better": names.higher_is_better(key.split(".", 1)[1]),
            "records": n,
        }
    return out


def decide(
    metrics: Mapping[str, Mapping[str, Any]],
    primary: str,
    margin: float,
    guards: Mapping[str, float],
    reports: tuple[dict[str, Any], dict[str, Any]],
) -> dict[str, Any]:
    """``{"better": bool, "reasons": [...], "guards": {...}}`` from ``paired_bootstrap``'s metrics and the two
    full reports (candidate, champion) for guards the bootstrap does not cover."""
    if primary not in metrics:
        raise PairingError(f"primary metric {primary!r} is not measured; measured: {', '.join(metrics)}")
    reasons: list[str] = []
    m = metrics[primary]
    sign = 1.0 if m["higher_is_better"] else -1.0
    # The interval's worse end for the candidate, as an improvement (positive = better).
    worst_gain = min(sign * m["ci"][0], sign * m["ci"][1])
    primary_ok = worst_gain > margin
    reasons.append(
        f"{primary}: candidate {m['candidate']:.4f}, champion {m['champion']:.4f}, delta {m['delta']:+.4f} "
        f"(interval {m['ci'][0]:+.4f} to {m['ci'][1]:+.4f}); "
        + (
            f"better by more than {margin}"
            if primary_ok
            else f"not better by more than {margin} at the interval's end"
        )
    )
    flat_a, flat_b = flatten(reports[0]), flatten(reports[1])
    checked: dict[str, Any] = {}
    for key, tolerance in guards.items():
        if key in metrics:
            a, b = metrics[key]["candidate"], metrics[key]["champion"]
        else:
            a, b = flat_a.get(key), flat_b.get(key)
        if not isinstance(a, int | float) or not isinstance(b, int | float) or math.isnan(a) or math.isnan(b):
            checked[key] = {"tolerance": tolerance, "ok": True, "note": "not measured by both runs"}
            reasons.append(f"{key}: not measured by both runs; not checked")
            continue
        higher = names.higher_is_better(key.rsplit(".", 1)[-1])
        loss = (b - a) if higher else (a - b)
        ok = loss <= tolerance
        checked[key] = {"candidate": a, "champion": b, "worse_by": loss, "tolerance": tolerance, "ok": ok}
        reasons.append(
            f"{key}: candidate {a:.4f}, champion {b:.4f}; "
            + ("within" if ok else "worse beyond")
            + f" tolerance {tolerance}"
        )
    better = primary_ok and all(g["ok"] for g in checked.values())
    return {"better": better, "reasons": reasons, "guards": checked}


def no_champion(reason: str) -> dict[str, Any]:
    return {
        "better": True,
        "reasons": [f"no production version to compare with ({reason}): the quality gate alone applies"],
        "guards": {},
    }


def gate_section(
    decision: dict[str, Any], metrics: Mapping[str, Mapping[str, Any]] | None, primary: str
) -> dict[str, Any]:
    """The evaluation.json section the pipeline's gate reads (``champion_comparison.better.value``)."""
    section: dict[str, Any] = {"better": {"value": 1.0 if decision["better"] else 0.0}}
    if metrics and primary in metrics:
        m = metrics[primary]
        section["primary_delta"] = {"value": m["delta"]}
        section["primary_ci_low"] = {"value": m["ci"][0]}
        section["primary_ci_high"] = {"value": m["ci"][1]}
    return section
