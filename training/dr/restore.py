"""Restores the model registry in the DR region from the replicas: ``python -m training.dr restore``.

    python -m training.dr restore --environment prod --to us-west-2 --serving serving.json \\
        --out serving-us-west-2.json

Everything it reads is in the DR region (``--to``), where the primary region's data replicates; nothing in
the primary region is asked, so it works when that region is down. Steps, each timed in the report:

1. **replicas**: the DR stack ``<prefix>-<env>-dr`` (CloudFormation, in ``--to``) and its output
   ``ReplicaBuckets``: which replica holds the copy of which primary bucket. No DR stack there: stop.
2. **exports**: the registry exports of the replicated artifacts bucket (``training.dr.registry_export``
   writes one file per version). The versions to restore: those the replicated serving manifest
   (``serving/manifests/current.json``, when ``serving``) serves, those ``--serving`` names, or, with
   neither, the latest approved version. Each must have an export that says ``Approved``.
3. **artifacts**: every S3 object the versions point at (model data, metrics, baselines) is mapped to its
   replica and must be there (HeadObject). Anything missing: stop, naming every missing object.
4. **group**: the versions an earlier restore made in the model package group of ``--to``. The group must
   exist (checked in step 3): the failover deployment's pipelines stack makes it
   (``npx cdk deploy --all -c env=<env> -c failover=true``).
5. **register**: each version again (CreateModelPackage, ``Approved``), pointing at the replicas, images in
   ``--to`` (an ECR image URI of the primary region names the same repository in ``--to``; the serving
   images of the platform exist per region), the version's metadata plus ``dr_source_arn`` and
   ``dr_restored_at``. A version already restored (same ``dr_source_arn``) is reused, so a second run
   creates nothing new.
6. **serving**: with ``--serving`` and ``--out``, the serving file with every model package ARN replaced by
   the restored one, for ``-c serving=`` of the endpoints stack.

Steps 1 to 3 only read; with ``--dry-run`` the command stops after them and says what it would create.
A restore that cannot finish stops before it creates anything. Output: JSON (the steps with their seconds,
the versions restored, the serving file written). Exit status 0 done, 1 refused or an AWS error, 2 a bad
option.

Permissions in ``--to``: cloudformation:DescribeStacks; s3:ListBucket, s3:GetObject on the replicas (and
kms:Decrypt of their key); sagemaker:DescribeModelPackageGroup, ListModelPackages, DescribeModelPackage,
CreateModelPackage.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import time
from pathlib import Path
from typing import Any

from training.common.args import UsageError
from training.common.names import BUCKET_NAME_PREFIX, ENVIRONMENT_NAME
from training.common.s3 import list_keys
from training.dr.registry_export import EXPORTS_PREFIX, VERSION_ARN, export_key
from training.registry.serving_manifest import SERVING, error_code, read_manifest

_LAYOUT = json.loads((Path(__file__).resolve().parents[1] / "contracts" / "storage-layout.json").read_text())
MANIFEST_KEY = _LAYOUT["buckets"]["modelArtifacts"]["prefixes"]["servingManifests"] + "current.json"
REPLICA_OUTPUT = "ReplicaBuckets"
ARTIFACTS_OUTPUT = "ModelArtifactsReplicaName"
APPROVED = "Approved"
SOURCE_KEY, RESTORED_KEY = "dr_source_arn", "dr_restored_at"
# CreateModelPackage: CustomerMetadataProperties holds at most 50 entries, values of at most 256 characters.
MAX_METADATA = 50
REGION = re.compile(r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d")
S3_URI = re.compile(r"s3://([^/]+)/(.+)")
ECR_HOST = re.compile(r"^(\d{12}\.dkr\.ecr\.)([a-z0-9-]+)(\.amazonaws\.com(\.cn)?/)")
# What CreateModelPackage takes from a description, unchanged apart from the S3 URIs and images in them.
COPIED = (
    "ModelPackageDescription",
    "InferenceSpecification",
    "ModelMetrics",
    "DriftCheckBaselines",
    "Domain",
    "Task",
)


class RestoreError(Exception):
    """The restore cannot go on (nothing has been created when this is raised before step 5)."""


@dataclasses.dataclass
class RestoreArgs:
    """Register the served or latest approved versions again in the DR region, from the replicas."""

    environment: str = dataclasses.field(metadata={"help": "The environment's name, e.g. prod"})
    to: str = dataclasses.field(metadata={"help": "The DR region (the config's drRegion), e.g. us-west-2"})
    prefix: str = dataclasses.field(
        default="fmft", metadata={"help": "The config's storage.bucketNamePrefix (stack names start with it)"}
    )
    serving: str | None = dataclasses.field(
        default=None, metadata={"help": "The serving file the primary endpoints stack was deployed with"}
    )
    out: str | None = dataclasses.field(
        default=None, metadata={"help": "Where to write the serving file with the restored ARNs"}
    )
    dry_run: bool = dataclasses.field(
        default=False,
        metadata={"help": "Check the replicas and say what would be registered; create nothing"},
    )


def check_args(args: RestoreArgs) -> None:
    problems = []
    if not ENVIRONMENT_NAME.fullmatch(args.environment):
        problems.append(f"--environment: got {args.environment!r}; allowed: an environment name such as prod")
    if not REGION.fullmatch(args.to):
        problems.append(f"--to: got {args.to!r}; allowed: an AWS region such as us-west-2")
    if not BUCKET_NAME_PREFIX.fullmatch(args.prefix):
        problems.append(f"--prefix: got {args.prefix!r}; allowed: the config's storage.bucketNamePrefix")
    if (args.serving is None) != (args.out is None):
        problems.append("--serving and --out: got one without the other; allowed: both or neither")
    if args.serving is not None and not Path(args.serving).is_file():
        problems.append(f"--serving: got {args.serving!r}; no such file")
    if args.out is not None and Path(args.out).exists():
        problems.append(f"--out: got {args.out!r}; it exists (a restore never overwrites a file)")
    if problems:
        raise UsageError("; ".join(problems))


class Clients:
    """boto3 clients of the DR region, made on first use; tests pass their own."""

    def __init__(self, region: str, **clients: Any) -> None:
        self.region = region
        self._clients = dict(clients)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "region":
            raise AttributeError(name)
        if name not in self._clients:
            import boto3

            self._clients[name] = boto3.client(name, region_name=self.region)
        return self._clients[name]


def replica_buckets(cfn: Any, stack: str, region: str) -> tuple[dict[str, str], str]:
    """({primary bucket: replica bucket}, the model artifacts replica) from the DR stack's outputs."""
    try:
        stacks = cfn.describe_stacks(StackName=stack)["Stacks"]
    except Exception as error:
        if "does not exist" in str(error):
            raise RestoreError(
                f"no stack {stack} in {region}: there are no replicas to restore from in this region (the DR "
                "stack exists when disasterRecovery.replication is on, in the config's drRegion)"
            ) from None
        raise
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stacks[0].get("Outputs", [])}
    try:
        mapping = json.loads(outputs[REPLICA_OUTPUT])
    except (KeyError, ValueError):
        raise RestoreError(
            f"{stack} in {region}: no JSON output {REPLICA_OUTPUT}; redeploy the DR stack"
        ) from None
    if not isinstance(mapping, dict) or not mapping:
        raise RestoreError(f"{stack} in {region}: output {REPLICA_OUTPUT} names no buckets")
    artifacts = outputs.get(ARTIFACTS_OUTPUT)
    if artifacts not in mapping.values():
        raise RestoreError(f"{stack} in {region}: output {ARTIFACTS_OUTPUT} is not one of {REPLICA_OUTPUT}")
    return mapping, artifacts


