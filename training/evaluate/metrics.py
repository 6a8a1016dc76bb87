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


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def token_f1(prediction: str, gold: str) -> float:
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


def fairness_differences(
    true_sets: Sequence[set[str]],
    pred_sets: Sequence[set[str]],
    groups: Sequence[str],
    classes: Sequence[str],
) -> dict[str, Any]:
    """Demographic parity and equal opportunity differences across groups, per class.

    For class c: DPD = max_g P(c predicted | g) - min_g P(c predicted | g); EOD = the same spread of the true
    positive rate P(c predicted | c true, g), over groups that have records whose truth is c. The headline
    value is the worst class.
    """
    per_class: dict[str, dict[str, Any]] = {}
    group_names = sorted(set(groups))
    for c in classes:
        selection: dict[str, float] = {}
        tpr: dict[str, float] = {}
        for g in group_names:
            idx = [i for i, gi in enumerate(groups) if gi == g]
            selection[g] = sum(c in pred_sets[i] for i in idx) / len(idx)
            positives = [i for i in idx if c in true_sets[i]]
            if positives:
                tpr[g] = sum(c in pred_sets[i] for i in positives) / len(positives)
        per_class[c] = {
            names.DEMOGRAPHIC_PARITY_DIFFERENCE: max(selection.values()) - min(selection.values()),
            names.EQUAL_OPPORTUNITY_DIFFERENCE: (max(tpr.values()) - min(tpr.values()))
            if len(tpr) > 1
            else 0.0,
            "selection_rate": selection,
            "true_positive_rate": tpr,
        }
    return {
        names.DEMOGRAPHIC_PARITY_DIFFERENCE: max(
            v[names.DEMOGRAPHIC_PARITY_DIFFERENCE] for v in per_class.values()
        ),
        names.EQUAL_OPPORTUNITY_DIFFERENCE: max(
            v[names.EQUAL_OPPORTUNITY_DIFFERENCE] for v in per_class.values()
        ),
        "per_class": per_class,
    }
