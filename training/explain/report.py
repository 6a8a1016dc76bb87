"""explanations.json and explanations.html: per-sample attributions, a summary, and a token heat map.

The HTML is self-contained: inline CSS, no scripts, nothing fetched; every piece of text is HTML-escaped.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from training.data.io import AtomicOutputs

TOP_TOKENS = 10
MAX_LISTED_SKIPS = 100


def quarter_masses(attributions: Sequence[float]) -> tuple[float, float] | None:
    """Share of the attribution magnitude on the tokens of the prompt's first and last quarter (a token
    counts by its centre); None when every attribution is 0."""
    total = sum(abs(a) for a in attributions)
    if total == 0:
        return None
    n = len(attributions)
    first = sum(abs(a) for i, a in enumerate(attributions) if (i + 0.5) / n < 0.25)
    last = sum(abs(a) for i, a in enumerate(attributions) if (i + 0.5) / n > 0.75)
    return first / total, last / total


def top_tokens(explanations: Sequence[dict[str, Any]], limit: int = TOP_TOKENS) -> list[dict[str, Any]]:
    """The tokens (by text, surrounding whitespace ignored) with the largest summed normalized score over
    every sample, with how often they occur and their mean score and attribution."""
    totals: dict[str, list[float]] = {}
    for item in explanations:
        for token, score, value in zip(item["tokens"], item["scores"], item["attributions"], strict=True):
            key = token.strip() or token
            entry = totals.setdefault(key, [0, 0.0, 0.0])
            entry[0] += 1
            entry[1] += score
            entry[2] += value
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1][1], kv[0]))[:limit]
    return [
        {
            "token": token,
            "count": int(count),
            "totalScore": total,
            "meanScore": total / count,
            "meanAttribution": value / count,
        }
        for token, (count, total, value) in ranked
    ]


def summary(explanations: Sequence[dict[str, Any]], **metadata: Any) -> dict[str, Any]:
    masses = [m for m in (quarter_masses(e["attributions"]) for e in explanations) if m is not None]
    return {
        **metadata,
        "samples": len(explanations),
        "topTokens": top_tokens(explanations),
        "firstQuarterMass": sum(m[0] for m in masses) / len(masses) if masses else None,
        "lastQuarterMass": sum(m[1] for m in masses) / len(masses) if masses else None,
    }


# ---------------------------------------------------------------------------------------------------------
# HTML

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:70rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}th{background:#f3f3f3}
.prompt{white-space:pre-wrap;font-family:ui-monospace,monospace;line-height:1.9;border:1px solid #ddd;
padding:.6rem}
.t{border-radius:3px;padding:1px 0}.key{padding:1px 4px}
.answer{white-space:pre-wrap;font-family:ui-monospace,monospace;background:#f6f6f6;padding:.4rem}
"""
# Red: the token supports the answer (removing it lowers the answer's log-probability); blue: it works
# against the answer.
_POSITIVE = "214,39,40"
_NEGATIVE = "31,119,180"


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else _esc(value)


# The strongest token's shade still leaves black text readable.
MAX_ALPHA = 0.8


def token_span(token: str, attribution: float, score: float) -> str:
    """The token's text on a background whose opacity is MAX_ALPHA x |normalized score|."""
    rgb = _POSITIVE if score >= 0 else _NEGATIVE
    return (
        f'<span class="t" style="background:rgba({rgb},{MAX_ALPHA * min(1.0, abs(score)):.3f})" '
        f'title="attribution {attribution:+.4f}, score {score:+.3f}">{_esc(token)}</span>'
    )


def render_html(report: dict[str, Any]) -> str:
    meta = report["summary"]
    rows = "".join(
        f"<tr><td>{_esc(k)}</td><td>{_num(v)}</td></tr>"
        for k, v in meta.items()
        if not isinstance(v, dict | list) and v is not None
    )
    top = "".join(
        f"<tr><td>{_esc(t['token'])}</td><td>{t['count']}</td><td>{t['totalScore']:.3f}</td>"
        f"<td>{t['meanScore']:+.3f}</td></tr>"
        for t in meta["topTokens"]
    )
    out = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>Explanations: {_esc(meta.get('model', ''))}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Token attributions ({_esc(meta.get('method', ''))})</h1>",
        "<p>Each prompt token is shaded by its normalized attribution to the answer's log-probability: "
        f'<span class="key" style="background:rgba({_POSITIVE},{MAX_ALPHA})">supports the answer</span> '
        f'<span class="key" style="background:rgba({_NEGATIVE},{MAX_ALPHA})">works against it</span>; '
        "the darker, the stronger (the strongest token of each sample is fully shaded). Hover a token for "
        "its attribution in nats.</p>",
        f"<table>{rows}</table>",
        "<h2>Top tokens over all samples</h2>",
        f"<table><tr><th>token</th><th>count</th><th>total score</th><th>mean score</th></tr>{top}</table>",
    ]
    for i, item in enumerate(report["explanations"], start=1):
        spans = "".join(
            token_span(t, a, s)
            for t, a, s in zip(item["tokens"], item["attributions"], item["scores"], strict=True)
        )
        extra = (
            f", convergence delta {item['convergenceDelta']:+.4f}"
            if item.get("convergenceDelta") is not None
            else ""
        )
        out += [
            f"<h2>Sample {i}: {_esc(item['record'])}</h2>",
            f"<p>{_esc(item['answerSource'])} answer, log-probability "
            f"{item['answerLogProb']:.4f}{extra}:</p>",
            f'<div class="answer">{_esc(item["answer"])}</div>',
            f'<p>Prompt ({len(item["tokens"])} tokens):</p><div class="prompt">{spans}</div>',
        ]
    out.append("</body></html>")
    return "\n".join(out)


def write_explanations(report: dict[str, Any], output_dir: Path) -> None:
    """explanations.json and explanations.html, both or neither."""
    # Both are rendered before anything is opened: a failure leaves not even the output directory.
    text = json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    page = render_html(report)
    with AtomicOutputs() as out:
        out.open(output_dir / "explanations.json").write(text)
        out.open(output_dir / "explanations.html").write(page)