def read_exports(s3: Any, bucket: str) -> dict[str, dict[str, Any]]:
    """Every export file of the replica, by source version ARN."""
    exports = {}
    for key in list_keys(s3, bucket, EXPORTS_PREFIX):
        if key.endswith(".json"):
            record = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            exports[record["modelPackageArn"]] = record
    return exports


def serving_arns(serving: dict[str, Any]) -> dict[str, str]:
    """{variant or component name: model package ARN} of a serving file."""
    named = {v["name"]: v["modelPackageArn"] for v in serving.get("variants") or [] if "modelPackageArn" in v}
    shared = (serving.get("sharedEndpoint") or {}).get("components") or []
    return named | {c["name"]: c["modelPackageArn"] for c in shared if "modelPackageArn" in c}


def choose_versions(
    exports: dict[str, dict[str, Any]], manifest: dict[str, Any] | None, serving: dict[str, Any] | None
) -> tuple[list[str], dict[str, str]]:
    """(source ARNs to restore, oldest first; {variant: ARN} that serves). The manifest (what the promotion
    workflow last rolled out) wins over the serving file for a variant both name."""
    served = serving_arns(serving) if serving else {}
    if manifest and manifest.get("status") == SERVING:
        served |= {v["variant"]: v["modelPackageArn"] for v in manifest.get("variants") or []}
    wanted = set(served.values())
    if not wanted:
        approved = [a for a, r in exports.items() if r.get("approvalStatus") == APPROVED]
        if not approved:
            raise RestoreError(f"the replica holds no export of an {APPROVED} version under {EXPORTS_PREFIX}")
        wanted = {max(approved, key=lambda a: exports[a]["version"])}
    problems = []
    for arn in sorted(wanted):
        record = exports.get(arn)
        if record is None:
            match = VERSION_ARN.fullmatch(arn)
            where = export_key(match.group(1), int(match.group(2))) if match else EXPORTS_PREFIX
            problems.append(f"{arn}: no export in the replica ({where})")
        elif record.get("approvalStatus") != APPROVED:
            problems.append(f"{arn}: its export says {record.get('approvalStatus')}; allowed: {APPROVED}")
    if problems:
        raise RestoreError("cannot restore: " + "; ".join(problems))
    return sorted(wanted, key=lambda a: exports[a]["version"]), served


