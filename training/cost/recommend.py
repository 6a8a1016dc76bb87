"""Which SageMaker endpoint instance types fit a model, ranked by an offline estimate of their cost for a
latency and a throughput target; optionally a SageMaker Inference Recommender job that measures them.

    python -m training.cost recommend --parameters 7e9 --dtype bf16 --requests-per-second 5 \\
        --max-latency-ms 20000 --output-tokens 256 [--json]
    python -m training.cost recommend --model-package-arn <version ARN> --requests-per-second 5 \\
        [--start-inference-recommender --role-arn <role ARN> --sample-payload-url s3://.../payload.tar.gz]

The model: ``--model-dir`` (a local Hugging Face directory: config.json for its layers and attention heads,
the ``*.safetensors`` headers for its parameter count), ``--model-package-arn`` (a registered version: its
``CustomerMetadataProperties.base_model``, the S3 directory of the base model the pipeline fine-tuned, read
the same way with ranged GETs; the merged fine-tuned model has the base model's shape) or ``--parameters``
alone (then the attention shape is assumed, see below); ``--parameters`` also overrides the count read from
files.

The candidates: every size of every NVIDIA GPU family in lib/config/instance-accelerators.json (GPU count and
memory per GPU: read there, not copied) whose compute capability the LMI serving image supports (its
``cudaImages.lmi`` floor). The estimate, per instance type (each assumption is printed with the result, with
its source):

- weights = parameters x bytes per parameter (bf16/fp16 2, int8 1: LMI's "Instance Type Selection" guide; int4
  0.5);
- KV cache per token = 2 (K, V) x 2 bytes x layers x KV heads x head dim (the same guide's formula, with the
  width of the cached heads; the cache stays 16-bit: vLLM's default ``kv_cache_dtype`` ``auto``);
- usable memory = 90% of the GPUs' (LMI's ``option.gpu_memory_utilization`` default 0.9), the model split over
  all GPUs (LMI's ``tensor_parallel_degree=max``), so the attention heads must divide by the GPU count (vLLM);
- concurrency per instance = the requests whose KV cache (input + output tokens) fits, at most
  ``--max-batch-size`` (LMI's starter ``max_rolling_batch_size`` 64), and fewer when the latency target needs
  it;
- decode reads the weights and the batch's KV cache each step at ``--bandwidth-utilization`` of the GPUs' peak
  memory bandwidth (training/contracts/gpu-memory-bandwidth.json); latency = output tokens x step time
  (prefill is not modelled);
- instances = ceil(requests per second / (concurrency / latency)); cost per hour = instances x the on-demand
  hosting price (the AWS Price List API, ``pricing:GetProducts``, or ``--price-file``); cost per 1,000
  requests at the target.

``--start-inference-recommender`` (with ``--model-package-arn``) then starts a Default Inference Recommender
job (CreateInferenceRecommendationsJob) for the version on the ranked instance types and prints how to follow
it.

Exit status 0 done; 1 an AWS error (the operation named); 2 a bad option (one line naming it, the value and
what is allowed).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
from pathlib import Path
from typing import Any

from training.common.args import UsageError
from training.compliance.registry import MODEL_PACKAGE_ARN, NOT_FOUND_CODES
from training.cost.cli import (
    COST_TAG_KEYS,
    ENVIRONMENT,
    ENVIRONMENT_RULE,
    REGION,
    REPO,
    AwsCallError,
    CostError,
    call,
    print_json,
    table,
)

ACCELERATORS = REPO / "lib" / "config" / "instance-accelerators.json"
BANDWIDTH = REPO / "training" / "contracts" / "gpu-memory-bandwidth.json"
# The serving image whose CUDA floor applies (cudaImages in instance-accelerators.json).
SERVING_IMAGE = "lmi"

DTYPE_BYTES = {"bf16": 2.0, "fp16": 2.0, "int8": 1.0, "int4": 0.5}
# The KV cache stays 16-bit whatever the weights' dtype (vLLM's kv_cache_dtype "auto": the model's
# activations).
KV_BYTES = 2
# LMI's option.gpu_memory_utilization default (LMI vLLM user guide): the share of GPU memory the engine uses.
MEMORY_UTILIZATION = 0.9
# LMI's starter serving.properties: option.max_rolling_batch_size=64 (LMI vLLM user guide).
DEFAULT_MAX_BATCH = 64
# vLLM refuses bf16 below compute capability 8.0 ("Bfloat16 is only supported on GPUs with compute capability
# of at
# least 8.0").
BF16_MIN_COMPUTE_CAPABILITY = 8.0
# The shape assumed when only --parameters is known: Llama2-13b of LMI's "Instance Type Selection" guide, 40
# layers of
# hidden size 5120, 819,200 KV bytes per token, no grouped-query attention. A model of the same aspect ratio
# has
# parameters ~ 12 x layers x hidden^2 (Kaplan et al. 2020, "Scaling Laws for Neural Language Models", Table 1)
# and
# KV bytes ~ layers x hidden, so KV bytes per token scale with parameters^(2/3).
REFERENCE_PARAMETERS = 13e9
REFERENCE_KV_BYTES_PER_TOKEN = 2 * KV_BYTES * 40 * 5120
# The safetensors format caps its JSON header at 100 MB (huggingface/safetensors, format description).
MAX_SAFETENSORS_HEADER = 100_000_000
# The Price List API answers from us-east-1 (among others) for every region's prices.
PRICING_REGION = "us-east-1"
PRICE_SERVICE = "AmazonSageMaker"
# Attributes of a SageMaker hosting product in the Price List (as awslabs/llmeter reads them).
PRICE_COMPONENT = "Hosting"
ROLE_ARN = re.compile(
    r"arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
)  # botocore's RoleArn pattern
SAMPLE_PAYLOAD = re.compile(r"s3://[^/]+/.+\.tar\.gz")  # PayloadConfig.SamplePayloadUrl: one .tar.gz archive
MAX_JOB_NAME = 64  # CreateInferenceRecommendationsJob JobName
RECOMMENDER_DOMAIN, RECOMMENDER_TASK = "NATURAL_LANGUAGE_PROCESSING", "TEXT_GENERATION"


@dataclasses.dataclass
class RecommendArgs:
    """Endpoint instance types for a model, ranked by estimated cost for a latency and throughput target."""

    requests_per_second: float = dataclasses.field(
        metadata={"help": "Target throughput: requests per second"}
    )
    model_package_arn: str | None = dataclasses.field(
        default=None, metadata={"help": "A registered version (its base model's S3 directory gives the size)"}
    )
    model_dir: str | None = dataclasses.field(
        default=None, metadata={"help": "A local Hugging Face model directory (config.json, *.safetensors)"}
    )
    parameters: float | None = dataclasses.field(
        default=None, metadata={"help": "Parameter count, e.g. 7e9 (overrides the count read from files)"}
    )
    dtype: str = dataclasses.field(
        default="bf16", metadata={"help": "Weights' data type when served", "choices": tuple(DTYPE_BYTES)}
    )
    max_latency_ms: float | None = dataclasses.field(
        default=None, metadata={"help": "Longest acceptable time to generate --output-tokens tokens, in ms"}
    )
    input_tokens: int = dataclasses.field(default=512, metadata={"help": "Prompt tokens per request"})
    output_tokens: int = dataclasses.field(default=256, metadata={"help": "Generated tokens per request"})
    max_batch_size: int = dataclasses.field(
        default=DEFAULT_MAX_BATCH, metadata={"help": "Concurrent requests per instance at most (LMI's batch)"}
    )
    bandwidth_utilization: float = dataclasses.field(
        default=0.5, metadata={"help": "Share of peak GPU memory bandwidth decode achieves (an assumption)"}
    )
    region: str | None = dataclasses.field(
        default=None,
        metadata={"help": "Region for prices and the job (default: the ARN's, else your config's)"},
    )
    price_file: str | None = dataclasses.field(
        default=None,
        metadata={
            "help": 'JSON {"ml.g5.xlarge": 1.41, ...} USD per instance-hour, instead of the Price List API'
        },
    )
    top: int = dataclasses.field(default=5, metadata={"help": "How many ranked instance types to show"})
    json: bool = dataclasses.field(default=False, metadata={"help": "Print JSON instead of tables"})
    start_inference_recommender: bool = dataclasses.field(
        default=False,
        metadata={"help": "Also start a Default Inference Recommender job for --model-package-arn"},
    )
    role_arn: str | None = dataclasses.field(
        default=None, metadata={"help": "IAM role the Inference Recommender job runs as"}
    )
    sample_payload_url: str | None = dataclasses.field(
        default=None, metadata={"help": "s3://.../payload.tar.gz of sample requests (default: the version's)"}
    )
    environment: str | None = dataclasses.field(
        default=None, metadata={"help": "Tag the job fmft:environment=<environment>"}
    )


@dataclasses.dataclass(frozen=True)
class Model:
    parameters: float
    parameters_source: str
    kv_bytes_per_token: float
    kv_source: str
    attention_heads: int | None = None


@dataclasses.dataclass(frozen=True)
class Workload:
    requests_per_second: float
    max_latency_ms: float | None
    input_tokens: int
    output_tokens: int
    dtype: str
    max_batch: int
    bandwidth_utilization: float


@dataclasses.dataclass(frozen=True)
class Candidate:
    instance_type: str
    accelerator: str
    gpus: int
    gpu_memory_gb: float
    compute_capability: float | None
    bandwidth_gbps: float | None


# ----------------------------------------------------------------------------------------------- the flags


def _between(flag: str, value: float, low: float, high: float, what: str) -> None:
    if not low <= value <= high:  # also refuses nan
        raise UsageError(f"{flag} {value:g}: allowed: {what}")


def workload(args: RecommendArgs) -> Workload:
    _between("--requests-per-second", args.requests_per_second, 1e-6, 1e6, "a number above 0, at most 1e6")
    if args.max_latency_ms is not None:
        _between("--max-latency-ms", args.max_latency_ms, 1, 3_600_000, "1 to 3600000 milliseconds")
    _between("--input-tokens", args.input_tokens, 1, 10_000_000, "a whole number from 1 to 10000000")
    _between("--output-tokens", args.output_tokens, 1, 10_000_000, "a whole number from 1 to 10000000")
    _between("--max-batch-size", args.max_batch_size, 1, 4096, "a whole number from 1 to 4096")
    _between("--bandwidth-utilization", args.bandwidth_utilization, 0.01, 1, "a fraction above 0, at most 1")
    _between("--top", args.top, 1, 100, "a whole number from 1 to 100")
    return Workload(
        requests_per_second=args.requests_per_second,
        max_latency_ms=args.max_latency_ms,
        input_tokens=args.input_tokens,
        output_tokens=args.output_tokens,
        dtype=args.dtype,
        max_batch=args.max_batch_size,
        bandwidth_utilization=args.bandwidth_utilization,
    )


def check_model_flags(args: RecommendArgs) -> re.Match[str] | None:
    """The ARN's parts when one is given; UsageError for a bad or missing model option."""
    given = [
        f for f, v in (("--model-package-arn", args.model_package_arn), ("--model-dir", args.model_dir)) if v
    ]
    if len(given) > 1:
        raise UsageError(
            "--model-package-arn, --model-dir: allowed: one of them (with --parameters or without)"
        )
    if not given and args.parameters is None:
        raise UsageError(
            "the model: not given; allowed: --model-package-arn, --model-dir or --parameters (e.g. 7e9)"
        )
    if args.parameters is not None:
        _between("--parameters", args.parameters, 1e6, 1e13, "a parameter count from 1e6 to 1e13, e.g. 7e9")
    match = None
    if args.model_package_arn:
        match = MODEL_PACKAGE_ARN.fullmatch(args.model_package_arn)
        if not match:
            raise UsageError(
                f"--model-package-arn {args.model_package_arn}: allowed: a model package version ARN "
                "(arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>)"
            )
    if args.model_dir and not Path(args.model_dir).is_dir():
        raise UsageError(f"--model-dir {args.model_dir}: allowed: an existing model directory")
    if args.environment is not None and not ENVIRONMENT.fullmatch(args.environment):
        raise UsageError(f"--environment {args.environment}: allowed: {ENVIRONMENT_RULE}")
    if args.start_inference_recommender:
        if not args.model_package_arn:
            raise UsageError(
                "--start-inference-recommender: allowed: with --model-package-arn (the job tests a "
                "registered version)"
            )
        role_rule = (
            "an IAM role ARN SageMaker can assume (arn:aws:iam::<account>:role/<name>), required with "
            "--start-inference-recommender"
        )
        if not args.role_arn:
            raise UsageError(f"--role-arn: not given; allowed: {role_rule}")
        if not ROLE_ARN.fullmatch(args.role_arn):
            raise UsageError(f"--role-arn {args.role_arn}: allowed: {role_rule}")
        if args.sample_payload_url and not SAMPLE_PAYLOAD.fullmatch(args.sample_payload_url):
            raise UsageError(
                f"--sample-payload-url {args.sample_payload_url}: allowed: s3://<bucket>/<key>.tar.gz (one "
                "gzip compressed tar archive of sample requests)"
            )
    return match


