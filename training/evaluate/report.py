"""Evaluation reports: evaluation.json (SageMaker model-quality layout), evaluation.csv, evaluation.html, and
side-by-side comparison of several reports.

The HTML is self-contained: inline CSS and SVG bar charts, no scripts, nothing fetched.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from training.data.io import AtomicOutputs
from training.evaluate import metric_names as names

CSV_COLUMNS = ("section", "metric", "group", "value", "standard_deviation")
_SKIP = {names.METADATA, names.PER_GROUP}


def entry(value: float, std: float | str = names.NOT_ESTIMATED) -> dict[str, Any]:
    return {"value": _finite(value), "standard_deviation": std if isinstance(std, str) else _finite(std)}


def _finite(value: float) -> float | str:
    value = float(value)
    return value if math.isfinite(value) else names.NOT_ESTIMATED


def metric_items(section: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The ``{"value": ...}`` entries of a section, in order (confusion matrices and details left out)."""
    return [(k, v) for k, v in section.items() if isinstance(v, dict) and "value" in v]


def metric_sections(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The sections that hold headline metrics: not metadata, not per-group metrics, and not a fairness
    section that measured nothing (its max_disparity 0.0 is only there for the pipeline's gate to read)."""
    return [
        (section, content)
        for section, content in report.items()
        if section not in _SKIP
        and isinstance(content, dict)
        and not (section == names.FAIRNESS and content.get(names.MEASURED) is False)
    ]


def report_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per metric, one per fairness metric and protected attribute (the attribute in the group
    column), and one per metric and group."""
    rows = []
    for section, content in metric_sections(report):
        for metric, value in metric_items(content):
            rows.append({"section": section, "metric": metric, "group": "", **_row_values(value)})
        if section == names.FAIRNESS:
            for attribute, values in (content.get(names.ATTRIBUTES) or {}).items():
                for metric, value in metric_items(values):
                    row = {"section": section, "metric": metric, "group": attribute}
                    rows.append({**row, **_row_values(value)})
    for group, metrics in report.get(names.PER_GROUP, {}).items():
        for metric, value in metric_items(metrics):
            rows.append({"section": names.PER_GROUP, "metric": metric, "group": group, **_row_values(value)})
    return rows


def _row_values(value: dict[str, Any]) -> dict[str, Any]:
    return {
        "value": value["value"],
        "standard_deviation": value.get("standard_deviation", names.NOT_ESTIMATED),
    }


def to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------------
# HTML

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:70rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.better{color:#067d17}.worse{color:#b00020}.meta td{text-align:left}
"""
_COLORS = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return html.escape(str(value))


def bar_chart(
    labels: Sequence[str], series: dict[str, Sequence[float]], max_value: float | None = None
) -> str:
    """Horizontal grouped bars as inline SVG: one row per label, one bar per series."""
    values = [v for vs in series.values() for v in vs if isinstance(v, int | float)]
    top = max_value or max([*values, 1e-12])
    bar_h, gap, label_w, width = 14, 8, 190, 360
    rows = len(labels)
    height = rows * (bar_h * len(series) + gap) + 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + width + 80}" height="{height}" '
        'role="img">'
    ]
    y = 4
    for i, label in enumerate(labels):
        parts.append(f'<text x="0" y="{y + bar_h}" font-size="12">{html.escape(label)}</text>')
        for s, (name, vs) in enumerate(series.items()):
            v = vs[i]
            if not isinstance(v, int | float):
                y += bar_h
                continue
            w = max(0.0, min(1.0, v / top)) * width
            color = _COLORS[s % len(_COLORS)]
            parts.append(
                f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" fill="{color}">'
                f"<title>{html.escape(name)}: {v:.4f}</title></rect>"
                f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 3}" font-size="11">{v:.3f}</text>'
            )
            y += bar_h
        y += gap
    if len(series) > 1:
        x = label_w
        for s, name in enumerate(series):
            parts.append(f'<rect x="{x}" y="{y}" width="10" height="10" fill="{_COLORS[s % len(_COLORS)]}"/>')
            parts.append(f'<text x="{x + 14}" y="{y + 10}" font-size="11">{html.escape(name)}</text>')
            x += 20 + 8 * len(name)
    parts.append("</svg>")
    return "".join(parts)


def _metrics_table(items: list[tuple[str, dict[str, Any]]]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{_fmt(v['value'])}</td>"
        f"<td>{_fmt(v.get('standard_deviation', ''))}</td></tr>"
        for k, v in items
    )
    return f"<table><tr><th>metric</th><th>value</th><th>std. dev.</th></tr>{rows}</table>"


