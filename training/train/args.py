"""Training arguments: five dataclass groups, parsed from a YAML/JSON config, the command line and SageMaker
hyperparameters alike.

SageMaker passes every hyperparameter as ``--key value`` strings, with the key as written in the job (often
``snake_case``) and booleans as ``True``/``False``. ``normalize_argv`` turns those into the flags that
``training.common.args`` builds (``--key-name``, ``--flag``/``--no-flag``), so one set of dataclasses serves
the CLI, the config file and the training job.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from training.common.args import _apply_config, _unwrap_optional, add_dataclass_arguments

METHODS = ("full", "lora", "qlora")
ATTENTION = ("auto", "sdpa", "flash_attention_2", "eager")
PRECISIONS = ("auto", "bf16", "fp32")
TEXT_FORMATS = ("chat", "plain")
DISTRIBUTED = ("ddp", "fsdp")


@dataclass
class ModelArguments:
    """Which base model to fine-tune and how to load it."""

    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "Local directory of the base model (default: the SageMaker 'model' channel), or a hub id "
            "when the job can reach the hub"
        },
    )
    attn_implementation: str = field(
        default="auto",
        metadata={
            "help": "auto picks flash_attention_2 when installed on a CUDA device, else sdpa",
            "choices": ATTENTION,
        },
    )
    precision: str = field(
        default="auto",
        metadata={"help": "auto is bf16 where the device supports it, else fp32", "choices": PRECISIONS},
    )
    trust_remote_code: bool = field(
        default=False, metadata={"help": "Run model code shipped with the checkpoint (insecure)"}
    )


@dataclass
class DataArguments:
    """Where the records are and how they become token sequences."""

    train_data: str | None = field(
        default=None, metadata={"help": "File or directory of training records (default: SM_CHANNEL_TRAIN)"}
    )
    validation_data: str | None = field(
        default=None,
        metadata={"help": "File or directory of validation records (default: SM_CHANNEL_VALIDATION if set)"},
    )
    text_format: str = field(
        default="chat",
        metadata={
            "help": "chat: every record through the tokenizer's chat template (a simple fallback when it has "
            "none); plain: prompt + completion + EOS, single-exchange records only",
            "choices": TEXT_FORMATS,
        },
    )
    max_seq_length: int = field(default=2048, metadata={"help": "Tokens per training row"})
    packing: bool = field(
        default=True,
        metadata={
            "help": "Pack several examples per row; positions restart per example, so none sees another"
        },
    )
    completion_only_loss: bool = field(
        default=True, metadata={"help": "Loss on completion (assistant) tokens only; prompt tokens are -100"}
    )


@dataclass
class MethodArguments:
    """Full fine-tuning or a LoRA adapter (QLoRA: on a 4-bit base)."""

    method: str = field(default="lora", metadata={"help": "Fine-tuning method", "choices": METHODS})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling numerator"})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA input"})
    lora_target_modules: str = field(
        default="all-linear",
        metadata={"help": "Comma-separated module names, or all-linear (every linear layer but the head)"},
    )
    merge_adapter: bool = field(
        default=True,
        metadata={
            "help": "Also write the merged full model at the root of the model directory (the adapter goes "
            "to adapter/); otherwise the root holds the adapter"
        },
    )


@dataclass
class TrainingArguments:
    """Optimisation, evaluation, logging and distribution."""

    num_train_epochs: float = field(default=1.0, metadata={"help": "Epochs (ignored when max_steps > 0)"})
    max_steps: int = field(default=0, metadata={"help": "Optimizer steps; 0 means num_train_epochs"})
    per_device_train_batch_size: int = field(default=1, metadata={"help": "Rows per device per micro-step"})
    per_device_eval_batch_size: int = field(default=1, metadata={"help": "Rows per device for evaluation"})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Micro-steps per optimizer step"})
    learning_rate: float = field(default=2e-4, metadata={"help": "Peak learning rate"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    warmup_ratio: float = field(default=0.03, metadata={"help": "Share of steps with linear warm-up"})
    lr_scheduler: str = field(
        default="cosine",
        metadata={"help": "Decay after warm-up", "choices": ("cosine", "linear", "constant")},
    )
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping norm; 0 disables"})
    gradient_checkpointing: bool = field(
        default=False, metadata={"help": "Recompute activations in the backward pass to save memory"}
    )
    logging_steps: int = field(default=10, metadata={"help": "Log one metrics line every N steps"})
    eval_steps: int = field(default=0, metadata={"help": "Evaluate every N steps (0: only at the end)"})
    seed: int = field(default=42, metadata={"help": "Seed for initialisation and data order"})
    distributed: str = field(
        default="ddp",
        metadata={
            "help": "ddp replicates the model per GPU; fsdp shards it (models that do not fit one GPU)",
            "choices": DISTRIBUTED,
        },
    )
    output_dir: str | None = field(
        default=None, metadata={"help": "Where the model is written (default: SM_MODEL_DIR)"}
    )


@dataclass
class CheckpointArguments:
    """Spot-safe checkpoints: written atomically every N steps and on SIGTERM, resumed from at start."""

    checkpoint_dir: str | None = field(
        default=None,
        metadata={
            "help": "Where checkpoint-<step, 8 digits>/ folders (checkpoint-00000100/) are written and "
            "resumed from (default: /opt/ml/checkpoints in a SageMaker job, which SageMaker syncs to S3; "
            "./checkpoints elsewhere)"
        },
    )
    save_steps: int = field(
        default=100,
        metadata={"help": "Checkpoint every N optimizer steps, and always on SIGTERM (0: only on SIGTERM)"},
    )
    save_total_limit: int = field(default=2, metadata={"help": "Complete checkpoints kept (oldest removed)"})
    resume: bool = field(default=True, metadata={"help": "Resume from the latest complete checkpoint"})


@dataclass
class TrainConfig:
    model: ModelArguments
    data: DataArguments
    method: MethodArguments
    training: TrainingArguments
    checkpoint: CheckpointArguments

    def as_dict(self) -> dict[str, Any]:
        return {name: dataclasses.asdict(getattr(self, name)) for name in GROUPS}


GROUPS: dict[str, type] = {
    "model": ModelArguments,
    "data": DataArguments,
    "method": MethodArguments,
    "training": TrainingArguments,
    "checkpoint": CheckpointArguments,
}


class ArgumentError(ValueError):
    """Argument values that cannot work, each naming its field."""

    def __init__(self, field_name: str, reason: str, *more: tuple[str, str]) -> None:
        problems = [(field_name, reason), *more]
        lines = [f"argument '{name}': {why}" for name, why in problems]
        super().__init__(lines[0] if len(lines) == 1 else "\n- ".join(["invalid arguments:", *lines]))
        self.fields = [name for name, _ in problems]


def _bool_fields() -> set[str]:
    names = set()
    for group in GROUPS.values():
        hints = typing.get_type_hints(group)
        names |= {f.name for f in dataclasses.fields(group) if _unwrap_optional(hints[f.name]) is bool}
    return names


def normalize_argv(argv: Sequence[str]) -> list[str]:
    """SageMaker hyperparameters as flags: ``--learning_rate 1e-4`` -> ``--learning-rate 1e-4`` and
    ``--packing False`` -> ``--no-packing``."""
    bools = _bool_fields()
    out: list[str] = []
    items = list(argv)
    i = 0
    while i < len(items):
        item = items[i]
        if item.startswith("--"):
            key, eq, inline = item[2:].partition("=")
            name = key.replace("-", "_")
            flag = "--" + key.replace("_", "-")
            if name in bools:
                value = inline if eq else None
                if value is None and i + 1 < len(items) and not items[i + 1].startswith("--"):
                    value = items[i + 1]
                    i += 1
                if value is None or value.lower() == "true":
                    out.append(flag)
                elif value.lower() == "false":
                    out.append("--no-" + key.replace("_", "-"))
                else:
                    raise ArgumentError(name, f"must be true or false, got '{value}'")
            else:
                out.append(flag + (eq + inline if eq else ""))
        else:
            out.append(item)
        i += 1
    return out


def parse_config(argv: Sequence[str], prog: str = "python -m training.train") -> TrainConfig:
    """Parse every group from one argv (``--config file.yaml`` holds defaults, flags win) and validate."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=None, help="YAML or JSON file of defaults; flags win")
    for name, group in GROUPS.items():
        add_dataclass_arguments(parser.add_argument_group(name), group)  # type: ignore[arg-type]
    argv = normalize_argv(argv)
    _apply_config(parser, argv)
    values = vars(parser.parse_args(argv))
    values.pop("config", None)
    groups = {}
    for name, group in GROUPS.items():
        groups[name] = group(**{f.name: values[f.name] for f in dataclasses.fields(group)})
    config = TrainConfig(**groups)
    validate(config)
    return config