def region_for(args: RecommendArgs, arn: re.Match[str] | None) -> str:
    if arn is not None:
        if args.region is not None and args.region != arn[1]:
            raise UsageError(
                f"--region {args.region}: allowed: the model package's region {arn[1]} (or leave it out)"
            )
        return arn[1]
    region = args.region
    if region is None:
        import boto3

        region = boto3.session.Session().region_name
        if region is None:
            raise UsageError(
                "--region: not given and no default region is configured; allowed: e.g. us-east-1"
            )
    if not REGION.fullmatch(region):
        raise UsageError(f"--region {region}: allowed: an AWS region name such as us-east-1")
    return region


def read_price_file(path: str) -> dict[str, float]:
    allowed = 'allowed: a JSON object of instance type to USD per instance-hour, e.g. {"ml.g5.xlarge": 1.41}'
    try:
        prices = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UsageError(f"--price-file {path}: {allowed}") from None
    if not isinstance(prices, dict) or not all(
        isinstance(k, str)
        and k.startswith("ml.")
        and isinstance(v, int | float)
        and not isinstance(v, bool)
        and v > 0
        for k, v in prices.items()
    ):
        raise UsageError(f"--price-file {path}: {allowed}")
    return {k: float(v) for k, v in prices.items()}


# ----------------------------------------------------------------------------------------------- the model


