"""The monitor's outputs: result.json, report.html and metrics.json, written together or not at all.

- ``result.json``: endpoint, variant, window, capture counts (malformed lines by reason with examples),
  baseline present/missing/invalid, the window's profile, every drift and health statistic, the alarm
  thresholds, the metrics that exceed them, and the metric values.
- ``report.html``: the same for people; self-contained (inline CSS and SVG, no scripts, nothing fetched),
  every text HTML-escaped.
- ``metrics.json``: ``{"MetricData": [{"MetricName", "Dimensions": [{"Name": "EndpointName", "Value"},
  {"Name": "VariantName", "Value"}], "Value", "Unit"}]}`` for PutMetricData, no Timestamp (the forwarder's
  time is used). Only metrics that have a finite value: no drift metric without a baseline, UnseenLabelRate
  only with baseline labels, InvalidJsonRate only with ``--expect-json``, the Canary metrics only with
  ``--canary`` (CanaryRecords 0 when the canary left no answers), the GroundTruth metrics only with
  ``--ground-truth`` (GroundTruthRecords and GroundTruthUnmatched 0 when none was uploaded, GroundTruthScore
  only when something matched); MonitorRun, CapturedRecords, MalformedRecords and BaselineMissing always.

Metric names, units and alarm keys come from ``training/contracts/monitoring-metrics.json``; ``SOURCES``
says where in the result each one's value is, and must name exactly the contract's metrics.
"""

from __future__ import annotations

import html
import itertools
import json
import math
from pathlib import Path
from typing import Any

from training.data.io import AtomicOutputs
from training.evaluate.report import bar_chart

CONTRACT = Path(__file__).resolve().parents[1] / "contracts" / "monitoring-metrics.json"
_CONTRACT = json.loads(CONTRACT.read_text(encoding="utf-8"))
DIMENSIONS: list[str] = _CONTRACT["dimensions"]
CONTRACT_METRICS: dict[str, dict[str, Any]] = {m["name"]: m for m in _CONTRACT["metrics"]}

# Where each contract metric's value is in result.json (keys into nested dicts).
SOURCES: dict[str, tuple[str, ...]] = {
    "MonitorRun": ("monitorRun",),
    "CapturedRecords": ("capture", "records"),
    "MalformedRecords": ("capture", "malformed", "total"),
    "BaselineMissing": ("baseline", "missing"),
    "PromptTokensPsi": ("drift", "promptTokens", "psi"),
    "PromptTokensKs": ("drift", "promptTokens", "ks"),
    "PromptTokensWasserstein": ("drift", "promptTokens", "wasserstein"),
    "PromptCharsPsi": ("drift", "promptChars", "psi"),
    "ScriptShift": ("drift", "scriptShift"),
    "OutOfVocabularyRate": ("drift", "outOfVocabularyRate"),
    "UnseenLabelRate": ("drift", "unseenLabelRate"),
    "CompletionTokensPsi": ("health", "completionTokensPsi"),
    "EmptyAnswerRate": ("health", "emptyAnswerRate"),
    "TruncatedAnswerRate": ("health", "truncatedAnswerRate"),
    "RefusalRate": ("health", "refusalRate"),
    "InvalidJsonRate": ("health", "invalidJsonRate"),
    "CanaryScore": ("canary", "score"),
    "CanaryErrorRate": ("canary", "errorRate"),
    "CanaryLatencyP95": ("canary", "latencyMs", "p95"),
    "CanaryRecords": ("canary", "records"),
    "GroundTruthScore": ("groundTruth", "score"),
    "GroundTruthRecords": ("groundTruth", "matched"),
    "GroundTruthUnmatched": ("groundTruth", "unmatched"),
}
_UNKNOWN = sorted(set(SOURCES) - set(CONTRACT_METRICS))
if _UNKNOWN:
    raise RuntimeError(f"{CONTRACT}: the monitor emits metrics the contract lacks: {_UNKNOWN}")

# Alarm thresholds by config key (the contract's "config"), as the CDK app defaults them; the state machine
# passes the environment's own with --thresholds. An alarm fires when the value exceeds its threshold, or,
# for a metric with "alarmBelow" (a score), when the value is under it.
DEFAULT_THRESHOLDS: dict[str, float] = {
    m["config"]: float(m["default"]) for m in CONTRACT_METRICS.values() if "config" in m
}
RESULT_FILE, REPORT_FILE, METRICS_FILE = "result.json", "report.html", "metrics.json"


