"""Requests of ``AWS::StepFunctions::StateMachine`` definitions: every Task state whose resource is an
optimized integration (``arn:aws:states:::sagemaker:createProcessingJob.sync``) or an AWS SDK integration
(``arn:aws:states:::aws-sdk:bedrock:createModelCustomizationJob``) sends its Parameters/Arguments as the
request. Step Functions writes member names in PascalCase even where the API model uses camelCase.

Not walked: a Map state's ItemReader/ResultWriter (S3 reads and writes whose parameters are not the S3 API's
own), and Activity or direct Lambda tasks (their input is free-form)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tools.api_model import services
from tools.api_model.intrinsics import MARKER, UNKNOWN, Environment, is_known, parse_json_text, resolve, show
from tools.api_model.records import Origin, Problem, Request, Skip
from tools.api_model.state_values import jsonata_value, jsonpath_value

RESOURCE_TYPE = "AWS::StepFunctions::StateMachine"

# Why an object is accepted where the API wants a string or blob: the integration serializes it to JSON first.
_SERIALIZES = "Step Functions serializes a JSON object given here into the {} the API takes"


@dataclass(frozen=True)
class Integration:
    """An optimized integration: the API operation it calls and where it departs from its input shape."""

    service: str
    operation: str
    serialized: dict[str, str] = field(default_factory=dict)  # model member path ("Entries[].Detail") -> why
    added: dict[str, str] = field(default_factory=dict)  # request keys beyond the API's members -> why


# "<service>:<action>" of arn:aws:states:::<service>:<action>[.sync|.sync:2|.waitForTaskToken]. An integration
# missing here is a finding until it is added, so a new one cannot pass unchecked.
OPTIMIZED: dict[str, Integration] = {
    "lambda:invoke": Integration("lambda", "Invoke", {"Payload": _SERIALIZES.format("event blob")}),
    "sns:publish": Integration("sns", "Publish", {"Message": _SERIALIZES.format("message text")}),
    "sqs:sendMessage": Integration("sqs", "SendMessage", {"MessageBody": _SERIALIZES.format("message body")}),
    "events:putEvents": Integration(
        "events", "PutEvents", {"Entries[].Detail": _SERIALIZES.format("detail text")}
    ),
    "states:startExecution": Integration(
        "stepfunctions", "StartExecution", {"input": _SERIALIZES.format("execution input text")}
    ),
    "batch:submitJob": Integration("batch", "SubmitJob"),
    "ecs:runTask": Integration("ecs", "RunTask"),
    "glue:startJobRun": Integration("glue", "StartJobRun"),
    "glue-databrew:startJobRun": Integration("databrew", "StartJobRun"),
    "athena:startQueryExecution": Integration("athena", "StartQueryExecution"),
    "athena:stopQueryExecution": Integration("athena", "StopQueryExecution"),
    "athena:getQueryExecution": Integration("athena", "GetQueryExecution"),
    "athena:getQueryResults": Integration("athena", "GetQueryResults"),
    "codebuild:startBuild": Integration("codebuild", "StartBuild"),
    "codebuild:stopBuild": Integration("codebuild", "StopBuild"),
    "codebuild:batchDeleteBuilds": Integration("codebuild", "BatchDeleteBuilds"),
    "codebuild:batchGetReports": Integration("codebuild", "BatchGetReports"),
    "codebuild:startBuildBatch": Integration("codebuild", "StartBuildBatch"),
    "dynamodb:getItem": Integration("dynamodb", "GetItem"),
    "dynamodb:putItem": Integration("dynamodb", "PutItem"),
    "dynamodb:updateItem": Integration("dynamodb", "UpdateItem"),
    "dynamodb:deleteItem": Integration("dynamodb", "DeleteItem"),
    "emr-serverless:startJobRun": Integration("emr-serverless", "StartJobRun"),
    "emr-containers:startJobRun": Integration("emr-containers", "StartJobRun"),
    "sagemaker:createEndpoint": Integration("sagemaker", "CreateEndpoint"),
    "sagemaker:createEndpointConfig": Integration("sagemaker", "CreateEndpointConfig"),
    "sagemaker:createHyperParameterTuningJob": Integration("sagemaker", "CreateHyperParameterTuningJob"),
    "sagemaker:createLabelingJob": Integration("sagemaker", "CreateLabelingJob"),
    "sagemaker:createModel": Integration("sagemaker", "CreateModel"),
    "sagemaker:createProcessingJob": Integration("sagemaker", "CreateProcessingJob"),
    "sagemaker:createTrainingJob": Integration("sagemaker", "CreateTrainingJob"),
    "sagemaker:createTransformJob": Integration("sagemaker", "CreateTransformJob"),
    "sagemaker:updateEndpoint": Integration("sagemaker", "UpdateEndpoint"),
    "bedrock:createModelCustomizationJob": Integration("bedrock", "CreateModelCustomizationJob"),
    "bedrock:invokeModel": Integration(
        "bedrock-runtime",
        "InvokeModel",
        {"body": _SERIALIZES.format("model input blob")},
        {
            "Input": "Step Functions reads the body from this S3 location instead of Body",
            "Output": "Step Functions writes the response to this S3 location",
        },
    ),
}

# Integrations that call no AWS API operation with the state's parameters (so no botocore model applies).
NOT_AN_SDK_CALL: dict[str, str] = {
    "apigateway:invoke": "calls a REST/HTTP API the app defines, not an AWS API operation",
    "http:invoke": "calls a third-party HTTPS endpoint through an EventBridge connection",
    "eks:call": "calls the Kubernetes API of a cluster",
    "eks:runJob": "runs a Kubernetes job through the Kubernetes API",
}

_INTEGRATION_ARN = re.compile(
    r"arn:[^:]*:states:::(?P<service>[A-Za-z0-9-]+):(?P<action>[A-Za-z0-9]+)"
    r"(?:\.(?:sync(?::2)?|waitForTaskToken))?"
)
_SDK_ARN = re.compile(
    r"arn:[^:]*:states:::aws-sdk:(?P<service>[A-Za-z0-9.-]+):(?P<action>[A-Za-z0-9]+)(?:\.waitForTaskToken)?"
)


def find(
    resource_id: str, properties: dict[str, Any], env: Environment
) -> Iterator[Request | Problem | Skip]:
    """Every request of the state machine's Task states, or the problem that keeps the definition unread."""
    origin = Origin(resource_id, RESOURCE_TYPE)
    if "DefinitionString" in properties:
        text = resolve(properties["DefinitionString"], env)
        substitutions = resolve(properties.get("DefinitionSubstitutions") or {}, env)
        if isinstance(text, str) and isinstance(substitutions, dict):
            text = _substitute(text, substitutions)
        try:
            definition = parse_json_text(text) if isinstance(text, str) else None
        except ValueError as error:
            yield Problem(origin, f"DefinitionString is not JSON once resolved: {error}")
            return
    elif "Definition" in properties:
        definition = resolve(properties["Definition"], env)
    else:
        yield Problem(origin, "no DefinitionString or Definition: a definition in S3 cannot be checked")
        return
    if not isinstance(definition, dict):
        yield Problem(origin, "the definition is not a JSON object once resolved")
        return
    yield from _states(definition, resource_id, definition.get("QueryLanguage", "JSONPath"))


