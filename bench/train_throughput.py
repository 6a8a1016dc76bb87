"""Training throughput of our path (packing + ``training.train`` loop) against a padded HF ``Trainer``.

    python bench/train_throughput.py --model-dir /opt/models/Llama-3.1-8B --synthetic 4000 --method lora \
        --seq-len 2048 --batch-size 4 --steps 30 --warmup-steps 5 --dtype bf16 --device cuda \
        --output bench/results/train-throughput.json

    python bench/train_throughput.py --tiny --synthetic 32 --steps 3 --warmup-steps 1 --seq-len 128 \
        --batch-size 1 --baseline-batch-size 4 --device cpu         # CPU smoke run, no download

Both runs happen in one process on the same tokenized examples (our ``load_examples``), the same model built
by our ``load_model`` with the same seed (so the same LoRA config and init), the same precision, attention
implementation, optimizer (AdamW, foreach) and gradient clipping:

- ours: ``pack`` into rows of ``--seq-len`` tokens, then ``train_loop`` (the job's loop, unchanged) for
  ``warmup + steps`` steps of ``--batch-size`` rows. The loop is not importable at step granularity, so the
  scheduler handed to it is a thin wrapper whose ``step()`` (called right after ``optimizer.step()``)
  synchronizes the device and records a timestamp: the step boundaries of the real loop.
- baseline: ``transformers.Trainer`` with ``DataCollatorForSeq2Seq`` padding every batch to its longest
  example (it keeps our completion-only labels; ``DataCollatorForLanguageModeling`` would relabel them but
  pads the same way), no packing, sequential order, ``--baseline-batch-size`` examples per step (default
  ``--batch-size``). After ``warmup`` steps it trains on exactly the examples that our measured steps packed,
  so both measured phases process the same real tokens. A ``TrainerCallback`` synchronizes and timestamps
  ``on_step_end``.

Counting: a forward pre-hook records the tokens every forward pass received. Real tokens are tokens of
examples; padding is everything else (the baseline's right padding; for ours, the right padding ``collate``
adds to packed rows shorter than the widest row of a micro-batch when attention is not flash_attention_2).
tokens/s = real tokens of the measured steps / their summed step times; step times are end-to-end intervals
between consecutive optimizer steps (data collation included). MFU = tokens/s x FLOPs/token / peak FLOPs with
FLOPs/token = 6N (full) or 4N (LoRA: no weight gradients for the frozen base), where N counts every base-model
weight used in a matmul per token: all parameters except the input embedding table (a lookup), the LM head
included even when tied, LoRA weights and attention-score FLOPs left out. Only real tokens count, so padding
lowers MFU. Peak: dense bf16 tensor-core TFLOPS by GPU name, or ``--peak-tflops``; null on CPU, and for fp32
unless ``--peak-tflops`` is given.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import math
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from training.common.args import parse_into  # noqa: E402

# Dense (no sparsity) bf16 tensor-core peak per GPU, TFLOPS; first match wins, so specific names come first.
PEAK_BF16_TFLOPS: tuple[tuple[str, float], ...] = (
    (r"H100.*PCIe", 756.0),
    (r"H100.*NVL", 835.0),
    (r"H100", 989.0),  # SXM
    (r"H200", 989.0),
    (r"A100", 312.0),
    (r"A10G", 125.0),
    (r"\bL4\b", 121.0),
)

SYNTHETIC_TEXT = (
    "the cat sat on mat a dog ran in park what is two plus four name colour of sky blue model data train "
    "please explain how why when where which number list write short answer question system user step first "
    "then next finally because example result value table summary code function return true false"
)


@dataclass
class BenchArguments:
    """Training throughput: our packed training path against a padded Hugging Face Trainer."""

    model_dir: str | None = field(default=None, metadata={"help": "Local base model directory"})
    tiny: bool = field(default=False, metadata={"help": "Build a tiny random Llama instead of --model-dir"})
    data: str | None = field(default=None, metadata={"help": "Records file or directory (chat or plain)"})
    synthetic: int = field(
        default=0, metadata={"help": "Generate N synthetic chat records instead of --data"}
    )
    synthetic_median_tokens: int = field(
        default=0, metadata={"help": "Median synthetic example length in tokens (0: seq_len / 8)"}
    )
    synthetic_sigma: float = field(default=0.9, metadata={"help": "Lognormal sigma of synthetic lengths"})
    text_format: str = field(
        default="chat", metadata={"help": "How records become text", "choices": ("chat", "plain")}
    )
    method: str = field(default="lora", metadata={"help": "Fine-tuning method", "choices": ("lora", "full")})
    seq_len: int = field(default=2048, metadata={"help": "Tokens per packed row; longer examples are cut"})
    batch_size: int = field(default=4, metadata={"help": "Packed rows per step (ours)"})
    baseline_batch_size: int = field(
        default=0, metadata={"help": "Examples per step for the Trainer baseline (0: --batch-size)"}
    )
    steps: int = field(default=20, metadata={"help": "Measured optimizer steps of our run"})
    warmup_steps: int = field(default=3, metadata={"help": "Unmeasured steps before each run's measurement"})
    dtype: str = field(default="auto", metadata={"help": "Precision", "choices": ("auto", "bf16", "fp32")})
    device: str = field(
        default="auto", metadata={"help": "auto: cuda when available", "choices": ("auto", "cuda", "cpu")}
    )
    attn_implementation: str = field(
        default="auto",
        metadata={"help": "As in training.train", "choices": ("auto", "sdpa", "flash_attention_2", "eager")},
    )
    gradient_checkpointing: bool = field(
        default=False, metadata={"help": "Recompute activations (both runs)"}
    )
    lora_r: int = field(default=16, metadata={"help": "LoRA rank"})
    peak_tflops: float = field(default=0.0, metadata={"help": "Peak TFLOPS for MFU (0: from the GPU name)"})
    seed: int = field(default=42, metadata={"help": "Seed for data, model init and order"})
    output: str = field(default="bench/results/train-throughput.json", metadata={"help": "JSON result file"})


def validate(a: BenchArguments) -> None:
    problems = []
    if bool(a.model_dir) == a.tiny:
        problems.append("give exactly one of --model-dir and --tiny")
    if bool(a.data) == (a.synthetic > 0):
        problems.append("give exactly one of --data and --synthetic N (N >= 1)")
    if a.tiny and a.seq_len > 512:
        problems.append(f"--tiny has 512 positions; --seq-len must be at most 512, got {a.seq_len}")
    for name in ("seq_len", "batch_size", "steps"):
        if getattr(a, name) < 1:
            problems.append(f"--{name.replace('_', '-')} must be at least 1, got {getattr(a, name)}")
    if a.warmup_steps < 0 or a.baseline_batch_size < 0 or a.peak_tflops < 0:
        problems.append("--warmup-steps, --baseline-batch-size and --peak-tflops must be 0 or more")
    if problems:
        raise SystemExit("invalid arguments:\n- " + "\n- ".join(problems))


def synthetic_records(n: int, tokenizer: Any, median_tokens: int, sigma: float, seed: int) -> list[dict]:
    """Chat records whose tokenized lengths are lognormal around ``median_tokens``, like real SFT data: most
    short, a long tail, so padding to the longest example of a batch wastes what it would in practice."""
    rng = random.Random(seed)
    words = SYNTHETIC_TEXT.split()
    sample = " ".join(rng.choice(words) for _ in range(400))
    tokens_per_word = len(tokenizer(sample, add_special_tokens=False)["input_ids"]) / 400
    records = []
    for _ in range(n):
        total = max(4, int(rng.lognormvariate(math.log(median_tokens), sigma) / tokens_per_word))
        prompt_words = max(1, int(total * rng.uniform(0.2, 0.6)))
        prompt = " ".join(rng.choice(words) for _ in range(prompt_words))
        answer = " ".join(rng.choice(words) for _ in range(max(1, total - prompt_words)))
        records.append(
            {"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]}
        )
    return records


def split_row(row: Any) -> list[tuple[list[int], list[int]]]:
    """The examples packed into a row, cut where ``position_ids`` restart at 0."""
    starts = [i for i, p in enumerate(row.position_ids) if p == 0] + [len(row.input_ids)]
    return [(row.input_ids[s:e], row.labels[s:e]) for s, e in itertools.pairwise(starts)]


def flops_parameters(model: Any) -> int:
    """N of FLOPs/token = 6N or 4N: base weights used in a matmul per token (see the module docstring)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    embedding = base.get_input_embeddings().weight
    n = sum(p.numel() for name, p in base.named_parameters() if "lora_" not in name and p is not embedding)
    head = base.get_output_embeddings()
    if head is not None and head.weight is embedding:  # tied: the head matmul still happens
        n += embedding.numel()
    return n


