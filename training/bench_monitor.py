"""Throughput and peak memory of the capture monitor on generated data capture.

    python -m training.bench_monitor --sizes-mb 100 1000

For each size it writes that many MiB of SageMaker data capture (8 MiB ``.jsonl`` files in hour folders;
chat, TGI and completion requests and responses, JSON and BASE64 encodings alternating) and a baseline
from the same generator into a temporary directory, then runs ``python -m training.monitor run`` on it in
a subprocess and reports MB/s (MiB of capture per second of the run) and the subprocess's peak RSS
(``ru_maxrss`` from ``os.wait4``: the rusage of that one child).
"""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.common.args import parse_into
from training.data.io import write_json_atomic
from training.monitor.profile import Profile

_FILE_BYTES = 8 << 20
_VOCABULARY = (
    "the a model answer question customer order invoice account payment delivery refund product service "
    "please summarise explain translate classify review contract clause policy number date address email "
    "support ticket issue error update status report meeting schedule price discount shipping return "
    "warranty battery screen laptop phone software license subscription cancel renew upgrade"
)
_WORDS = _VOCABULARY.split()


@dataclass
class BenchArgs:
    """MB/s and peak RSS of python -m training.monitor run on generated data capture."""

    sizes_mb: list[float] = field(default_factory=lambda: [100.0], metadata={"help": "Capture sizes in MiB"})
    workdir: str | None = field(default=None, metadata={"help": "Where to write (default: a temp dir)"})
    seed: int = field(default=0, metadata={"help": "Seed of the generated traffic"})


def _text(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choices(_WORDS, k=rng.randint(low, high))).capitalize() + "."


def exchange(rng: random.Random, index: int) -> tuple[dict[str, Any], Any]:
    """One request and response payload, in one of three API shapes."""
    prompt, answer = _text(rng, 20, 300), _text(rng, 10, 150)
    finish = "length" if rng.random() < 0.05 else "stop"
    shape = index % 3
    if shape == 0:
        request = {
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": prompt}]
        }
        response: Any = {
            "choices": [{"message": {"role": "assistant", "content": answer}, "finish_reason": finish}]
        }
    elif shape == 1:
        request = {
            "inputs": f"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n",
            "parameters": {},
        }
        response = [{"generated_text": answer, "details": {"finish_reason": finish}}]
    else:
        request = {"prompt": prompt, "max_gen_len": 512}
        response = {"generation": answer, "stop_reason": finish}
    return request, response


def _block(payload: Any, mode: str, base64_encoded: bool) -> dict[str, Any]:
    text = json.dumps(payload)
    data = base64.b64encode(text.encode()).decode() if base64_encoded else text
    encoding = "BASE64" if base64_encoded else "JSON"
    return {"observedContentType": "application/json", "mode": mode, "data": data, "encoding": encoding}


def generate_capture(directory: Path, size_bytes: int, seed: int = 0) -> int:
    """Write data capture lines until ``size_bytes``; returns the number of records."""
    rng = random.Random(seed)
    written = records = 0
    handle = None
    try:
        while written < size_bytes:
            if handle is None or handle.tell() >= _FILE_BYTES:
                if handle:
                    handle.close()
                hour = directory / f"2026/11/29/{10 + records % 2:02d}"
                hour.mkdir(parents=True, exist_ok=True)
                handle = open(hour / f"capture-{records:09d}.jsonl", "w", encoding="utf-8")  # noqa: SIM115
            request, response = exchange(rng, records)
            encoded = records % 2 == 1
            line = json.dumps(
                {
                    "captureData": {
                        "endpointInput": _block(request, "INPUT", encoded),
                        "endpointOutput": _block(response, "OUTPUT", encoded),
                    },
                    "eventMetadata": {"eventId": f"e-{records}", "inferenceTime": "2026-11-29T10:30:00Z"},
                    "eventVersion": "0",
                }
            )
            handle.write(line + "\n")
            written += len(line) + 1
            records += 1
    finally:
        if handle:
            handle.close()
    return records


def write_baseline(path: Path, records: int = 2000, seed: int = 1) -> None:
    rng = random.Random(seed)
    profile = Profile()
    for _ in range(records):
        profile.add(_text(rng, 20, 300), _text(rng, 10, 150))
    write_json_atomic(path, profile.baseline_document())


def run_monitor(capture: Path, baseline: Path, output: Path) -> tuple[float, int, str]:
    """Run the monitor CLI in a subprocess: (seconds, peak RSS in KiB, its stdout)."""
    argv = [sys.executable, "-m", "training.monitor", "run", "--capture", str(capture)]
    argv += ["--baseline", str(baseline), "--output-dir", str(output)]
    argv += ["--endpoint-name", "bench", "--variant-name", "AllTraffic"]
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen(argv, cwd=root, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage, unlike RUSAGE_CHILDREN's maximum
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise RuntimeError(f"monitor failed ({child.returncode}): {err.read()[-2000:]}")
        return seconds, usage.ru_maxrss, out.read()


def measure(size_mb: float, workdir: Path, seed: int = 0) -> dict[str, float]:
    capture = workdir / f"capture-{size_mb:g}"
    records = generate_capture(capture, int(size_mb * 2**20), seed)
    write_baseline(workdir / "baseline.json")
    seconds, rss_kb, _ = run_monitor(capture, workdir / "baseline.json", workdir / f"out-{size_mb:g}")
    for file in sorted(capture.rglob("*.jsonl")):
        file.unlink()
    return {
        "size_mb": size_mb,
        "records": records,
        "seconds": round(seconds, 2),
        "mb_per_s": round(size_mb / seconds, 1),
        "peak_rss_mib": round(rss_kb / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_into(BenchArgs, sys.argv[1:] if argv is None else argv, prog="bench_monitor")
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for size in args.sizes_mb:
            print(json.dumps(measure(size, Path(tmp), args.seed)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