def _lookup(result: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = result
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def metric_values(result: dict[str, Any]) -> dict[str, float]:
    """Contract metric name -> finite float, for every metric the result has a value for."""
    values = {}
    for name, path in SOURCES.items():
        value = _lookup(result, path)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            values[name] = float(value)
    return values


def alarm_below(name: str) -> bool:
    """The metric's alarm fires below its threshold (the contract's ``alarmBelow``), not above it."""
    return bool(CONTRACT_METRICS[name].get("alarmBelow", False))


def alarms(values: dict[str, float], thresholds: dict[str, float]) -> list[str]:
    """The metrics whose value is beyond their configured threshold: above it, or below for alarmBelow."""
    out = []
    for name, value in values.items():
        key = CONTRACT_METRICS[name].get("config")
        if key not in thresholds:
            continue
        if value < thresholds[key] if alarm_below(name) else value > thresholds[key]:
            out.append(name)
    return out


def metric_data(values: dict[str, float], endpoint: str, variant: str) -> dict[str, Any]:
    dimensions = [{"Name": n, "Value": v} for n, v in zip(DIMENSIONS, (endpoint, variant), strict=True)]
    return {
        "MetricData": [
            {
                "MetricName": name,
                "Dimensions": dimensions,
                "Value": value,
                "Unit": CONTRACT_METRICS[name]["unit"],
            }
            for name, value in values.items()
        ]
    }


def finish(result: dict[str, Any], thresholds: dict[str, float] | None = None) -> dict[str, Any]:
    """Add the metric values, thresholds and alarms to ``result`` (in place) and return it."""
    thresholds = DEFAULT_THRESHOLDS if thresholds is None else thresholds
    values = metric_values(result)
    result["thresholds"] = thresholds
    result["alarms"] = alarms(values, thresholds)
    result["metrics"] = values
    return result


def write_outputs(result: dict[str, Any], output_dir: Path) -> None:
    """result.json, report.html and metrics.json, all or none."""
    data = metric_data(result["metrics"], result["endpointName"], result["variantName"])
    with AtomicOutputs() as out:
        out.open(output_dir / RESULT_FILE).write(_json(result))
        out.open(output_dir / REPORT_FILE).write(render_html(result))
        out.open(output_dir / METRICS_FILE).write(_json(data))


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


# ---------------------------------------------------------------------------------------------------------
# HTML

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}"
    "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;"
    "text-align:left}th{background:#f3f3f3}.alarm{background:#fdd;font-weight:bold}.muted{color:#777}"
    "code{background:#f6f6f6;padding:0 3px}"
)


def _e(value: Any) -> str:
    return html.escape(str(value))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() else f"{value:.4f}"
    return _e("-" if value is None else value)


def _table(rows: list[tuple[Any, ...]], head: tuple[str, ...]) -> str:
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{header}</tr>{body}</table>"


def _bin_labels(edges: list[float]) -> list[str]:
    if not edges:
        return ["all"]
    labels = [f"< {edges[0]:g}"]
    labels += [f"{a:g} to {b:g}" for a, b in itertools.pairwise(edges)]
    return [*labels, f"≥ {edges[-1]:g}"]


def _shares(counts: list[int]) -> list[float]:
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


def _histograms(result: dict[str, Any]) -> str:
    out = []
    for name, hist in result.get("histograms", {}).items():
        out.append(f"<h3>{_e(name)}: share of records per bin</h3>")
        series = {"baseline": _shares(hist["baseline"]), "window": _shares(hist["window"])}
        out.append(bar_chart(_bin_labels(hist["edges"]), series, max_value=1.0))
    return "".join(out)


def _canary_html(canary: dict[str, Any]) -> str:
    latency = canary.get("latencyMs") or {}
    rows = [
        ("status", canary["status"]),
        ("task", canary["task"]),
        ("answers file", canary["path"]),
        ("records asked", canary["records"]),
        ("answered / errors", f"{canary.get('answered', 0)} / {canary.get('errors', 0)}"),
        ("error rate", canary.get("errorRate")),
        ("latency p50 / p95 / max (ms)", " / ".join(_fmt(latency.get(k)) for k in ("p50", "p95", "max"))),
        (f"score ({canary.get('scoreMetric') or '-'})", canary.get("score")),
    ]
    rows += [(f"{canary.get('section', 'metrics')}.{k}", v) for k, v in canary.get("metrics", {}).items()]
    out = ["<h2>Quality canary</h2>", _table(rows, ("", ""))]
    if canary.get("problem"):
        out.append(f"<p class='alarm'>{_e(canary['problem'])}</p>")
    items = [*canary.get("errorExamples", []), *canary.get("problems", [])]
    if items:
        out.append("<ul>" + "".join(f"<li><code>{_e(x)}</code></li>" for x in items) + "</ul>")
    return "".join(out)