def peak_tflops(args: BenchArguments, gpu: str | None, precision: str) -> tuple[float | None, str]:
    if args.peak_tflops > 0:
        return args.peak_tflops, "--peak-tflops"
    if gpu is None:
        return None, "cpu: no peak, MFU is null"
    if precision != "bf16":
        return None, "fp32: the table holds bf16 peaks; pass --peak-tflops"
    for pattern, tflops in PEAK_BF16_TFLOPS:
        if re.search(pattern, gpu):
            return tflops, f"table: {pattern}"
    return None, f"unknown GPU {gpu!r}; pass --peak-tflops"


class StepClock:
    """Step-end timestamps (device synchronized) and the tokens each step's forward passes received."""

    def __init__(self, device: Any, warmup: int) -> None:
        self.device, self.warmup = device, warmup
        self.ends: list[float] = []
        self.forward: list[list[tuple[int, int | None]]] = [[]]  # per step: (tokens, mask sum or None)

    def _sync(self) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def start(self) -> None:
        self._sync()
        self.ends = [time.perf_counter()]
        if self.warmup == 0:
            self._reset_memory()

    def _reset_memory(self) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    def step_end(self) -> None:
        self._sync()
        self.ends.append(time.perf_counter())
        self.forward.append([])
        if len(self.ends) - 1 == self.warmup:
            self._reset_memory()

    def hook(self, module: Any, args: tuple, kwargs: dict) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        mask = kwargs.get("attention_mask")
        self.forward[-1].append((int(ids.numel()), int(mask.sum()) if mask is not None else None))

    def step_seconds(self) -> list[float]:
        return [b - a for a, b in zip(self.ends, self.ends[1:], strict=False)]


