"""What the job leaves in ``SM_MODEL_DIR``: a model serving containers load as is, and ``run.json``.

Layouts (HF ``from_pretrained``, TGI and LMI all read them):

- full: ``config.json``, ``model*.safetensors``, tokenizer files, ``generation_config.json``;
- lora with ``merge_adapter`` (default): the merged full model as above at the root, and the adapter
  (``adapter_config.json``, ``adapter_model.safetensors``, tokenizer files) in ``adapter/``;
- lora without ``merge_adapter``: the adapter and tokenizer files at the root (serve it on the base model).
"""

from __future__ import annotations

import importlib.metadata
import platform
import shutil
import tempfile
from pathlib import Path
from typing import Any

from training.data.io import write_json_atomic

LIBRARIES = ("torch", "transformers", "peft", "accelerate", "tokenizers", "safetensors", "bitsandbytes")
RUN_FILE = "run.json"


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _replace_dir(staging: Path, target: Path) -> None:
    """Move ``staging``'s files into ``target`` (which may already hold run files from this job)."""
    target.mkdir(parents=True, exist_ok=True)
    for item in staging.iterdir():
        destination = target / item.name
        if destination.is_dir():
            shutil.rmtree(destination)
        elif destination.exists():
            destination.unlink()
        shutil.move(str(item), str(destination))


def save_model(
    model: Any,
    tokenizer: Any,
    output_dir: Path,
    method: str,
    merge_adapter: bool,
    base_path: str,
    merge_dtype: Any,
    state_dict: dict[str, Any] | None = None,
) -> list[str]:
    """Write the model in the serving layout (rank 0 only); returns the files written, relative paths."""
    output_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".model-", dir=output_dir))
    try:
        if method == "full" or not merge_adapter:
            model.save_pretrained(staging, state_dict=state_dict, safe_serialization=True)
            tokenizer.save_pretrained(staging)
        else:
            adapter_dir = staging / "adapter"
            model.save_pretrained(adapter_dir, state_dict=state_dict, safe_serialization=True)
            tokenizer.save_pretrained(adapter_dir)
            merge_adapter_into_base(adapter_dir, base_path, staging, merge_dtype)
            tokenizer.save_pretrained(staging)
        written = sorted(str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file())
        for path in staging.rglob("*"):  # temp files are private; a serving container may not run as us
            path.chmod(0o755 if path.is_dir() else 0o644)
        _replace_dir(staging, output_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written


def merge_adapter_into_base(adapter_dir: Path, base_path: str, target: Path, dtype: Any) -> None:
    """Reload the base unquantized on CPU (QLoRA trained on 4 bits), add the adapter, fold it in, save."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=dtype)
    merged = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()
    merged.save_pretrained(target, safe_serialization=True)


def write_run_file(output_dir: Path, record: dict[str, Any]) -> Path:
    path = output_dir / RUN_FILE
    write_json_atomic(path, {**record, "libraries": library_versions()})
    path.chmod(0o644)
    return path
