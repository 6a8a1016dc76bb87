"""Drift of a window's prompts against the training baseline.

- PSI (population stability index) over the baseline's quantile bins: ``sum((w - b) * ln(w / b))`` over the
  bins' shares, each share floored at ``PSI_EPSILON`` (1e-4) so that an empty bin on either side gives a
  large but finite term instead of infinity. By hand: it is one line over bins we already have.
- Kolmogorov-Smirnov statistic (``scipy.stats.ks_2samp``) and Wasserstein distance
  (``scipy.stats.wasserstein_distance``, divided by the baseline mean so it reads as a share of the typical
  length) on the bounded reservoir samples of both sides.
- Script shift: total variation distance between the shares of dominant writing systems (0 same, 1 disjoint).
- Out-of-vocabulary rate: share of the window's prompt words missing from the baseline's top words.
- Unseen-label rate: share of answers that are not one of the baseline's labels (classification baselines).

Statistics are computed only when the window has at least ``min_records`` records: below that they measure
sampling noise (PSI over ten bins of 20 records is about 0.45 with no drift at all).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from training.monitor.profile import Baseline, Profile

PSI_EPSILON = 1e-4
MIN_DRIFT_RECORDS = 100


def psi(expected: Sequence[int], actual: Sequence[int], epsilon: float = PSI_EPSILON) -> float | None:
    """Population stability index of ``actual`` counts against ``expected`` counts over the same bins."""
    e_total, a_total = sum(expected), sum(actual)
    if not e_total or not a_total or len(expected) != len(actual):
        return None
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        p, q = max(e / e_total, epsilon), max(a / a_total, epsilon)
        total += (q - p) * math.log(q / p)
    return total


def ks_statistic(baseline: Sequence[float], window: Sequence[float]) -> float | None:
    if not baseline or not window:
        return None
    # scipy is imported where it is used: it loads numpy (a second or more), and the monitor CLI imports this
    # module (for MIN_DRIFT_RECORDS) before it has parsed its arguments.
    from scipy.stats import ks_2samp

    return float(ks_2samp(baseline, window).statistic)


def relative_wasserstein(baseline: Sequence[float], window: Sequence[float], mean: float) -> float | None:
    if not baseline or not window:
        return None
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(baseline, window)) / max(mean, 1.0)


def total_variation(baseline: Mapping[str, int], window: Mapping[str, int]) -> float | None:
    b_total, w_total = sum(baseline.values()), sum(window.values())
    if not b_total or not w_total:
        return None
    keys = set(baseline) | set(window)
    return 0.5 * sum(abs(baseline.get(k, 0) / b_total - window.get(k, 0) / w_total) for k in keys)


def length_drift(baseline: Baseline, window: Profile, name: str) -> dict[str, float | None]:
    """psi, ks and wasserstein of one length (``promptTokens``...) of the window against the baseline."""
    base = baseline.lengths(name)
    ours = window.lengths[name]
    return {
        "psi": psi(base["counts"], ours.counts),
        "ks": ks_statistic(base["sample"], ours.sample.values),
        "wasserstein": relative_wasserstein(base["sample"], ours.sample.values, base["mean"]),
    }


def drift(baseline: Baseline | None, window: Profile, min_records: int = MIN_DRIFT_RECORDS) -> dict[str, Any]:
    """Every drift statistic of ``window`` (profiled against ``baseline``), or why there is none."""
    if baseline is None:
        return {"skipped": "no baseline"}
    if window.records < min_records:
        return {"skipped": f"{window.records} records in the window, fewer than {min_records}"}
    result: dict[str, Any] = {
        "promptTokens": length_drift(baseline, window, "promptTokens"),
        "promptChars": length_drift(baseline, window, "promptChars"),
        "scriptShift": total_variation(baseline.document["scripts"], window.scripts),
        "outOfVocabularyRate": window.oov_words / window.total_words if window.total_words else None,
        "unseenLabelRate": None,
    }
    if baseline.labels is not None and window.completions:
        result["unseenLabelRate"] = window.unseen_labels / window.completions
    return result
