"""What reading a template yields: requests to check, problems found while finding them, documented skips."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["pipeline step", "state-machine task", "custom resource", "schedule"]
KINDS: tuple[Kind, ...] = ("pipeline step", "state-machine task", "custom resource", "schedule")


@dataclass(frozen=True)
class Origin:
    """Where a request is defined: the resource and, inside its definition, the step/state/target."""

    resource_id: str
    resource_type: str
    # "step PrepareData", "state EvaluatePredictions", "custom resource", "target"; or empty.
    where: str = ""

    def __str__(self) -> str:
        text = f"{self.resource_id} ({self.resource_type})"
        return f"{text} {self.where}" if self.where else text


@dataclass(frozen=True)
class Request:
    """One API request the deployed system will make, as far as the template defines it."""

    origin: Origin
    kind: Kind
    service: str  # botocore's service name: "sagemaker", "bedrock-runtime"
    operation: str  # botocore's operation name: "CreateProcessingJob"
    params: Any  # resolved; may hold MARKER pieces and UNKNOWN values
    # Step Functions and Scheduler write member names in PascalCase where the model has camelCase.
    pascal_case: bool = False
    # Required top-level members that whoever sends the request fills (member -> why).
    filled_by_caller: dict[str, str] = field(default_factory=dict)
    # Member paths in the model's names (list items as "[]") where the integration serializes an object into
    # the string/blob member.
    serialized: frozenset[str] = frozenset()
    # Top-level request keys the integration accepts beyond the API's members (key -> why).
    added: dict[str, str] = field(default_factory=dict)

    @property
    def operation_label(self) -> str:
        return f"{self.service}.{self.operation}"


@dataclass(frozen=True)
class Problem:
    """A request that cannot be formed or proven (unknown step type, unregistered custom resource, ...)."""

    origin: Origin
    message: str


@dataclass(frozen=True)
class Skip:
    """Something that looks like a request but is, for a listed reason, none of ours to check."""

    origin: Origin
    reason: str
