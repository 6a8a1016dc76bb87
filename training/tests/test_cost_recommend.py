"""``python -m training.cost recommend`` (training/cost/recommend.py): the offline estimate's numbers, worked
out by hand below from the formulas the command prints; the model read from a local directory and from a
registered version (moto: DescribeModelPackage and the base model's files on S3, read with ranged GETs); the
Price List answer parsed (botocore's Stubber: moto has no Price List API); and the Inference Recommender
request, sent through the Stubber (moto has no CreateInferenceRecommendationsJob) and checked against
botocore's model with the project's checker (tools/api_model), like every other request the command sends.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tools.api_model import cli_commands
from training.common.args import UsageError
from training.cost import __main__ as cost_main
from training.cost import recommend
from training.tests.api_requests import Recording, api_violations

REPO = Path(__file__).resolve().parents[2]
ACCOUNT, REGION = "123456789012", "us-east-1"
GROUP = "fmft-dev-fine-tuning-models"
BUCKET = f"fmft-dev-base-models-{ACCOUNT}"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/fmft-dev-inference-recommender"
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
# A Llama-3-8B-like shape: 32 layers, 32 attention heads, 8 KV heads of 128.
CONFIG = {"num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "hidden_size": 4096}
PRICES = {"ml.g5.xlarge": 1.0, "ml.g6e.xlarge": 2.0, "ml.g5.12xlarge": 5.0, "ml.p4d.24xlarge": 30.0}


def safetensors(shapes: dict[str, list[int]]) -> bytes:
    """A safetensors file: 8-byte little-endian header length, the JSON header, the (zero) bf16 data."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in shapes.items():
        size = math.prod(shape) * 2
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    return len(raw).to_bytes(8, "little") + raw + bytes(offset)


def args(**overrides: Any) -> recommend.RecommendArgs:
    return recommend.RecommendArgs(**({"requests_per_second": 10.0} | overrides))


def price_file(tmp_path: Path, prices: dict[str, float] = PRICES) -> str:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(prices), encoding="utf-8")
    return str(path)


def model_dir(tmp_path: Path, config: dict[str, Any] = CONFIG, files: dict[str, bytes] | None = None) -> Path:
    directory = tmp_path / "model"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps(config), encoding="utf-8")
    for name, body in (files or {}).items():
        (directory / name).write_bytes(body)
    return directory


def run_json(
    capsys: pytest.CaptureFixture[str], a: recommend.RecommendArgs, clients: Any = None
) -> dict[str, Any]:
    assert recommend.run(a, clients=clients or {}, now=NOW) == 0
    return json.loads(capsys.readouterr().out)


# ------------------------------------------------------------------------------------------- the estimate


