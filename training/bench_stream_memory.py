"""Measure peak memory of the data CLI on a generated file, to show it does not grow with the file size.

    python -m training.bench_stream_memory --size-mb 1024 --record-chars 1000 --commands validate stats split
    python -m training.bench_stream_memory --size-mb 1024 --file-format json --commands validate

Each command runs in a fresh Python process that reports its own peak RSS (``ru_maxrss``); a 1 MB run of the
same shape is measured first as the baseline, so the difference is what the data itself costs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from training.common.args import parse_into

_CHILD = """
import resource, sys
from training.data.__main__ import main
code = main(sys.argv[1:])
print(f"PEAK_RSS_KB={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")
sys.exit(code)
"""


@dataclass
class BenchArgs:
    """Peak RSS of validate/stats/split on a generated JSONL file."""

    size_mb: float = field(default=1024, metadata={"help": "Size of the generated file in MiB"})
    record_chars: int = field(default=1000, metadata={"help": "Characters of text per record"})
    commands: list[str] = field(
        default_factory=lambda: ["validate"], metadata={"help": "validate, stats, split"}
    )
    workdir: str | None = field(
        default=None, metadata={"help": "Where to write the file (default: a temp dir)"}
    )
    file_format: str = field(
        default="jsonl",
        metadata={"help": "jsonl, or json for one big JSON array", "choices": ["jsonl", "json"]},
    )


def generate(path: Path, size_bytes: int, record_chars: int, as_array: bool = False) -> int:
    """Write distinct prompt/completion records until the file reaches ``size_bytes``; returns the count.
    ``as_array`` writes one JSON array (one element per line) instead of JSON lines."""
    filler = ("lorem ipsum dolor sit amet " * (record_chars // 27 + 1))[:record_chars]
    written = records = 0
    with open(path, "w", encoding="utf-8") as handle:
        if as_array:
            handle.write("[\n")
        while written < size_bytes:
            line = json.dumps({"prompt": f"{records} {filler}", "completion": f"answer {records}"})
            line = ("," if as_array and records else "") + line + "\n"
            handle.write(line)
            written += len(line)
            records += 1
        if as_array:
            handle.write("]\n")
    return records


def command_argv(command: str, data: Path, out_dir: Path) -> list[str]:
    if command == "validate":
        return ["validate", "--input", str(data), "--target", "prompt-completion", "--max-errors", "5"]
    if command == "stats":
        return ["stats", "--input", str(data), "--output", str(out_dir / "stats.json")]
    if command == "split":
        return ["split", "--input", str(data), "--output-dir", str(out_dir / "splits")]
    raise ValueError(f"unknown command {command}")


def peak_rss_kb(argv: list[str]) -> tuple[int, float]:
    """Run the data CLI in a fresh interpreter; return its peak RSS in KiB and its wall time."""
    root = Path(__file__).resolve().parent.parent
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, *argv], capture_output=True, text=True, cwd=root, check=False
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({result.returncode}): {result.stderr[-2000:]}")
    line = next(x for x in result.stdout.splitlines() if x.startswith("PEAK_RSS_KB="))
    return int(line.split("=")[1]), elapsed


def measure(
    size_mb: float, record_chars: int, commands: list[str], workdir: Path, file_format: str = "jsonl"
) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for label, size in (("baseline", 1.0), ("large", size_mb)):
        data = workdir / f"{label}.{file_format}"
        records = generate(data, int(size * 2**20), record_chars, as_array=file_format == "json")
        for command in commands:
            rss, seconds = peak_rss_kb(command_argv(command, data, workdir / f"{label}-{command}"))
            results.setdefault(command, {})[f"{label}_peak_rss_mb"] = round(rss / 1024, 1)
            results[command][f"{label}_records"] = records
            results[command][f"{label}_seconds"] = round(seconds, 2)
        data.unlink()
    for values in results.values():
        values["growth_mb"] = round(values["large_peak_rss_mb"] - values["baseline_peak_rss_mb"], 1)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_into(BenchArgs, sys.argv[1:] if argv is None else argv, prog="bench_stream_memory")
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        results = measure(args.size_mb, args.record_chars, args.commands, Path(tmp), args.file_format)
    summary = {"size_mb": args.size_mb, "record_chars": args.record_chars, "file_format": args.file_format}
    print(json.dumps({**summary, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
