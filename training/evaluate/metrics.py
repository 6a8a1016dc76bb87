"""Task metrics on lists of references and predictions; scikit-learn and rouge-score do the maths.

Every function returns plain floats. Standard deviations follow SageMaker Model Monitor: with at least 200
records, the metric is recomputed on five seeded random 80% samples and their standard deviation reported.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    hamming_loss,
    multilabel_confusion_matrix,
    precision_recall_fscore_support,
)
from sklearn.preprocessing import MultiLabelBinarizer

from training.evaluate import metric_names as names

# ---------------------------------------------------------------------------------------------------------
# Classification


def _prf(y_true: Any, y_pred: Any, labels: Sequence[Any] | None = None) -> dict[str, float]:
    out: dict[str, float] = {}
    for average in names.AVERAGES:
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=0
        )
        out[f"{average}_precision"] = float(precision)
        out[f"{average}_recall"] = float(recall)
        out[f"{average}_f1"] = float(f1)
    return out


def multiclass_metrics(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, float]:
    labels = sorted(set(y_true) | set(y_pred))
    return {names.ACCURACY: float(accuracy_score(y_true, y_pred)), **_prf(y_true, y_pred, labels)}


def multiclass_confusion(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, dict[str, int]]:
    """``{true_label: {predicted_label: count}}``, the SageMaker confusion-matrix layout."""
    labels = sorted(set(y_true) | set(y_pred))
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    return {t: {p: int(matrix[i, j]) for j, p in enumerate(labels)} for i, t in enumerate(labels)}


def _binarize(y_true: Sequence[Sequence[str]], y_pred: Sequence[Sequence[str]]) -> tuple[Any, Any, list[str]]:
    classes = sorted({c for row in y_true for c in row} | {c for row in y_pred for c in row})
    binarizer = MultiLabelBinarizer(classes=classes)
    return binarizer.fit_transform(y_true), binarizer.transform(y_pred), classes


def multilabel_metrics(y_true: Sequence[Sequence[str]], y_pred: Sequence[Sequence[str]]) -> dict[str, float]:
    true, pred, _ = _binarize(y_true, y_pred)
    return {
        names.ACCURACY: float(accuracy_score(true, pred)),  # subset accuracy: every label of a record right
        names.HAMMING_LOSS: float(hamming_loss(true, pred)),
        **_prf(true, pred),
    }


def multilabel_confusion(
    y_true: Sequence[Sequence[str]], y_pred: Sequence[Sequence[str]]
) -> dict[str, dict[str, int]]:
    """Per label: ``{"tp", "fp", "fn", "tn"}`` counts."""
    true, pred, classes = _binarize(y_true, y_pred)
    matrices = multilabel_confusion_matrix(true, pred)
    return {
        c: {"tp": int(m[1, 1]), "fp": int(m[0, 1]), "fn": int(m[1, 0]), "tn": int(m[0, 0])}
        for c, m in zip(classes, matrices, strict=True)
    }


# ---------------------------------------------------------------------------------------------------------
# Summarization


def rouge_per_example(references: Sequence[str], predictions: Sequence[str]) -> dict[str, list[float]]:
    """F-measure of ROUGE-1/2/L/Lsum per example (Porter stemming, as in the original ROUGE-1.5.5 setup)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(list(names.ROUGE), use_stemmer=True)
    scores: dict[str, list[float]] = {k: [] for k in names.ROUGE}
    for reference, prediction in zip(references, predictions, strict=True):
        result = scorer.score(reference, prediction)
        for key in names.ROUGE:
            scores[key].append(float(result[key].fmeasure))
    return scores