def test_the_estimate_worked_out_by_hand(tmp_path, capsys):
    """8e9 parameters in bf16: 16 GB of weights. KV cache per token 2 x 2 x 32 x 8 x 128 = 131,072 bytes; a
    request of 512 + 256 tokens holds 100,663,296 bytes, and each decode step reads 131,072 x (512 + 128) =
    83,886,080 bytes of it.

    ml.g5.xlarge (1 x A10G, 24 GB, 600 GB/s at 0.5): usable 21.6 GB, so (21.6e9 - 16e9) / 100,663,296 = 55
    requests fit. The 20 s target allows (20 / 256 x 3e11 - 16e9) / 83,886,080 = 88, so 55 it is: a step takes
    (16e9 + 55 x 83,886,080) / 3e11 = 68.71 ms, a request 256 steps = 17,590.4 ms, an instance 55 / 17.5904 =
    3.1267 requests/s, and 10 requests/s need 4 instances: 4 x $1.00 = $4.00 an hour, 4 / 36,000 x 1,000 =
    $0.1111 per 1,000 requests.

    ml.g6e.xlarge (1 x L40S, 48 GB, 864 GB/s): 64 requests at most (the batch), a step (16e9 + 64 x
    83,886,080) / 4.32e11 = 49.46 ms, a request 12,662.9 ms, 5.0541 requests/s per instance: 2 instances, also
    $4.00 an hour, ranked first for needing fewer instances.
    """
    a = args(
        model_dir=str(model_dir(tmp_path)),
        parameters=8e9,
        max_latency_ms=20000.0,
        price_file=price_file(tmp_path),
        region=REGION,
        json=True,
    )
    result = run_json(capsys, a)
    assert result["model"] == {
        "parameters": 8e9,
        "parametersSource": "--parameters",
        "dtype": "bf16",
        "weightsGB": 16.0,
        "kvCacheBytesPerToken": 131072,
        "kvCacheSource": f"{tmp_path}/model/config.json: 2 x 2 bytes x 32 layers x 8 KV heads x 128 head dim",
    }
    ranked = {r["instanceType"]: r for r in result["recommendations"]}
    assert [r["instanceType"] for r in result["recommendations"]] == [
        "ml.g6e.xlarge",
        "ml.g5.xlarge",
        "ml.g5.12xlarge",
        "ml.p4d.24xlarge",
    ]
    assert ranked["ml.g5.xlarge"] == {
        "instanceType": "ml.g5.xlarge",
        "accelerator": "NVIDIA A10G",
        "gpus": 1,
        "gpuMemoryGB": 24.0,
        "weightsGB": 16.0,
        "usableMemoryGB": 21.6,
        "kvCacheCapacityTokens": 42724,
        "concurrencyPerInstance": 55,
        "latencyMs": 17590.4,
        "requestsPerSecondPerInstance": 3.1267,
        "instances": 4,
        "pricePerInstanceHour": 1.0,
        "costPerHour": 4.0,
        "costPer1000Requests": 0.1111,
        "rank": 2,
    }
    g6e = ranked["ml.g6e.xlarge"]
    assert (g6e["concurrencyPerInstance"], g6e["latencyMs"], g6e["instances"], g6e["costPerHour"]) == (
        64,
        12662.9,
        2,
        4.0,
    )
    assert (ranked["ml.g5.12xlarge"]["instances"], ranked["ml.g5.12xlarge"]["costPer1000Requests"]) == (
        1,
        0.1389,
    )

    reasons = {e["instanceType"]: e["reason"] for e in result["excluded"]}
    # 256 steps reading 16 GB and one request's 83,886,080 bytes at 0.5 x 300 GB/s: 27,450 ms, above 20 s.
    assert reasons["ml.g6.xlarge"] == "one request alone takes 27450 ms, above --max-latency-ms 20000"
    assert reasons["ml.g4dn.xlarge"].startswith("compute capability 7.5: vLLM serves bf16 from 8.0 on")
    assert reasons["ml.p3.2xlarge"].startswith("compute capability 7.0 is below 7.5, the floor of the LMI")
    assert reasons["ml.inf2.*"].endswith("the LMI image is built for NVIDIA GPUs")
    assert reasons["ml.g5.2xlarge"].startswith("no price: --price-file")
    # Families without a bandwidth on record fit, but get no latency estimate.
    unknown = {u["instanceType"]: u for u in result["notEstimated"]}
    assert unknown["ml.g7e.2xlarge"]["maxConcurrencyByMemory"] == math.floor((0.9 * 96e9 - 16e9) / 100663296)


def test_memory_heads_and_latency_rules(tmp_path):
    floor = recommend.serving_floor()
    assert floor[0] == 7.5
    work = recommend.Workload(10, None, 512, 256, "fp16", 64, 0.5)
    t4 = recommend.Candidate("ml.g4dn.xlarge", "NVIDIA T4", 1, 16.0, 7.5, 320.0)
    model = recommend.Model(8e9, "--parameters", 131072.0, "config")
    # fp16 runs on a T4, but 16 GB of weights exceed 90 % of its 16 GB.
    assert recommend.estimate(model, work, t4, floor)["reason"] == "weights 16.0 GB exceed the usable 14.4 GB"
    # 14 attention heads cannot be split over 4 GPUs.
    quad = recommend.Candidate("ml.g5.12xlarge", "NVIDIA A10G", 4, 24.0, 8.6, 600.0)
    odd = recommend.Model(1e9, "--parameters", 131072.0, "config", attention_heads=14)
    assert recommend.estimate(odd, work, quad, floor)["reason"] == (
        "14 attention heads do not split over 4 GPUs (tensor parallelism)"
    )
    # Weights that fit with no room for one request's KV cache.
    g5 = recommend.Candidate("ml.g5.xlarge", "NVIDIA A10G", 1, 24.0, 8.6, 600.0)
    tight = recommend.Model(10.75e9, "--parameters", 131072.0, "config")  # 21.5 of 21.6 GB
    assert recommend.estimate(tight, work, g5, floor)["reason"] == (
        "no room for the KV cache of one request of 768 tokens"
    )
    # No latency target: as many requests as memory and the batch allow.
    assert recommend.estimate(model, work, quad, floor)["concurrencyPerInstance"] == 64