def _confusion_table(matrix: dict[str, dict[str, int]]) -> str:
    columns = sorted({c for row in matrix.values() for c in row})
    peak = max([n for row in matrix.values() for n in row.values()] + [1])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for true_label, row in matrix.items():
        cells = []
        for c in columns:
            n = row.get(c, 0)
            alpha = 0.85 * n / peak
            cells.append(f'<td style="background:rgba(76,120,168,{alpha:.2f})">{n}</td>')
        body.append(f"<tr><th>{html.escape(true_label)}</th>{''.join(cells)}</tr>")
    return f"<table><tr><th>true \\ predicted</th>{head}</tr>{''.join(body)}</table>"


def _attributes_table(attributes: dict[str, dict[str, Any]]) -> str:
    metrics = list(dict.fromkeys(k for values in attributes.values() for k, _ in metric_items(values)))
    head = "".join(f"<th>{html.escape(m)}</th>" for m in metrics)
    rows = "".join(
        f"<tr><td>{html.escape(a)}</td>"
        + "".join(f"<td>{_fmt(values[m]['value']) if m in values else ''}</td>" for m in metrics)
        + f"<td>{html.escape(', '.join(map(str, values.get('groups', []))))}</td></tr>"
        for a, values in attributes.items()
    )
    return f"<table><tr><th>attribute</th>{head}<th>groups</th></tr>{rows}</table>"


def render_html(report: dict[str, Any]) -> str:
    meta = report.get(names.METADATA, {})
    out = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>Evaluation: {html.escape(str(meta.get('task', '')))}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Evaluation report: {html.escape(str(meta.get('task', '')))}</h1>",
        '<table class="meta">'
        + "".join(
            f"<tr><td>{html.escape(k)}</td><td>{_fmt(v)}</td></tr>"
            for k, v in meta.items()
            if not isinstance(v, dict | list)
        )
        + "</table>",
    ]
    for section, content in metric_sections(report):
        items = metric_items(content)
        out.append(f"<h2>{html.escape(section)}</h2>")
        if items:
            out.append(_metrics_table(items))
            bounded = [
                (k, v["value"]) for k, v in items if isinstance(v["value"], float) and 0 <= v["value"] <= 1
            ]
            if bounded:
                out.append(
                    bar_chart([k for k, _ in bounded], {"value": [v for _, v in bounded]}, max_value=1.0)
                )
        attributes = content.get(names.ATTRIBUTES) if section == names.FAIRNESS else None
        if attributes:
            out.append("<h3>Per protected attribute</h3>")
            out.append(_attributes_table(attributes))
        matrix = content.get(names.CONFUSION_MATRIX)
        if matrix:
            out.append("<h3>Confusion matrix</h3>")
            if all(set(row) == {"tp", "fp", "fn", "tn"} for row in matrix.values()):
                out.append(
                    _confusion_table(
                        {k: {c: v[c] for c in ("tp", "fp", "fn", "tn")} for k, v in matrix.items()}
                    )
                )
            else:
                out.append(_confusion_table(matrix))
    groups = report.get(names.PER_GROUP, {})
    if groups:
        out.append(f"<h2>{names.PER_GROUP}</h2>")
        # A group may lack a metric (perplexity of a group whose texts are all too short to score).
        metrics = list(dict.fromkeys(k for values in groups.values() for k, _ in metric_items(values)))

        def cell(values: dict[str, Any], metric: str) -> Any:
            return values[metric]["value"] if metric in values else "not scored"

        head = "".join(f"<th>{html.escape(m)}</th>" for m in metrics)
        rows = "".join(
            f"<tr><td>{html.escape(g)}</td>"
            + "".join(f"<td>{_fmt(cell(values, m))}</td>" for m in metrics)
            + f"<td>{values.get('count', '')}</td></tr>"
            for g, values in groups.items()
        )
        out.append(f"<table><tr><th>group</th>{head}<th>records</th></tr>{rows}</table>")
        series = {g: [cell(values, m) for m in metrics] for g, values in groups.items()}
        out.append(bar_chart(metrics, series))
    out.append("</body></html>")
    return "\n".join(out)


RECORDS_KEY = "_records"
"""Report key of the per-record data a champion comparison pairs up (training/evaluate/paired.py);
``write_report`` writes it to records.json, never into evaluation.json."""
RECORDS_FILE = "records.json"


