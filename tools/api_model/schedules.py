"""Requests of ``AWS::Scheduler::Schedule`` universal targets: a target whose Arn is
``arn:aws:scheduler:::aws-sdk:<service>:<action>`` calls the API with its ``Input`` (a JSON string) as the
request."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from tools.api_model import services
from tools.api_model.intrinsics import MARKER, Environment, parse_json_text, resolve
from tools.api_model.records import Origin, Problem, Request, Skip

RESOURCE_TYPE = "AWS::Scheduler::Schedule"

_UNIVERSAL_TARGET = re.compile(
    r"arn:[^:]*:scheduler:::aws-sdk:(?P<service>[A-Za-z0-9.-]+):(?P<action>[A-Za-z0-9]+)"
)
# Context attributes Scheduler replaces in Input at each invocation (<aws.scheduler.execution-id>, ...).
_CONTEXT_ATTRIBUTE = re.compile(r"<aws\.scheduler\.[a-z-]+>")


def find(
    resource_id: str, properties: dict[str, Any], env: Environment
) -> Iterator[Request | Problem | Skip]:
    """The request of the schedule's universal target, or a documented skip for a templated target."""
    origin = Origin(resource_id, RESOURCE_TYPE, "target")
    target = resolve(properties.get("Target"), env)
    arn = target.get("Arn") if isinstance(target, dict) else None
    match = _UNIVERSAL_TARGET.fullmatch(arn) if isinstance(arn, str) else None
    if match is None:
        yield Skip(origin, "a templated target (Lambda, SQS, Step Functions, ...): its Input is the payload")
        return
    service = services.sdk_service(match["service"])
    operation = services.operation_from_action(service, match["action"]) if service else None
    if service is None or operation is None:
        yield Problem(
            origin, f"no botocore operation for universal target {match['service']}:{match['action']}"
        )
        return
    text = target.get("Input", "{}")
    try:
        params = parse_json_text(_CONTEXT_ATTRIBUTE.sub(MARKER, text)) if isinstance(text, str) else text
    except ValueError as error:
        yield Problem(origin, f"Input is not JSON once resolved: {error}")
        return
    # Scheduler's universal targets take member names in PascalCase, as Step Functions' aws-sdk tasks do.
    yield Request(origin, "schedule", service, operation, params, pascal_case=True)