def test_the_shape_assumed_from_a_parameter_count():
    # LMI's Llama2-13b: 2 x 2 bytes x 40 layers x 5120 = 819,200 bytes per token.
    assert recommend.assumed_kv_bytes_per_token(13e9) == 819200
    # 8x the parameters: 2x the layers and 2x the width, so 4x the cache per token.
    assert recommend.assumed_kv_bytes_per_token(104e9) == pytest.approx(4 * 819200)
    model = recommend.build_model(7e9, None, "--parameters", None, "")
    assert model.kv_bytes_per_token == pytest.approx(819200 * (7 / 13) ** (2 / 3))
    assert model.attention_heads is None and model.kv_source.startswith(
        "assumed: a model shaped like Llama2-13b"
    )


def test_a_model_directory_counts_its_tensors(tmp_path):
    files = {
        "model-00001-of-00002.safetensors": safetensors({"embed": [100, 16], "mlp": [16, 64]}),
        "model-00002-of-00002.safetensors": safetensors({"lm_head": [100, 16], "norm": [16]}),
    }
    config = {"num_hidden_layers": 2, "num_attention_heads": 4, "hidden_size": 16}
    model = recommend.model_from_dir(model_dir(tmp_path, config, files), None)
    # 1,600 + 1,024 + 1,600 + 16 parameters; no num_key_value_heads: 4 KV heads of 16 / 4.
    assert model.parameters == 4240 and model.kv_bytes_per_token == 2 * 2 * 2 * 4 * 4
    assert model.parameters_source == f"the tensors of --model-dir {tmp_path}/model"
    assert model.attention_heads == 4
    # A multimodal config: the language model's part; multi-query attention caches one head.
    nested = {"text_config": {"num_hidden_layers": 3, "n_head": 8, "n_embd": 64, "multi_query": True}}
    assert recommend.geometry(nested, "x") == (3, 8, 1, 8)


def test_the_price_list_is_read_page_by_page():
    pricing = boto3.client(
        "pricing", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    log: list[tuple[str, str, dict[str, Any]]] = []

    def product(instance: str, *prices: str) -> str:
        terms = {
            f"T{i}": {
                "priceDimensions": {
                    f"D{i}": {"unit": "Hrs", "pricePerUnit": {"USD": price}, "description": instance}
                }
            }
            for i, price in enumerate(prices)
        }
        attributes = {"instanceName": instance, "component": "Hosting", "regionCode": "eu-west-1"}
        return json.dumps({"product": {"attributes": attributes}, "terms": {"OnDemand": terms}})

    filters = [
        {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "eu-west-1"},
        {"Type": "TERM_MATCH", "Field": "component", "Value": "Hosting"},
    ]
    first = {
        "ServiceCode": "AmazonSageMaker",
        "Filters": filters,
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }
    stubber = Stubber(pricing)
    stubber.add_response(
        "get_products",
        {
            "FormatVersion": "aws_v1",
            "PriceList": [product("ml.g5.xlarge", "1.5810000000"), product("ml.g6e.xlarge", "2.0", "2.5")],
            "NextToken": "page-2",
        },
        first,
    )
    stubber.add_response(
        "get_products",
        {"PriceList": [product("ml.g5.2xlarge", "1.7010000000", "0.0000000000")]},
        first | {"NextToken": "page-2"},
    )
    with stubber:
        prices = recommend.price_list(Recording(pricing, log), "eu-west-1")
    stubber.assert_no_pending_responses()
    # Two different prices for one instance type: no price rather than a guess; a zero price is no price.
    assert prices == {"ml.g5.xlarge": 1.581, "ml.g5.2xlarge": 1.701}
    assert api_violations(log, "cost-recommend") == []


# -------------------------------------------------------------------------- a registered version (moto)


def post(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(url, method="POST")).close()


@pytest.fixture
def registry(moto_endpoint: str) -> dict[str, Any]:
    """A version whose lineage names its base model's S3 directory: config.json, two safetensors files (and
    one in a subdirectory, which is not the model's)."""
    post(f"{moto_endpoint}/moto-api/reset")
    sm, s3 = boto3.client("sagemaker", region_name=REGION), boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    files = {
        "config.json": json.dumps(
            {"num_hidden_layers": 2, "num_attention_heads": 4, "hidden_size": 16}
        ).encode(),
        "model-00001-of-00002.safetensors": safetensors({"embed": [100, 16], "mlp": [16, 64]}),
        "model-00002-of-00002.safetensors": safetensors({"lm_head": [100, 16], "norm": [16]}),
        "checkpoint-1/model.safetensors": safetensors({"huge": [100000, 1000]}),
    }
    for name, body in files.items():
        s3.put_object(Bucket=BUCKET, Key=f"base/tiny/{name}", Body=body)
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    arn = sm.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties={"pipeline_execution": "exec1", "base_model": f"s3://{BUCKET}/base/tiny"},
        InferenceSpecification={
            "Containers": [{"Image": "image", "ModelDataUrl": f"s3://{BUCKET}/out/model.tar.gz"}],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )["ModelPackageArn"]
    return {"sm": sm, "s3": s3, "arn": arn}


class WithStubbedJob:
    """SageMaker from moto, except CreateInferenceRecommendationsJob, which goes to a stubbed client."""

    def __init__(self, moto: Any, stubbed: Any) -> None:
        self.moto, self.stubbed = moto, stubbed

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stubbed if name == "create_inference_recommendations_job" else self.moto, name)


