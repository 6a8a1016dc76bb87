"""botocore's service models, loaded once per service, and the names other services use for them."""

from __future__ import annotations

import functools

import botocore.session
from botocore.exceptions import UnknownServiceError
from botocore.model import OperationModel, ServiceModel

# SDK service ids (as Step Functions' aws-sdk integrations and Scheduler's universal targets write them) whose
# botocore name is neither the same nor the same with hyphens removed ("acmpca" -> "acm-pca" needs no entry).
SDK_SERVICE_NAMES: dict[str, str] = {
    "sfn": "stepfunctions",
    "eventbridge": "events",
    "cloudwatchlogs": "logs",
    "cloudwatchevents": "events",
    "elasticloadbalancing": "elb",
    "elasticloadbalancingv2": "elbv2",
    "cognitoidentityprovider": "cognito-idp",
    "configservice": "config",
    "costexplorer": "ce",
    "directoryservice": "ds",
    "elasticsearch": "es",
    "databasemigration": "dms",
    "sagemakerruntime": "sagemaker-runtime",
}


@functools.cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@functools.cache
def _available() -> frozenset[str]:
    return frozenset(_session().get_available_services())


@functools.cache
def _by_squashed_name() -> dict[str, str]:
    return {name.replace("-", ""): name for name in _available()}


def sdk_service(sdk_id: str) -> str | None:
    """botocore's name for an SDK service id, or None when botocore has no such service."""
    name = SDK_SERVICE_NAMES.get(sdk_id, sdk_id)
    if name in _available():
        return name
    return _by_squashed_name().get(name.replace("-", ""))


@functools.cache
def service_model(service: str) -> ServiceModel | None:
    """The service's model (parsed once: the sagemaker model alone is several megabytes)."""
    try:
        return _session().get_service_model(service)
    except UnknownServiceError:
        return None


def operation_model(service: str, operation: str) -> OperationModel | None:
    """The operation's model, or None when botocore does not know the service or the operation."""
    model = service_model(service)
    if model is None or operation not in model.operation_names:
        return None
    return model.operation_model(operation)


def operation_from_action(service: str, action: str) -> str | None:
    """The operation an SDK action names: the action with its first letter upper-cased."""
    model = service_model(service)
    if model is None or not action:
        return None
    candidate = action[0].upper() + action[1:]
    return candidate if candidate in model.operation_names else None