def summarize(
    clock: StepClock, real_per_step: list[int], batch_size: int, flops_per_token: float, peak: float | None
) -> dict[str, Any]:
    import torch

    w = clock.warmup
    seconds = clock.step_seconds()[w:]
    forward = [sum(t for t, _ in f) for f in clock.forward[: len(real_per_step)]][w:]
    real = real_per_step[w:]
    total_real, total_forward = sum(real), sum(forward)
    if total_forward < total_real:
        raise RuntimeError(f"forward passes saw {total_forward} tokens, fewer than the {total_real} planned")
    tokens_per_s = total_real / sum(seconds)
    return {
        "batch_size": batch_size,
        "warmup_steps": w,
        "measured_steps": len(seconds),
        "real_tokens": total_real,
        "forward_tokens": total_forward,
        "padding_tokens": total_forward - total_real,
        "padding_fraction": (total_forward - total_real) / total_forward,
        "tokens_per_s": tokens_per_s,
        "step_time_median_s": statistics.median(seconds),
        "step_time_s": [round(s, 6) for s in seconds],
        "peak_memory_bytes": torch.cuda.max_memory_allocated(clock.device)
        if clock.device.type == "cuda"
        else None,
        "mfu": tokens_per_s * flops_per_token / (peak * 1e12) if peak else None,
    }


def release_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_ours(ctx: dict[str, Any], rows: list[Any]) -> tuple[dict[str, Any], int]:
    """Our job's loop on packed rows; returns the run summary and the number of examples it measured."""
    import torch

    from training.train.args import TrainingArguments
    from training.train.loop import Distributed, lr_factor, rows_for_step, train_loop

    a: BenchArguments = ctx["args"]
    device, total = ctx["device"], a.warmup_steps + a.steps
    torch.manual_seed(a.seed)
    model = ctx["load_model"]()
    t = TrainingArguments(max_steps=total, per_device_train_batch_size=a.batch_size, seed=a.seed)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=t.learning_rate)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_factor(s, total, t.warmup_ratio, "cosine")
    )
    clock = StepClock(device, a.warmup_steps)

    class TimedScheduler:  # the loop calls step() right after optimizer.step(): the end of a step
        def step(self) -> None:
            scheduler.step()
            clock.step_end()

    handle = model.register_forward_pre_hook(clock.hook, with_kwargs=True)
    clock.start()
    train_loop(
        model, optimizer, TimedScheduler(), rows, None, t, Distributed(0, 1, device), ctx["collate_kwargs"],
        0, lambda step: None, 0, lambda line: None, ctx["autocast"],
    )  # fmt: skip
    handle.remove()
    step_rows = [[rows[i] for i in rows_for_step(len(rows), a.seed, s, a.batch_size)] for s in range(total)]
    real = [sum(len(r.input_ids) for r in batch) for batch in step_rows]
    ctx["measured_examples"] = [
        ex for batch in step_rows[a.warmup_steps :] for r in batch for ex in split_row(r)
    ]
    ctx["warmup_examples"] = [
        ex for batch in step_rows[: a.warmup_steps] for r in batch for ex in split_row(r)
    ]
    summary = summarize(clock, real, a.batch_size, ctx["flops_per_token"](model), ctx["peak"])
    return summary, len(ctx["measured_examples"])


