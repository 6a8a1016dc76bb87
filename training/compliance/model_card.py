"""The SageMaker model card of a model version: the ``Content`` of CreateModelCard, built from the report.

The content follows AWS's model card JSON schema, vendored in schema/model-card.schema.json (see
schema/README.md). It holds what the registry knows and nothing invented: the overview (description,
creator, artifacts), training details (data, hyperparameters, pipeline execution), evaluation details (one
metric group per section of evaluation.json, fairness included, and the explainability summary) and
additional information (lineage and approval as custom details, gaps as caveats). Intended uses, risk
rating and business details are the owner's to write (in the console or with UpdateModelCard): they are
left out, not filled with placeholders.

Every string is cut to the schema's length limits, so a long metric name or hyperparameter value cannot make
the card invalid. Re-running for the same version leaves the card alone when its content is unchanged and
otherwise adds a card version (UpdateModelCard), which keeps the earlier content on record.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "model-card.schema.json"
MODEL_CARD_FILE = "model-card.json"
CARD_STATUS = "Draft"
MAX_CONTENT_CHARS = 100_000  # CreateModelCard: Content is at most 100,000 characters
# ModelCardName: letters and digits with hyphens between them, at most 63 characters (botocore's model).
CARD_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_CARD_NAME_MAX = 63
_MAX_HYPERPARAMETERS = 100
_MAX_EXPLANATION_METRICS = 50
_MAX_CHART_BARS = 20  # a bar chart of the first schema had at most 20 values


def card_name(group: str, version: int) -> str:
    """``<group>-v<version>``; a group too long for that is cut and ends with a digest of its full name,
    so two long groups never share a card name."""
    suffix = f"-v{version}"
    stem = re.sub(r"[^A-Za-z0-9]+", "-", group).strip("-") or "model"
    if len(stem) + len(suffix) > _CARD_NAME_MAX:
        digest = hashlib.sha256(group.encode("utf-8")).hexdigest()[:8]
        stem = stem[: _CARD_NAME_MAX - len(suffix) - len(digest) - 1].rstrip("-") + "-" + digest
    return stem + suffix


def _text(value: Any, limit: int) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _simple_metric(name: str, value: float, notes: str | None = None) -> dict[str, Any]:
    metric: dict[str, Any] = {"name": _text(name, 255), "type": "number", "value": value}
    if notes:
        metric["notes"] = _text(notes, 1024)
    return metric


def _std_note(std: Any) -> str | None:
    if _finite(std):
        return f"standard deviation {std:.6g}"
    if std == "NaN":
        return "standard deviation not estimated"
    return None


def _evaluation_detail(report: dict[str, Any]) -> dict[str, Any] | None:
    evaluation, fairness = report["evaluation"], report["fairness"]
    if evaluation["status"] != "present":
        return None
    groups: dict[str, list[dict[str, Any]]] = {}
    left_out = 0
    for m in evaluation["metrics"]:
        if not _finite(m["value"]):
            left_out += 1
            continue
        notes = _std_note(m["standardDeviation"])
        groups.setdefault(m["section"], []).append(_simple_metric(m["metric"], m["value"], notes))
    if fairness["status"] == "present":
        across = ", ".join(fairness["groups"]) or "the groups"
        for name, metrics, where in [
            ("fairness_metrics", fairness["metrics"], across),
            # Per attribute only when there are several: with one, its values are the headline's.
            *(
                (f"fairness {a['attribute']}", a["metrics"], ", ".join(a["groups"]))
                for a in (fairness["attributes"] if len(fairness["attributes"]) > 1 else [])
            ),
        ]:
            for m in metrics:
                if not _finite(m["value"]):
                    left_out += 1
                    continue
                better = "lower" if m["lowerIsBetter"] else "higher"
                notes = f"difference across {where or 'the groups'}; {better} is better"
                groups.setdefault(_text(name, 63), []).append(_simple_metric(m["metric"], m["value"], notes))
    observation = [f"Task {evaluation.get('task') or 'unknown'}"]
    if evaluation.get("records") is not None:
        observation.append(f"{evaluation['records']} test records")
    if left_out:
        observation.append(f"{left_out} metrics without a finite value left out")
    metadata = {
        "evaluation_report": evaluation["uri"],
        "task": evaluation.get("task"),
        "records": evaluation.get("records"),
        "evaluated_at": evaluation.get("evaluatedAt"),
    }
    return {
        "name": "evaluation",
        "evaluation_observation": _text("; ".join(observation), 2096),
        "metadata": {k: _text(v, 1024) for k, v in metadata.items() if v is not None},
        "metric_groups": [
            {"name": _text(section, 63), "metric_data": data} for section, data in groups.items() if data
        ],
    }


def _explainability_detail(report: dict[str, Any]) -> dict[str, Any] | None:
    """The explanations' summary: its numbers as metrics, its texts as the observation, and its top tokens
    (training.explain's ``topTokens``) as a bar chart of their mean attribution score."""
    explanations = report["explainability"]
    if explanations["status"] != "present":
        return None
    summary = explanations["summary"]
    detail: dict[str, Any] = {
        "name": "explainability",
        "metadata": {"explanations": _text(explanations["uri"], 1024)},
    }
    if not isinstance(summary, dict):
        detail["evaluation_observation"] = _text(json.dumps(summary, ensure_ascii=False), 2096)
        return detail
    texts = [f"{k}: {v}" for k, v in summary.items() if isinstance(v, str)]
    if texts:
        detail["evaluation_observation"] = _text("; ".join(texts), 2096)
    numbers = [_simple_metric(k, v) for k, v in summary.items() if _finite(v)][:_MAX_EXPLANATION_METRICS]
    groups = [{"name": "summary", "metric_data": numbers}] if numbers else []
    tokens = [
        t
        for t in summary.get("topTokens") or []
        if isinstance(t, dict) and isinstance(t.get("token"), str) and _finite(t.get("meanScore"))
    ][:_MAX_CHART_BARS]
    if tokens:
        chart = {
            "name": "top tokens by mean attribution score",
            "type": "bar_chart",
            "value": [t["meanScore"] for t in tokens],
            "x_axis_name": [_text(t["token"], 63) for t in tokens],
            "y_axis_name": "meanScore",
        }
        groups.append({"name": "top_tokens", "metric_data": [chart]})
    if groups:
        detail["metric_groups"] = groups
    return detail


def _training_details(report: dict[str, Any]) -> dict[str, Any] | None:
    lineage, data = report["lineage"], report["trainingData"]
    job: dict[str, Any] = {}
    if lineage["trainingData"]:
        job["training_datasets"] = [_text(lineage["trainingData"], 1024)]
    hyper = [
        {"name": _text(k, 255), "value": _text(v, 255)}
        for k, v in list(lineage["hyperparameters"].items())[:_MAX_HYPERPARAMETERS]
    ]
    if hyper:
        job["hyper_parameters"] = hyper
    observations = []
    if lineage["pipelineExecution"]:
        observations.append(f"Trained by SageMaker pipeline execution {lineage['pipelineExecution']}")
    if lineage["trainingInstanceType"]:
        observations.append(f"instance type {lineage['trainingInstanceType']}")
    if lineage["hyperparameterTuning"]:
        observations.append(f"hyperparameters: {lineage['hyperparameterTuning']}")
    if data["status"] == "present":
        observations.append(f"training data: {data['records']} records")
    details: dict[str, Any] = {}
    if observations:
        details["training_observations"] = _text("; ".join(observations), 1024)
    if job:
        details["training_job_details"] = job
    return details or None


def _overview(report: dict[str, Any]) -> dict[str, Any]:
    package, lineage, evaluation = report["modelPackage"], report["lineage"], report["evaluation"]
    description = (
        package["description"] or f"Version {package['version']} of model package group {package['group']}"
    )
    overview: dict[str, Any] = {"model_description": _text(description, 1024)}
    if report["approval"]["createdBy"]:
        overview["model_creator"] = _text(report["approval"]["createdBy"], 1024)
    if package["modelArtifacts"]:
        overview["model_artifact"] = [_text(uri, 1024) for uri in package["modelArtifacts"][:15]]
    if lineage["baseModel"]:
        overview["algorithm_type"] = _text(f"fine-tuning of {lineage['baseModel']}", 1024)
    if evaluation.get("task"):
        overview["problem_type"] = str(evaluation["task"])
    return overview


def _additional_information(report: dict[str, Any]) -> dict[str, Any]:
    package, lineage, approval = report["modelPackage"], report["lineage"], report["approval"]
    custom = {
        "model_package_arn": package["arn"],
        "model_package_group": package["group"],
        "model_package_version": package["version"],
        "approval_status": approval["status"],
        "base_model": lineage["baseModel"],
        "pipeline_execution": lineage["pipelineExecution"],
        "training_instance_type": lineage["trainingInstanceType"],
        "code_version": lineage["codeVersion"],
        "code_repository": lineage["codeRepository"],
        **lineage["dataHashes"],
        "inference_image": ", ".join(
            f"{i['image']}@{i['digest']}" if i.get("digest") else i["image"]
            for i in package["inferenceImages"]
        ),
    }
    info: dict[str, Any] = {
        "custom_details": {_text(k, 255): _text(v, 1024) for k, v in custom.items() if v not in (None, "")}
    }
    fairness = report["fairness"]
    if fairness["status"] == "present":
        values = "; ".join(f"{m['metric']} {m['value']}" for m in fairness["metrics"])
        info["ethical_considerations"] = _text(
            f"Measured differences across the test groups ({', '.join(fairness['groups'])}): {values}. "
            "See the fairness_metrics group of the evaluation details.",
            2048,
        )
    caveats = []
    if lineage["notRecorded"]:
        caveats.append(f"Not recorded in the model registry: {', '.join(lineage['notRecorded'])}.")
    for part, what in (("evaluation", "evaluation report"), ("trainingData", "training-data profile")):
        if report[part]["status"] != "present":
            caveats.append(f"No usable {what}: {report[part].get('problem') or report[part]['status']}.")
    if fairness["status"] != "present":
        caveats.append("No fairness measurement across groups.")
    if caveats:
        info["caveats_and_recommendations"] = _text(" ".join(caveats), 2048)
    return info


def build_content(report: dict[str, Any]) -> dict[str, Any]:
    """The model card content (CreateModelCard ``Content``, parsed) of the version the report describes."""
    content: dict[str, Any] = {"model_overview": _overview(report)}
    training = _training_details(report)
    if training:
        content["training_details"] = training
    details = [d for d in (_evaluation_detail(report), _explainability_detail(report)) if d]
    if details:
        content["evaluation_details"] = details
    content["additional_information"] = _additional_information(report)
    return content


def create_model_card_request(name: str, content: dict[str, Any]) -> dict[str, Any]:
    return {
        "ModelCardName": name,
        "Content": json.dumps(content, ensure_ascii=False, separators=(",", ":"), allow_nan=False),
        "ModelCardStatus": CARD_STATUS,
    }


def _error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', '')}: {error.get('Message', '')}".strip(": ")
    return str(exc)


def publish(sagemaker: Any, name: str, content: dict[str, Any]) -> dict[str, Any]:
    """Create the card as a Draft; if it exists, add a version with this content unless it has it already."""
    request = create_model_card_request(name, content)
    out: dict[str, Any] = {"name": name}
    if len(request["Content"]) > MAX_CONTENT_CHARS:
        problem = (
            f"content has {len(request['Content'])} characters; CreateModelCard takes {MAX_CONTENT_CHARS}"
        )
        return {**out, "status": "failed", "problem": problem}
    try:
        arn = sagemaker.create_model_card(**request)["ModelCardArn"]
        return {**out, "status": "created", "arn": arn, "cardVersion": 1, "cardStatus": CARD_STATUS}
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConflictException":
            return {**out, "status": "failed", "problem": f"CreateModelCard: {_error(exc)}"}
    except BotoCoreError as exc:
        return {**out, "status": "failed", "problem": f"CreateModelCard: {exc}"}
    try:
        current = sagemaker.describe_model_card(ModelCardName=name)
        try:
            existing = json.loads(current.get("Content") or "null")
        except json.JSONDecodeError:
            existing = None
        found = {
            "arn": current.get("ModelCardArn"),
            "cardVersion": current.get("ModelCardVersion"),
            "cardStatus": current.get("ModelCardStatus"),
        }
        if existing == content:
            return {**out, "status": "unchanged", **found}
        arn = sagemaker.update_model_card(ModelCardName=name, Content=request["Content"])["ModelCardArn"]
        return {
            **out,
            "status": "updated",
            "arn": arn,
            "previousCardVersion": found["cardVersion"],
            "cardStatus": found["cardStatus"],
        }
    except (ClientError, BotoCoreError) as exc:
        return {
            **out,
            "status": "failed",
            "problem": f"model card {name} exists; updating it failed: {_error(exc)}",
        }
