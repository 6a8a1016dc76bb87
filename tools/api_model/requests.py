"""Finds every API request a synthesized template defines, by resource type."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tools.api_model import custom_resources, pipelines, schedules, state_machines
from tools.api_model.intrinsics import Environment
from tools.api_model.records import Problem, Request, Skip


def find_requests(template: dict[str, Any], env: Environment) -> Iterator[Request | Problem | Skip]:
    """Requests (with problems and skips) of every resource that defines some, in template order."""
    resources = template.get("Resources")
    for resource_id, resource in (resources if isinstance(resources, dict) else {}).items():
        if not isinstance(resource, dict):
            continue
        resource_type = resource.get("Type", "")
        properties = resource.get("Properties") or {}
        if resource_type == pipelines.RESOURCE_TYPE:
            yield from pipelines.find(resource_id, properties, env)
        elif resource_type == state_machines.RESOURCE_TYPE:
            yield from state_machines.find(resource_id, properties, env)
        elif resource_type == schedules.RESOURCE_TYPE:
            yield from schedules.find(resource_id, properties, env)
        elif custom_resources.is_custom_resource(resource_type):
            yield from custom_resources.find(resource_id, resource_type, properties, env)


def environment_for(template_path: Path, template: dict[str, Any]) -> Environment:
    """What is known of the stack's deployment: the region (and account) that cdk.out's manifest.json beside
    the template gives its stack, when the stack is environment-specific; the template's Mappings."""
    mappings = template.get("Mappings") if isinstance(template.get("Mappings"), dict) else {}
    manifest_path = template_path.parent / "manifest.json"
    region = account = None
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        manifest = {}
    for artifact in (manifest.get("artifacts") or {}).values():
        properties = artifact.get("properties") or {}
        if (
            artifact.get("type") == "aws:cloudformation:stack"
            and properties.get("templateFile") == template_path.name
        ):
            _, _, rest = str(artifact.get("environment", "")).partition("aws://")
            maybe_account, _, maybe_region = rest.partition("/")
            region = None if maybe_region in ("", "unknown-region") else maybe_region
            account = None if maybe_account in ("", "unknown-account") else maybe_account
    if account is None:
        return Environment(region=region, mappings=mappings)
    return Environment(region=region, account=account, mappings=mappings)