def _ground_truth_html(truth: dict[str, Any]) -> str:
    capture = truth.get("capture") or {}
    rows = [
        ("status", truth["status"]),
        ("task", truth["task"]),
        ("ground truth / capture", f"{truth['path']} / {truth['capturePath']}"),
        ("files / lines", f"{truth.get('files', 0)} / {truth.get('lines', 0)}"),
        ("records (distinct inference ids)", truth["records"]),
        ("duplicate ids (last line kept)", truth.get("duplicates", 0)),
        ("malformed lines", (truth.get("malformed") or {}).get("total", 0)),
        ("captured records read / files", f"{capture.get('records', 0)} / {capture.get('files', 0)}"),
        ("matched and scored", truth["matched"]),
        ("captured without an answer", truth.get("unanswered", 0)),
        ("unmatched", truth["unmatched"]),
        (f"score ({truth.get('scoreMetric') or '-'})", truth.get("score")),
    ]
    rows += [(f"{truth.get('section', 'metrics')}.{k}", v) for k, v in truth.get("metrics", {}).items()]
    out = ["<h2>Ground truth</h2>", _table(rows, ("", ""))]
    if truth.get("problem"):
        out.append(f"<p class='alarm'>{_e(truth['problem'])}</p>")
    items = [f"{reason}: {x}" for reason, xs in (truth.get("examples") or {}).items() for x in xs]
    items += [f"unmatched inferenceId {x}" for x in truth.get("unmatchedExamples", [])]
    items += truth.get("problems", [])
    if items:
        out.append("<ul>" + "".join(f"<li><code>{_e(x)}</code></li>" for x in items) + "</ul>")
    return "".join(out)


def render_html(result: dict[str, Any]) -> str:
    capture, baseline, window = result["capture"], result["baseline"], result["window"]
    title = f"Capture monitor: {result['endpointName']} / {result['variantName']}"
    out = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body><h1>{_e(title)}</h1>",
        _table(
            [
                ("window", f"{window.get('start') or '-'} to {window.get('end') or '-'}"),
                (
                    "records' times",
                    f"{window.get('firstRecord') or '-'} to {window.get('lastRecord') or '-'}",
                ),
                ("capture files / lines", f"{capture['files']} / {capture['lines']}"),
                ("records read", capture["records"]),
                ("malformed lines", capture["malformed"]["total"]),
                ("records outside the window", capture["outsideWindow"]),
                ("baseline", f"{baseline['status']} ({baseline.get('path') or 'no path'})"),
            ],
            ("", ""),
        ),
    ]
    if baseline.get("problem"):
        out.append(f"<p class='alarm'>{_e(baseline['problem'])}</p>")
    out.append("<h2>Metrics</h2>")
    thresholds, alarmed = result["thresholds"], set(result["alarms"])
    rows = []
    for name, value in result["metrics"].items():
        key = CONTRACT_METRICS[name].get("config")
        cls = " class='alarm'" if name in alarmed else ""
        side = "below" if alarm_below(name) else "above"
        threshold = f"{side} {_fmt(thresholds.get(key))}" if key in thresholds else ""
        description = _e(CONTRACT_METRICS[name]["description"])
        rows.append(
            f"<tr{cls}><td>{_e(name)}</td><td>{_fmt(value)}</td><td>{threshold}</td><td>{description}</td></tr>"
        )
    out.append("<table><tr><th>metric</th><th>value</th><th>alarm</th><th>meaning</th></tr>")
    out.append("".join(rows) + "</table>")
    if result.get("canary"):
        out.append(_canary_html(result["canary"]))
    if result.get("groundTruth"):
        out.append(_ground_truth_html(result["groundTruth"]))
    for section in ("drift", "health"):
        skipped = (result.get(section) or {}).get("skipped")
        if skipped:
            out.append(f"<p class='muted'>{_e(section)} statistics not computed: {_e(skipped)}</p>")
    out.append("<h2>Distributions</h2>" + _histograms(result))
    profile = result["profile"]
    out.append("<h3>Lengths in the window (approximate tokens, characters)</h3>")
    lengths = [
        (n, *(d.get(k) for k in ("count", "mean", "p50", "p90", "p99", "max")))
        for n, d in profile["lengths"].items()
    ]
    out.append(_table(lengths, ("length", "count", "mean", "p50", "p90", "p99", "max")))
    scripts = profile["scripts"]
    if scripts:
        names = sorted(set(scripts) | set(profile.get("baselineScripts") or {}))
        series = {"window": _shares([scripts.get(n, 0) for n in names])}
        if profile.get("baselineScripts"):
            series = {"baseline": _shares([profile["baselineScripts"].get(n, 0) for n in names]), **series}
        out.append("<h3>Writing systems (share of prompts)</h3>" + bar_chart(names, series, max_value=1.0))
    if profile.get("outOfVocabularyWords"):
        words = list(profile["outOfVocabularyWords"].items())
        out.append(
            "<h3>Most common words outside the baseline vocabulary</h3>" + _table(words, ("word", "count"))
        )
    out.append("<h2>Unreadable capture</h2>")
    problems = [("line", r, n) for r, n in capture["malformed"]["byReason"].items()]
    problems += [("response", r, n) for r, n in capture["responseProblems"].items()]
    out.append(_table(problems, ("what", "reason", "count")) if problems else "<p>none</p>")
    for reason, examples in capture["examples"].items():
        items = "".join(f"<li><code>{_e(x)}</code></li>" for x in examples)
        out.append(f"<p>{_e(reason)}:</p><ul>{items}</ul>")
    out.append("</body></html>")
    return "".join(out)
