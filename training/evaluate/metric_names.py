"""Names of report sections and metrics: the keys pipeline condition steps read with JsonGet.

evaluation.json follows the SageMaker model-quality statistics layout
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-metrics.html):
``{"<section>": {"<metric>": {"value": v, "standard_deviation": s}}}``; a condition step reads e.g.
``multiclass_classification_metrics.accuracy.value``. The TypeScript side must use these same strings; they
are kept here, in one place, until a shared JSON file replaces this module.
"""

from __future__ import annotations

MULTICLASS = "multiclass_classification_metrics"
MULTILABEL = "multilabel_classification_metrics"
SUMMARIZATION = "summarization_metrics"
QUESTION_ANSWERING = "question_answering_metrics"
GENERATION = "generation_metrics"
FAIRNESS = "fairness_metrics"
PER_GROUP = "per_group_metrics"
METADATA = "metadata"

ACCURACY = "accuracy"
HAMMING_LOSS = "hamming_loss"
AVERAGES = ("micro", "macro", "weighted")
PRECISION_RECALL_F1 = tuple(f"{avg}_{name}" for avg in AVERAGES for name in ("precision", "recall", "f1"))
CONFUSION_MATRIX = "confusion_matrix"

ROUGE = ("rouge1", "rouge2", "rougeL", "rougeLsum")
EXACT_MATCH = "exact_match"
TOKEN_F1 = "f1"
PERPLEXITY = "perplexity"
LOSS = "loss"
TOKENS = "tokens"

DEMOGRAPHIC_PARITY_DIFFERENCE = "demographic_parity_difference"
EQUAL_OPPORTUNITY_DIFFERENCE = "equal_opportunity_difference"
GROUP_GAP_SUFFIX = "_group_gap"
# The quality gate's fairness value: fairness_metrics.max_disparity.value (training/evaluate/fairness.py).
MAX_DISPARITY = "max_disparity"
MAX_DISPARITY_FROM = "max_disparity_from"
MEASURED = "measured"
ATTRIBUTES = "attributes"

# SageMaker writes "NaN" when a standard deviation is not estimated (fewer than 200 records).
NOT_ESTIMATED = "NaN"
MIN_RECORDS_FOR_STD = 200

LOWER_IS_BETTER = frozenset(
    {
        PERPLEXITY,
        LOSS,
        HAMMING_LOSS,
        DEMOGRAPHIC_PARITY_DIFFERENCE,
        EQUAL_OPPORTUNITY_DIFFERENCE,
        MAX_DISPARITY,
    }
)


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER and not metric.endswith(GROUP_GAP_SUFFIX)
