"""The arguments of the evaluation commands, kept apart from the code that runs them.

Parsing a command line or printing --help needs only these dataclasses; the modules that run the commands
(tasks, model_eval, trained_model) import numpy, pandas and scikit-learn, which take seconds to load.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PROTECTED_ATTRIBUTES_HELP = (
    "Fields whose groups fairness compares, e.g. gender age_band, read from each record's 'metadata' "
    "object (where prepare --protected-attributes writes them) or its top level; every record must carry "
    "each, and each needs two groups at least. fairness_metrics.max_disparity.value is the largest "
    "disparity over them (default: the --group-field attribute, when the records carry it)"
)
GROUP_FIELD_HELP = (
    "The one group attribute measured when --protected-attributes is not given, and only when the records "
    "carry it"
)


@dataclass
class CommonArgs:
    predictions: str | None = field(
        default=None,
        metadata={"help": "Predictions file or directory (default in a Processing job: input/predictions)"},
    )
    output_dir: str | None = field(
        default=None, metadata={"help": "Where evaluation.json/.csv/.html go (default: output/evaluation)"}
    )
    prediction_field: str = field(default="prediction", metadata={"help": "Field holding the model output"})
    protected_attributes: list[str] | None = field(default=None, metadata={"help": PROTECTED_ATTRIBUTES_HELP})
    group_field: str = field(default="group", metadata={"help": GROUP_FIELD_HELP})
    seed: int = field(default=0, metadata={"help": "Seed for the standard-deviation resampling"})


@dataclass
class ClassificationArgs(CommonArgs):
    """Classification (multi-class or multi-label): accuracy, precision/recall/F1, confusion, fairness."""

    reference_field: str = field(
        default="label", metadata={"help": "Gold label field ('labels' for multi-label)"}
    )
    multilabel: bool = field(
        default=False, metadata={"help": "Labels are lists (auto when the reference is a list)"}
    )
    positive_label: str | None = field(
        default=None,
        metadata={"help": "Class whose selection rate fairness compares (default: the worst class)"},
    )


@dataclass
class SummarizationArgs(CommonArgs):
    """Summarization: ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum F-measures."""

    reference_field: str = field(default="summary", metadata={"help": "Reference summary field"})


@dataclass
class QAArgs(CommonArgs):
    """Question answering: exact match and token F1, best over the gold answers."""

    reference_field: str = field(default="answers", metadata={"help": "Gold answers field (list or string)"})


@dataclass
class PerplexityArgs:
    """Perplexity of a local causal LM on held-out text, over total token counts."""

    model_dir: str | None = field(
        default=None,
        metadata={"help": "Local model or adapter directory (default in a Processing job: input/model)"},
    )
    data: str | None = field(
        default=None, metadata={"help": "Held-out JSONL/JSON/CSV (default in a Processing job: input/data)"}
    )
    output_dir: str | None = field(
        default=None, metadata={"help": "Where evaluation.json/.csv/.html go (default: output/evaluation)"}
    )
    text_field: str = field(
        default="text",
        metadata={"help": "Field with the text; records without it use their conversation text"},
    )
    protected_attributes: list[str] | None = field(default=None, metadata={"help": PROTECTED_ATTRIBUTES_HELP})
    group_field: str = field(default="group", metadata={"help": GROUP_FIELD_HELP})
    batch_size: int = field(default=8, metadata={"help": "Windows scored per forward pass"})
    max_length: int = field(
        default=1024, metadata={"help": "Tokens per window; longer texts are cut into windows"}
    )
    device: str = field(default="cpu", metadata={"help": "torch device, e.g. cuda"})
    seed: int = field(default=0, metadata={"help": "Seed for the standard-deviation resampling"})


@dataclass
class PredictArgs:
    """Generate predictions with a local causal LM into a predictions file for the task reports."""

    model_dir: str | None = field(
        default=None,
        metadata={"help": "Local model or adapter directory (default in a Processing job: input/model)"},
    )
    input: str | None = field(default=None, metadata={"help": "Records to predict (default: input/data)"})
    output: str | None = field(
        default=None, metadata={"help": "Predictions JSONL (default: output/predictions/predictions.jsonl)"}
    )
    prompt_field: str = field(
        default="prompt", metadata={"help": "Field with the model input; else the record's first user turn"}
    )
    prediction_field: str = field(
        default="prediction", metadata={"help": "Field the generated text goes into"}
    )
    max_new_tokens: int = field(default=64, metadata={"help": "Tokens generated per record"})
    device: str = field(default="cpu", metadata={"help": "torch device, e.g. cuda"})


MODEL_TASKS = ("perplexity", "classification", "summarization", "qa")
# The trained model and the test records of a Processing job: `evaluate model` and `explain` take the same.
MODEL_HELP = (
    "model.tar.gz of a training job, or a model directory "
    "(default in a Processing job: input/model/model.tar.gz)"
)
TEST_DATA_HELP = "Test records (default in a Processing job: input/test/test.jsonl)"


@dataclass
class ModelArgs:
    """Evaluate a trained model (model.tar.gz or directory) on test data: perplexity, or predict + metrics.

    perplexity runs the perplexity command on --data; classification, summarization and qa run predict into
    <work-dir>/predictions.jsonl, then the task's metrics. A test record without the task's reference field
    (label, summary, answers), e.g. a chat record, gets the assistant's answer to its first user turn.
    """

    task: str = field(metadata={"help": "What to measure", "choices": MODEL_TASKS})
    model: str | None = field(default=None, metadata={"help": MODEL_HELP})
    data: str | None = field(default=None, metadata={"help": TEST_DATA_HELP})
    output_dir: str | None = field(
        default=None, metadata={"help": "Where evaluation.json/.csv/.html go (default: output/evaluation)"}
    )
    work_dir: str | None = field(
        default=None,
        metadata={
            "help": "Holds the extracted model and predictions.jsonl (default: a temporary directory, "
            "removed afterwards)"
        },
    )
    device: str = field(default="cpu", metadata={"help": "torch device, e.g. cuda"})
    max_new_tokens: int = field(default=64, metadata={"help": "Tokens generated per record (not perplexity)"})
    protected_attributes: list[str] | None = field(default=None, metadata={"help": PROTECTED_ATTRIBUTES_HELP})
    champion_model: str | None = field(
        default=None,
        metadata={
            "help": "The production version's model.tar.gz or directory: the same test records are evaluated "
            "with it and paired with the candidate's (comparison.json, and champion_comparison in "
            "evaluation.json); default: no comparison"
        },
    )
    champion_present: str = field(
        default="true",
        metadata={
            "help": "false: there is no production version (--champion-model is then not read) and the "
            "candidate passes the comparison",
            "choices": ("true", "false"),
        },
    )
    champion_name: str = field(
        default="", metadata={"help": "What the champion is, for the report (e.g. its ARN)"}
    )
    primary_metric: str | None = field(
        default=None,
        metadata={
            "help": "section.metric the candidate must improve, e.g. generation_metrics.perplexity "
            "(default: the task's headline metric)"
        },
    )
    margin: float = field(
        default=0.0,
        metadata={"help": "Improvement the primary metric must exceed at the interval's worse end"},
    )
    confidence: float = field(default=0.95, metadata={"help": "Two-sided confidence of the paired bootstrap"})
    guards: list[str] | None = field(
        default=None,
        metadata={
            "help": "section.metric=tolerance: may get worse by at most the tolerance (point estimate)"
        },
    )
    bootstrap_rounds: int = field(default=1000, metadata={"help": "Paired bootstrap resamples"})