def test_a_registered_version_starts_an_inference_recommender_job(registry, tmp_path, capsys):
    log: list[tuple[str, str, dict[str, Any]]] = []
    name = "fmft-dev-fine-tuning-models-v1-20261130120000"
    payload = f"s3://{BUCKET}/payloads/chat.tar.gz"
    expected = {
        "JobName": name,
        "JobType": "Default",
        "RoleArn": ROLE,
        "InputConfig": {
            "ModelPackageVersionArn": registry["arn"],
            "ContainerConfig": {
                "Domain": "NATURAL_LANGUAGE_PROCESSING",
                "Task": "TEXT_GENERATION",
                "SupportedEndpointType": "RealTime",
                "PayloadConfig": {"SamplePayloadUrl": payload, "SupportedContentTypes": ["application/json"]},
                "SupportedInstanceTypes": ["ml.g5.xlarge", "ml.g6e.xlarge"],
            },
        },
        "JobDescription": "fmft cost recommend: fmft-dev-fine-tuning-models v1, bf16, 10 req/s",
        "Tags": [{"Key": "fmft:environment", "Value": "dev"}],
    }
    job_arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:inference-recommendations-job/{name}"
    stubbed = boto3.client("sagemaker", region_name=REGION)
    stubber = Stubber(stubbed)
    stubber.add_response("create_inference_recommendations_job", {"JobArn": job_arn}, expected)
    clients = {
        "sagemaker": Recording(WithStubbedJob(registry["sm"], stubbed), log),
        "s3": Recording(registry["s3"], log),
    }
    a = args(
        model_package_arn=registry["arn"],
        price_file=price_file(tmp_path, {"ml.g5.xlarge": 1.0, "ml.g6e.xlarge": 2.0, "ml.g5.12xlarge": 5.0}),
        top=2,
        json=True,
        start_inference_recommender=True,
        role_arn=ROLE,
        sample_payload_url=payload,
        environment="dev",
    )
    with stubber:
        result = run_json(capsys, a, clients)
    stubber.assert_no_pending_responses()

    # The base model's two files, 4,240 parameters (the checkpoint's tensors are not the model's), read from
    # S3.
    assert result["model"]["parameters"] == 4240
    assert result["model"]["parametersSource"] == f"the tensors of s3://{BUCKET}/base/tiny/"
    assert result["model"]["kvCacheBytesPerToken"] == 2 * 2 * 2 * 4 * 4
    assert [r["instanceType"] for r in result["recommendations"]] == ["ml.g5.xlarge", "ml.g6e.xlarge"]
    # 4 attention heads do not split over 8 GPUs.
    reasons = {e["instanceType"]: e["reason"] for e in result["excluded"]}
    assert reasons["ml.p4d.24xlarge"] == "4 attention heads do not split over 8 GPUs (tensor parallelism)"
    job = result["inferenceRecommender"]
    assert job["jobName"] == name and job["jobArn"] == job_arn and job["request"] == expected
    # Header reads are ranged: 8 bytes, then the header's length.
    ranges = [p["Range"] for _, op, p in log if op == "GetObject" and "Range" in p]
    assert ranges[0] == "bytes=0-7" and re.fullmatch(r"bytes=8-\d+", ranges[1]) and len(ranges) == 4
    assert api_violations(log, "cost-recommend") == []
    assert any(op == "CreateInferenceRecommendationsJob" for _, op, _ in log)

    # How to follow it: commands the AWS CLI accepts.
    doc = tmp_path / "follow.md"
    doc.write_text("```bash\n" + "\n".join(job["follow"]) + "\n```\n", encoding="utf-8")
    commands = cli_commands.find_commands(doc)
    assert len(commands) == 3 and [p for c in commands for p in cli_commands.problems(c)] == []
    assert all(c.options["--job-name"] == name for c in commands)