# ---------------------------------------------------------------------------------------------------------
# Question answering (SQuAD v1.1 answer normalization)

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and English articles, collapse whitespace."""
    text = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


# What exact match and F1 are when normalization leaves nothing ("The.", "a", "!"): the rule of the official
# SQuAD v2.0 evaluation script (its compute_f1: if either is no-answer, F1 is 1 if they agree, else 0). The
# v1.1 script, whose normalization this is too, gives F1 0 when both are empty although exact match is 1.
EMPTY_ANSWER_CONVENTION = {
    "rule": "SQuAD v2.0 evaluation script (evaluate-v2.0.py): a prediction and a gold answer that both "
    "normalize to nothing agree: exact_match 1 and f1 1; when only one of them is empty: exact_match 0 and "
    "f1 0",
    "both_empty": {"exact_match": 1.0, "f1": 1.0},
    "one_empty": {"exact_match": 0.0, "f1": 0.0},
    "normalization": "lower case, punctuation removed, articles a/an/the removed, whitespace collapsed "
    "(SQuAD v1.1 and v2.0 scripts)",
}


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def token_f1(prediction: str, gold: str) -> float:
    """Token-overlap F1 after normalization; both empty: 1, one empty: 0 (EMPTY_ANSWER_CONVENTION)."""
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    common = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if common == 0:
        return 0.0
    precision = common / len(pred_tokens)
    recall = common / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def qa_per_example(golds: Sequence[Sequence[str]], predictions: Sequence[str]) -> dict[str, list[float]]:
    """Exact match and token F1 per example, each the best over that example's gold answers."""
    return {
        names.EXACT_MATCH: [
            max(exact_match(p, g) for g in gs) for gs, p in zip(golds, predictions, strict=True)
        ],
        names.TOKEN_F1: [max(token_f1(p, g) for g in gs) for gs, p in zip(golds, predictions, strict=True)],
    }


# ---------------------------------------------------------------------------------------------------------
# Uncertainty and fairness


def bootstrap_std(
    n: int, metric: Callable[[np.ndarray], float], seed: int = 0, rounds: int = 5, fraction: float = 0.8
) -> float | str:
    """Std of ``metric(indices)`` over ``rounds`` random ``fraction`` samples; "NaN" below 200 records."""
    if n < names.MIN_RECORDS_FOR_STD:
        return names.NOT_ESTIMATED
    rng = np.random.default_rng(seed)
    size = int(n * fraction)
    values = [metric(rng.choice(n, size=size, replace=False)) for _ in range(rounds)]
    return float(np.std(values))


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (scikit-learn's zero_division=0)."""
    out = np.zeros(np.broadcast(numerator, denominator).shape, dtype=float)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _prf_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, present: np.ndarray) -> dict[str, float]:
    """Micro/macro/weighted precision, recall and F1 from per-label counts, as scikit-learn's
    precision_recall_fscore_support(labels=<present labels>, zero_division=0) computes them."""
    tp, fp, fn = tp[present].astype(float), fp[present].astype(float), fn[present].astype(float)
    support = tp + fn
    per_label = {
        "precision": _safe_ratio(tp, tp + fp),
        "recall": _safe_ratio(tp, support),
        "f1": _safe_ratio(2 * tp, 2 * tp + fp + fn),
    }
    micro = {
        "precision": _safe_ratio(tp.sum(), tp.sum() + fp.sum()),
        "recall": _safe_ratio(tp.sum(), support.sum()),
        "f1": _safe_ratio(2 * tp.sum(), 2 * tp.sum() + fp.sum() + fn.sum()),
    }
    out: dict[str, float] = {}
    for name, values in per_label.items():
        out[f"micro_{name}"] = float(micro[name])
        out[f"macro_{name}"] = float(values.mean()) if values.size else 0.0
        out[f"weighted_{name}"] = float(np.average(values, weights=support)) if support.sum() else 0.0
    return out


def multiclass_metrics_from_confusion(matrix: np.ndarray) -> dict[str, float]:
    """``multiclass_metrics`` from a confusion matrix (rows: truth, columns: prediction): labels with neither
    a record nor a prediction are left out, as scikit-learn leaves out labels it does not see."""
    tp = np.diag(matrix)
    support, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    present = (support + predicted) > 0
    return {
        names.ACCURACY: float(tp.sum() / matrix.sum()),
        **_prf_from_counts(tp, predicted - tp, support - tp, present),
    }


