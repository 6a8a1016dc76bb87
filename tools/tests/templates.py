"""Builders of small hand-written templates, shaped like what CDK synthesizes: definitions are JSON strings
joined around tokens. In a document given to ``joined``, ``"@@NAME@@"`` inside a string is a token spliced
into that string, and ``bare("NAME")`` is a token standing for a whole JSON value (a number from a Ref)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tools.api_model.check import check_templates

TOKENS: dict[str, Any] = {
    "ROLE": {"Fn::GetAtt": ["JobRole", "Arn"]},
    "BUCKET": {"Ref": "DataBucket"},
    "KEY": {"Fn::GetAtt": ["DataKey", "Arn"]},
    "SUBNET": {"Fn::ImportValue": "fmft-test-network:SubnetId"},
    "SECURITY_GROUP": {"Fn::GetStackOutput": {"StackName": "net", "Region": "us-east-1", "OutputName": "Sg"}},
    "ACCOUNT": {"Ref": "AWS::AccountId"},
    "REGION": {"Ref": "AWS::Region"},
    "PARTITION": {"Ref": "AWS::Partition"},
    "TOPIC": {"Ref": "NotificationTopic"},
    "FUNCTION": {"Fn::GetAtt": ["PrepareFunction", "Arn"]},
    "COUNT": {"Ref": "InstanceCountParameter"},
}


def bare(name: str) -> str:
    return f"@@!{name}@@"


def joined(document: Any) -> dict[str, Any]:
    """``document`` as CDK writes a definition: ``Fn::Join`` of JSON text pieces and tokens."""
    text = json.dumps(document, separators=(",", ":"))
    text = re.sub(r'"@@!(\w+)@@"', r"@@\1@@", text)  # a bare token loses its quotes
    parts = re.split(r"@@(\w+)@@", text)
    pieces = [TOKENS[part] if index % 2 else part for index, part in enumerate(parts)]
    return {"Fn::Join": ["", [piece for piece in pieces if piece != ""]]}


def template(**resources: dict[str, Any]) -> dict[str, Any]:
    return {"Resources": resources}


def pipeline(steps: list[dict[str, Any]], parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body = {"Version": "2020-12-01", "Metadata": {}, "Parameters": parameters or [], "Steps": steps}
    return {
        "Type": "AWS::SageMaker::Pipeline",
        "Properties": {
            "PipelineName": "fmft-test",
            "RoleArn": TOKENS["ROLE"],
            "PipelineDefinition": {"PipelineDefinitionBody": joined(body)},
        },
    }


PIPELINE_PARAMETERS = [
    {"Name": "InputDataUri", "Type": "String", "DefaultValue": "s3://@@BUCKET@@/raw/"},
    {"Name": "InstanceCount", "Type": "Integer", "DefaultValue": 1},
    {"Name": "InstanceType", "Type": "String", "DefaultValue": "ml.m5.xlarge"},
    {"Name": "LearningRate", "Type": "Float"},
]


def processing_arguments() -> dict[str, Any]:
    """A valid CreateProcessingJob request with tokens and pipeline expressions everywhere they occur."""
    return {
        "RoleArn": "@@ROLE@@",
        "AppSpecification": {
            "ImageUri": "@@ACCOUNT@@.dkr.ecr.@@REGION@@.amazonaws.com/fmft-training:1.0",
            "ContainerEntrypoint": ["python3", "-m", "training.data", "format"],
            "ContainerArguments": ["--input", "/opt/ml/processing/input/raw"],
        },
        "ProcessingInputs": [
            {
                "InputName": "raw",
                "S3Input": {
                    "S3Uri": {"Get": "Parameters.InputDataUri"},
                    "LocalPath": "/opt/ml/processing/input/raw",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                },
            }
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "train",
                    "S3Output": {
                        "S3Uri": {
                            "Std:Join": {
                                "On": "/",
                                "Values": [
                                    "s3://@@BUCKET@@",
                                    {"Get": "Execution.PipelineExecutionId"},
                                    "train",
                                ],
                            }
                        },
                        "LocalPath": "/opt/ml/processing/output/train",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ],
            "KmsKeyId": "@@KEY@@",
        },
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceType": {"Get": "Parameters.InstanceType"},
                "InstanceCount": {"Get": "Parameters.InstanceCount"},
                "VolumeSizeInGB": 30,
                "VolumeKmsKeyId": "@@KEY@@",
            }
        },
        "NetworkConfig": {
            "EnableNetworkIsolation": True,
            "VpcConfig": {"Subnets": ["@@SUBNET@@"], "SecurityGroupIds": ["@@SECURITY_GROUP@@"]},
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "Environment": {"PYTHONUNBUFFERED": "1"},
        "Tags": [{"Key": "fmft:environment", "Value": "test"}],
    }


def processing_step(name: str = "PrepareData", **changes: Any) -> dict[str, Any]:
    """A Processing step; ``changes`` replace top-level arguments (None removes one)."""
    arguments = processing_arguments()
    for key, value in changes.items():
        if value is None:
            arguments.pop(key, None)
        else:
            arguments[key] = value
    return {"Name": name, "Type": "Processing", "Arguments": arguments}


def state_machine(states: dict[str, Any], start: str | None = None, **extra: Any) -> dict[str, Any]:
    """A state machine whose states run in the order given (the last one ends)."""
    names = list(states)
    chained = {}
    for position, name in enumerate(names):
        state = dict(states[name])
        if (
            state.get("Type") in ("Task", "Pass", "Parallel", "Map")
            and "Next" not in state
            and "End" not in state
        ):
            state.update({"Next": names[position + 1]} if position + 1 < len(names) else {"End": True})
        chained[name] = state
    definition = {"StartAt": start or names[0], "States": chained, **extra}
    return {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {"RoleArn": TOKENS["ROLE"], "DefinitionString": joined(definition)},
    }


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document, indent=1))
    return path


def findings_of(tmp_path: Path, document: dict[str, Any], name: str = "test.template.json") -> list[str]:
    """Every finding of one template, as printed."""
    report = check_templates([write(tmp_path / name, document)])
    return [str(finding) for finding in report.findings]


def messages_of(tmp_path: Path, document: dict[str, Any]) -> list[str]:
    """Every finding's text after the location ("path: message"), for exact comparisons."""
    report = check_templates([write(tmp_path / "test.template.json", document)])
    return [finding.message for finding in report.findings]
