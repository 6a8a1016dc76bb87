"""The mapping tables name real botocore operations and members, so a typo cannot turn a check into a finding
about the table (or, worse, into a request that is never checked)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.api_model import custom_resources, pipelines, services, state_machines
from tools.api_model.requests import environment_for


@pytest.mark.parametrize("step_type", sorted(pipelines.STEP_OPERATIONS))
def test_pipeline_steps_map_to_operations_and_exempt_real_required_members(step_type: str) -> None:
    operation = services.operation_model("sagemaker", pipelines.STEP_OPERATIONS[step_type])

    assert operation is not None
    assert set(pipelines.ORCHESTRATOR_FILLED[step_type]) <= set(operation.input_shape.required_members)


@pytest.mark.parametrize("key", sorted(state_machines.OPTIMIZED))
def test_optimized_integrations_map_to_operations_and_members(key: str) -> None:
    integration = state_machines.OPTIMIZED[key]
    operation = services.operation_model(integration.service, integration.operation)

    assert operation is not None
    for path in integration.serialized:
        shape = operation.input_shape
        for member in path.replace("[]", "").split("."):
            shape = shape.members[member]
            shape = shape.member if shape.type_name == "list" else shape
        assert shape.type_name in ("string", "blob"), path
    members = set(operation.input_shape.members)
    assert not set(integration.added) & (members | {member[:1].upper() + member[1:] for member in members})


@pytest.mark.parametrize("resource_type", sorted(custom_resources.REGISTRY))
def test_registered_custom_resources_map_to_operations(resource_type: str) -> None:
    api = custom_resources.REGISTRY[resource_type]

    assert services.operation_model(api.service, api.operation) is not None


@pytest.mark.parametrize("sdk_id", sorted(services.SDK_SERVICE_NAMES))
def test_sdk_service_ids_map_to_botocore_services(sdk_id: str) -> None:
    assert services.sdk_service(sdk_id) == services.SDK_SERVICE_NAMES[sdk_id]


def test_sdk_service_ids_without_hyphens_find_their_service() -> None:
    assert services.sdk_service("acmpca") == "acm-pca"
    assert services.sdk_service("bedrockruntime") == "bedrock-runtime"
    assert services.sdk_service("sagemaker") == "sagemaker"
    assert services.sdk_service("nosuchservice") is None


def test_the_region_comes_from_the_cloud_assembly_manifest(tmp_path: Path) -> None:
    manifest = {
        "artifacts": {
            "fmft-dev-pipelines": {
                "type": "aws:cloudformation:stack",
                "environment": "aws://unknown-account/eu-central-1",
                "properties": {"templateFile": "fmft-dev-pipelines.template.json"},
            }
        }
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))

    env = environment_for(tmp_path / "fmft-dev-pipelines.template.json", {})

    assert (env.region, env.account) == ("eu-central-1", "123456789012")
    assert environment_for(tmp_path / "other.template.json", {}).region is None
