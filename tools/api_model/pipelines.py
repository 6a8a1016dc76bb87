"""Requests of ``AWS::SageMaker::Pipeline`` definitions: each step's ``Arguments`` is the request SageMaker
Pipelines sends for it, after evaluating the pipeline expressions inside (``Get``, ``Std:Join``, ...)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tools.api_model.intrinsics import MARKER, UNKNOWN, Environment, as_text, parse_json_text, resolve, show
from tools.api_model.records import Origin, Problem, Request

RESOURCE_TYPE = "AWS::SageMaker::Pipeline"

# Step type -> the SageMaker operation its Arguments are the request of.
STEP_OPERATIONS: dict[str, str] = {
    "Processing": "CreateProcessingJob",
    "Training": "CreateTrainingJob",
    "Tuning": "CreateHyperParameterTuningJob",
    "RegisterModel": "CreateModelPackage",
    "Model": "CreateModel",
    "CreateModel": "CreateModel",
    "Transform": "CreateTransformJob",
}

# Required members the orchestrator fills: SageMaker Pipelines names every job and model it starts after the
# execution and step (the SDK's step classes leave the names out of Arguments for that reason), so a
# definition must not be required to carry them.
_NAME_FILLED = "SageMaker Pipelines names the {} after the execution and the step"
ORCHESTRATOR_FILLED: dict[str, dict[str, str]] = {
    "Processing": {"ProcessingJobName": _NAME_FILLED.format("processing job")},
    "Training": {"TrainingJobName": _NAME_FILLED.format("training job")},
    "Tuning": {"HyperParameterTuningJobName": _NAME_FILLED.format("tuning job")},
    "RegisterModel": {},
    "Model": {"ModelName": _NAME_FILLED.format("model")},
    "CreateModel": {"ModelName": _NAME_FILLED.format("model")},
    "Transform": {"TransformJobName": _NAME_FILLED.format("transform job")},
}

# Steps the orchestrator runs itself, without an API request of their own.
NO_REQUEST_STEPS: dict[str, str] = {
    "Condition": "evaluated by the orchestrator; the steps in its IfSteps and ElseSteps are checked",
    "Fail": "ends the execution with an error message",
    "Lambda": "invokes a function with the Arguments as its event, a contract of the function's own "
    "(training/registry/champion.py checks its event and its tests check its requests)",
}

_PARAMETER_TYPES = {"Integer": int, "Float": float, "Boolean": bool, "String": str}


def find(resource_id: str, properties: dict[str, Any], env: Environment) -> Iterator[Request | Problem]:
    """Every request in the pipeline's definition, or the problem that keeps it from being read."""
    origin = Origin(resource_id, RESOURCE_TYPE)
    definition = properties.get("PipelineDefinition")
    if not isinstance(definition, dict) or "PipelineDefinitionBody" not in definition:
        yield Problem(
            origin, "no PipelineDefinitionBody: a definition in S3 cannot be checked before it runs"
        )
        return
    body = resolve(definition["PipelineDefinitionBody"], env)
    try:
        document = parse_json_text(body) if isinstance(body, str) else body
    except ValueError as error:
        yield Problem(origin, f"PipelineDefinitionBody is not JSON once resolved: {error}")
        return
    if not isinstance(document, dict):
        yield Problem(origin, "PipelineDefinitionBody is not a JSON object once resolved")
        return
    expressions = _Expressions(document.get("Parameters") or [])
    yield from _steps(document.get("Steps") or [], resource_id, expressions)
    for name in sorted(expressions.undeclared):
        yield Problem(origin, f'an argument refers to the undeclared pipeline parameter "{name}"')


def _steps(steps: Any, resource_id: str, expressions: _Expressions) -> Iterator[Request | Problem]:
    for position, step in enumerate(steps if isinstance(steps, list) else []):
        name = step.get("Name") if isinstance(step, dict) else None
        origin = Origin(resource_id, RESOURCE_TYPE, f"step {name or f'#{position}'}")
        if not isinstance(step, dict):
            yield Problem(origin, "a step is not a JSON object")
            continue
        step_type = step.get("Type")
        arguments = step.get("Arguments")
        if step_type == "Condition":
            branches = arguments if isinstance(arguments, dict) else {}
            yield from _steps(branches.get("IfSteps") or [], resource_id, expressions)
            yield from _steps(branches.get("ElseSteps") or [], resource_id, expressions)
        elif step_type in NO_REQUEST_STEPS:
            continue
        elif step_type in STEP_OPERATIONS:
            if not isinstance(arguments, dict):
                yield Problem(origin, f"a {step_type} step needs an Arguments object (the request)")
                continue
            yield Request(
                origin=origin,
                kind="pipeline step",
                service="sagemaker",
                operation=STEP_OPERATIONS[step_type],
                params=expressions.evaluate(arguments),
                filled_by_caller=ORCHESTRATOR_FILLED[step_type],
            )
        else:
            yield Problem(
                origin,
                f"unknown pipeline step type {show(step_type)}: map it to its request in "
                "tools/api_model/pipelines.py (STEP_OPERATIONS or NO_REQUEST_STEPS)",
            )


@dataclass
class _Expressions:
    """Evaluates pipeline expressions as far as the definition alone allows: a parameter's default is the
    value a run without overrides gets; execution and step properties exist only at run time."""

    parameters: list[Any]
    undeclared: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._defaults: dict[str, Any] = {}
        self._declared: set[str] = set()
        for parameter in self.parameters:
            if not isinstance(parameter, dict) or not isinstance(parameter.get("Name"), str):
                continue
            self._declared.add(parameter["Name"])
            if "DefaultValue" in parameter:
                self._defaults[parameter["Name"]] = _typed(parameter.get("Type"), parameter["DefaultValue"])

    def evaluate(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.evaluate(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, argument),) = node.items()
            if key == "Get":
                return self._get(argument)
            if key == "Std:Join":
                return self._join(argument)
            if key.startswith("Std:"):  # Std:JsonGet reads a property file at run time
                return UNKNOWN
        return {key: self.evaluate(value) for key, value in node.items()}

    def _get(self, reference: Any) -> Any:
        if isinstance(reference, str) and reference.startswith("Parameters."):
            name = reference.removeprefix("Parameters.")
            if name not in self._declared:
                self.undeclared.add(name)
            return self._defaults.get(name, UNKNOWN)
        return UNKNOWN  # Execution.*, Steps.*: known only while the execution runs

    def _join(self, argument: Any) -> Any:
        if not isinstance(argument, dict) or not isinstance(argument.get("Values"), list):
            return MARKER
        separator = self.evaluate(argument.get("On", ""))
        values = [_as_joined(self.evaluate(value)) for value in argument["Values"]]
        return as_text(separator).join(values)


def _typed(kind: Any, value: Any) -> Any:
    """A parameter default as the typed value the orchestrator substitutes (UNKNOWN if it cannot be one)."""
    wanted = _PARAMETER_TYPES.get(kind)
    if wanted is None or (isinstance(value, wanted) and not (wanted is int and isinstance(value, bool))):
        return value
    if wanted is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return UNKNOWN  # a mistyped default: pipeline creation rejects it, and the checker cannot tell its value


def _as_joined(value: Any) -> str:
    """A value inside Std:Join as text: numbers and booleans print as JSON does."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return as_text(value)