def multilabel_metrics_from_indicators(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """``multilabel_metrics`` from boolean indicator matrices (records x labels); labels neither true nor
    predicted in any record are left out, as ``_binarize`` leaves them out of a sample."""
    present = truth.any(axis=0) | predicted.any(axis=0)
    tp = (truth & predicted).sum(axis=0)
    fp = (~truth & predicted).sum(axis=0)
    fn = (truth & ~predicted).sum(axis=0)
    mismatches = (truth != predicted).sum()
    return {
        names.ACCURACY: float((truth == predicted).all(axis=1).mean()),
        names.HAMMING_LOSS: float(mismatches / (truth.shape[0] * max(int(present.sum()), 1))),
        **_prf_from_counts(tp, fp, fn, present),
    }


def bootstrap_samples(
    n: int, seed: int = 0, rounds: int = 5, fraction: float = 0.8
) -> list[np.ndarray] | None:
    """The index sets ``bootstrap_std`` draws (same generator, same order); None below 200 records."""
    if n < names.MIN_RECORDS_FOR_STD:
        return None
    rng = np.random.default_rng(seed)
    size = int(n * fraction)
    return [rng.choice(n, size=size, replace=False) for _ in range(rounds)]


class ClassificationSubsets:
    """Classification metrics of any subset of records (given by index) without a scikit-learn pass: labels
    encoded once, then one confusion matrix (multi-class, ``np.bincount``) or one set of per-label counts
    (multi-label) per subset. Equal to ``multiclass_metrics``/``multilabel_metrics`` of the subset."""

    def __init__(self, y_true: Sequence[Any], y_pred: Sequence[Any], multilabel: bool) -> None:
        self.multilabel = multilabel
        if multilabel:
            truth, predicted, _ = _binarize(y_true, y_pred)
            self._truth, self._predicted = truth.astype(bool), predicted.astype(bool)
        else:
            labels = sorted(set(y_true) | set(y_pred))
            index = {label: i for i, label in enumerate(labels)}
            self._k = len(labels)
            self._codes = np.fromiter(
                (index[t] * self._k + index[p] for t, p in zip(y_true, y_pred, strict=True)), np.int64
            )

    def metrics(self, idx: np.ndarray | Sequence[int]) -> dict[str, float]:
        if self.multilabel:
            return multilabel_metrics_from_indicators(self._truth[idx], self._predicted[idx])
        counts = np.bincount(self._codes[idx], minlength=self._k * self._k)
        return multiclass_metrics_from_confusion(counts.reshape(self._k, self._k))


def classification_bootstrap_stds(
    y_true: Sequence[Any],
    y_pred: Sequence[Any],
    multilabel: bool,
    seed: int = 0,
    subsets: ClassificationSubsets | None = None,
) -> dict[str, float | str]:
    """Standard deviation of every classification metric over the ``bootstrap_std`` samples, all metrics
    from one confusion matrix per sample instead of one scikit-learn pass per metric and sample: the same
    numbers as ``bootstrap_std(n, lambda idx: compute(...)[key], seed)`` for each key."""
    keys = (
        [names.ACCURACY, names.HAMMING_LOSS, *names.PRECISION_RECALL_F1]
        if multilabel
        else [names.ACCURACY, *names.PRECISION_RECALL_F1]
    )
    samples = bootstrap_samples(len(y_true), seed)
    if samples is None:
        return dict.fromkeys(keys, names.NOT_ESTIMATED)
    subsets = subsets or ClassificationSubsets(y_true, y_pred, multilabel)
    rows = [subsets.metrics(idx) for idx in samples]
    return {key: float(np.std([row[key] for row in rows])) for key in keys}


MAX_DISPARITY_CONVENTION = (
    "the largest disparity over every protected attribute: for classification the demographic parity and "
    "equal opportunity differences (with --positive-label for that class, otherwise the worst class), for "
    "summarization and question answering every <metric>_group_gap, for perplexity perplexity_group_gap "
    "(in perplexity units); max_disparity_from names the attribute and the metric. 0.0 with measured: "
    "false when no attribute was measured (no --protected-attributes, and no record carries --group-field)"
)

FAIRNESS_CONVENTIONS = {
    "demographic_parity_difference": (
        "max - min over groups of the share of records for which the class is predicted (selection rate); "
        "as fairlearn's demographic_parity_difference(method='between_groups')"
    ),
    "equal_opportunity_difference": (
        "max - min over groups of the true positive rate P(class predicted | class true), as fairlearn's "
        "equal_opportunity_difference, except that a group with no record whose reference is the class has "
        "no true positive rate and is left out (fairlearn counts it as 0, which reads as maximal "
        "unfairness); the groups left out are listed per class under groups_without_positives. With fewer "
        "than two groups that have positives the difference is not defined: NaN."
    ),
    "headline": "with --positive-label, that class; otherwise the worst (largest) value over all classes; "
    "over several protected attributes, the worst attribute (each one's values under attributes)",
    "max_disparity": MAX_DISPARITY_CONVENTION,
}


def fairness_differences(
    true_sets: Sequence[set[str]],
    pred_sets: Sequence[set[str]],
    groups: Sequence[str],
    classes: Sequence[str],
) -> dict[str, Any]:
    """Demographic parity and equal opportunity differences across groups, per class (one-vs-rest).

    For class c: DPD = max_g P(c predicted | g) - min_g P(c predicted | g); EOD = the same spread of the true
    positive rate P(c predicted | c true, g), over the groups that have records whose truth is c (see
    FAIRNESS_CONVENTIONS). The headline value is the worst class; NaN where no class has a defined value.
    """
    group_names = sorted(set(groups))
    group_index = {g: i for i, g in enumerate(group_names)}
    g = np.fromiter((group_index[x] for x in groups), dtype=np.int64, count=len(groups))
    n = len(groups)
    truth = np.array([np.fromiter((c in s for s in true_sets), bool, count=n) for c in classes]).T
    predicted = np.array([np.fromiter((c in s for s in pred_sets), bool, count=n) for c in classes]).T
    k = len(group_names)
    sizes = np.bincount(g, minlength=k).astype(float)
    per_class: dict[str, dict[str, Any]] = {}
    for j, c in enumerate(classes):
        selected = np.bincount(g, weights=predicted[:, j], minlength=k)
        positives = np.bincount(g, weights=truth[:, j], minlength=k)
        hits = np.bincount(g, weights=truth[:, j] & predicted[:, j], minlength=k)
        selection = {name: float(selected[i] / sizes[i]) for i, name in enumerate(group_names)}
        tpr = {name: float(hits[i] / positives[i]) for i, name in enumerate(group_names) if positives[i] > 0}
        per_class[c] = {
            names.DEMOGRAPHIC_PARITY_DIFFERENCE: max(selection.values()) - min(selection.values()),
            names.EQUAL_OPPORTUNITY_DIFFERENCE: (max(tpr.values()) - min(tpr.values()))
            if len(tpr) > 1
            else None,
            "selection_rate": selection,
            "true_positive_rate": tpr,
            "groups_without_positives": [name for i, name in enumerate(group_names) if positives[i] == 0],
        }

    def worst(metric: str) -> float:
        values = [v[metric] for v in per_class.values() if v[metric] is not None]
        return max(values) if values else float("nan")

    return {
        names.DEMOGRAPHIC_PARITY_DIFFERENCE: worst(names.DEMOGRAPHIC_PARITY_DIFFERENCE),
        names.EQUAL_OPPORTUNITY_DIFFERENCE: worst(names.EQUAL_OPPORTUNITY_DIFFERENCE),
        "per_class": per_class,
    }