def test_the_job_name_fits_the_api():
    name = recommend.job_name("a" * 60 + "-models", "123", NOW)
    assert len(name) <= 64 and re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,63}", name)
    assert name.endswith("-v123-20261130120000")


def test_a_version_without_a_sample_payload_needs_one(registry, tmp_path, capsys):
    a = args(
        model_package_arn=registry["arn"],
        price_file=price_file(tmp_path),
        start_inference_recommender=True,
        role_arn=ROLE,
    )
    with pytest.raises(
        UsageError, match=r"^--sample-payload-url: not given and version .* has no SamplePayloadUrl"
    ):
        recommend.run(a, clients={"sagemaker": registry["sm"], "s3": registry["s3"]}, now=NOW)


def test_a_version_that_does_not_exist_is_a_bad_option(registry, tmp_path, capsys):
    missing = registry["arn"].replace("/1", "/9")
    status = exit_status(
        [
            "recommend",
            "--model-package-arn",
            missing,
            "--requests-per-second",
            "1",
            "--price-file",
            price_file(tmp_path),
        ]
    )
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"python -m training.cost recommend: error: --model-package-arn {missing}: allowed: a model package "
        "that exists (DescribeModelPackage: ValidationException:"
    )
    assert err.count("\n") == 1


# ---------------------------------------------------------------------------------------------- bad options


def exit_status(argv: list[str]) -> Any:
    """What ``python -m training.cost`` exits with (argparse's own refusals exit from inside the parser)."""
    try:
        return cost_main.main(argv)
    except SystemExit as exit_:
        return exit_.code


