"""Step Functions tasks: optimized and AWS SDK integrations, dynamic values, nesting, PascalCase names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tools.api_model.intrinsics import MARKER, UNKNOWN
from tools.api_model.state_values import jsonata_value, jsonpath_value
from tools.tests.templates import findings_of, messages_of, state_machine, template

BEDROCK_JOB = "arn:aws:states:::bedrock:createModelCustomizationJob.sync"


def _machine(states: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return template(Machine=state_machine(states, **extra))


def _customization(**changes: Any) -> dict[str, Any]:
    parameters = {
        "JobName.$": "$.run.jobName",
        "CustomModelName": "fmft-custom-model",
        "RoleArn": "@@ROLE@@",
        "BaseModelIdentifier.$": "$.run.baseModelIdentifier",
        "CustomizationType": "FINE_TUNING",
        "HyperParameters.$": "$.run.hyperParameters",
        "CustomModelKmsKeyId": "@@KEY@@",
        "TrainingDataConfig": {"S3Uri.$": "$.run.trainingDataUri"},
        "OutputDataConfig": {"S3Uri": "s3://@@BUCKET@@/models/bedrock/"},
        "VpcConfig": {"SubnetIds": ["@@SUBNET@@"], "SecurityGroupIds": ["@@SECURITY_GROUP@@"]},
        "JobTags": [{"Key": "fmft:environment", "Value": "test"}],
    }
    parameters.update(changes)
    return {"Type": "Task", "Resource": BEDROCK_JOB, "Parameters": parameters}


def _processing(arguments: str) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:@@PARTITION@@:states:::sagemaker:createProcessingJob.sync",
        "Parameters": {
            "ProcessingJobName.$": "States.Format('eval-{}', $$.Execution.Name)",
            "RoleArn": "@@ROLE@@",
            "AppSpecification": {
                "ImageUri": "@@ACCOUNT@@.dkr.ecr.@@REGION@@.amazonaws.com/fmft-training:1.0",
                "ContainerEntrypoint": ["python3", "-m", "training.evaluate"],
                "ContainerArguments.$": arguments,
            },
            "ProcessingResources": {
                "ClusterConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30}
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        },
    }


def test_a_valid_machine_with_tokens_and_dynamic_values_has_no_finding(tmp_path: Path) -> None:
    states = {
        "Prepare": {"Type": "Task", "Resource": "@@FUNCTION@@", "Parameters": {"input.$": "$"}},
        "Customize": _customization(),
        "Evaluate": _processing("States.Array('--predictions', $.job.outputModelArn, '--task', 'qa')"),
        "Fan": {
            "Type": "Parallel",
            "Branches": [
                {
                    "StartAt": "Child",
                    "States": {
                        "Child": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::aws-sdk:sfn:startExecution",
                            "Parameters": {
                                "StateMachineArn": "@@FUNCTION@@",
                                "Input.$": "States.JsonToString($)",
                            },
                            "End": True,
                        }
                    },
                }
            ],
        },
        "Notify": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {"TopicArn": "@@TOPIC@@", "Message": {"outcome": "SUCCEEDED", "run.$": "$.run"}},
        },
        "Describe": {
            "Type": "Task",
            "QueryLanguage": "JSONata",
            "Resource": "arn:aws:states:::aws-sdk:bedrock:getCustomModel",
            "Arguments": {"ModelIdentifier": "{% $states.input.job.outputModelArn %}"},
        },
        "CallApi": {"Type": "Task", "Resource": "arn:aws:states:::apigateway:invoke", "Parameters": {"x": 1}},
    }

    assert findings_of(tmp_path, _machine(states)) == []


def test_an_aws_sdk_task_with_an_unknown_member_matches_pascal_case_to_camel_case(tmp_path: Path) -> None:
    task = _customization(Colour="blue")
    task["Resource"] = "arn:aws:states:::aws-sdk:bedrock:createModelCustomizationJob"

    [finding] = findings_of(tmp_path, _machine({"Customize": task}))

    # Only the unknown key: JobName, RoleArn, ... matched the model's jobName, roleArn, ...
    assert finding.startswith(
        f"{tmp_path}/test.template.json: Machine (AWS::StepFunctions::StateMachine) state Customize -> "
        'bedrock.CreateModelCustomizationJob: Colour: unknown member "Colour": '
        "CreateModelCustomizationJobRequest has JobName, CustomModelName, RoleArn"
    )


def test_a_missing_required_member_is_named_as_step_functions_writes_it(tmp_path: Path) -> None:
    task = _customization()
    del task["Parameters"]["OutputDataConfig"]

    assert messages_of(tmp_path, _machine({"Customize": task})) == [
        'missing required member "OutputDataConfig" of CreateModelCustomizationJobRequest'
    ]


def test_an_optimized_bedrock_task_with_a_bad_custom_model_name(tmp_path: Path) -> None:
    [finding] = findings_of(tmp_path, _machine({"Customize": _customization(CustomModelName="bad name!")}))

    assert finding == (
        f"{tmp_path}/test.template.json: Machine (AWS::StepFunctions::StateMachine) state Customize -> "
        'bedrock.CreateModelCustomizationJob: CustomModelName: "bad name!" does not match the pattern '
        "([0-9a-zA-Z][_-]?){1,63}"
    )


def test_states_array_container_arguments_with_a_too_long_literal(tmp_path: Path) -> None:
    script = "z" * 300
    task = _processing(f"States.Array('--script', '{script}', $.run.predictionsUri)")

    assert messages_of(tmp_path, _machine({"Evaluate": task})) == [
        f'AppSpecification.ContainerArguments[1]: length 300 exceeds the maximum 256: "{"z" * 56}...'
    ]


def test_a_bad_task_inside_a_map_is_found(tmp_path: Path) -> None:
    mapped = {
        "Type": "Map",
        "ItemsPath": "$.models",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": "Customize",
            "States": {"Customize": dict(_customization(CustomizationType="FINE_TUNE"), End=True)},
        },
    }

    [finding] = findings_of(tmp_path, _machine({"Each": mapped}))

    assert "state Customize -> bedrock.CreateModelCustomizationJob: CustomizationType: " in finding
    assert (
        '"FINE_TUNE" is not one of CustomizationType\'s values: FINE_TUNING, CONTINUED_PRE_TRAINING'
        in finding
    )


def test_an_unknown_integration_is_a_finding(tmp_path: Path) -> None:
    task = {"Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:createCluster", "Parameters": {}}

    [message] = messages_of(tmp_path, _machine({"Convert": task}))

    assert message.startswith('unknown Step Functions integration "elasticmapreduce:createCluster"')


def test_an_aws_sdk_service_botocore_does_not_know_is_a_finding(tmp_path: Path) -> None:
    task = {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:nosuchservice:doThing", "Parameters": {}}

    [message] = messages_of(tmp_path, _machine({"Do": task}))

    assert message.startswith('aws-sdk service "nosuchservice" has no botocore model')


def test_an_object_is_accepted_only_where_the_integration_serializes_it(tmp_path: Path) -> None:
    message = {"outcome": "FAILED"}
    states = {
        "Start": {
            "Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Parameters": {"StateMachineArn": "@@FUNCTION@@", "Input": {"run.$": "$.run"}},
        },
        "Ask": {
            "Type": "Task",
            "Resource": "arn:aws:states:::bedrock:invokeModel",
            "Parameters": {
                "ModelId.$": "$.job.outputModelArn",
                "Body": {"prompt": "Say hi", "max_tokens": 8},
                "Output": {"S3Uri": "s3://@@BUCKET@@/answers/"},
            },
        },
        "Publish": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {"TopicArn": "@@TOPIC@@", "Message": message, "Subject": message},
        },
    }

    assert messages_of(tmp_path, _machine(states)) == [
        'Subject: expected a string (subject), got an object {"outcome": "FAILED"}'
    ]


def test_jsonpath_values() -> None:
    value = jsonpath_value(
        {
            "A.$": "$.x",
            "B.$": "States.Array('it\\'s', 'a\\, b', $.y[0], 3, States.Format('{}', $.z))",
            "C.$": "States.Format('job-{}', $$.Execution.Name)",
            "D": [{"E.$": "States.MathAdd($.n, 1)"}],
            "F.$": "States.Array(",
        }
    )

    assert value == {
        "A": UNKNOWN,
        "B": ["it's", "a, b", UNKNOWN, 3, MARKER],
        "C": MARKER,
        "D": [{"E": UNKNOWN}],
        "F": UNKNOWN,
    }


def test_jsonata_values() -> None:
    assert jsonata_value({"A": "{% $x %}", "B": ["literal", " {% $y %} "]}) == {
        "A": UNKNOWN,
        "B": ["literal", UNKNOWN],
    }


def test_a_state_machine_must_name_its_processing_job_unlike_a_pipeline_step(tmp_path: Path) -> None:
    task = _processing("States.Array('--task', 'qa')")
    del task["Parameters"]["ProcessingJobName.$"]

    assert messages_of(tmp_path, _machine({"Evaluate": task})) == [
        'missing required member "ProcessingJobName" of CreateProcessingJobRequest'
    ]
