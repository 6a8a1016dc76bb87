"""SageMaker pipeline steps: each fixture proves one way the checker fails a request the API would refuse."""

from __future__ import annotations

from pathlib import Path

from tools.tests.templates import (
    PIPELINE_PARAMETERS,
    findings_of,
    messages_of,
    pipeline,
    processing_arguments,
    processing_step,
    template,
)

LOCATION = (
    "test.template.json: Pipeline (AWS::SageMaker::Pipeline) step PrepareData"
    " -> sagemaker.CreateProcessingJob"
)


def _pipeline(*steps: dict, parameters: list | None = None) -> dict:
    return template(Pipeline=pipeline(list(steps), PIPELINE_PARAMETERS if parameters is None else parameters))


def _app(**changes) -> dict:
    app = processing_arguments()["AppSpecification"]
    app.update(changes)
    return app


def test_a_valid_step_with_tokens_everywhere_has_no_finding(tmp_path: Path) -> None:
    assert findings_of(tmp_path, _pipeline(processing_step())) == []


def test_an_entrypoint_string_over_256_characters(tmp_path: Path) -> None:
    script = "echo " + "x" * 295
    step = processing_step(AppSpecification=_app(ContainerEntrypoint=["bash", "-c", script]))

    [finding] = findings_of(tmp_path, _pipeline(step))

    assert finding.startswith(
        f"{tmp_path}/{LOCATION}: "
        'AppSpecification.ContainerEntrypoint[2]: length 300 exceeds the maximum 256: "echo xxxx'
    )


def test_an_unknown_member(tmp_path: Path) -> None:
    step = processing_step(AppSpecification=_app(Entrypoint=["python3"]))

    assert messages_of(tmp_path, _pipeline(step)) == [
        'AppSpecification.Entrypoint: unknown member "Entrypoint": AppSpecification has ImageUri, '
        "ContainerEntrypoint, ContainerArguments"
    ]


def test_a_value_outside_the_enum(tmp_path: Path) -> None:
    inputs = processing_arguments()["ProcessingInputs"]
    inputs[0]["S3Input"]["S3InputMode"] = "Stream"

    assert messages_of(tmp_path, _pipeline(processing_step(ProcessingInputs=inputs))) == [
        'ProcessingInputs[0].S3Input.S3InputMode: "Stream" is not one of ProcessingS3InputMode\'s values: '
        "Pipe, File"
    ]


def test_a_list_over_its_maximum_count(tmp_path: Path) -> None:
    inputs = processing_arguments()["ProcessingInputs"] * 11

    assert messages_of(tmp_path, _pipeline(processing_step(ProcessingInputs=inputs))) == [
        "ProcessingInputs: 11 items exceed the maximum 10"
    ]


def test_an_integer_out_of_range_given_directly_or_as_a_parameter_default(tmp_path: Path) -> None:
    resources = processing_arguments()["ProcessingResources"]
    resources["ClusterConfig"]["VolumeSizeInGB"] = 20000
    parameters = [dict(p, DefaultValue=0) if p["Name"] == "InstanceCount" else p for p in PIPELINE_PARAMETERS]

    messages = messages_of(
        tmp_path, _pipeline(processing_step(ProcessingResources=resources), parameters=parameters)
    )

    assert messages == [
        "ProcessingResources.ClusterConfig.InstanceCount: 0 is below the minimum 1",
        "ProcessingResources.ClusterConfig.VolumeSizeInGB: 20000 exceeds the maximum 16384",
    ]


def test_a_missing_required_member_but_not_the_job_name_the_orchestrator_fills(tmp_path: Path) -> None:
    step = processing_step(RoleArn=None)

    assert messages_of(tmp_path, _pipeline(step)) == [
        'missing required member "RoleArn" of CreateProcessingJobRequest'
    ]
    assert "ProcessingJobName" not in processing_arguments()  # exempt: SageMaker Pipelines names the job


def test_a_pattern_mismatch(tmp_path: Path) -> None:
    step = processing_step(RoleArn="arn:aws:iam::123456789012:user/someone")

    [message] = messages_of(tmp_path, _pipeline(step))

    assert message.startswith(
        'RoleArn: "arn:aws:iam::123456789012:user/someone" does not match the pattern arn:aws'
    )


def test_a_line_break_where_the_pattern_is_dot_star(tmp_path: Path) -> None:
    """ContainerEntrypoint strings must match ".*", and "." matches no line break (in Java as in Python)."""
    step = processing_step(AppSpecification=_app(ContainerEntrypoint=["bash", "-c", "set -e\necho ok"]))

    assert messages_of(tmp_path, _pipeline(step)) == [
        'AppSpecification.ContainerEntrypoint[2]: "set -e\\necho ok" does not match the pattern .* '
        "(it holds a line break, which . does not match)"
    ]


def test_a_partly_known_string_whose_literal_part_is_too_long(tmp_path: Path) -> None:
    command = "aws s3 cp s3://@@BUCKET@@/code.tar.gz . && " + "y" * 250
    step = processing_step(AppSpecification=_app(ContainerEntrypoint=["bash", "-c", command]))

    [message] = messages_of(tmp_path, _pipeline(step))

    assert message.startswith(
        "AppSpecification.ContainerEntrypoint[2]: length of the known part alone is 283, which exceeds the "
        "maximum 256 (the deployed value is longer)"
    )


