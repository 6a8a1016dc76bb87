"""The DR drill on a two-region moto server, up to the endpoint brought up from the restored serving file.

The registry export runs in the primary region (us-east-1). S3 replication is done by the test (moto does
not replicate: every object of a primary bucket is copied to its replica, as S3 would). Then
``python -m training.dr restore`` runs in the DR region (us-west-2) and reads only the DR region: the DR
stack's outputs (a moto CloudFormation stack), the replicated exports, manifest and artifacts. Last, the
endpoint comes up from the restored serving file with the requests the endpoints stack makes.

What it proves: the served versions come back, registered in the DR region's group, pointing at the
replicas and the DR region's images; the serving file comes back with the DR ARNs, and an endpoint serves
them; a second run creates nothing; a restore that cannot finish (no DR stack, a missing artifact, a
rejected version, no group) creates nothing."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest

from training.dr import __main__ as dr_cli
from training.dr import registry_export
from training.dr.restore import RestoreError, choose_versions
from training.tests.api_requests import Recording, RequestLog, api_violations

ACCOUNT, PRIMARY, DR = "123456789012", "us-east-1", "us-west-2"
GROUP = "fmft-dev-fine-tuning-models"
PURPOSES = ("training-data", "model-artifacts", "evaluation-results")
SOURCE = {p: f"fmft-dev-{p}-{ACCOUNT}-{PRIMARY}" for p in PURPOSES}
REPLICA = {p: f"fmft-dev-dr-{p}-{ACCOUNT}-{DR}" for p in PURPOSES}
ARTIFACTS = SOURCE["model-artifacts"]
IMAGE = f"763104351884.dkr.ecr.{PRIMARY}.amazonaws.com/djl-inference:0.36.0-lmi28.0.0-cu130"
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
REPO = Path(__file__).resolve().parents[2]


def dr_stack_template() -> str:
    """The DR stack as the restore sees it: its replica buckets and the two outputs it reads."""
    resources = {
        f"Replica{i}": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": REPLICA[p]}}
        for i, p in enumerate(PURPOSES)
    }
    outputs = {
        "ReplicaBuckets": {"Value": json.dumps({SOURCE[p]: REPLICA[p] for p in PURPOSES})},
        "ModelArtifactsReplicaName": {"Value": REPLICA["model-artifacts"]},
    }
    return json.dumps({"Resources": resources, "Outputs": outputs})


def client(service: str, region: str = PRIMARY) -> Any:
    return boto3.client(service, region_name=region)


def register(sm: Any, s3: Any, n: int, status: str) -> str:
    model = f"models/final/run-{n}/model.tar.gz"
    s3.put_object(Bucket=ARTIFACTS, Key=model, Body=b"weights %d" % n)
    report = f"evaluation/reports/run-{n}/metrics.json"
    s3.put_object(Bucket=SOURCE["evaluation-results"], Key=report, Body=b'{"f1": 0.9}')
    return sm.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelPackageDescription=f"run {n}",
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://{ARTIFACTS}/{model}"}],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        ModelMetrics={
            "ModelQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri": f"s3://{SOURCE['evaluation-results']}/{report}",
                }
            }
        },
        ModelApprovalStatus=status,
        CustomerMetadataProperties={"base_model": "tiny", "pipeline_execution": f"exec-{n}"},
    )["ModelPackageArn"]


def replicate() -> None:
    """What S3 replication does for the test: every object of each primary bucket into its replica."""
    s3, s3_dr = client("s3"), client("s3", DR)
    for purpose in PURPOSES:
        for obj in s3.list_objects_v2(Bucket=SOURCE[purpose]).get("Contents", []):
            body = s3.get_object(Bucket=SOURCE[purpose], Key=obj["Key"])["Body"].read()
            s3_dr.put_object(Bucket=REPLICA[purpose], Key=obj["Key"], Body=body)


def event(arn: str) -> dict[str, Any]:
    return {
        "detail-type": registry_export.DETAIL_TYPE,
        "source": "aws.sagemaker",
        "detail": {"ModelPackageArn": arn},
    }


@pytest.fixture
def world(moto_endpoint, tmp_path):
    return build_world(moto_endpoint, tmp_path, dr_group=True)


def build_world(moto_endpoint: str, tmp_path: Path, dr_group: bool) -> dict[str, Any]:
    """Primary: the group with v1 and v2 Approved, v3 Rejected, each exported as the function does; the
    promotion's manifest serving v2 as `current`. DR: the DR stack, and with ``dr_group`` the group the
    failover deployment makes. Nothing replicated yet."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).close()
    s3, sm = client("s3"), client("sagemaker")
    for bucket in SOURCE.values():
        s3.create_bucket(Bucket=bucket)
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    arns = [register(sm, s3, n, status) for n, status in ((1, "Approved"), (2, "Approved"), (3, "Rejected"))]
    cfg = {"modelPackageGroupName": GROUP, "artifactsBucket": ARTIFACTS}
    for arn in arns:
        registry_export.on_event(event(arn), cfg, s3, sm, NOW)
    manifest = {
        "status": "serving",
        "variants": [{"variant": "current", "weight": 100, "modelPackageArn": arns[1]}],
    }
    s3.put_object(Bucket=ARTIFACTS, Key="serving/manifests/current.json", Body=json.dumps(manifest).encode())
    client("cloudformation", DR).create_stack(StackName="fmft-dev-dr", TemplateBody=dr_stack_template())
    if dr_group:  # what the failover deployment's pipelines stack makes in the DR region
        client("sagemaker", DR).create_model_package_group(ModelPackageGroupName=GROUP)
    # g4dn: moto's CreateEndpointConfig enum of instance types predates g5 (the drill's endpoint step).
    serving = {
        "variants": [
            {
                "name": "current",
                "modelPackageArn": arns[0],
                "initialWeight": 90,
                "instanceType": "ml.g4dn.2xlarge",
            },
            {
                "name": "candidate",
                "modelPackageArn": arns[0],
                "initialWeight": 10,
                "instanceType": "ml.g4dn.2xlarge",
            },
        ]
    }
    serving_file = tmp_path / "serving.json"
    serving_file.write_text(json.dumps(serving))
    return {"arns": arns, "serving": serving_file, "tmp": tmp_path}


