"""Metric log lines, formatted from ``training/contracts/training-metrics.json``.

The same file gives the CDK app its SageMaker metric definitions (name + regex), so the names printed here
and the regexes CloudWatch applies cannot drift apart.
"""

from __future__ import annotations

import json
import math
import re
from functools import cache
from pathlib import Path
from typing import Any

CONTRACT = Path(__file__).resolve().parents[1] / "contracts" / "training-metrics.json"


@cache
def contract() -> dict[str, Any]:
    return json.loads(CONTRACT.read_text(encoding="utf-8"))


def metric_names() -> list[str]:
    return [m["name"] for m in contract()["metrics"]]


def format_line(step: int, values: dict[str, float]) -> str:
    """``metrics: step=N name=value ...`` in contract order; metrics without a value are left out."""
    known = {m["name"]: m for m in contract()["metrics"]}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise KeyError(f"metrics {unknown} are not in {CONTRACT.name}")
    parts = [contract()["linePrefix"], f"step={step}"]
    for name, spec in known.items():
        value = values.get(name)
        if value is not None and math.isfinite(value):
            parts.append(f"{name}={format(value, spec['format'])}")
    return " ".join(parts)


def parse_line(line: str) -> dict[str, float]:
    """What SageMaker extracts from ``line`` with the contract's regexes."""
    out = {}
    for spec in contract()["metrics"]:
        match = re.search(spec["regex"], line)
        if match:
            out[spec["name"]] = float(match.group(1))
    return out