def validate(config: TrainConfig) -> None:
    """Collect every unworkable value and raise once, each problem naming its field."""
    problems: list[tuple[str, str]] = []
    t, d, m, c = config.training, config.data, config.method, config.checkpoint
    positive = {
        "per_device_train_batch_size": t.per_device_train_batch_size,
        "per_device_eval_batch_size": t.per_device_eval_batch_size,
        "gradient_accumulation_steps": t.gradient_accumulation_steps,
        "logging_steps": t.logging_steps,
        "lora_r": m.lora_r,
        "save_total_limit": c.save_total_limit,
    }
    problems += [(k, f"must be at least 1, got {v}") for k, v in positive.items() if v < 1]
    if d.max_seq_length < 2:
        problems.append(("max_seq_length", f"must be at least 2 (input and target), got {d.max_seq_length}"))
    non_negative = {"max_steps": t.max_steps, "eval_steps": t.eval_steps, "save_steps": c.save_steps}
    problems += [(k, f"must be 0 or more, got {v}") for k, v in non_negative.items() if v < 0]
    if t.max_steps == 0 and t.num_train_epochs <= 0:
        problems.append(("num_train_epochs", f"must be above 0 if max_steps is 0, got {t.num_train_epochs}"))
    if not t.learning_rate > 0:
        problems.append(("learning_rate", f"must be above 0, got {t.learning_rate}"))
    if not 0 <= t.warmup_ratio < 1:
        problems.append(("warmup_ratio", f"must be in [0, 1), got {t.warmup_ratio}"))
    if not 0 <= m.lora_dropout < 1:
        problems.append(("lora_dropout", f"must be in [0, 1), got {m.lora_dropout}"))
    if problems:
        raise ArgumentError(*problems[0], *problems[1:])