def run(*args: str) -> tuple[int, dict[str, Any] | None, str]:
    """The command in-process (its parser, wiring and exit codes), with clients of moto."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = dr_cli.main(list(args))
    return (
        code,
        (json.loads(out.getvalue()) if code == 0 and out.getvalue().startswith("{") else None),
        err.getvalue(),
    )


def restore_argv(world: dict[str, Any]) -> list[str]:
    """The restore of the serving file, up to the value of --out."""
    return ["restore", "--environment", "dev", "--to", DR, "--serving", str(world["serving"]), "--out"]


def dr_versions() -> list[dict[str, Any]]:
    sm = client("sagemaker", DR)
    summaries = sm.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    return [sm.describe_model_package(ModelPackageName=s["ModelPackageArn"]) for s in summaries]


def dr_version_count() -> int:
    return len(
        client("sagemaker", DR).list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    )


def test_the_drill_restores_the_served_versions_from_the_replicas(world, moto_endpoint):
    replicate()
    out = world["tmp"] / "serving-dr.json"
    argv = [*restore_argv(world), str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "training.dr", *argv],
        cwd=REPO,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [s["step"] for s in report["steps"]] == [
        "replicas",
        "exports",
        "artifacts",
        "group",
        "register",
        "serving",
    ]
    assert all(s["seconds"] >= 0 for s in report["steps"])
    v1, v2, _ = world["arns"]
    # v1: the serving file's candidate; v2: the manifest's current (promoted after the file was written).
    assert report["steps"][1]["versions"] == [v1, v2]
    assert report["steps"][2]["objects"] == 4  # two models, two metrics reports
    restored = {src: r["modelPackageArn"] for src, r in report["restored"].items()}
    assert all(r["created"] for r in report["restored"].values())
    assert all(
        a.startswith(f"arn:aws:sagemaker:{DR}:{ACCOUNT}:model-package/{GROUP}/") for a in restored.values()
    )

    versions = {d["CustomerMetadataProperties"]["dr_source_arn"]: d for d in dr_versions()}
    assert set(versions) == {v1, v2}
    for source, described in versions.items():
        n = source.rsplit("/", 1)[1]
        container = described["InferenceSpecification"]["Containers"][0]
        assert (
            container["ModelDataUrl"]
            == f"s3://{REPLICA['model-artifacts']}/models/final/run-{n}/model.tar.gz"
        )
        assert container["Image"] == IMAGE.replace(f".{PRIMARY}.", f".{DR}.")
        assert described["ModelApprovalStatus"] == "Approved"
        assert described["ModelPackageDescription"] == f"run {n}"
        stats = described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
        assert stats == f"s3://{REPLICA['evaluation-results']}/evaluation/reports/run-{n}/metrics.json"
        assert described["CustomerMetadataProperties"]["pipeline_execution"] == f"exec-{n}"
        assert described["CustomerMetadataProperties"]["dr_restored_at"]

    written = json.loads(out.read_text())
    assert [(v["name"], v["modelPackageArn"]) for v in written["variants"]] == [
        ("current", restored[v2]),
        ("candidate", restored[v1]),
    ]
    assert written["variants"][0]["initialWeight"] == 90  # the rest of the file is kept

    # A second run finds what the first registered and creates nothing.
    again = world["tmp"] / "again.json"
    code, second, _ = run(*argv[:-1], str(again))
    assert code == 0
    assert {s: r["created"] for s, r in second["restored"].items()} == {v1: False, v2: False}
    assert {s: r["modelPackageArn"] for s, r in second["restored"].items()} == restored
    assert len(dr_versions()) == 2

    # The endpoint: what the endpoints stack creates from the restored serving file (a model per variant from
    # its model package, network-isolated, one endpoint configuration with the variants' weights), sent here
    # as the same SageMaker requests CloudFormation makes for it.
    bring_up_endpoint(written)
    endpoint = client("sagemaker", DR).describe_endpoint(EndpointName="fmft-dev-llm")
    assert endpoint["EndpointStatus"] == "InService"
    config = client("sagemaker", DR).describe_endpoint_config(
        EndpointConfigName=endpoint["EndpointConfigName"]
    )
    assert [(v["VariantName"], v["InitialVariantWeight"]) for v in config["ProductionVariants"]] == [
        ("current", 90.0),
        ("candidate", 10.0),
    ]


def bring_up_endpoint(serving: dict[str, Any]) -> None:
    """The restored serving file's variants as an endpoint in the DR region (the endpoints stack's calls)."""
    sm = client("sagemaker", DR)
    role = f"arn:aws:iam::{ACCOUNT}:role/fmft-dev-deployment"
    variants = []
    for v in serving["variants"]:
        model = f"fmft-dev-llm-{v['name']}"
        sm.create_model(
            ModelName=model,
            ExecutionRoleArn=role,
            Containers=[{"ModelPackageName": v["modelPackageArn"]}],
            EnableNetworkIsolation=True,
        )
        variants.append(
            {
                "VariantName": v["name"],
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": v["instanceType"],
                "InitialVariantWeight": float(v["initialWeight"]),
            }
        )
    sm.create_endpoint_config(EndpointConfigName="fmft-dev-llm-restored", ProductionVariants=variants)
    sm.create_endpoint(EndpointName="fmft-dev-llm", EndpointConfigName="fmft-dev-llm-restored")


def test_without_manifest_or_serving_file_the_latest_approved_version_is_restored(world):
    client("s3").delete_object(Bucket=ARTIFACTS, Key="serving/manifests/current.json")
    replicate()
    code, report, err = run("restore", "--environment", "dev", "--to", DR)
    assert code == 0, err
    assert list(report["restored"]) == [world["arns"][1]]  # v3 is newer but Rejected
    assert report["serving"] is None


def test_a_region_without_the_dr_stack_is_refused_before_anything_is_created(world):
    replicate()
    code, _, err = run("restore", "--environment", "dev", "--to", "eu-west-1")
    assert code == 1
    assert "no stack fmft-dev-dr in eu-west-1: there are no replicas to restore from" in err
    assert client("sagemaker", "eu-west-1").list_model_package_groups()["ModelPackageGroupSummaryList"] == []


def test_an_artifact_not_replicated_yet_is_named_and_nothing_is_created(world):
    replicate()
    client("s3", DR).delete_object(Bucket=REPLICA["model-artifacts"], Key="models/final/run-2/model.tar.gz")
    code, _, err = run("restore", "--environment", "dev", "--to", DR)
    assert code == 1
    assert (
        f"not in the replicas yet (replication may be behind): s3://{REPLICA['model-artifacts']}/models/final/run-2/model.tar.gz"
        in err
    )
    assert dr_version_count() == 0


def test_nothing_replicated_means_no_export_and_nothing_created(world):
    code, _, err = run("restore", "--environment", "dev", "--to", DR)
    assert code == 1
    assert "the replica holds no export of an Approved version under registry/versions/" in err
    assert dr_version_count() == 0


def test_a_dry_run_checks_everything_and_creates_nothing(world):
    replicate()
    code, report, err = run("restore", "--environment", "dev", "--to", DR, "--dry-run")
    assert code == 0, err
    assert report["dryRun"] is True and report["wouldRegister"] == [world["arns"][1]]
    assert [s["step"] for s in report["steps"]] == ["replicas", "exports", "artifacts"]
    assert dr_version_count() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--environment", "Prod", "--to", DR], "--environment: got 'Prod'; allowed: an environment name"),
        (
            ["--environment", "dev", "--to", "mars"],
            "--to: got 'mars'; allowed: an AWS region such as us-west-2",
        ),
        (
            ["--environment", "dev", "--to", DR, "--serving", "nope.json", "--out", "x.json"],
            "--serving: got 'nope.json'; no such file",
        ),
        (
            ["--environment", "dev", "--to", DR, "--out", "x.json"],
            "--serving and --out: got one without the other",
        ),
    ],
)
def test_bad_options_exit_2_naming_the_option(args, message):
    code, _, err = run("restore", *args)
    assert code == 2
    assert message in err


def test_an_existing_out_file_is_never_overwritten(world):
    out = world["tmp"] / "exists.json"
    out.write_text("{}")
    code, _, err = run(
        "restore", "--environment", "dev", "--to", DR, "--serving", str(world["serving"]), "--out", str(out)
    )
    assert code == 2 and "it exists (a restore never overwrites a file)" in err
    assert out.read_text() == "{}"


def test_versions_to_restore_must_be_exported_and_approved():
    exports = {
        "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1": {
            "version": 1,
            "approvalStatus": "Approved",
        },
        "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/2": {
            "version": 2,
            "approvalStatus": "Rejected",
        },
    }
    # g4dn: moto's CreateEndpointConfig enum of instance types predates g5 (the drill's endpoint step).
    serving = {
        "variants": [
            {"name": "a", "modelPackageArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/2"}
        ]
    }
    with pytest.raises(RestoreError, match=r"model-package/g/2: its export says Rejected; allowed: Approved"):
        choose_versions(exports, None, serving)
    missing = {
        "variants": [
            {"name": "a", "modelPackageArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/7"}
        ]
    }
    with pytest.raises(
        RestoreError, match=r"g/7: no export in the replica \(registry/versions/g/000007.json\)"
    ):
        choose_versions(exports, None, missing)


# ---------------------------------------------------------------------------------------------- the export


def test_each_version_is_exported_where_it_replicates(world):
    s3 = client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=ARTIFACTS, Prefix="registry/versions/")["Contents"]]
    assert keys == [f"registry/versions/{GROUP}/00000{n}.json" for n in (1, 2, 3)]
    record = json.loads(s3.get_object(Bucket=ARTIFACTS, Key=keys[2])["Body"].read())
    assert record["approvalStatus"] == "Rejected" and record["version"] == 3
    assert record["artifactsBucket"] == ARTIFACTS and record["exportedAt"] == NOW.isoformat()
    assert record["modelPackage"]["ModelPackageArn"] == world["arns"][2]
    assert "ResponseMetadata" not in record["modelPackage"]
    assert isinstance(record["modelPackage"]["CreationTime"], str)


def test_the_handler_reads_its_settings_and_an_approval_rewrites_the_export(world, monkeypatch):
    sm, s3 = client("sagemaker"), client("s3")
    v3 = world["arns"][2]
    sm.update_model_package(ModelPackageArn=v3, ModelApprovalStatus="Approved")
    monkeypatch.setenv(
        registry_export.SETTINGS_ENV,
        json.dumps({"modelPackageGroupName": GROUP, "artifactsBucket": ARTIFACTS}),
    )
    result = registry_export.handler(event(v3))
    assert (
        result["approvalStatus"] == "Approved" and result["key"] == f"registry/versions/{GROUP}/000003.json"
    )
    record = json.loads(s3.get_object(Bucket=ARTIFACTS, Key=result["key"])["Body"].read())
    assert record["approvalStatus"] == "Approved"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"modelPackageGroupName": GROUP, "artifactsBucket": ARTIFACTS, "extra": 1}, "extra: unknown key"),
        (
            {"modelPackageGroupName": "bad_name", "artifactsBucket": ARTIFACTS},
            "modelPackageGroupName: got 'bad_name'",
        ),
        ({"modelPackageGroupName": GROUP, "artifactsBucket": "Bad"}, "artifactsBucket: got 'Bad'"),
        ([], "allowed: a JSON object"),
    ],
)
def test_bad_settings_are_named(settings, message):
    with pytest.raises(registry_export.ExportError, match=message):
        registry_export.check_settings(settings)


def test_events_of_another_kind_or_group_are_refused():
    cfg = {"modelPackageGroupName": GROUP, "artifactsBucket": ARTIFACTS}
    with pytest.raises(registry_export.ExportError, match="detail-type: got 'Object Created'"):
        registry_export.on_event({"detail-type": "Object Created"}, cfg, None, None, NOW)
    other = f"arn:aws:sagemaker:{PRIMARY}:{ACCOUNT}:model-package/fmft-prod-fine-tuning-models/1"
    with pytest.raises(registry_export.ExportError, match=f"allowed: a version of {GROUP}"):
        registry_export.on_event(event(other), cfg, None, None, NOW)


def test_the_export_command_backfills_every_version(world, monkeypatch):
    s3 = client("s3")
    for o in s3.list_objects_v2(Bucket=ARTIFACTS, Prefix="registry/")["Contents"]:
        s3.delete_object(Bucket=ARTIFACTS, Key=o["Key"])
    monkeypatch.setenv(
        registry_export.SETTINGS_ENV,
        json.dumps({"modelPackageGroupName": GROUP, "artifactsBucket": ARTIFACTS}),
    )
    code, report, err = run("export")
    assert code == 0, err
    assert [e["version"] for e in report["exported"]] == [1, 2, 3]
    code, report, err = run("export", "--version", "2")
    assert code == 0 and [e["version"] for e in report["exported"]] == [2]
    code, _, err = run("export", "--version", "9")
    assert code == 2 and f"--version: got 9; {GROUP} has no such version" in err


def test_every_request_of_the_restore_fits_the_api_model(world):
    """moto accepts more than AWS: each request the restore sends is checked against botocore's model."""
    replicate()
    log: RequestLog = []
    clients = {s: Recording(client(s, DR), log) for s in ("s3", "sagemaker", "cloudformation")}
    code = dr_cli.main([*restore_argv(world), str(world["tmp"] / "out.json")], clients=clients)
    assert code == 0
    assert {op for _, op, _ in log} >= {"DescribeStacks", "ListObjectsV2", "HeadObject", "CreateModelPackage"}
    assert api_violations(log, "training.dr restore") == []


def test_without_the_failover_deployment_the_group_is_missing_and_nothing_is_created(moto_endpoint, tmp_path):
    build_world(moto_endpoint, tmp_path, dr_group=False)
    replicate()
    code, _, err = run("restore", "--environment", "dev", "--to", DR)
    assert code == 1
    assert f"no model package group {GROUP} in {DR}: deploy the platform there first" in err
    assert "npx cdk deploy --all -c env=dev -c failover=true" in err
    assert client("sagemaker", DR).list_model_package_groups()["ModelPackageGroupSummaryList"] == []