def map_uris(value: Any, buckets: dict[str, str], found: list[tuple[str, str]]) -> Any:
    """``value`` with every s3:// URI of a replicated bucket pointing at its replica (each recorded in
    ``found`` as (bucket, key)); a URI of another bucket is a RestoreError."""
    if isinstance(value, dict):
        return {k: map_uris(v, buckets, found) for k, v in value.items()}
    if isinstance(value, list):
        return [map_uris(v, buckets, found) for v in value]
    if isinstance(value, str):
        match = S3_URI.fullmatch(value)
        if match:
            bucket, key = match.groups()
            if bucket not in buckets:
                raise RestoreError(
                    f"{value}: bucket {bucket} has no replica (replicated: {', '.join(sorted(buckets))})"
                )
            found.append((buckets[bucket], key))
            return f"s3://{buckets[bucket]}/{key}"
    return value


def restored_request(
    record: dict[str, Any], buckets: dict[str, str], group: str, region: str, now: dt.datetime
):
    """(CreateModelPackage request, [(replica bucket, key) it reads])."""
    description = record["modelPackage"]
    found: list[tuple[str, str]] = []
    request: dict[str, Any] = {
        k: map_uris(description[k], buckets, found) for k in COPIED if k in description
    }
    for container in (request.get("InferenceSpecification") or {}).get("Containers", []):
        container["Image"] = ECR_HOST.sub(lambda m: f"{m.group(1)}{region}{m.group(3)}", container["Image"])
    metadata = dict(description.get("CustomerMetadataProperties") or {})
    metadata |= {SOURCE_KEY: record["modelPackageArn"], RESTORED_KEY: now.isoformat(timespec="seconds")}
    if len(metadata) > MAX_METADATA:
        raise RestoreError(
            f"{record['modelPackageArn']}: {len(metadata)} metadata entries; allowed: {MAX_METADATA}"
        )
    request |= {
        "ModelPackageGroupName": group,
        "ModelApprovalStatus": APPROVED,
        "CustomerMetadataProperties": metadata,
    }
    return request, found


def missing_objects(s3: Any, objects: list[tuple[str, str]]) -> list[str]:
    missing = []
    for bucket, key in sorted(set(objects)):
        try:
            s3.head_object(Bucket=bucket, Key=key)
        except Exception as error:
            if error_code(error) not in ("404", "NoSuchKey", "NotFound"):
                raise
            missing.append(f"s3://{bucket}/{key}")
    return missing