ARN = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:model-package/{GROUP}/3"
RPS = ["--requests-per-second", "5"]
PAYLOAD = ["--sample-payload-url", "s3://b/payload.json"]
BAD = [
    (RPS, "the model: not given; allowed: --model-package-arn, --model-dir or --parameters (e.g. 7e9)"),
    (
        [*RPS, "--model-package-arn", ARN, "--model-dir", "."],
        "--model-package-arn, --model-dir: allowed: one of them (with --parameters or without)",
    ),
    ([*RPS, "--parameters", "5"], "--parameters 5: allowed: a parameter count from 1e6 to 1e13, e.g. 7e9"),
    (
        [*RPS, "--parameters", "7e9", "--dtype", "fp8"],
        "argument --dtype: invalid choice: 'fp8' (choose from 'bf16', 'fp16', 'int8', 'int4')",
    ),
    (
        ["--parameters", "7e9", "--requests-per-second", "0"],
        "--requests-per-second 0: allowed: a number above 0, at most 1e6",
    ),
    (
        ["--parameters", "7e9", "--requests-per-second", "fast"],
        "argument --requests-per-second: invalid float value: 'fast'; allowed: a number",
    ),
    (
        [*RPS, "--parameters", "7e9", "--max-latency-ms", "0"],
        "--max-latency-ms 0: allowed: 1 to 3600000 milliseconds",
    ),
    (
        [*RPS, "--parameters", "7e9", "--output-tokens", "0"],
        "--output-tokens 0: allowed: a whole number from 1 to 10000000",
    ),
    (
        [*RPS, "--parameters", "7e9", "--input-tokens", "-1"],
        "--input-tokens -1: allowed: a whole number from 1 to 10000000",
    ),
    (
        [*RPS, "--parameters", "7e9", "--bandwidth-utilization", "1.5"],
        "--bandwidth-utilization 1.5: allowed: a fraction above 0, at most 1",
    ),
    ([*RPS, "--parameters", "7e9", "--top", "0"], "--top 0: allowed: a whole number from 1 to 100"),
    (
        [*RPS, "--parameters", "7e9", "--max-batch-size", "0"],
        "--max-batch-size 0: allowed: a whole number from 1 to 4096",
    ),
    (
        [*RPS, "--model-package-arn", "arn:aws:sagemaker:eu-west-1:1:model-package/g"],
        "--model-package-arn arn:aws:sagemaker:eu-west-1:1:model-package/g: allowed: a model package "
        "version ARN (arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>)",
    ),
    (
        [*RPS, "--model-dir", "/no/such/model"],
        "--model-dir /no/such/model: allowed: an existing model directory",
    ),
    (
        [*RPS, "--parameters", "7e9", "--start-inference-recommender"],
        "--start-inference-recommender: allowed: with --model-package-arn (the job tests a registered "
        "version)",
    ),
    (
        [*RPS, "--model-package-arn", ARN, "--start-inference-recommender"],
        "--role-arn: not given; allowed: an IAM role ARN SageMaker can assume "
        "(arn:aws:iam::<account>:role/<name>), required with --start-inference-recommender",
    ),
    (
        [*RPS, "--model-package-arn", ARN, "--start-inference-recommender", "--role-arn", "recommender"],
        "--role-arn recommender: allowed: an IAM role ARN SageMaker can assume "
        "(arn:aws:iam::<account>:role/<name>), required with --start-inference-recommender",
    ),
    (
        [*RPS, "--model-package-arn", ARN, "--start-inference-recommender", "--role-arn", ROLE, *PAYLOAD],
        "--sample-payload-url s3://b/payload.json: allowed: s3://<bucket>/<key>.tar.gz (one gzip "
        "compressed tar archive of sample requests)",
    ),
    (
        [*RPS, "--model-package-arn", ARN, "--region", "us-east-1"],
        "--region us-east-1: allowed: the model package's region eu-west-1 (or leave it out)",
    ),
    (
        [*RPS, "--parameters", "7e9", "--region", "moon"],
        "--region moon: allowed: an AWS region name such as us-east-1",
    ),
    (
        [*RPS, "--parameters", "7e9", "--environment", "Prod"],
        "--environment Prod: allowed: 2-10 lower-case letters and digits, starting with a letter",
    ),
    ([*RPS, "--parameters", "7e9", "--threads", "2"], "unrecognized arguments: --threads 2"),
    (["--parameters", "7e9"], "the following arguments are required: --requests-per-second"),
]


