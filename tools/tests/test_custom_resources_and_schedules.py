"""Custom resources (requests built by the real handler code) and Scheduler universal targets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tools.api_model.check import check_templates
from tools.tests.templates import TOKENS, findings_of, messages_of, template, write


def _invocation_logging(**changes: Any) -> dict[str, Any]:
    properties = {
        "ServiceToken": TOKENS["FUNCTION"],
        "Region": "us-east-1",
        "LogGroupName": {"Ref": "InvocationLogs"},
        "LoggingRoleArn": {"Fn::GetAtt": ["DeliveryRole", "Arn"]},
        "BucketName": TOKENS["BUCKET"],
        "KeyPrefix": "bedrock-invocations/",
        "LargeDataPrefix": "bedrock-invocations/large-data/",
    }
    properties.update(changes)
    return {"Type": "Custom::BedrockInvocationLogging", "Properties": properties}


def test_the_invocation_logging_request_is_built_by_the_handler_and_passes(tmp_path: Path) -> None:
    report = check_templates([write(tmp_path / "b.template.json", template(Logging=_invocation_logging()))])

    assert report.findings == []
    assert report.checked["custom resource"] == 1


def test_the_invocation_logging_request_is_checked_against_the_bedrock_model(tmp_path: Path) -> None:
    """The handler puts KeyPrefix into loggingConfig.s3Config.keyPrefix, which the API limits to 1024."""
    [finding] = findings_of(tmp_path, template(Logging=_invocation_logging(KeyPrefix="p/" * 600)))

    assert finding.startswith(
        f"{tmp_path}/test.template.json: Logging (Custom::BedrockInvocationLogging) custom resource -> "
        "bedrock.PutModelInvocationLoggingConfiguration: "
        "loggingConfig.s3Config.keyPrefix: length 1200 exceeds the maximum 1024"
    )


def test_a_property_the_handler_needs_but_the_resource_lacks(tmp_path: Path) -> None:
    resource = _invocation_logging()
    del resource["Properties"]["LargeDataPrefix"]

    assert messages_of(tmp_path, template(Logging=resource)) == [
        "the request builder needs the property 'LargeDataPrefix', which the resource does not set"
    ]


def test_an_unregistered_custom_resource_type_is_a_finding(tmp_path: Path) -> None:
    resources = template(
        Thing={"Type": "Custom::ModelWarmer", "Properties": {"ServiceToken": TOKENS["FUNCTION"]}},
        Plain={
            "Type": "AWS::CloudFormation::CustomResource",
            "Properties": {"ServiceToken": TOKENS["FUNCTION"]},
        },
    )

    findings = findings_of(tmp_path, resources)

    assert [finding.split(": ", 2)[1:] for finding in findings] == [
        [
            "Thing (Custom::ModelWarmer) custom resource",
            "unregistered custom resource type: register the API call its handler makes (service, operation, "
            "request builder) in tools/api_model/custom_resources.py REGISTRY",
        ],
        [
            "Plain (AWS::CloudFormation::CustomResource) custom resource",
            "unregistered custom resource type: register the API call its handler makes (service, operation, "
            "request builder) in tools/api_model/custom_resources.py REGISTRY",
        ],
    ]


def test_cdk_owned_custom_resources_are_skipped_with_a_reason(tmp_path: Path) -> None:
    resources = template(
        Restrict={"Type": "Custom::VpcRestrictDefaultSG", "Properties": {"DefaultSecurityGroupId": "x"}}
    )

    report = check_templates([write(tmp_path / "n.template.json", resources)])

    assert report.findings == []
    [(_, skip)] = report.skips
    assert "aws-cdk-lib" in skip.reason


def _schedule(arn: str, request: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "AWS::Scheduler::Schedule",
        "Properties": {
            "ScheduleExpression": "rate(1 day)",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {
                "Arn": arn,
                "RoleArn": TOKENS["ROLE"],
                "Input": {
                    "Fn::Join": ["", [json.dumps(request)[:-1], ',"QueueUrl":"', TOKENS["TOPIC"], '"}']]
                },
            },
        },
    }


def test_a_universal_schedule_target_is_checked(tmp_path: Path) -> None:
    arn = {"Fn::Sub": "arn:${AWS::Partition}:scheduler:::aws-sdk:sqs:sendMessage"}
    good = _schedule(arn, {"MessageBody": "run <aws.scheduler.execution-id>", "DelaySeconds": 10})
    bad = _schedule(arn, {"MessageBody": "run", "DelaySeconds": "soon", "Priority": 1})

    assert findings_of(tmp_path, template(Good=good)) == []
    assert messages_of(tmp_path, template(Bad=bad)) == [
        'DelaySeconds: expected an integer (NullableInteger), got the string "soon"',
        'Priority: unknown member "Priority": SendMessageRequest has QueueUrl, MessageBody, DelaySeconds, '
        "MessageAttributes, MessageSystemAttributes, MessageDeduplicationId, MessageGroupId",
    ]
