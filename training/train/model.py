"""Load the base model for a fine-tuning method: full weights, a LoRA adapter, or LoRA on a 4-bit base."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

from training.train.args import ArgumentError, MethodArguments, ModelArguments


def resolve_precision(requested: str) -> str:
    """bf16 where the device supports it (Ampere GPUs and later, or CPU on request), else fp32."""
    import torch

    if requested != "auto":
        return requested
    return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"


def torch_dtype(precision: str) -> Any:
    import torch

    return {"bf16": torch.bfloat16, "fp32": torch.float32}[precision]


def resolve_attention(requested: str) -> str:
    import torch

    flash = torch.cuda.is_available() and importlib.util.find_spec("flash_attn") is not None
    if requested == "auto":
        return "flash_attention_2" if flash else "sdpa"
    if requested == "flash_attention_2" and not flash:
        raise ArgumentError(
            "attn_implementation", "flash_attention_2 needs a CUDA device and the flash-attn package"
        )
    return requested


def check_method(method: str) -> None:
    """QLoRA quantizes the base to 4 bits with bitsandbytes, which needs a CUDA device."""
    if method != "qlora":
        return
    import torch

    missing = []
    if not torch.cuda.is_available():
        missing.append("a CUDA device")
    if importlib.util.find_spec("bitsandbytes") is None:
        missing.append("the bitsandbytes package")
    if missing:
        raise ArgumentError(
            "method",
            f"qlora needs {' and '.join(missing)} (4-bit quantization); use method=lora or method=full here",
        )


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def resolve_model_path(model: ModelArguments, model_channel: Path | None) -> str:
    """A local model directory, or a hub id (``org/name``) that is left to transformers to fetch."""
    if model.model_name_or_path:
        value = model.model_name_or_path
        path = Path(value)
        if path.is_dir():
            if not (path / "config.json").is_file():
                raise ArgumentError(
                    "model_name_or_path", f"{value} is a directory without config.json: not a model directory"
                )
            return value
        if path.exists() or not _HUB_ID.match(value) or value.startswith("."):
            raise ArgumentError("model_name_or_path", f"{value}: no such model directory")
        return value
    if model_channel is not None:
        return str(model_channel)
    raise ArgumentError(
        "model_name_or_path", "is required: a local model directory, or the SageMaker 'model' channel"
    )


def load_tokenizer(path: str, trust_remote_code: bool) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    except OSError as exc:  # not a local directory, and the hub cannot be reached or has no such model
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ArgumentError(
            "model_name_or_path",
            f"{path}: no such model directory, and no hub model could be loaded ({first})",
        ) from exc
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return tokenizer


def load_model(
    path: str,
    model: ModelArguments,
    method: MethodArguments,
    precision: str,
    attention: str,
    gradient_checkpointing: bool,
    device: Any,
) -> Any:
    """The model to train, on ``device``: every weight trainable (full) or only the LoRA weights."""
    import torch
    from transformers import AutoModelForCausalLM

    check_method(method.method)
    # Full fine-tuning keeps fp32 master weights (bf16 comes from autocast); a frozen base can live in bf16.
    kwargs: dict[str, Any] = {
        "dtype": torch.float32 if method.method == "full" else torch_dtype(precision),
        "attn_implementation": attention,
        "trust_remote_code": model.trust_remote_code,
    }
    if method.method == "qlora":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch_dtype(precision),
        )
        kwargs["device_map"] = {"": device}
    base = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if method.method != "qlora":
        base.to(device)
    base.config.use_cache = False  # the KV cache only serves generation
    if gradient_checkpointing:
        # Non-reentrant checkpointing works with DDP and with frozen inputs (LoRA).
        if hasattr(base, "activation_checkpointing_enable"):  # transformers 5 name; the old one goes in v6
            base.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if method.method == "full":
        return base
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if method.method == "qlora":
        base = prepare_model_for_kbit_training(base, use_gradient_checkpointing=gradient_checkpointing)
    elif gradient_checkpointing:
        base.enable_input_require_grads()  # checkpointed blocks need an input that requires grad
    targets = method.lora_target_modules
    config = LoraConfig(
        r=method.lora_r,
        lora_alpha=method.lora_alpha,
        lora_dropout=method.lora_dropout,
        target_modules=targets if targets == "all-linear" else [t.strip() for t in targets.split(",")],
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(base, config)
    except ValueError as exc:
        raise ArgumentError("lora_target_modules", str(exc)) from exc
