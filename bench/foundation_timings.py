"""Times the two commands a user waits for: synth of the whole app, and the whole test suite.

    python3 bench/foundation_timings.py --synth-runs 5 --test-runs 3

Runs each command several times on this machine in one session and prints the median and spread as JSON
(results also go to bench/results/foundation-timings.json). Machines here are shared 2-core boxes, so
compare medians from the same run, not numbers from different days.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def time_command(cmd: list[str], runs: int) -> dict[str, float | int | list[float]]:
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds.append(round(time.perf_counter() - start, 2))
    return {
        "runs": runs,
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "max_s": max(seconds),
        "all_s": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synth-runs", type=int, default=5, help="how often to synthesize the dev app")
    parser.add_argument("--test-runs", type=int, default=3, help="how often to run scripts/test.sh")
    args = parser.parse_args()
    if args.synth_runs < 1 or args.test_runs < 0:
        parser.error(
            f"--synth-runs must be >= 1 and --test-runs >= 0, got {args.synth_runs} and {args.test_runs}"
        )

    subprocess.run(["bash", "scripts/bootstrap.sh"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as out:
        results = {
            "machine": {"cpus": os.cpu_count()},
            "synth_dev": time_command(["npx", "cdk", "synth", "--quiet", "-o", out], args.synth_runs),
        }
    if args.test_runs:
        results["test_suite"] = time_command(["bash", "scripts/test.sh"], args.test_runs)
    target = ROOT / "bench" / "results" / "foundation-timings.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