def test_a_partly_known_string_within_the_limit_passes(tmp_path: Path) -> None:
    command = "aws s3 cp s3://@@BUCKET@@/code.tar.gz . && " + "y" * 200

    step = processing_step(AppSpecification=_app(ContainerEntrypoint=["bash", "-c", command]))

    assert messages_of(tmp_path, _pipeline(step)) == []


def test_a_bad_step_inside_a_condition(tmp_path: Path) -> None:
    bad = processing_step("RegisterIfGood", StoppingCondition={"MaxRuntimeInSeconds": 0})
    condition = {
        "Name": "CheckQuality",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [{"Type": "LessThanOrEqualTo", "LeftValue": 1.0, "RightValue": 2.0}],
            "IfSteps": [bad],
            "ElseSteps": [{"Name": "TooLow", "Type": "Fail", "Arguments": {"ErrorMessage": "too low"}}],
        },
    }

    [finding] = findings_of(tmp_path, _pipeline(processing_step(), condition))

    assert finding == (
        f"{tmp_path}/test.template.json: Pipeline (AWS::SageMaker::Pipeline) step RegisterIfGood -> "
        "sagemaker.CreateProcessingJob: StoppingCondition.MaxRuntimeInSeconds: 0 is below the minimum 1"
    )


def test_an_unknown_step_type_cannot_pass_silently(tmp_path: Path) -> None:
    emr = {"Name": "Cluster", "Type": "EMR", "Arguments": {"ClusterId": "j-1", "StepConfig": {}}}

    [finding] = findings_of(tmp_path, _pipeline(emr))

    assert finding.startswith(
        f"{tmp_path}/test.template.json: Pipeline (AWS::SageMaker::Pipeline) step Cluster: "
        'unknown pipeline step type "EMR"'
    )


def test_parameters_resolve_to_typed_defaults_and_unknowns(tmp_path: Path) -> None:
    """A String default is checked against the enum; a parameter without a default is unknown, not wrong."""
    parameters = [
        dict(p, DefaultValue="ml.m5.huge") if p["Name"] == "InstanceType" else p for p in PIPELINE_PARAMETERS
    ]
    resources = processing_arguments()["ProcessingResources"]
    resources["ClusterConfig"]["VolumeSizeInGB"] = {"Get": "Parameters.LearningRate"}  # no default: unknown

    messages = messages_of(
        tmp_path, _pipeline(processing_step(ProcessingResources=resources), parameters=parameters)
    )

    assert len(messages) == 1
    assert messages[0].startswith(
        "ProcessingResources.ClusterConfig.InstanceType: "
        '"ml.m5.huge" is not one of ProcessingInstanceType\'s values'
    )


def test_an_undeclared_parameter_is_a_finding(tmp_path: Path) -> None:
    step = processing_step(StoppingCondition={"MaxRuntimeInSeconds": {"Get": "Parameters.MaxRuntime"}})

    assert messages_of(tmp_path, _pipeline(step)) == [
        'an argument refers to the undeclared pipeline parameter "MaxRuntime"'
    ]


def test_a_wrong_type(tmp_path: Path) -> None:
    step = processing_step(Environment={"EPOCHS": 3})

    assert messages_of(tmp_path, _pipeline(step)) == [
        'Environment["EPOCHS"]: expected a string (ProcessingEnvironmentValue), got a number 3'
    ]


def _training_arguments() -> dict:
    return {
        "RoleArn": "@@ROLE@@",
        "AlgorithmSpecification": {
            "TrainingImage": "@@ACCOUNT@@.dkr.ecr.@@REGION@@.amazonaws.com/fmft-training:1.0",
            "TrainingInputMode": "FastFile",
            "EnableSageMakerMetricsTimeSeries": True,
        },
        "OutputDataConfig": {"S3OutputPath": "s3://@@BUCKET@@/out"},
        "ResourceConfig": {"InstanceType": "ml.g5.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 100},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "HyperParameters": {
            "epochs": {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.InstanceCount"}]}}
        },
    }


def test_a_training_step_is_a_create_training_job_request(tmp_path: Path) -> None:
    training = {"Name": "FineTune", "Type": "Training", "Arguments": _training_arguments()}

    assert findings_of(tmp_path, _pipeline(training)) == []


def test_a_tuning_job_definition_does_not_take_every_training_job_member(tmp_path: Path) -> None:
    """EnableSageMakerMetricsTimeSeries is valid in CreateTrainingJob's AlgorithmSpecification, not in a
    tuning job's HyperParameterAlgorithmSpecification."""
    definition = _training_arguments()
    definition["StaticHyperParameters"] = definition.pop("HyperParameters")
    tuning = {
        "Name": "Tune",
        "Type": "Tuning",
        "Arguments": {
            "HyperParameterTuningJobConfig": {
                "Strategy": "Bayesian",
                "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "eval_loss"},
                "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
            },
            "TrainingJobDefinition": definition,
        },
    }

    assert messages_of(tmp_path, _pipeline(tuning)) == [
        "TrainingJobDefinition.AlgorithmSpecification.EnableSageMakerMetricsTimeSeries: unknown member "
        '"EnableSageMakerMetricsTimeSeries": HyperParameterAlgorithmSpecification has TrainingImage, '
        "TrainingInputMode, AlgorithmName, MetricDefinitions"
    ]
