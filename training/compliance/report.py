"""The compliance report of one model version: compliance.json, compliance.html and model-card.json.

compliance.json (``schemaVersion`` 1) has one section per source, each with a ``status`` and, when something
is missing or unusable, a ``problem``; ``problems`` repeats them all in one list. The HTML is self-contained:
inline CSS, every text escaped, no script, no link, nothing fetched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from training.compliance import monitoring, nag, registry
from training.compliance.model_card import MODEL_CARD_FILE, SCHEMA_PATH, card_name
from training.data.io import AtomicOutputs

SCHEMA_VERSION = 1
REPORT_FILE = "compliance.json"
HTML_FILE = "compliance.html"
_RETRIES = Config(retries={"max_attempts": 5, "mode": "standard"})


class AwsClients:
    """boto3 clients of one region, made when first used (AWS_ENDPOINT_URL points them at moto in tests)."""

    def __init__(self, region: str) -> None:
        self.region = region
        self._clients: dict[str, Any] = {}

    def __getattr__(self, service: str) -> Any:
        if service.startswith("_"):
            raise AttributeError(service)
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=self.region, config=_RETRIES)
        return self._clients[service]


@dataclass(frozen=True)
class Sources:
    """What the report reads beside the model package, as the command line gave it."""

    explanations: str | None = None
    nag_reports: list[str] = field(default_factory=list)
    metric_namespace: str | None = None
    endpoint_name: str | None = None
    variant_name: str | None = None
    monitoring_hours: int = 24
    with_cloudtrail: bool = False


def schema_sha256() -> str:
    return hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest()


def assemble(package: dict[str, Any], sources: Sources, aws: Any, now: dt.datetime) -> dict[str, Any]:
    """Every section of compliance.json (the model card's registry status is added by the caller)."""
    evaluation_doc = registry.read_document(
        registry.statistics_uri(package, "ModelMetrics", "ModelQuality"), aws.s3
    )
    baseline_doc = registry.read_document(
        registry.statistics_uri(package, "DriftCheckBaselines", "ModelDataQuality"), aws.s3
    )
    explanations_at, explanations_source = registry.explanations_uri(package, sources.explanations)
    explanations_doc = registry.read_document(explanations_at, aws.s3)
    summary = registry.model_package_summary(package)
    approval = registry.approval(package)
    if sources.with_cloudtrail:
        approval["cloudTrail"] = registry.cloudtrail_history(aws.cloudtrail, package["ModelPackageArn"], now)
    if sources.endpoint_name and sources.variant_name and sources.metric_namespace:
        state = monitoring.monitoring_state(
            aws.cloudwatch,
            sources.metric_namespace,
            sources.endpoint_name,
            sources.variant_name,
            sources.monitoring_hours,
            now,
        )
    else:
        state = {
            "status": "not requested",
            "note": "give --endpoint-name and --variant-name of the deployed version",
        }
    packs = nag.summarize(sources.nag_reports) if sources.nag_reports else {"status": "not requested"}
    report: dict[str, Any] = {
        "schemaVersion": SCHEMA_VERSION,
        "generatedAt": registry.iso(now),
        "region": getattr(aws, "region", None),
        "modelPackage": summary,
        "lineage": registry.lineage(package),
        "evaluation": registry.evaluation_summary(evaluation_doc),
        "fairness": registry.fairness_summary(evaluation_doc),
        "explainability": registry.explanations_summary(explanations_doc, explanations_source),
        "trainingData": registry.baseline_summary(baseline_doc),
        "approval": approval,
        "monitoring": state,
        "compliancePacks": packs,
        "modelCard": {
            "name": card_name(summary["group"] or "model", summary["version"] or 0),
            "file": MODEL_CARD_FILE,
            "schema": {"file": f"training/compliance/schema/{SCHEMA_PATH.name}", "sha256": schema_sha256()},
            "registry": {"status": "not requested"},
        },
    }
    report["problems"] = problems(report)
    return report


def problems(report: dict[str, Any]) -> list[str]:
    """Every missing, unreadable or malformed part, one line each, prefixed by its section."""
    found = []
    if report["lineage"]["notRecorded"]:
        found.append(f"lineage: not recorded in the registry: {', '.join(report['lineage']['notRecorded'])}")
    for section in ("evaluation", "fairness", "trainingData", "explainability"):
        if report[section].get("problem"):
            found.append(f"{section}: {report[section]['problem']}")
    trail = report["approval"]["cloudTrail"]
    if trail.get("problem"):
        found.append(f"approval: {trail['problem']}")
    found += [f"monitoring: {p}" for p in report["monitoring"].get("problems", [])]
    found += [f"compliancePacks: {p}" for p in report["compliancePacks"].get("problems", [])]
    for pack in report["compliancePacks"].get("packs", []):
        if pack["violations"]["constructs"]:
            found.append(
                f"compliancePacks: {pack['pack']}: {pack['violations']['constructs']} unacknowledged findings"
            )
    registry_state = report["modelCard"]["registry"]
    if registry_state.get("problem"):
        found.append(f"modelCard: {registry_state['problem']}")
    return found


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities (from a document that held them) become the string "NaN"."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN"
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _json(value: Any) -> str:
    return json.dumps(_clean(value), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_outputs(report: dict[str, Any], card: dict[str, Any], output_dir: Path) -> None:
    """compliance.json, compliance.html and model-card.json, all or none."""
    text = _json(report)
    page = render_html(report)
    card_text = _json(card)
    with AtomicOutputs() as out:
        out.open(output_dir / REPORT_FILE).write(text)
        out.open(output_dir / HTML_FILE).write(page)
        out.open(output_dir / MODEL_CARD_FILE).write(card_text)


# ---------------------------------------------------------------------------------------------------------
# HTML

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:75em;color:#222}"
    "h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;"
    "text-align:left;vertical-align:top}th{background:#f3f3f3}.bad{background:#fdd;font-weight:bold}"
    ".warn{background:#fff4d6}.ok{background:#e3f6e3}.muted{color:#777}"
    "pre{background:#f6f6f6;padding:0.5em;white-space:pre-wrap;word-break:break-all}"
)
_MAX_PRE_CHARS = 20_000
_STATUS_CLASS = {
    "present": "ok",
    "read": "ok",
    "success": "ok",
    "OK": "ok",
    "Approved": "ok",
    "created": "ok",
    "updated": "ok",
    "unchanged": "ok",
    "ALARM": "bad",
    "failure": "bad",
    "failed": "bad",
    "error": "bad",
    "invalid": "bad",
    "unreadable": "bad",
    "Rejected": "bad",
    "missing": "warn",
    "partial": "warn",
    "not registered": "warn",
    "not evaluated": "warn",
    "not measured": "warn",
    "INSUFFICIENT_DATA": "warn",
    "PendingManualApproval": "warn",
}


def _e(value: Any) -> str:
    return html.escape(str(value))


def _fmt(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() else f"{value:.4f}"
    if isinstance(value, dict | list):
        return _e(json.dumps(value, ensure_ascii=False))
    return _e(value)


def _status(value: Any) -> str:
    css = _STATUS_CLASS.get(str(value))
    return f"<span class='{css}'>{_fmt(value)}</span>" if css else _fmt(value)


def _table(rows: list[tuple[Any, ...]], head: tuple[str, ...], status_column: int | None = None) -> str:
    if not rows:
        return "<p class='muted'>none</p>"
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = []
    for row in rows:
        cells = [_status(c) if i == status_column else _fmt(c) for i, c in enumerate(row)]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><tr>{header}</tr>{''.join(body)}</table>"


def _pairs(rows: list[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_status(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _source(section: dict[str, Any]) -> str:
    out = _pairs([("status", section.get("status")), ("source", section.get("uri"))])
    if section.get("problem"):
        out += f"<p class='warn'>{_e(section['problem'])}</p>"
    return out


def _pre(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(_clean(value), indent=2, ensure_ascii=False)
    if len(text) > _MAX_PRE_CHARS:
        text = (
            text[:_MAX_PRE_CHARS] + f"\n... ({len(text) - _MAX_PRE_CHARS} more characters in compliance.json)"
        )
    return f"<pre>{_e(text)}</pre>"


def _lineage_html(lineage: dict[str, Any]) -> str:
    out = [
        _pairs(
            [
                ("base model", lineage["baseModel"]),
                ("training data", lineage["trainingData"]),
                ("pipeline execution", lineage["pipelineExecution"]),
                ("training instance type", lineage["trainingInstanceType"]),
                ("code version", lineage["codeVersion"]),
                ("code repository", lineage["codeRepository"]),
                ("hyperparameter tuning", lineage["hyperparameterTuning"]),
            ]
        ),
        "<h3>Hyperparameters</h3>",
        _table(list(lineage["hyperparameters"].items()), ("hyperparameter", "value")),
        "<h3>Data hashes</h3>",
        _table(list(lineage["dataHashes"].items()), ("input", "hash")),
    ]
    if lineage["otherMetadata"]:
        out += ["<h3>Other metadata</h3>", _table(list(lineage["otherMetadata"].items()), ("key", "value"))]
    if lineage["notRecorded"]:
        out.append(
            f"<p class='warn'>Not recorded in the registry: {_e(', '.join(lineage['notRecorded']))}</p>"
        )
    return "".join(out)


def _evaluation_html(evaluation: dict[str, Any], fairness: dict[str, Any]) -> str:
    out = [_source(evaluation)]
    if evaluation["status"] == "present":
        out.append(_pairs([("task", evaluation["task"]), ("test records", evaluation["records"])]))
        rows = [
            (m["section"], m["metric"], m["value"], m["standardDeviation"]) for m in evaluation["metrics"]
        ]
        out.append(_table(rows, ("section", "metric", "value", "std. dev.")))
        if evaluation["groupRecords"]:
            out.append(_table(list(evaluation["groupRecords"].items()), ("group", "test records")))
    out.append("<h3>Fairness</h3>")
    if fairness["status"] == "present":
        out.append(f"<p>Groups: {_e(', '.join(fairness['groups']) or '-')}</p>")
        rows = [
            ("all", m["metric"], m["value"], "lower" if m["lowerIsBetter"] else "higher")
            for m in fairness["metrics"]
        ]
        for a in fairness["attributes"]:
            rows += [
                (
                    f"{a['attribute']} ({', '.join(a['groups'])})",
                    m["metric"],
                    m["value"],
                    "lower" if m["lowerIsBetter"] else "higher",
                )
                for m in a["metrics"]
            ]
        out.append(_table(rows, ("attribute", "metric", "value", "better when")))
        if fairness.get("largestFrom"):
            source = fairness["largestFrom"]
            where = " / ".join(str(v) for v in source.values()) if isinstance(source, dict) else source
            out.append(f"<p class='muted'>largest disparity: {_fmt(where)}</p>")
    else:
        out.append(f"<p class='warn'>{_e(fairness.get('problem') or fairness['status'])}</p>")
    return "".join(out)


def _records_table(items: list[Any]) -> str | None:
    """A list of objects as one table (their keys as columns); None for anything else."""
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    columns = list(dict.fromkeys(k for i in items for k in i))
    return _table([tuple(i.get(c) for c in columns) for i in items], tuple(columns))


def _explanations_html(explanations: dict[str, Any]) -> str:
    out = [_source(explanations)]
    if explanations.get("source"):
        out.append(f"<p class='muted'>found through {_e(explanations['source'])}</p>")
    if explanations["status"] != "present":
        return "".join(out)
    summary = explanations["summary"]
    if not isinstance(summary, dict):
        return "".join([*out, _pre(summary)])
    scalars = [(k, v) for k, v in summary.items() if not isinstance(v, dict | list)]
    out.append(_table(scalars, ("", "")))
    for key, value in summary.items():
        if isinstance(value, dict | list) and value:
            table = _records_table(value) if isinstance(value, list) else None
            out.append(f"<h3>{_e(key)}</h3>" + (table or _pre(value)))
    return "".join(out)


def _training_data_html(data: dict[str, Any]) -> str:
    out = [_source(data)]
    if data["status"] == "present":
        vocabulary = data["vocabulary"]
        out.append(
            _pairs(
                [
                    ("records", data["records"]),
                    ("vocabulary kept", vocabulary["words"]),
                    ("words in the data", vocabulary["totalWords"]),
                    ("share of words in the kept vocabulary", vocabulary["coverage"]),
                ]
            )
        )
        rows = [(name, d["count"], d["mean"]) for name, d in data["lengths"].items()]
        out.append(_table(rows, ("length (approximate tokens / characters)", "count", "mean")))
        out.append(_table(list(data["scripts"].items()), ("writing system", "records")))
        if data["labels"]:
            labels = data["labels"]
            out.append(
                f"<p>{labels['classes']} classes{' (multi-label)' if labels['multiLabel'] else ''}</p>"
            )
            out.append(_table(list(labels["counts"].items()), ("label", "records")))
    return "".join(out)


def _approval_html(approval: dict[str, Any]) -> str:
    out = [
        _pairs(
            [
                ("approval status", approval["status"]),
                ("approval description", approval["description"]),
                ("registered", f"{approval['createdAt'] or '-'} by {approval['createdBy'] or 'unknown'}"),
                (
                    "last changed",
                    f"{approval['lastModifiedAt'] or '-'} by {approval['lastModifiedBy'] or 'unknown'}",
                ),
            ]
        ),
        f"<p class='muted'>{_e(approval['note'])}</p>",
    ]
    head = ("time", "event", "by", "status", "description", "source")
    rows = [
        tuple(h.get(k) for k in ("time", "event", "by", "status", "description", "source"))
        for h in approval["history"]
    ]
    out.append(_table(rows, head, status_column=3))
    trail = approval["cloudTrail"]
    out.append(f"<h3>CloudTrail ({_e(trail['status'])})</h3>")
    if trail.get("problem"):
        out.append(f"<p class='bad'>{_e(trail['problem'])}</p>")
    if trail["status"] == "read":
        out.append(
            f"<p class='muted'>UpdateModelPackage events from {_e(trail['from'])} to {_e(trail['to'])}</p>"
        )
        rows = [(e["time"], e["by"], e["status"], e["description"], e["error"]) for e in trail["events"]]
        out.append(_table(rows, ("time", "by", "status", "description", "error"), status_column=2))
    return "".join(out)


def _monitoring_html(state: dict[str, Any]) -> str:
    if state["status"] == "not requested":
        return f"<p class='muted'>Not requested: {_e(state['note'])}</p>"
    window = state["window"]
    out = [
        _pairs(
            [
                ("status", state["status"]),
                ("endpoint / variant", f"{state['endpointName']} / {state['variantName']}"),
                ("metric namespace", state["namespace"]),
                (
                    "window",
                    f"{window['start']} to {window['end']} ({window['hours']} h, {state['statistic']})",
                ),
            ]
        )
    ]
    out += [f"<p class='warn'>{_e(p)}</p>" for p in state["problems"]]
    out.append("<h3>Alarms</h3>")
    rows = [
        (a["name"], a["state"], a["since"], a["namespace"], a["metric"], a["threshold"], a["reason"])
        for a in state["alarms"]
    ]
    out.append(_table(rows, ("alarm", "state", "since", "namespace", "metric", "threshold", "reason"), 1))
    out.append("<h3>Capture monitor metrics</h3>")
    rows = [
        (m["name"], m["kind"], m["latest"], m["latestAt"], m["minimum"], m["maximum"], m["periodsWithData"])
        for m in state["metrics"]
    ]
    head = ("metric", "kind", "latest", "at", "minimum", "maximum", "periods with data")
    out.append(_table(rows, head))
    return "".join(out)


def _packs_html(packs: dict[str, Any]) -> str:
    if packs["status"] == "not requested":
        return (
            "<p class='muted'>Not requested: give --nag-report cdk.out (or its validation-report.json).</p>"
        )
    out = [f"<p class='muted'>{_e(', '.join(packs['files']) or 'no report read')}. {_e(packs['note'])}</p>"]
    out += [f"<p class='bad'>{_e(p)}</p>" for p in packs["problems"]]
    rows = [
        (
            p["pack"],
            p["conclusion"],
            p["rulesWithFindings"],
            p["rulesChecked"],
            f"{p['violations']['rules']} rules, {p['violations']['constructs']} constructs",
            f"{p['acknowledged']['rules']} rules, {p['acknowledged']['constructs']} constructs",
        )
        for p in packs["packs"]
    ]
    head = ("pack", "conclusion", "rules with findings", "rules checked", "unacknowledged", "acknowledged")
    out.append(_table(rows, head, status_column=1))
    findings = [
        (p["pack"], f["rule"], f["severity"], f["constructCount"], "; ".join(f["constructs"]))
        for p in packs["packs"]
        for f in p["unacknowledged"]
    ]
    if findings:
        out.append("<h3>Unacknowledged findings</h3>")
        out.append(_table(findings, ("pack", "rule", "severity", "constructs", "where")))
    acknowledged = [
        (p["pack"], a["rule"], a["at"], a["reason"]) for p in packs["packs"] for a in p["acknowledgements"]
    ]
    if acknowledged:
        out.append("<h3>Acknowledged findings</h3>")
        out.append(_table(acknowledged, ("pack", "rule", "acknowledged at", "reason")))
    return "".join(out)


def render_html(report: dict[str, Any]) -> str:
    package, card = report["modelPackage"], report["modelCard"]
    title = f"Compliance report: {package['group']} version {package['version']}"
    images = ", ".join(
        f"{i['image']}@{i['digest']}" if i.get("digest") else i["image"] for i in package["inferenceImages"]
    )
    out = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body><h1>{_e(title)}</h1>",
        _pairs(
            [
                ("model package", package["arn"]),
                ("description", package["description"]),
                ("package status", package["status"]),
                ("approval status", report["approval"]["status"]),
                ("registered", package["createdAt"]),
                ("model artifacts", ", ".join(package["modelArtifacts"])),
                ("inference images", images),
                ("report generated", report["generatedAt"]),
            ]
        ),
        "<h2>Problems</h2>",
        "".join(f"<p class='warn'>{_e(p)}</p>" for p in report["problems"]) or "<p class='ok'>none</p>",
        "<h2>Lineage</h2>",
        _lineage_html(report["lineage"]),
        "<h2>Evaluation</h2>",
        _evaluation_html(report["evaluation"], report["fairness"]),
        "<h2>Explainability</h2>",
        _explanations_html(report["explainability"]),
        "<h2>Training data profile</h2>",
        _training_data_html(report["trainingData"]),
        "<h2>Approval</h2>",
        _approval_html(report["approval"]),
        "<h2>Monitoring of the deployed version</h2>",
        _monitoring_html(report["monitoring"]),
        "<h2>Compliance packs (cdk-nag)</h2>",
        _packs_html(report["compliancePacks"]),
        "<h2>Model card</h2>",
        _pairs(
            [
                ("name", card["name"]),
                ("content", card["file"]),
                ("schema", f"{card['schema']['file']} (SHA-256 {card['schema']['sha256']})"),
                ("in SageMaker", card["registry"]["status"]),
                ("model card ARN", card["registry"].get("arn")),
            ]
        ),
        "</body></html>",
    ]
    return "".join(out)