def _substitute(text: str, substitutions: dict[str, Any]) -> str:
    """``${name}`` placeholders of DefinitionSubstitutions, replaced as Step Functions does at creation."""

    def replace(match: re.Match[str]) -> str:
        value = substitutions.get(match.group(1), UNKNOWN)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return value if isinstance(value, str) else MARKER

    return re.sub(r"\$\{([^}]+)\}", lambda m: replace(m) if m.group(1) in substitutions else m.group(0), text)


def _states(machine: dict[str, Any], resource_id: str, language: str) -> Iterator[Request | Problem | Skip]:
    states = machine.get("States")
    for name, state in (states if isinstance(states, dict) else {}).items():
        if not isinstance(state, dict):
            continue
        state_language = state.get("QueryLanguage", language)
        if state.get("Type") == "Parallel":
            for branch in state.get("Branches") or []:
                if isinstance(branch, dict):
                    yield from _states(branch, resource_id, branch.get("QueryLanguage", state_language))
        elif state.get("Type") == "Map":
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if isinstance(processor, dict):
                yield from _states(processor, resource_id, processor.get("QueryLanguage", state_language))
        elif state.get("Type") == "Task":
            yield from _task(state, Origin(resource_id, RESOURCE_TYPE, f"state {name}"), state_language)


def _task(state: dict[str, Any], origin: Origin, language: str) -> Iterator[Request | Problem | Skip]:
    resource = state.get("Resource")
    if not isinstance(resource, str):
        yield Problem(origin, "a Task state without a Resource string")
        return
    if language == "JSONata":
        params = jsonata_value(state["Arguments"]) if "Arguments" in state else UNKNOWN
    else:
        # Without Parameters an integration sends the state's input, which the definition does not show.
        params = jsonpath_value(state["Parameters"]) if "Parameters" in state else UNKNOWN

    if sdk := _SDK_ARN.fullmatch(resource):
        service = services.sdk_service(sdk["service"])
        if service is None:
            yield Problem(
                origin,
                f'aws-sdk service "{sdk["service"]}" has no botocore model: map it in '
                "tools/api_model/services.py SDK_SERVICE_NAMES",
            )
            return
        operation = services.operation_from_action(service, sdk["action"])
        if operation is None:
            yield Problem(
                origin, f'botocore\'s {service} model has no operation for action "{sdk["action"]}"'
            )
            return
        yield Request(origin, "state-machine task", service, operation, params, pascal_case=True)
        return

    if optimized := _INTEGRATION_ARN.fullmatch(resource):
        key = f"{optimized['service']}:{optimized['action']}"
        if key in NOT_AN_SDK_CALL:
            yield Skip(origin, f"{key} {NOT_AN_SDK_CALL[key]}")
            return
        integration = OPTIMIZED.get(key)
        if integration is None:
            yield Problem(
                origin,
                f'unknown Step Functions integration "{key}": map it in tools/api_model/state_machines.py '
                "(OPTIMIZED or NOT_AN_SDK_CALL)",
            )
            return
        yield Request(
            origin,
            "state-machine task",
            integration.service,
            integration.operation,
            params,
            pascal_case=True,
            serialized=frozenset(integration.serialized),
            added=integration.added,
        )
        return

    if not is_known(resource) and ":states:::" not in resource:
        # A token: a Lambda function or activity ARN from another resource (integration ARNs are literals).
        yield Skip(
            origin, "the resource is a function or activity ARN: the Parameters are its free-form input"
        )
    elif re.fullmatch(r"arn:[^:]*:lambda:[^:]*:[^:]*:function:.+", resource):
        yield Skip(origin, "a direct Lambda function ARN: the Parameters are the function's free-form event")
    elif re.fullmatch(r"arn:[^:]*:states:[^:]*:[^:]*:activity:.+", resource):
        yield Skip(origin, "an activity ARN: the Parameters are the worker's free-form input")
    else:
        yield Problem(origin, f"unrecognized Task resource {show(resource)}")