def run_baseline(ctx: dict[str, Any]) -> dict[str, Any]:
    """Hugging Face Trainer, padding to the longest example of each batch, on the examples ours measured."""
    import torch
    from transformers import (
        DataCollatorForSeq2Seq,
        PrinterCallback,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    a: BenchArguments = ctx["args"]
    device, size = ctx["device"], a.baseline_batch_size or a.batch_size
    warm = ctx["warmup_examples"] or ctx["measured_examples"]
    warmup = [warm[i % len(warm)] for i in range(a.warmup_steps * size)]
    examples = warmup + ctx["measured_examples"]
    features = [{"input_ids": i, "attention_mask": [1] * len(i), "labels": lab} for i, lab in examples]
    steps = a.warmup_steps + math.ceil(len(ctx["measured_examples"]) / size)
    real = [sum(len(f["input_ids"]) for f in features[s * size : (s + 1) * size]) for s in range(steps)]

    torch.manual_seed(a.seed)
    model = ctx["load_model"]()
    clock = StepClock(device, a.warmup_steps)

    class Clock(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            clock.start()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            clock.step_end()

    with tempfile.TemporaryDirectory() as out:
        targs = TrainingArguments(
            output_dir=out,
            max_steps=steps,
            per_device_train_batch_size=size,
            learning_rate=2e-4,
            lr_scheduler_type="cosine",
            warmup_steps=math.ceil(steps * 0.03),
            max_grad_norm=1.0,
            optim="adamw_torch",  # the torch AdamW our job uses, so the comparison is data path + loop
            bf16=ctx["precision"] == "bf16",
            use_cpu=device.type == "cpu",
            train_sampling_strategy="sequential",
            remove_unused_columns=False,
            label_names=["labels"],
            logging_steps=max(10, steps),
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
            dataloader_num_workers=0,
            seed=a.seed,
        )
        collator = DataCollatorForSeq2Seq(ctx["tokenizer"], padding="longest", label_pad_token_id=-100)
        trainer = Trainer(
            model=model,
            args=targs,
            train_dataset=ListDataset(features),
            data_collator=collator,
            callbacks=[Clock()],
        )
        trainer.remove_callback(PrinterCallback)  # the table below says what matters
        handle = model.register_forward_pre_hook(clock.hook, with_kwargs=True)
        trainer.train()
        handle.remove()
    masks = [[m for _, m in f] for f in clock.forward[:steps]]
    if any(m is None for f in masks for m in f) or [sum(f) for f in masks] != real:
        raise RuntimeError("the baseline's attention masks do not match the examples planned for its steps")
    summary = summarize(clock, real, size, ctx["flops_per_token"](model), ctx["peak"])
    return summary


class ListDataset:
    def __init__(self, items: list[dict]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        return self.items[index]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    a = parse_into(BenchArguments, sys.argv[1:] if argv is None else argv, prog="bench/train_throughput.py")
    validate(a)
    import peft
    import torch
    import transformers

    from training.data.io import write_json_atomic
    from training.train.args import MethodArguments, ModelArguments
    from training.train.data import ensure_chat_template, load_examples, pack
    from training.train.model import load_model, load_tokenizer, resolve_attention, resolve_precision
    from training.train.tiny import build_tiny_model

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    use_cuda = a.device == "cuda" or (a.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if use_cuda else "cpu")
    precision = resolve_precision(a.dtype) if use_cuda or a.dtype != "auto" else "fp32"
    attention = resolve_attention(a.attn_implementation) if use_cuda else (
        "sdpa" if a.attn_implementation == "auto" else a.attn_implementation
    )  # fmt: skip
    gpu = torch.cuda.get_device_name(device) if use_cuda else None
    peak, peak_source = peak_tflops(a, gpu, precision)

    with tempfile.TemporaryDirectory() as work:
        model_dir = str(build_tiny_model(Path(work) / "tiny")) if a.tiny else a.model_dir
        tokenizer = load_tokenizer(model_dir, False)
        if a.text_format == "chat":
            ensure_chat_template(tokenizer)
        data_path = Path(a.data) if a.data else Path(work) / "synthetic.jsonl"
        if a.synthetic:
            median = a.synthetic_median_tokens or max(4, a.seq_len // 8)
            records = synthetic_records(a.synthetic, tokenizer, median, a.synthetic_sigma, a.seed)
            data_path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        examples, stats = load_examples(data_path, tokenizer, a.text_format, a.seq_len, True, "data")
        rows = pack(examples, a.seq_len, True, a.seed)
        method = MethodArguments(method=a.method, lora_r=a.lora_r, lora_alpha=2 * a.lora_r)
        model_args = ModelArguments(model_name_or_path=model_dir)

        def autocast() -> Any:
            if precision == "bf16":
                return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
            return contextlib.nullcontext()

        factor = 6 if a.method == "full" else 4
        ctx: dict[str, Any] = {
            "args": a,
            "device": device,
            "precision": precision,
            "tokenizer": tokenizer,
            "autocast": autocast,
            "peak": peak,
            "collate_kwargs": {
                "pad_token_id": tokenizer.pad_token_id,
                "packing": True,
                "flatten": attention == "flash_attention_2",
            },
            "load_model": lambda: load_model(
                model_dir, model_args, method, precision, attention, a.gradient_checkpointing, device
            ),
            "flops_per_token": lambda model: factor * flops_parameters(model),
        }
        probe = ctx["load_model"]()
        n_flops = flops_parameters(probe)
        n_total = sum(p.numel() for n, p in probe.named_parameters() if "lora_" not in n)
        n_embedding = probe.get_input_embeddings().weight.numel()
        n_trainable = sum(p.numel() for p in probe.parameters() if p.requires_grad)
        del probe
        release_memory()
        ours, measured_examples = run_ours(ctx, rows)
        release_memory()
        baseline = run_baseline(ctx)

    lengths = sorted(len(e.input_ids) for e in examples)
    result = {
        "settings": {
            **asdict(a),
            "precision": precision,
            "attn_implementation": attention,
            "device": str(device),
        },
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "peft": peft.__version__,
            "cuda": torch.version.cuda,
            "gpu": gpu,
        },
        "model": {
            "parameters": n_total,
            "trainable_parameters": n_trainable,
            "flops_parameters": n_flops,
            "flops_per_token": factor * n_flops,
            "input_embedding_parameters": n_embedding,
            "flops_rule": f"{factor}N, N = base parameters without the input embedding (LM head counted, "
            "LoRA and attention scores not)",
        },
        "peak_tflops": peak,
        "peak_tflops_source": peak_source,
        "data": {
            "source": a.data or f"synthetic:{a.synthetic}",
            "records": stats.records,
            "examples": len(examples),
            "truncated": stats.truncated,
            "example_tokens_median": statistics.median(lengths),
            "example_tokens_mean": sum(lengths) / len(lengths),
            "example_tokens_max": lengths[-1],
            "packed_rows": len(rows),
            "examples_in_measured_steps": measured_examples,
        },
        "runs": {"ours": ours, "baseline": baseline},
        "speedup_tokens_per_s": ours["tokens_per_s"] / baseline["tokens_per_s"],
        "baseline_padding_fraction": baseline["padding_fraction"],
    }
    output = Path(a.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(output, result)
    print_table(result, output)
    return result


def print_table(result: dict[str, Any], output: Path) -> None:
    def fmt(value: Any, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    print(f"{'run':<10}{'tokens/s':>12}{'step s (med)':>14}{'padding':>9}{'peak GiB':>10}{'MFU':>8}")
    for name, run in result["runs"].items():
        memory = run["peak_memory_bytes"] / 2**30 if run["peak_memory_bytes"] is not None else None
        print(
            f"{name:<10}{run['tokens_per_s']:>12.1f}{run['step_time_median_s']:>14.4f}"
            f"{run['padding_fraction']:>9.1%}{fmt(memory, '.2f'):>10}{fmt(run['mfu'], '.1%'):>8}"
        )
    print(f"speedup (ours / baseline tokens/s): {result['speedup_tokens_per_s']:.2f}x -> {output}")


if __name__ == "__main__":
    main()