def write_report(report: dict[str, Any], output_dir: Path) -> None:
    """evaluation.json, evaluation.csv, evaluation.html (and records.json, when the report carries per-record
    data), all or none."""
    report = dict(report)
    records = report.pop(RECORDS_KEY, None)
    with AtomicOutputs() as out:
        out.open(output_dir / "evaluation.json").write(json.dumps(report, indent=2, allow_nan=False) + "\n")
        if records is not None:
            out.open(output_dir / RECORDS_FILE).write(json.dumps(records, allow_nan=False) + "\n")
        out.open(output_dir / "evaluation.csv").write(to_csv(report_rows(report), CSV_COLUMNS))
        out.open(output_dir / "evaluation.html").write(render_html(report))


# ---------------------------------------------------------------------------------------------------------
# Comparison


def flatten(report: dict[str, Any]) -> dict[str, float | str]:
    """``{"section.metric": value}`` for every headline metric of a report."""
    return {
        f"{section}.{metric}": value["value"]
        for section, content in metric_sections(report)
        for metric, value in metric_items(content)
    }


def compare(reports: Sequence[dict[str, Any]], labels: Sequence[str]) -> dict[str, Any]:
    """Side by side, with each report's delta against the first (the baseline, e.g. production)."""
    flat = [flatten(r) for r in reports]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    metrics: dict[str, Any] = {}
    for key in keys:
        values = {label: f.get(key) for label, f in zip(labels, flat, strict=True)}
        base = values[labels[0]]
        higher = names.higher_is_better(key.split(".", 1)[1])
        deltas: dict[str, float | None] = {}
        improved: dict[str, bool | None] = {}
        for label in labels[1:]:
            value = values[label]
            if isinstance(base, float | int) and isinstance(value, float | int):
                delta = float(value) - float(base)
                deltas[label] = delta
                improved[label] = delta > 0 if higher else delta < 0
            else:
                deltas[label] = None
                improved[label] = None
        metrics[key] = {"values": values, "delta": deltas, "improved": improved, "higher_is_better": higher}
    return {"baseline": labels[0], "reports": list(labels), "metrics": metrics}


def comparison_rows(comparison: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    labels = comparison["reports"]
    columns = ["metric", *labels, *(f"delta_{label}" for label in labels[1:])]
    rows = []
    for key, m in comparison["metrics"].items():
        row = {"metric": key, **m["values"]}
        row.update({f"delta_{label}": m["delta"][label] for label in labels[1:]})
        rows.append(row)
    return rows, columns


def render_comparison_html(comparison: dict[str, Any]) -> str:
    labels = comparison["reports"]
    head = "".join(f"<th>{html.escape(x)}</th>" for x in labels) + "".join(
        f"<th>Δ {html.escape(x)}</th>" for x in labels[1:]
    )
    rows = []
    for key, m in comparison["metrics"].items():
        cells = "".join(
            f"<td>{_fmt(m['values'][x]) if m['values'][x] is not None else '-'}</td>" for x in labels
        )
        for x in labels[1:]:
            delta, better = m["delta"][x], m["improved"][x]
            css = "" if better is None or delta == 0 else (' class="better"' if better else ' class="worse"')
            cells += f"<td{css}>{'-' if delta is None else f'{delta:+.4f}'}</td>"
        rows.append(f"<tr><td>{html.escape(key)}</td>{cells}</tr>")
    bounded = [
        k
        for k, m in comparison["metrics"].items()
        if all(isinstance(v, float | int) and 0 <= v <= 1 for v in m["values"].values())
    ]
    chart = bar_chart(
        bounded, {x: [comparison["metrics"][k]["values"][x] for k in bounded] for x in labels}, 1.0
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Comparison</title>"
        f"<style>{_STYLE}</style></head>"
        f"<body><h1>Comparison (baseline: {html.escape(labels[0])})</h1>"
        f"<table><tr><th>metric</th>{head}</tr>{''.join(rows)}</table>{chart}</body></html>"
    )


def write_comparison(comparison: dict[str, Any], output_dir: Path) -> None:
    rows, columns = comparison_rows(comparison)
    with AtomicOutputs() as out:
        out.open(output_dir / "comparison.json").write(
            json.dumps(comparison, indent=2, allow_nan=False) + "\n"
        )
        out.open(output_dir / "comparison.csv").write(to_csv(rows, columns))
        out.open(output_dir / "comparison.html").write(render_comparison_html(comparison))
