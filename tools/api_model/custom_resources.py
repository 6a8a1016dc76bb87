"""Requests of our custom resources: the handler builds an API request from the resource's properties, so the
request is built here with the handler's own function and checked like any other.

A custom resource type that is neither registered nor CDK-owned is a finding: its handler's request would
otherwise go unchecked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tools.api_model.intrinsics import UNKNOWN, Environment, resolve
from tools.api_model.records import Origin, Problem, Request, Skip


@dataclass(frozen=True)
class CustomResourceApi:
    """The API operation a custom resource's handler calls, and the function that builds its request."""

    service: str
    operation: str
    build: Callable[[dict[str, Any]], Any]


def _bedrock_invocation_logging(properties: dict[str, Any]) -> Any:
    # Imported on use: the handler module pulls in boto3 and the data modules, which most templates never
    # need.
    from training.bedrock.handlers import invocation_logging_request

    return invocation_logging_request(properties)


REGISTRY: dict[str, CustomResourceApi] = {
    "Custom::BedrockInvocationLogging": CustomResourceApi(
        "bedrock", "PutModelInvocationLoggingConfiguration", _bedrock_invocation_logging
    ),
}

_CDK_OWNED = "a provider that aws-cdk-lib ships and tests; its requests are CDK's code, not ours"
# Custom resource types whose handler code belongs to aws-cdk-lib.
CDK_OWNED: dict[str, str] = {
    name: _CDK_OWNED
    for name in (
        "Custom::VpcRestrictDefaultSG",
        "Custom::S3AutoDeleteObjects",
        "Custom::ECRAutoDeleteImages",
        "Custom::CDKBucketDeployment",
        "Custom::LogRetention",
        "Custom::S3BucketNotifications",
        "Custom::CrossRegionExportWriter",
        "Custom::CrossRegionExportReader",
        "Custom::AWSCDKOpenIdConnectProvider",
    )
}


def is_custom_resource(resource_type: str) -> bool:
    return resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource"


def find(
    resource_id: str, resource_type: str, properties: dict[str, Any], env: Environment
) -> Iterator[Request | Problem | Skip]:
    """The request the custom resource's handler makes, a documented skip, or a "register it" problem."""
    origin = Origin(resource_id, resource_type, "custom resource")
    if resource_type in CDK_OWNED:
        yield Skip(origin, CDK_OWNED[resource_type])
        return
    api = REGISTRY.get(resource_type)
    if api is None:
        yield Problem(
            origin,
            "unregistered custom resource type: register the API call its handler makes (service, operation, "
            "request builder) in tools/api_model/custom_resources.py REGISTRY",
        )
        return
    delivered = _as_delivered(resolve(properties, env))
    try:
        request = api.build(delivered)
    except KeyError as error:
        yield Problem(
            origin, f"the request builder needs the property {error}, which the resource does not set"
        )
        return
    yield Request(origin, "custom resource", api.service, api.operation, request)


def _as_delivered(value: Any) -> Any:
    """Properties as the handler receives them: CloudFormation turns numbers and booleans into strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return [_as_delivered(item) for item in value]
    if isinstance(value, dict):
        return {key: _as_delivered(item) for key, item in value.items()}
    return value if value is not None else UNKNOWN