@pytest.mark.parametrize(("argv", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_a_bad_option_is_one_line_naming_it_with_exit_status_2(argv, message, capsys, monkeypatch):
    def no_aws(*_: Any, **__: Any) -> Any:
        raise AssertionError("a bad option must be refused before any AWS client is made")

    monkeypatch.setattr(boto3, "client", no_aws)
    assert exit_status(["recommend", *argv]) == 2
    assert capsys.readouterr().err == f"python -m training.cost recommend: error: {message}\n"


@pytest.mark.parametrize(
    ("content", "flag"),
    [
        ("{not json", "--price-file"),
        (json.dumps({"g5.xlarge": 1}), "--price-file"),
        (json.dumps({"ml.g5.xlarge": -1}), "--price-file"),
    ],
)
def test_a_bad_price_file_is_refused(content, flag, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(boto3, "client", lambda *_, **__: pytest.fail("no AWS client for a bad option"))
    path = tmp_path / "prices.json"
    path.write_text(content, encoding="utf-8")
    assert exit_status(["recommend", *RPS, "--parameters", "7e9", "--region", REGION, flag, str(path)]) == 2
    assert capsys.readouterr().err == (
        f"python -m training.cost recommend: error: {flag} {path}: allowed: a JSON object of instance "
        'type to USD per instance-hour, e.g. {"ml.g5.xlarge": 1.41}\n'
    )


def test_a_model_directory_it_cannot_read_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(boto3, "client", lambda *_, **__: pytest.fail("no AWS client for a bad option"))
    prices = price_file(tmp_path)
    broken = model_dir(tmp_path, {"hidden_size": 16})
    assert (
        exit_status(
            ["recommend", *RPS, "--model-dir", str(broken), "--price-file", prices, "--region", REGION]
        )
        == 2
    )
    assert capsys.readouterr().err == (
        f"python -m training.cost recommend: error: --model-dir {broken}/config.json: allowed: a Hugging "
        "Face config.json with num_hidden_layers, num_attention_heads and hidden_size (or head_dim)\n"
    )
    (broken / "config.json").write_text(json.dumps(CONFIG), encoding="utf-8")
    assert (
        exit_status(
            ["recommend", *RPS, "--model-dir", str(broken), "--price-file", prices, "--region", REGION]
        )
        == 2
    )
    assert capsys.readouterr().err == (
        f"python -m training.cost recommend: error: --model-dir {broken}: no *.safetensors files to count "
        "parameters in; allowed: add --parameters (e.g. 7e9)\n"
    )


def test_an_aws_error_names_the_operation_and_exits_1(capsys, monkeypatch):
    pricing = boto3.client(
        "pricing", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    stubber = Stubber(pricing)
    stubber.add_client_error(
        "get_products",
        service_error_code="AccessDeniedException",
        service_message="not authorized: pricing:GetProducts",
    )
    monkeypatch.setattr(boto3, "client", lambda service, **_: pricing)
    with stubber:
        status = exit_status(["recommend", *RPS, "--parameters", "7e9", "--region", REGION])
    assert status == 1
    assert capsys.readouterr().err == (
        "python -m training.cost recommend: AWS error: GetProducts: AccessDeniedException: not authorized: "
        "pricing:GetProducts\n"
    )


def test_the_bandwidth_contract_names_accelerators_of_the_instance_table():
    families = json.loads(recommend.ACCELERATORS.read_text(encoding="utf-8"))["families"]
    known = {(f["accelerator"], float(f["acceleratorMemoryGB"])) for f in families.values()}
    entries = json.loads(recommend.BANDWIDTH.read_text(encoding="utf-8"))["accelerators"]
    assert entries
    for entry in entries:
        assert (entry["accelerator"], float(entry["acceleratorMemoryGB"])) in known, entry
        assert (
            entry["memoryBandwidthGBps"] > 0 and entry["source"].startswith("https://") and entry["publisher"]
        )
        assert dt.date.fromisoformat(entry["retrieved"])
    assert len({(e["accelerator"], e["acceleratorMemoryGB"]) for e in entries}) == len(entries)


# ------------------------------------------------------------------------------------------------ the command


def test_the_command_ranks_through_python_m(tmp_path):
    directory = model_dir(tmp_path)
    argv = ["recommend", "--model-dir", str(directory), "--parameters", "8e9", "--requests-per-second", "10"]
    argv += ["--max-latency-ms", "20000", "--price-file", price_file(tmp_path), "--region", REGION]
    done = subprocess.run(
        [sys.executable, "-m", "training.cost", *argv],
        cwd=REPO,
        env={**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = [" ".join(line.split()) for line in done.stdout.splitlines()]
    assert "RANK INSTANCE TYPE GPUS INSTANCES CONCURRENCY LATENCY ms USD/HOUR USD/1000 REQ" in rows
    assert "1 ml.g6e.xlarge 1 x L40S 48 GB 2 64 12663 4.00 0.1111" in rows
    assert "2 ml.g5.xlarge 1 x A10G 24 GB 4 55 17590 4.00 0.1111" in rows
    assert "Assumptions:" in rows
    helped = subprocess.run(
        [sys.executable, "-m", "training.cost", "recommend", "--help"],
        cwd=REPO,
        env={**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert helped.returncode == 0 and helped.stderr == "" and "--start-inference-recommender" in helped.stdout