def restored_versions(sagemaker: Any, group: str) -> dict[str, str]:
    """{source ARN: restored ARN} of the versions a restore already made in ``group``."""
    done, token = {}, None
    while True:
        page = sagemaker.list_model_packages(
            ModelPackageGroupName=group, MaxResults=100, **({"NextToken": token} if token else {})
        )
        for summary in page.get("ModelPackageSummaryList", []):
            described = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            source = (described.get("CustomerMetadataProperties") or {}).get(SOURCE_KEY)
            if source:
                done[source] = summary["ModelPackageArn"]
        token = page.get("NextToken")
        if not token:
            return done


def check_group(sagemaker: Any, group: str, environment: str, region: str, prefix: str) -> None:
    """The group must exist in the DR region: the failover's pipelines stack makes it (the registry belongs
    to the infrastructure; the restore only fills it)."""
    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=group)
    except Exception as error:
        if error_code(error) not in ("ValidationException", "ResourceNotFound"):
            raise
        raise RestoreError(
            f"no model package group {group} in {region}: deploy the platform there first "
            f"(npx cdk deploy --all -c env={environment} -c failover=true; its "
            f"{prefix}-{environment}-pipelines stack makes the group)"
        ) from None


def replace_arns(value: Any, arns: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: replace_arns(v, arns) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_arns(v, arns) for v in value]
    return arns.get(value, value) if isinstance(value, str) else value


def restore(args: RestoreArgs, aws: Clients, now: dt.datetime) -> dict[str, Any]:
    check_args(args)
    steps: list[dict[str, Any]] = []

    def step(name: str, began: float, **detail: Any) -> None:
        steps.append({"step": name, "seconds": round(time.monotonic() - began, 3), **detail})

    t = time.monotonic()
    stack = f"{args.prefix}-{args.environment}-dr"
    buckets, replica = replica_buckets(aws.cloudformation, stack, args.to)
    step("replicas", t, stack=stack, buckets=buckets)

    t = time.monotonic()
    exports = read_exports(aws.s3, replica)
    manifest, why = read_manifest(aws.s3, replica, MANIFEST_KEY)
    if why:
        raise RestoreError(f"serving manifest s3://{replica}/{MANIFEST_KEY} {why}")
    serving = json.loads(Path(args.serving).read_text(encoding="utf-8")) if args.serving else None
    sources, served = choose_versions(exports, manifest, serving)
    step("exports", t, exports=len(exports), manifest=(manifest or {}).get("status"), versions=sources)

    t = time.monotonic()
    groups = {exports[a]["modelPackageGroupName"] for a in sources}
    if len(groups) != 1:
        raise RestoreError(
            f"the versions to restore are in {len(groups)} groups ({', '.join(sorted(groups))}); allowed: 1"
        )
    group = groups.pop()
    requests, reads = {}, []
    for arn in sources:
        requests[arn], found = restored_request(exports[arn], buckets, group, args.to, now)
        reads += found
    missing = missing_objects(aws.s3, reads)
    if missing:
        raise RestoreError(f"not in the replicas yet (replication may be behind): {', '.join(missing)}")
    check_group(aws.sagemaker, group, args.environment, args.to, args.prefix)
    step("artifacts", t, objects=len(set(reads)))

    result: dict[str, Any] = {
        "environment": args.environment,
        "region": args.to,
        "group": group,
        "steps": steps,
    }
    if args.dry_run:
        return result | {"dryRun": True, "wouldRegister": sources}

    t = time.monotonic()
    done = restored_versions(aws.sagemaker, group)
    step("group", t, restoredBefore=len(done))

    t = time.monotonic()
    restored = {}
    for arn in sources:
        if arn in done:
            restored[arn] = {"modelPackageArn": done[arn], "created": False}
            continue
        answer = aws.sagemaker.create_model_package(**requests[arn])
        restored[arn] = {"modelPackageArn": answer["ModelPackageArn"], "created": True}
    step("register", t, created=sum(r["created"] for r in restored.values()))

    if args.out:
        t = time.monotonic()
        mapping = {a: r["modelPackageArn"] for a, r in restored.items()}
        assert serving is not None
        for name, arn in served.items():  # the manifest's promoted versions replace the file's
            for v in serving.get("variants") or []:
                if v.get("name") == name:
                    v["modelPackageArn"] = arn
        Path(args.out).write_text(
            json.dumps(replace_arns(serving, mapping), indent=2) + "\n", encoding="utf-8"
        )
        step("serving", t, file=args.out)
    return result | {"restored": restored, "serving": args.out}
