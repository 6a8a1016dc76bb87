"""Requests as our code sends them, checked against botocore's service models (tools/api_model): moto and
Stubber accept requests that AWS would refuse (a value too long, an unknown member, a bad enum), so the tests
that talk to them record every request and check it too."""

from __future__ import annotations

from typing import Any

from tools.api_model import services
from tools.api_model.records import Origin, Request
from tools.api_model.shapes import ShapeChecker

RequestLog = list[tuple[str, str, dict[str, Any]]]


class Recording:
    """A client that keeps each request (service, operation, params) in ``log``, then sends it."""

    def __init__(self, client: Any, log: RequestLog) -> None:
        self.client, self.log = client, log
        self.exceptions = client.exceptions
        self.meta = client.meta

    def record(self, method: str, params: dict[str, Any]) -> None:
        operation = self.client.meta.method_to_api_mapping[method]
        self.log.append((self.client.meta.service_model.service_name, operation, params))

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)
        if name not in self.client.meta.method_to_api_mapping:
            return method

        def call(**params: Any) -> Any:
            self.record(name, params)
            return method(**params)

        return call


def api_violations(log: RequestLog, origin: str) -> list[str]:
    """Every way a logged request breaks its operation's input shape, as `service.Operation: violation`."""
    checker, found = ShapeChecker(), []
    for service, operation, params in log:
        request = Request(Origin(origin, "tests"), "recorded request", service, operation, params)
        shape = services.operation_model(service, operation).input_shape
        found.extend(f"{service}.{operation}: {v}" for v in checker.check(request, shape))
    return found
