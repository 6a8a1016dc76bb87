"""Monitoring state of a deployed version: the capture monitor's latest metrics and the endpoint's alarms.

The metrics are those of training/contracts/monitoring-metrics.json (namespace FineTuningPlatform/<env>,
dimensions EndpointName and VariantName), read with GetMetricData at the 5-minute Maximum the platform's
alarms use. The alarms are every CloudWatch metric alarm whose metric (or one of whose metric-math metrics)
has the endpoint's EndpointName dimension and, if it has one, the variant's VariantName: the monitor's own
alarms and any on SageMaker's AWS/SageMaker endpoint metrics.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from training.compliance.registry import iso, number

CONTRACT = json.loads(
    (Path(__file__).resolve().parent.parent / "contracts" / "monitoring-metrics.json").read_text(
        encoding="utf-8"
    )
)
ENDPOINT_DIMENSION, VARIANT_DIMENSION = CONTRACT["dimensions"]
PERIOD_SECONDS = 300  # the period of the monitor's metrics and alarms (lib/constructs/monitoring)
STATISTIC = "Maximum"
_MAX_PAGES = 20
ALARM_STATES = ("ALARM", "INSUFFICIENT_DATA", "OK")


def metric_data_request(
    namespace: str,
    endpoint: str,
    variant: str,
    start: dt.datetime,
    end: dt.datetime,
    token: str | None = None,
) -> dict[str, Any]:
    """GetMetricData for every contract metric of one endpoint variant (16 queries: one call)."""
    dimensions = [
        {"Name": ENDPOINT_DIMENSION, "Value": endpoint},
        {"Name": VARIANT_DIMENSION, "Value": variant},
    ]
    params: dict[str, Any] = {
        "MetricDataQueries": [
            {
                "Id": f"m{i}",
                "Label": metric["name"],
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": metric["name"],
                        "Dimensions": dimensions,
                    },
                    "Period": PERIOD_SECONDS,
                    "Stat": STATISTIC,
                },
                "ReturnData": True,
            }
            for i, metric in enumerate(CONTRACT["metrics"])
        ],
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampDescending",
    }
    if token:
        params["NextToken"] = token
    return params


def read_metrics(
    cloudwatch: Any, namespace: str, endpoint: str, variant: str, start: dt.datetime, end: dt.datetime
) -> list[dict[str, Any]]:
    """Per contract metric: the latest value and its time, the smallest and largest value (a score alarms
    below its threshold, a rate above) and how many 5-minute periods have one."""
    points: dict[str, list[tuple[dt.datetime, float]]] = {m["name"]: [] for m in CONTRACT["metrics"]}
    ids = {f"m{i}": m["name"] for i, m in enumerate(CONTRACT["metrics"])}
    token: str | None = None
    for _ in range(_MAX_PAGES):
        response = cloudwatch.get_metric_data(
            **metric_data_request(namespace, endpoint, variant, start, end, token)
        )
        for result in response.get("MetricDataResults", []):
            name = ids.get(result.get("Id"))
            if name is not None:
                points[name] += zip(result.get("Timestamps", []), result.get("Values", []), strict=False)
        token = response.get("NextToken")
        if not token:
            break
    out = []
    for metric in CONTRACT["metrics"]:
        series = sorted(points[metric["name"]])
        latest = series[-1] if series else None
        out.append(
            {
                "name": metric["name"],
                "kind": metric["kind"],
                "unit": metric["unit"],
                "latest": number(latest[1]) if latest else None,
                "latestAt": iso(latest[0]) if latest else None,
                "minimum": number(min(v for _, v in series)) if series else None,
                "maximum": number(max(v for _, v in series)) if series else None,
                "periodsWithData": len(series),
            }
        )
    return out


def _alarm_dimensions(alarm: dict[str, Any]) -> list[dict[str, str]]:
    """The dimension sets of an alarm's metric, or of each metric of its metric-math expression."""
    sets = [alarm.get("Dimensions") or []]
    for query in alarm.get("Metrics") or []:
        sets.append(((query.get("MetricStat") or {}).get("Metric") or {}).get("Dimensions") or [])
    return [{d["Name"]: d["Value"] for d in dims} for dims in sets if dims]


def names_target(alarm: dict[str, Any], endpoint: str, variant: str) -> bool:
    """The alarm watches this endpoint: EndpointName matches and VariantName, where present, too."""
    return any(
        dims.get(ENDPOINT_DIMENSION) == endpoint and dims.get(VARIANT_DIMENSION, variant) == variant
        for dims in _alarm_dimensions(alarm)
    )


def read_alarms(cloudwatch: Any, endpoint: str, variant: str) -> list[dict[str, Any]]:
    alarms = []
    paginator = cloudwatch.get_paginator("describe_alarms")
    for page in paginator.paginate(AlarmTypes=["MetricAlarm"]):
        for alarm in page.get("MetricAlarms", []):
            if not names_target(alarm, endpoint, variant):
                continue
            alarms.append(
                {
                    "name": alarm.get("AlarmName"),
                    "state": alarm.get("StateValue"),
                    "since": iso(alarm.get("StateUpdatedTimestamp")),
                    "reason": alarm.get("StateReason"),
                    "namespace": alarm.get("Namespace"),
                    "metric": alarm.get("MetricName") or "metric math",
                    "comparison": alarm.get("ComparisonOperator"),
                    "threshold": number(alarm.get("Threshold")),
                    "description": alarm.get("AlarmDescription"),
                }
            )
    order = {state: i for i, state in enumerate(ALARM_STATES)}
    return sorted(alarms, key=lambda a: (order.get(a["state"], len(order)), a["name"] or ""))


def monitoring_state(
    cloudwatch: Any, namespace: str, endpoint: str, variant: str, hours: int, now: dt.datetime
) -> dict[str, Any]:
    start = now - dt.timedelta(hours=hours)
    out: dict[str, Any] = {
        "status": "read",
        "endpointName": endpoint,
        "variantName": variant,
        "namespace": namespace,
        "window": {"start": iso(start), "end": iso(now), "hours": hours},
        "statistic": f"{STATISTIC} per {PERIOD_SECONDS // 60} minutes",
        "problems": [],
    }
    failures = 0
    try:
        out["metrics"] = read_metrics(cloudwatch, namespace, endpoint, variant, start, now)
    except (ClientError, BotoCoreError) as exc:
        out["metrics"] = []
        out["problems"].append(f"CloudWatch GetMetricData failed: {exc}")
        failures += 1
    try:
        out["alarms"] = read_alarms(cloudwatch, endpoint, variant)
    except (ClientError, BotoCoreError) as exc:
        out["alarms"] = []
        out["problems"].append(f"CloudWatch DescribeAlarms failed: {exc}")
        failures += 1
    out["status"] = ("read", "partial", "error")[failures]
    out["alarmStates"] = {s: sum(a["state"] == s for a in out["alarms"]) for s in ALARM_STATES}
    if out["metrics"] and not any(m["periodsWithData"] for m in out["metrics"]):
        out["problems"].append(
            f"no monitor metric of {endpoint}/{variant} in {namespace} in the last {hours} hours"
        )
    return out