def assumed_kv_bytes_per_token(parameters: float) -> float:
    return REFERENCE_KV_BYTES_PER_TOKEN * (parameters / REFERENCE_PARAMETERS) ** (2 / 3)


def _first(config: dict[str, Any], *keys: str) -> Any:
    return next((config[k] for k in keys if isinstance(config.get(k), int) and config[k] > 0), None)


def geometry(config: Any, where: str) -> tuple[int, int, int, int]:
    """(layers, attention heads, KV heads, head dim) of a Hugging Face config.json."""
    if (
        isinstance(config, dict)
        and "num_hidden_layers" not in config
        and isinstance(config.get("text_config"), dict)
    ):
        config = config["text_config"]  # a multimodal model's language part
    config = config if isinstance(config, dict) else {}
    layers = _first(config, "num_hidden_layers", "n_layer", "num_layers")
    heads = _first(config, "num_attention_heads", "n_head")
    hidden = _first(config, "hidden_size", "n_embd", "d_model")
    kv_heads = _first(config, "num_key_value_heads") or (1 if config.get("multi_query") is True else heads)
    head_dim = _first(config, "head_dim") or (hidden // heads if hidden and heads else None)
    if not (layers and heads and kv_heads and head_dim):
        raise UsageError(
            f"{where}: allowed: a Hugging Face config.json with num_hidden_layers, num_attention_heads and "
            "hidden_size (or head_dim)"
        )
    return layers, heads, kv_heads, head_dim


def count_parameters(header: Any, where: str) -> int:
    """Elements of every tensor a safetensors header lists."""
    if not isinstance(header, dict):
        raise CostError(f"{where}: not a safetensors header")
    total = 0
    for name, tensor in header.items():
        if name == "__metadata__":
            continue
        shape = tensor.get("shape") if isinstance(tensor, dict) else None
        if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise CostError(f"{where}: tensor {name} has no shape")
        total += math.prod(shape)
    return total


def _header_length(prefix: bytes, where: str) -> int:
    length = int.from_bytes(prefix[:8], "little") if len(prefix) >= 8 else -1
    if not 0 < length <= MAX_SAFETENSORS_HEADER:
        raise CostError(f"{where}: not a safetensors file (header length {length})")
    return length


def _parse_header(raw: bytes, where: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise CostError(f"{where}: not a safetensors file (its header is not JSON)") from None


def local_header(path: Path) -> Any:
    with path.open("rb") as file:
        length = _header_length(file.read(8), str(path))
        return _parse_header(file.read(length), str(path))


def build_model(
    parameters: float | None,
    counted: int | None,
    counted_where: str,
    shape: tuple[int, int, int, int] | None,
    shape_where: str,
) -> Model:
    if parameters is not None:
        count, count_source = parameters, "--parameters"
    elif counted:
        count, count_source = float(counted), f"the tensors of {counted_where}"
    else:
        raise UsageError(
            f"{counted_where}: no *.safetensors files to count parameters in; "
            "allowed: add --parameters (e.g. 7e9)"
        )
    if shape is None:
        return Model(
            parameters=count,
            parameters_source=count_source,
            kv_bytes_per_token=assumed_kv_bytes_per_token(count),
            kv_source=(
                "assumed: a model shaped like Llama2-13b without grouped-query attention (40 layers x "
                "5120, 819,200 bytes per token, LMI's Instance Type Selection guide), scaled by "
                "(parameters / 13e9)^(2/3); models with grouped-query attention need less (give "
                "--model-dir for the exact number)"
            ),
        )
    layers, heads, kv_heads, head_dim = shape
    return Model(
        parameters=count,
        parameters_source=count_source,
        kv_bytes_per_token=float(2 * KV_BYTES * layers * kv_heads * head_dim),
        kv_source=f"{shape_where}: 2 x {KV_BYTES} bytes x {layers} layers x {kv_heads} KV heads x {head_dim} "
        "head dim",
        attention_heads=heads,
    )


def model_from_dir(directory: Path, parameters: float | None) -> Model:
    config_path = directory / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UsageError(
            f"--model-dir {directory}: allowed: a directory with a readable config.json"
        ) from None
    shape = geometry(config, f"--model-dir {config_path}")
    files = sorted(directory.glob("*.safetensors"))
    counted = sum(count_parameters(local_header(f), str(f)) for f in files) if parameters is None else None
    return build_model(parameters, counted, f"--model-dir {directory}", shape, str(config_path))


def _s3_location(uri: str) -> tuple[str, str]:
    match = re.fullmatch(r"s3://([^/]+)/?(.*)", uri)
    if not match:
        raise CostError(f"base_model {uri}: not an s3:// URI")
    prefix = match[2].rstrip("/")
    return match[1], f"{prefix}/" if prefix else ""


def _s3_bytes(s3: Any, bucket: str, key: str, first: int, last: int) -> bytes:
    return call(s3, "get_object", Bucket=bucket, Key=key, Range=f"bytes={first}-{last}")["Body"].read()


def model_from_s3(s3: Any, uri: str, parameters: float | None) -> Model:
    """The base model directory on S3: config.json, and the headers of its *.safetensors (ranged GETs)."""
    bucket, prefix = _s3_location(uri)
    config_raw = call(s3, "get_object", Bucket=bucket, Key=f"{prefix}config.json")["Body"].read()
    try:
        config = json.loads(config_raw)
    except ValueError:
        raise CostError(f"s3://{bucket}/{prefix}config.json: not JSON") from None
    shape = geometry(config, f"s3://{bucket}/{prefix}config.json")
    counted = None
    if parameters is None:
        keys, token = [], None
        while True:
            page = call(
                s3,
                "list_objects_v2",
                Bucket=bucket,
                Prefix=prefix,
                **({"ContinuationToken": token} if token else {}),
            )
            keys += [
                o["Key"]
                for o in page.get("Contents", [])
                if o["Key"].endswith(".safetensors") and "/" not in o["Key"][len(prefix) :]
            ]
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                break
        counted = 0
        for key in sorted(keys):
            where = f"s3://{bucket}/{key}"
            length = _header_length(_s3_bytes(s3, bucket, key, 0, 7), where)
            counted += count_parameters(
                _parse_header(_s3_bytes(s3, bucket, key, 8, 7 + length), where), where
            )
    return build_model(
        parameters, counted, f"s3://{bucket}/{prefix}", shape, f"s3://{bucket}/{prefix}config.json"
    )


def describe_version(sm: Any, arn: str) -> dict[str, Any]:
    try:
        return call(sm, "describe_model_package", ModelPackageName=arn)
    except AwsCallError as error:
        if error.code in NOT_FOUND_CODES:
            raise UsageError(
                f"--model-package-arn {arn}: allowed: a model package that exists ({error})"
            ) from None
        raise


def model_from_package(sm: Any, s3: Any, arn: str, parameters: float | None) -> tuple[Model, dict[str, Any]]:
    package = describe_version(sm, arn)
    base = (package.get("CustomerMetadataProperties") or {}).get("base_model")
    if base and str(base).startswith("s3://"):
        return model_from_s3(s3, str(base), parameters), package
    if parameters is None:
        raise UsageError(
            f"--model-package-arn {arn}: the version has no base_model lineage (an s3:// directory) to read "
            "its size from; allowed: add --parameters (e.g. 7e9)"
        )
    return build_model(parameters, None, arn, None, ""), package


# ------------------------------------------------------------------------------------------ the candidates


def load_candidates() -> tuple[list[Candidate], list[dict[str, str]]]:
    """Every size of every NVIDIA GPU family (instance-accelerators.json), its bandwidth when on record; the
    families of other accelerators, each with why it is left out."""
    table_ = json.loads(ACCELERATORS.read_text(encoding="utf-8"))
    bandwidth = {
        (b["accelerator"], float(b["acceleratorMemoryGB"])): float(b["memoryBandwidthGBps"])
        for b in json.loads(BANDWIDTH.read_text(encoding="utf-8"))["accelerators"]
    }
    found, excluded = [], []
    for family, facts in table_["families"].items():
        if facts.get("kind") != "nvidia-gpu":
            excluded.append(
                {
                    "instanceType": f"ml.{family}.*",
                    "reason": f"{facts.get('accelerator')} ({facts.get('kind')}): the LMI image is built for "
                    "NVIDIA GPUs",
                }
            )
            continue
        memory = float(facts["acceleratorMemoryGB"])
        for size, count in facts["sizes"].items():
            found.append(
                Candidate(
                    instance_type=f"ml.{family}.{size}",
                    accelerator=facts["accelerator"],
                    gpus=int(count),
                    gpu_memory_gb=memory,
                    compute_capability=facts.get("computeCapability"),
                    bandwidth_gbps=bandwidth.get((facts["accelerator"], memory)),
                )
            )
    return found, excluded


def serving_floor() -> tuple[float, str]:
    image = json.loads(ACCELERATORS.read_text(encoding="utf-8"))["cudaImages"][SERVING_IMAGE]
    return float(image["minComputeCapability"]), image["description"]


# --------------------------------------------------------------------------------------------- the estimate


def estimate(model: Model, work: Workload, cand: Candidate, floor: tuple[float, str]) -> dict[str, Any]:
    """One instance type: what fits, its concurrency, latency and instance count; else ``reason``."""
    base: dict[str, Any] = {
        "instanceType": cand.instance_type,
        "accelerator": cand.accelerator,
        "gpus": cand.gpus,
        "gpuMemoryGB": cand.gpu_memory_gb,
    }
    capability = cand.compute_capability
    if capability is not None and capability < floor[0]:
        return base | {
            "reason": f"compute capability {capability} is below {floor[0]}, the floor of {floor[1]}"
        }
    if work.dtype == "bf16" and capability is not None and capability < BF16_MIN_COMPUTE_CAPABILITY:
        return base | {
            "reason": f"compute capability {capability}: vLLM serves bf16 from 8.0 on (use --dtype fp16 here)"
        }
    if model.attention_heads and model.attention_heads % cand.gpus:
        return base | {
            "reason": f"{model.attention_heads} attention heads do not split over {cand.gpus} GPUs "
            "(tensor parallelism)"
        }
    weights = model.parameters * DTYPE_BYTES[work.dtype]
    usable = cand.gpus * cand.gpu_memory_gb * 1e9 * MEMORY_UTILIZATION
    base |= {"weightsGB": round(weights / 1e9, 2), "usableMemoryGB": round(usable / 1e9, 2)}
    if weights >= usable:
        return base | {"reason": f"weights {weights / 1e9:.1f} GB exceed the usable {usable / 1e9:.1f} GB"}
    per_request = model.kv_bytes_per_token * (work.input_tokens + work.output_tokens)
    by_memory = math.floor((usable - weights) / per_request)
    base["kvCacheCapacityTokens"] = math.floor((usable - weights) / model.kv_bytes_per_token)
    if by_memory < 1:
        return base | {
            "reason": "no room for the KV cache of one request of "
            f"{work.input_tokens + work.output_tokens} tokens"
        }
    if cand.bandwidth_gbps is None:
        return base | {
            "maxConcurrencyByMemory": by_memory,
            "notEstimated": f"no memory bandwidth on record for {cand.accelerator} "
            "(gpu-memory-bandwidth.json)",
        }
    bandwidth = cand.gpus * cand.bandwidth_gbps * 1e9 * work.bandwidth_utilization
    read_per_request = model.kv_bytes_per_token * (work.input_tokens + work.output_tokens / 2)

    def latency_s(concurrency: int) -> float:
        return work.output_tokens * (weights + concurrency * read_per_request) / bandwidth

    concurrency = min(by_memory, work.max_batch)
    if work.max_latency_ms is not None:
        if latency_s(1) * 1000 > work.max_latency_ms:
            return base | {
                "reason": f"one request alone takes {latency_s(1) * 1000:.0f} ms, above --max-latency-ms "
                f"{work.max_latency_ms:g}"
            }
        budget = work.max_latency_ms / 1000 / work.output_tokens * bandwidth
        concurrency = min(concurrency, math.floor((budget - weights) / read_per_request))
    latency = latency_s(concurrency)
    throughput = concurrency / latency
    return base | {
        "concurrencyPerInstance": concurrency,
        "latencyMs": round(latency * 1000, 1),
        "requestsPerSecondPerInstance": round(throughput, 4),
        "instances": math.ceil(work.requests_per_second / throughput - 1e-9),
    }


def price_list(pricing: Any, region: str) -> dict[str, float]:
    """On-demand USD per hour of every SageMaker hosting instance type in ``region`` (AWS Price List API); an
    instance type with several different prices is left out."""
    found: dict[str, set[float]] = {}
    token = None
    while True:
        page = call(
            pricing,
            "get_products",
            ServiceCode=PRICE_SERVICE,
            Filters=[
                {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
                {"Type": "TERM_MATCH", "Field": "component", "Value": PRICE_COMPONENT},
            ],
            FormatVersion="aws_v1",
            MaxResults=100,
            **({"NextToken": token} if token else {}),
        )
        for item in page.get("PriceList", []):
            product = json.loads(item) if isinstance(item, str) else item
            name = ((product.get("product") or {}).get("attributes") or {}).get("instanceName")
            if not name:
                continue
            for term in ((product.get("terms") or {}).get("OnDemand") or {}).values():
                for dimension in (term.get("priceDimensions") or {}).values():
                    usd = (dimension.get("pricePerUnit") or {}).get("USD")
                    if str(dimension.get("unit", "")).lower() in ("hrs", "hour", "hours") and usd:
                        price = float(usd)
                        if price > 0:
                            found.setdefault(name, set()).add(price)
        token = page.get("NextToken")
        if not token:
            return {name: prices.pop() for name, prices in found.items() if len(prices) == 1}


def rank(
    model: Model,
    work: Workload,
    candidates: list[Candidate],
    prices: dict[str, float],
    price_source: str,
    floor: tuple[float, str],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(ranked, not estimated, excluded)."""
    ranked, unknown, excluded = [], [], []
    for cand in candidates:
        result = estimate(model, work, cand, floor)
        if "reason" in result:
            excluded.append({"instanceType": cand.instance_type, "reason": result["reason"]})
        elif "notEstimated" in result:
            unknown.append(result)
        elif cand.instance_type not in prices:
            excluded.append({"instanceType": cand.instance_type, "reason": f"no price: {price_source}"})
        else:
            price = prices[cand.instance_type]
            per_hour = result["instances"] * price
            ranked.append(
                result
                | {
                    "pricePerInstanceHour": price,
                    "costPerHour": round(per_hour, 4),
                    "costPer1000Requests": round(per_hour / (work.requests_per_second * 3600) * 1000, 4),
                }
            )
    ranked.sort(key=lambda r: (r["costPerHour"], r["instances"], r["latencyMs"], r["instanceType"]))
    for index, entry in enumerate(ranked, start=1):
        entry["rank"] = index
    return ranked, unknown, excluded


def assumptions(model: Model, work: Workload) -> list[str]:
    return [
        f"Weights = parameters x {DTYPE_BYTES[work.dtype]:g} bytes ({work.dtype}; bf16/fp16 2, int8 1: "
        "LMI's 'Instance Type Selection' guide; int4 0.5, quantization scales not counted).",
        f"KV cache per token: {model.kv_bytes_per_token:,.0f} bytes ({model.kv_source}); the LMI guide's "
        "formula 2 x bytes x layers x attention width, kept 16-bit whatever the weights' dtype (vLLM's "
        "kv_cache_dtype auto).",
        f"Usable memory = {MEMORY_UTILIZATION:.0%} of the GPUs' (LMI's option.gpu_memory_utilization "
        "default); the model is split over all GPUs of an instance (LMI's tensor_parallel_degree=max), so "
        "its attention heads must divide by the GPU count (vLLM).",
        f"A request holds the KV cache of its {work.input_tokens} input + {work.output_tokens} output "
        f"tokens; an instance serves at most {work.max_batch} at once (--max-batch-size; LMI's starter "
        "max_rolling_batch_size is 64).",
        "Decode is memory-bound: each step reads the weights and the batch's KV cache (mean context: input "
        f"+ output / 2 tokens) at {work.bandwidth_utilization:g} of the GPUs' peak bandwidth "
        "(--bandwidth-utilization, an assumption, not a measurement; peak figures: "
        "training/contracts/gpu-memory-bandwidth.json). Latency = output tokens x step time; the prompt's "
        "prefill (time to first token) is not modelled: the output tokens dominate a response's latency "
        "(Databricks, 'LLM inference performance engineering').",
        "Instances = ceil(target requests per second / (concurrency / latency)); cost per hour = instances "
        "x the on-demand hosting price; cost per 1,000 requests at the target rate. Savings Plans, data "
        "transfer and storage are not counted.",
        "GPU count and memory per instance type: lib/config/instance-accelerators.json. Inference "
        "Recommender measures all of this on the real container (--start-inference-recommender).",
    ]


# ------------------------------------------------------------------------------------ Inference Recommender


def job_name(group: str, version: str, now: dt.datetime) -> str:
    tail = f"-v{version}-{now.astimezone(dt.UTC):%Y%m%d%H%M%S}"
    head = re.sub(r"[^a-zA-Z0-9-]", "-", group)[: MAX_JOB_NAME - len(tail)].rstrip("-")
    return f"{head}{tail}"


def recommender_request(
    arn: str,
    name: str,
    role_arn: str,
    instance_types: list[str],
    sample_payload_url: str | None,
    environment: str | None,
    description: str,
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "Domain": RECOMMENDER_DOMAIN,
        "Task": RECOMMENDER_TASK,
        "SupportedEndpointType": "RealTime",
    }
    if sample_payload_url:
        container["PayloadConfig"] = {
            "SamplePayloadUrl": sample_payload_url,
            "SupportedContentTypes": ["application/json"],
        }
    if instance_types:
        container["SupportedInstanceTypes"] = instance_types
    request: dict[str, Any] = {
        "JobName": name,
        "JobType": "Default",
        "RoleArn": role_arn,
        "InputConfig": {"ModelPackageVersionArn": arn, "ContainerConfig": container},
        "JobDescription": description[:128],
    }
    if environment:
        request["Tags"] = [{"Key": COST_TAG_KEYS["environment"], "Value": environment}]
    return request


def follow_commands(name: str, region: str) -> list[str]:
    job = f"--region {region} --job-name {name}"
    query = (
        "'InferenceRecommendations[].{instance: EndpointConfiguration.InstanceType, "
        "costPerHour: Metrics.CostPerHour, costPerInference: Metrics.CostPerInference, "
        "modelLatencyMs: Metrics.ModelLatency, maxInvocationsPerMinute: Metrics.MaxInvocations}'"
    )
    return [
        f"aws sagemaker describe-inference-recommendations-job {job} --query Status",
        f"aws sagemaker list-inference-recommendations-job-steps {job}",
        f"aws sagemaker describe-inference-recommendations-job {job} --query {query} --output table",
    ]


def start_recommender(
    sm: Any,
    args: RecommendArgs,
    package: dict[str, Any],
    ranked: list[dict[str, Any]],
    region: str,
    now: dt.datetime,
) -> dict[str, Any]:
    arn = str(args.model_package_arn)
    if not args.sample_payload_url and not package.get("SamplePayloadUrl"):
        raise UsageError(
            f"--sample-payload-url: not given and version {arn} has no SamplePayloadUrl; allowed: "
            "s3://<bucket>/<key>.tar.gz of sample requests (Inference Recommender sends them as traffic)"
        )
    group = str(package.get("ModelPackageGroupName") or arn.split("/")[-2])
    version = str(package.get("ModelPackageVersion") or arn.split("/")[-1])
    name = job_name(group, version, now)
    types = [r["instanceType"] for r in ranked]
    description = f"fmft cost recommend: {group} v{version}, {args.dtype}, {args.requests_per_second:g} req/s"
    request = recommender_request(
        arn, name, str(args.role_arn), types, args.sample_payload_url, args.environment, description
    )
    started = call(sm, "create_inference_recommendations_job", **request)
    return {
        "jobName": name,
        "jobArn": started.get("JobArn"),
        "jobType": "Default",
        "instanceTypes": types,
        "request": request,
        "follow": follow_commands(name, region),
    }


# ---------------------------------------------------------------------------------------------- the command


def render(document: dict[str, Any]) -> str:
    model, work = document["model"], document["workload"]
    latency = (
        f"at most {work['maxLatencyMs']:g} ms" if work["maxLatencyMs"] is not None else "no latency target"
    )
    lines = [
        f"Model: {model['parameters']:,.0f} parameters ({model['parametersSource']}), {model['dtype']}: "
        f"weights {model['weightsGB']:.1f} GB, KV cache {model['kvCacheBytesPerToken']:,.0f} bytes per "
        "token.",
        f"Target: {work['requestsPerSecond']:g} requests/s, {latency} for {work['outputTokens']} output "
        f"tokens (prompts of {work['inputTokens']} tokens).",
        f"Prices: {document['prices']['source']}, region {document['prices']['region']}.",
        "",
    ]
    rows = [
        [
            r["rank"],
            r["instanceType"],
            f"{r['gpus']} x {r['accelerator'].removeprefix('NVIDIA ')} {r['gpuMemoryGB']:g} GB",
            r["instances"],
            r["concurrencyPerInstance"],
            f"{r['latencyMs']:.0f}",
            f"{r['costPerHour']:.2f}",
            f"{r['costPer1000Requests']:.4f}",
        ]
        for r in document["recommendations"]
    ]
    header = [
        "RANK",
        "INSTANCE TYPE",
        "GPUS",
        "INSTANCES",
        "CONCURRENCY",
        "LATENCY ms",
        "USD/HOUR",
        "USD/1000 REQ",
    ]
    lines += (
        table(header, rows, right=(0, 3, 4, 5, 6, 7)) if rows else ["(no instance type meets the target)"]
    )
    if document["notEstimated"]:
        names = ", ".join(r["instanceType"] for r in document["notEstimated"])
        lines += ["", f"Fit in memory, latency not estimated (no bandwidth on record): {names}."]
    lines += [
        "",
        f"Left out: {len(document['excluded'])} instance types (--json gives each reason).",
        "",
        "Assumptions:",
        *(f"- {a}" for a in document["assumptions"]),
    ]
    job = document.get("inferenceRecommender")
    if job:
        lines += [
            "",
            f"Started Inference Recommender job {job['jobName']} (Default) on "
            f"{', '.join(job['instanceTypes']) or 'the instance types it chooses'}. Follow it:",
            *(f"  {command}" for command in job["follow"]),
        ]
    return "\n".join(lines)


def recommend(
    args: RecommendArgs,
    clients: dict[str, Any],
    now: dt.datetime,
    region: str,
    prices: dict[str, float] | None = None,
) -> dict[str, Any]:
    work = workload(args)
    package: dict[str, Any] = {}
    if args.model_package_arn:
        model, package = model_from_package(
            clients["sagemaker"], clients["s3"], args.model_package_arn, args.parameters
        )
    elif args.model_dir:
        model = model_from_dir(Path(args.model_dir), args.parameters)
    else:
        model = build_model(args.parameters, None, "--parameters", None, "")
    if prices is not None:
        price_source = f"--price-file {args.price_file}"
    else:
        prices = price_list(clients["pricing"], region)
        price_source = f"AWS Price List API, on-demand SageMaker hosting in {region}"
    candidates, excluded_families = load_candidates()
    ranked, unknown, excluded = rank(model, work, candidates, prices, price_source, serving_floor())
    document: dict[str, Any] = {
        "model": {
            "parameters": model.parameters,
            "parametersSource": model.parameters_source,
            "dtype": work.dtype,
            "weightsGB": round(model.parameters * DTYPE_BYTES[work.dtype] / 1e9, 2),
            "kvCacheBytesPerToken": round(model.kv_bytes_per_token),
            "kvCacheSource": model.kv_source,
            **({"modelPackageArn": args.model_package_arn} if args.model_package_arn else {}),
        },
        "workload": {
            "requestsPerSecond": work.requests_per_second,
            "maxLatencyMs": work.max_latency_ms,
            "inputTokens": work.input_tokens,
            "outputTokens": work.output_tokens,
        },
        "prices": {"source": price_source, "region": region},
        "recommendations": ranked[: args.top],
        "notEstimated": unknown,
        "excluded": excluded_families + excluded,
        "assumptions": assumptions(model, work),
    }
    if args.start_inference_recommender:
        document["inferenceRecommender"] = start_recommender(
            clients["sagemaker"], args, package, ranked[: args.top], region, now
        )
    return document


class _Clients(dict[str, Any]):
    """boto3 clients made when first used: a local model with a price file makes none."""

    def __init__(self, region: str) -> None:
        super().__init__()
        self.region = region

    def __missing__(self, service: str) -> Any:
        import boto3

        region = PRICING_REGION if service == "pricing" else self.region
        self[service] = client = boto3.client(service, region_name=region)
        return client


def run(args: RecommendArgs, clients: dict[str, Any] | None = None, now: dt.datetime | None = None) -> int:
    arn = check_model_flags(args)
    workload(args)
    prices = read_price_file(args.price_file) if args.price_file else None
    region = region_for(args, arn)
    if clients is None:
        clients = _Clients(region)
    document = recommend(args, clients, now or dt.datetime.now(dt.UTC), region, prices)
    if args.json:
        print_json(document)
    else:
        print(render(document))
    return 0
