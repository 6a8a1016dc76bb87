"""The Bedrock stack's Lambda handlers. S3, Bedrock invocation logging, SNS and CloudWatch calls go to a moto
server on loopback; the calls moto does not emulate (bedrock-runtime Converse, provisioned throughput) go
through botocore's Stubber, which still checks every request against the service model."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import http.server
import json
import re
import threading
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber

from training.bedrock import handlers
from training.bedrock.models import InputError, check_hyperparameters, load_models
from training.monitor.profile import Baseline, load_baseline

BUCKET = "fmft-dev-training-data-111122223333-us-east-1"
EVAL_BUCKET = "fmft-dev-evaluation-111122223333-us-east-1"
NOVA = "amazon.nova-micro-v1:0:128k"
TITAN = "amazon.titan-text-express-v1:0:8k"


def conversation(i: int) -> dict[str, Any]:
    return {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "You answer questions about invoices."}],
        "messages": [
            {"role": "user", "content": [{"text": f"What is the total of invoice {i}?"}]},
            {"role": "assistant", "content": [{"text": f"Invoice {i} totals {i * 10} euros."}]},
        ],
    }


def settings(**changes: Any) -> dict[str, Any]:
    cfg = {
        "namePrefix": "fmft-dev",
        "dataBucket": BUCKET,
        "dataPrefix": "training-data/processed/",
        "evaluationPrefix": "reports/bedrock/",
        "evaluationBucket": EVAL_BUCKET,
        "maxProvisionedModelUnits": 2,
        "defaults": {
            "baseModelId": NOVA,
            "customizationType": "FINE_TUNING",
            "hyperParameters": {"epochCount": 2},
            "provisionedModelUnits": 0,
            "evaluationTask": "summarization",
            "maxEvaluationRecords": 50,
        },
        "throughputGuard": {
            "maxAgeHours": 24,
            "deleteStale": False,
            "namePrefix": "fmft-dev",
            "metricNamespace": "FineTuningPlatform/dev",
            "topicArn": "",
        },
    }
    cfg.update(changes)
    return cfg


@pytest.fixture
def s3(moto_endpoint, monkeypatch):
    client = boto3.client("s3")
    for bucket in (BUCKET, EVAL_BUCKET):
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=bucket)
    monkeypatch.setenv("FMFT_BEDROCK_SETTINGS", json.dumps(settings()))
    return client


def put_jsonl(s3, key: str, records: list[Any]) -> str:
    s3.put_object(Bucket=BUCKET, Key=key, Body="".join(json.dumps(r) + "\n" for r in records).encode())
    return f"s3://{BUCKET}/{key}"


# ------------------------------------------------------------------------------------------ the table


def test_hyperparameters_get_defaults_and_api_strings():
    nova = load_models()[NOVA]
    problems, values = check_hyperparameters(nova, {"epochCount": 3, "learningRate": "0.00002"})
    assert problems == []
    assert values == {"epochCount": "3", "learningRate": "2e-05", "learningRateWarmupSteps": "10"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"epochCount": 6},
            "hyperParameters.epochCount: got 6; allowed for amazon.nova-micro-v1:0:128k: 1 to 5",
        ),
        ({"epochCount": 2.5}, "hyperParameters.epochCount: got 2.5; allowed: an integer from 1 to 5"),
        (
            {"learningRate": "fast"},
            "hyperParameters.learningRate: got 'fast'; allowed: a number from 1e-06 to 0.0001",
        ),
        (
            {"batchSize": 8},
            "hyperParameters.batchSize: got 8; not a hyperparameter of amazon.nova-micro-v1:0:128k",
        ),
    ],
)
def test_hyperparameter_problems_name_the_field_the_value_and_the_range(values, message):
    problems, _ = check_hyperparameters(load_models()[NOVA], values)
    assert any(p.startswith(message) for p in problems), problems


def test_config_can_add_a_model():
    extra = {
        "amazon.nova-2-lite-v1:0:256k": {
            "family": "amazon-nova",
            "hyperParameters": "amazon-nova",
            "customizationTypes": ["FINE_TUNING"],
        }
    }
    assert "amazon.nova-2-lite-v1:0:256k" in load_models(extra)


# ------------------------------------------------------------------------------------------ prepare


def test_prepare_finds_the_splits_of_a_dataset_and_validates_them(s3):
    root = "training-data/processed/invoices-v1/"
    put_jsonl(s3, root + "train.jsonl", [conversation(i) for i in range(10)])
    put_jsonl(s3, root + "validation.jsonl", [conversation(i) for i in range(10, 13)])
    put_jsonl(s3, root + "test.jsonl", [conversation(i) for i in range(13, 16)])
    run = handlers.prepare(
        {
            "input": {"datasetUri": f"s3://{BUCKET}/{root}", "provisionedModelUnits": 1},
            "executionName": "run-1",
        }
    )
    assert run["trainingDataUri"] == f"s3://{BUCKET}/{root}train.jsonl"
    assert run["validationDataUri"] == f"s3://{BUCKET}/{root}validation.jsonl"
    assert run["testDataUri"] == f"s3://{BUCKET}/{root}test.jsonl"
    assert run["records"] == {"train": 10, "validation": 3}
    assert run["jobName"] == "fmft-dev-run-1"
    assert run["hyperParameters"]["epochCount"] == "2"
    assert (run["provision"], run["evaluate"], run["dataFormat"]) == (True, True, "bedrock-conversation")
    assert run["evaluationJobName"].startswith("fmft-dev-run-1-eval-") and len(run["evaluationJobName"]) <= 63
    # The baseline records where the run's test split is: the monitor's canary asks the provisioned model it.
    bucket, key = run["baselineUri"][len("s3://") :].split("/", 1)
    document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert document["source"] == {"testDataUri": f"s3://{BUCKET}/{root}test.jsonl", "run": "fmft-dev-run-1"}


def stored_baseline(s3, uri: str, tmp_path) -> Baseline:
    bucket, key = uri[len("s3://") :].split("/", 1)
    path = tmp_path / "baseline.json"
    path.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return load_baseline(path)


def test_prepare_writes_the_baseline_of_the_training_split_beside_the_runs_reports(s3, tmp_path):
    root = "training-data/processed/baseline/"
    put_jsonl(s3, root + "train.jsonl", [conversation(i) for i in range(10)])
    put_jsonl(s3, root + "validation.jsonl", [conversation(i) for i in range(10, 13)])
    run = handlers.prepare({"input": {"datasetUri": f"s3://{BUCKET}/{root}"}, "executionName": "run-b"})

    assert run["evaluationPrefix"] == "reports/bedrock/fmft-dev-run-b/"
    assert run["baselineUri"] == f"s3://{EVAL_BUCKET}/reports/bedrock/fmft-dev-run-b/baseline.json"
    baseline = stored_baseline(s3, run["baselineUri"], tmp_path)
    document = baseline.document
    assert document["records"] == 10  # the training split only, as the pipeline's prepare step
    # System text and question, as the monitor joins a Converse request's: "You answer questions about
    # invoices.\nWhat is the total of invoice 7?" is 6 + 8 words and marks.
    assert document["lengths"]["promptTokens"]["sample"] == [14] * 10
    # "Invoice 7 totals 70 euros.": 5 tokens and a full stop
    assert document["lengths"]["completionTokens"]["sample"] == [6] * 10
    assert document["scripts"] == {"LATIN": 10}
    assert document["vocabulary"]["words"]["invoice"] == 10 and document["labels"] is None
    # No test split: the source says so (the monitor's canary then needs a configured golden set), and
    # load_baseline, as every reader, ignores the key.
    assert document["source"] == {"testDataUri": None, "run": "fmft-dev-run-b"}
    assert baseline.vocabulary and baseline.labels is None


def claude_record(i: int) -> dict[str, Any]:
    return {
        "system": "You classify claims.",
        "messages": [
            {"role": "user", "content": f"Water damage in kitchen {i:02d}"},
            {"role": "assistant", "content": "property"},
        ],
    }


def llama_record(i: int) -> dict[str, Any]:
    return {"prompt": f"Water damage in kitchen {i:02d}", "completion": "property"}


@pytest.mark.parametrize(
    ("model_id", "record", "prompt"),
    [
        (
            "anthropic.claude-3-haiku-20240307-v1:0:200k",
            claude_record,
            "You classify claims.\nWater damage in kitchen 00",
        ),
        ("meta.llama3-1-8b-instruct-v1:0:128k", llama_record, "Water damage in kitchen 00"),
    ],
)
def test_the_baseline_reads_every_bedrock_fine_tuning_format(s3, tmp_path, model_id, record, prompt):
    root = f"training-data/processed/{model_id.split('.')[0]}/"
    put_jsonl(s3, root + "train.jsonl", [record(i) for i in range(32)])
    run = handlers.prepare(
        {"input": {"datasetUri": f"s3://{BUCKET}/{root}", "baseModelId": model_id}, "executionName": "fmt"}
    )
    document = stored_baseline(s3, run["baselineUri"], tmp_path).document
    assert document["records"] == 32
    assert document["lengths"]["promptChars"]["sample"] == [len(prompt)] * 32
    assert document["lengths"]["completionChars"]["sample"] == [len("property")] * 32
    assert document["vocabulary"]["words"]["kitchen"] == 32


def test_the_s3_trigger_passes_the_train_file_and_gets_its_folder(s3):
    root = "training-data/processed/bedrock/claims/"
    put_jsonl(s3, root + "train.jsonl", [conversation(i) for i in range(8)])
    put_jsonl(s3, root + "test.jsonl", [conversation(i) for i in range(8, 10)])
    run = handlers.prepare(
        {"input": {"datasetUri": f"s3://{BUCKET}/{root}train.jsonl"}, "executionName": "s3"}
    )
    assert (run["trainingDataUri"], run["validationDataUri"]) == (f"s3://{BUCKET}/{root}train.jsonl", None)
    assert run["testDataUri"] == f"s3://{BUCKET}/{root}test.jsonl"


def test_long_run_names_still_give_valid_unique_job_names():
    a = handlers.evaluation_job_name("fmft-dev-" + "a" * 54)
    b = handlers.evaluation_job_name("fmft-dev-" + "a" * 53 + "b")
    assert a != b and len(a) <= 63 and len(b) <= 63


# ------------------------------------------------------------------------------------------ run names


# Every API field a run name ends up in: the run key that holds it -> (service, operation, member).
NAME_FIELDS = {
    "jobName": ("bedrock", "CreateModelCustomizationJob", "jobName"),
    "customModelName": ("bedrock", "CreateModelCustomizationJob", "customModelName"),
    "provisionedModelName": ("bedrock", "CreateProvisionedModelThroughput", "provisionedModelName"),
    "evaluationJobName": ("sagemaker", "CreateProcessingJob", "ProcessingJobName"),
}


@functools.cache
def api_name_rules() -> dict[str, tuple[str, int]]:
    """(pattern, max length) of each of NAME_FIELDS, from botocore's service models."""
    session = botocore.session.get_session()
    rules = {}
    for key, (service, operation, member) in NAME_FIELDS.items():
        shape = session.get_service_model(service).operation_model(operation).input_shape.members[member]
        rules[key] = (shape.metadata["pattern"], shape.metadata["max"])
    return rules


def api_problems(run: dict[str, Any]) -> list[str]:
    problems = []
    for key, (pattern, maximum) in api_name_rules().items():
        value = run[key]
        if not re.fullmatch(pattern, value) or not 1 <= len(value) <= maximum:
            problems.append(f"{key} {value!r} does not match {pattern} (max {maximum})")
    return problems


def test_the_api_rules_are_the_ones_the_name_rule_was_made_for():
    assert api_name_rules() == {
        "jobName": (r"[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*", 63),
        "customModelName": ("([0-9a-zA-Z][_-]?){1,63}", 63),
        "provisionedModelName": ("([0-9a-zA-Z][_-]?)+", 63),
        "evaluationJobName": ("[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", 63),
    }


def resolve(execution_name: str, **run_input: Any) -> dict[str, Any]:
    """resolve_run with explicit data URIs (no S3 call is made)."""
    run_input = {"trainingDataUri": f"s3://{BUCKET}/training-data/processed/x/train.jsonl", **run_input}
    return handlers.resolve_run(run_input, execution_name, settings(), s3=None)


AWKWARD_EXECUTION_NAMES = [
    "run-1",
    "run.1",
    "run_1",
    "run.1.",
    "..run",
    "-run-",
    "a--b",
    "a__b",
    "a+b",
    "x" * 80,
    "x" * 54,
    "x" * 55,
    "y" * 79 + ".",
    "ünïcödé-ラン",
    "ラン",
    "2024-06-01T12:00:00.000Z",
    "manual_run__retry.2",
    "s3-trigger-e3b0c442-98fc-1c14-9afb-f4c8996fb924",
]


def test_run_names_from_awkward_execution_names_satisfy_every_api():
    names = {}
    for execution in AWKWARD_EXECUTION_NAMES:
        run = resolve(execution)
        assert api_problems(run) == [], execution
        assert run["jobName"] == run["customModelName"] == run["provisionedModelName"]
        assert run["customModelName"].startswith("fmft-dev-")
        names[execution] = run["customModelName"]
    # Different execution names never give the same run name, or the same evaluation job name.
    assert len(set(names.values())) == len(names)
    assert len({handlers.evaluation_job_name(n) for n in names.values()}) == len(names)
    # A name the rule allows is used as is; a changed or cut one carries a digest of the original.
    assert names["run-1"] == "fmft-dev-run-1"
    assert re.fullmatch(r"fmft-dev-run-1-[0-9a-f]{8}", names["run.1"])
    assert names["run.1"] != names["run_1"]
    assert re.fullmatch(r"fmft-dev-x{45}-[0-9a-f]{8}", names["x" * 80]) and len(names["x" * 80]) == 63
    assert names["x" * 54] == "fmft-dev-" + "x" * 54  # exactly 63: unchanged


@pytest.mark.parametrize("name", ["invoices-v2", "A1", "x", "a-b-c-9", "z" * 63])
def test_accepted_custom_model_names_satisfy_every_api_and_are_used_as_given(name):
    run = resolve("ignored", customModelName=name)
    assert (run["jobName"], run["customModelName"], run["provisionedModelName"]) == (name, name, name)
    assert api_problems(run) == []


@pytest.mark.parametrize(
    "name", ["my.model", "a__b", "my_model", "a--b", "a+b", "-ab", "ab-", "ünï", "my model", "z" * 64, 42]
)
def test_custom_model_names_outside_the_rule_are_refused_naming_the_field(name):
    if isinstance(name, str):  # the rule refuses nothing that all four APIs would accept
        assert api_problems(dict.fromkeys(NAME_FIELDS, name)) != []
    with pytest.raises(InputError) as caught:
        resolve("e", customModelName=name)
    assert caught.value.problems == [
        f"customModelName: got {name!r}; allowed: up to 63 letters and digits, with single hyphens between "
        "them (e.g. claims-v2)"
    ]


def test_prepare_without_validation_or_throughput_skips_them(s3):
    root = "training-data/processed/no-validation/"
    put_jsonl(s3, root + "train.jsonl", [conversation(i) for i in range(8)])
    run = handlers.prepare({"input": {"datasetUri": f"s3://{BUCKET}/{root}"}, "executionName": "run-2"})
    assert (run["validationDataUri"], run["hasValidationData"]) == (None, False)
    assert (run["provision"], run["evaluate"]) == (False, False)


def test_every_bad_input_is_reported_at_once(s3):
    with pytest.raises(InputError) as caught:
        handlers.prepare(
            {
                "input": {
                    "baseModelId": NOVA,
                    "customizationType": "CONTINUED_PRE_TRAINING",
                    "trainingDataUri": "s3://another-bucket/train.jsonl",
                    "provisionedModelUnits": 5,
                    "evaluationTask": "bleu",
                    "hyperParameters": {"epochCount": 0},
                    "colour": "blue",
                },
                "executionName": "bad",
            }
        )
    text = str(caught.value)
    assert "colour: not an input of this state machine" in text
    assert (
        "customizationType: got 'CONTINUED_PRE_TRAINING'; "
        "allowed for amazon.nova-micro-v1:0:128k: FINE_TUNING" in text
    )
    assert "trainingDataUri: got 's3://another-bucket/train.jsonl'; allowed: an object under s3://" in text
    assert "provisionedModelUnits: got 5; allowed: an integer from 0 (none) to 2" in text
    assert "evaluationTask: got 'bleu'; allowed: none, summarization, qa, classification" in text
    assert "hyperParameters.epochCount: got 0" in text
    assert len(caught.value.problems) == 6


@pytest.mark.parametrize(
    ("run_input", "message"),
    [
        (
            {"datasetUri": f"s3://{BUCKET}/training-data/processed/x/", "trainingDataUri": "s3://b/k"},
            "datasetUri: give either datasetUri or trainingDataUri/validationDataUri/testDataUri, not both",
        ),
        (
            {"datasetUri": "training-data/processed/x/"},
            "datasetUri: got 'training-data/processed/x/'; allowed: s3://",
        ),
        ({"datasetUri": f"s3://{BUCKET}/training-data/processed/empty/"}, "it holds no train.jsonl"),
        ({}, "trainingDataUri: missing; give it or datasetUri"),
        (
            {"trainingDataUri": "s3://x/y", "maxEvaluationRecords": 0},
            "maxEvaluationRecords: got 0; allowed: an integer from 1",
        ),
        (
            {"trainingDataUri": "s3://x/y", "customModelName": "my model"},
            "customModelName: got 'my model'; allowed: up to 63",
        ),
        (
            {"trainingDataUri": "s3://x/y", "hyperParameters": [2]},
            "hyperParameters: got [2]; allowed: an object",
        ),
        ({"trainingDataUri": "s3://x/y", "provisionedModelUnits": True}, "provisionedModelUnits: got True"),
    ],
)
def test_each_bad_input_names_the_field_and_what_is_allowed(s3, run_input, message):
    with pytest.raises(InputError) as caught:
        handlers.prepare({"input": run_input, "executionName": "bad"})
    assert message in str(caught.value), str(caught.value)


def test_unknown_model_lists_the_known_ones(s3):
    with pytest.raises(InputError, match=r"baseModelId: got 'openai.gpt-9'; allowed: amazon\.nova"):
        handlers.prepare(
            {"input": {"baseModelId": "openai.gpt-9", "trainingDataUri": "s3://x/y"}, "executionName": "e"}
        )


def test_invalid_data_fails_with_the_validator_message(s3):
    root = "training-data/processed/broken/"
    records = [conversation(i) for i in range(9)]
    records[3]["messages"][0]["role"] = "bot"
    put_jsonl(s3, root + "train.jsonl", records)
    with pytest.raises(handlers.DatasetInvalidError) as caught:
        handlers.prepare({"input": {"datasetUri": f"s3://{BUCKET}/{root}"}, "executionName": "run-3"})
    text = str(caught.value)
    assert "bedrock-conversation data for amazon.nova-micro-v1:0:128k is invalid (1 errors)" in text
    assert "record 4" in text and "messages[0].role" in text


def test_too_few_records_for_the_family_minimum(s3):
    root = "training-data/processed/tiny/"
    put_jsonl(s3, root + "train.jsonl", [conversation(i) for i in range(5)])
    with pytest.raises(handlers.DatasetInvalidError, match="8"):
        handlers.prepare({"input": {"datasetUri": f"s3://{BUCKET}/{root}"}, "executionName": "run-4"})


def test_continued_pretraining_data_for_titan(s3):
    root = "training-data/processed/cpt/"
    put_jsonl(
        s3, root + "train.jsonl", [{"input": f"Maintenance note {i}: replace the filter."} for i in range(3)]
    )
    run = handlers.prepare(
        {
            "input": {
                "datasetUri": f"s3://{BUCKET}/{root}",
                "baseModelId": TITAN,
                "customizationType": "CONTINUED_PRE_TRAINING",
                "hyperParameters": {"epochCount": 1},
            },
            "executionName": "cpt",
        }
    )
    assert run["dataFormat"] == "bedrock-continued-pretraining"
    # Text without prompts or answers: no baseline to compare the served model's traffic with.
    assert run["baselineUri"] is None
    assert "Contents" not in s3.list_objects_v2(Bucket=EVAL_BUCKET, Prefix=run["evaluationPrefix"])
    assert run["hyperParameters"] == {
        "epochCount": "1",
        "batchSize": "1",
        "learningRate": "1e-05",
        "learningRateWarmupSteps": "5",
    }


# ------------------------------------------------------------------------------------------ predictions


def test_predictions_ask_the_provisioned_model_and_write_the_toolkit_format(s3, monkeypatch):
    key = "training-data/processed/eval/test.jsonl"
    put_jsonl(s3, key, [conversation(i) for i in range(3)])
    runtime = boto3.client("bedrock-runtime")
    stub = Stubber(runtime)
    arn = "arn:aws:bedrock:us-east-1:111122223333:provisioned-model/abc123"
    for i in range(2):
        stub.add_response(
            "converse",
            {
                "output": {"message": {"role": "assistant", "content": [{"text": f"It is {i * 10} euros."}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 9, "outputTokens": 5, "totalTokens": 14},
                "metrics": {"latencyMs": 120},
            },
            {
                "modelId": arn,
                "messages": conversation(i)["messages"][:1],
                "system": conversation(i)["system"],
                "inferenceConfig": {"temperature": 0.0, "maxTokens": 1024},
            },
        )
    real = handlers.client
    monkeypatch.setattr(
        handlers, "client", lambda service: runtime if service == "bedrock-runtime" else real(service)
    )
    run = {
        "evaluationTask": "summarization",
        "maxEvaluationRecords": 2,
        "dataFormat": "bedrock-conversation",
        "testDataUri": f"s3://{BUCKET}/{key}",
        "evaluationPrefix": "reports/bedrock/run-1/",
    }
    with stub:
        out = handlers.write_predictions({"run": run, "modelArn": arn, "evaluationBucket": EVAL_BUCKET})
    stub.assert_no_pending_responses()
    assert out == {"predictionsUri": f"s3://{EVAL_BUCKET}/reports/bedrock/run-1/predictions/", "records": 2}
    body = s3.get_object(Bucket=EVAL_BUCKET, Key="reports/bedrock/run-1/predictions/predictions.jsonl")[
        "Body"
    ].read()
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert lines == [
        {"summary": "Invoice 0 totals 0 euros.", "prediction": "It is 0 euros."},
        {"summary": "Invoice 1 totals 10 euros.", "prediction": "It is 10 euros."},
    ]


# ------------------------------------------------------------------------------------ invocation logging

# What the stack passes to the invocation-logging custom resource.
LOGGING_PROPS = {
    "Region": "us-east-1",
    "LogGroupName": "/fmft/dev/bedrock-invocations",
    "BucketName": EVAL_BUCKET,
    "KeyPrefix": "bedrock-invocations/",
    "LargeDataPrefix": "bedrock-invocations/large/",
    "LoggingRoleArn": "arn:aws:iam::111122223333:role/logging",
}


def test_invocation_logging_custom_resource_against_moto(moto_endpoint):
    bedrock = boto3.client("bedrock")
    props = LOGGING_PROPS
    created = handlers.invocation_logging({"RequestType": "Create", "ResourceProperties": props})
    assert created == {"PhysicalResourceId": "bedrock-invocation-logging-us-east-1"}
    config = bedrock.get_model_invocation_logging_configuration()["loggingConfig"]
    assert config["s3Config"] == {"bucketName": EVAL_BUCKET, "keyPrefix": "bedrock-invocations/"}
    assert config["cloudWatchConfig"]["logGroupName"] == "/fmft/dev/bedrock-invocations"
    assert config["textDataDeliveryEnabled"] is True

    updated = handlers.invocation_logging(
        {
            "RequestType": "Update",
            "PhysicalResourceId": created["PhysicalResourceId"],
            "ResourceProperties": {**props, "KeyPrefix": "logs/"},
        }
    )
    assert updated == created
    assert (
        bedrock.get_model_invocation_logging_configuration()["loggingConfig"]["s3Config"]["keyPrefix"]
        == "logs/"
    )

    handlers.invocation_logging(
        {
            "RequestType": "Delete",
            "PhysicalResourceId": created["PhysicalResourceId"],
            "ResourceProperties": props,
        }
    )
    assert not bedrock.get_model_invocation_logging_configuration().get("loggingConfig")


@pytest.fixture
def cloudformation_response_url():
    """A local HTTP server standing in for CloudFormation's pre-signed response URL; records each PUT."""
    received: list[dict[str, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_PUT(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/response", received
    server.shutdown()


def _cfn_event(request_type: str, url: str, props: dict[str, Any]) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:us-east-1:111122223333:stack/fmft-dev-bedrock/1",
        "RequestId": "req-1",
        "LogicalResourceId": "InvocationLogging",
        "ResourceProperties": props,
    }


def test_custom_resource_answers_cloudformation(moto_endpoint, cloudformation_response_url):
    url, received = cloudformation_response_url
    props = LOGGING_PROPS
    handlers.invocation_logging_resource(_cfn_event("Create", url, props))
    assert received[-1]["Status"] == "SUCCESS"
    assert received[-1]["PhysicalResourceId"] == "bedrock-invocation-logging-us-east-1"
    assert received[-1]["RequestId"] == "req-1"

    handlers.invocation_logging_resource(_cfn_event("Create", url, {"Region": "us-east-1"}))
    assert received[-1]["Status"] == "FAILED"
    assert received[-1]["Reason"].startswith("KeyError:")


# ------------------------------------------------------------------------------------------ throughput guard


def _summary(name: str, hours_old: float, now: dt.datetime) -> dict[str, Any]:
    arn = f"arn:aws:bedrock:us-east-1:111122223333:provisioned-model/{name}"
    created = now - dt.timedelta(hours=hours_old)
    return {
        "provisionedModelName": name,
        "provisionedModelArn": arn,
        "modelArn": arn,
        "desiredModelArn": arn,
        "foundationModelArn": arn,
        "modelUnits": 1,
        "desiredModelUnits": 1,
        "status": "InService",
        "creationTime": created,
        "lastModifiedTime": created,
    }


@pytest.mark.parametrize("delete_stale", [False, True])
def test_guard_reports_old_throughput_and_deletes_only_its_own(moto_endpoint, monkeypatch, delete_stale):
    now = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name=f"alerts-{delete_stale}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"inbox-{delete_stale}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    cfg = settings()
    cfg["throughputGuard"].update(
        topicArn=topic, deleteStale=delete_stale, metricNamespace=f"FineTuningPlatform/guard-{delete_stale}"
    )
    monkeypatch.setenv("FMFT_BEDROCK_SETTINGS", json.dumps(cfg))

    bedrock = boto3.client("bedrock")
    stub = Stubber(bedrock)
    ours, theirs = _summary("fmft-dev-run-1", 30, now), _summary("team-b-model", 50, now)
    stub.add_response(
        "list_provisioned_model_throughputs",
        {"provisionedModelSummaries": [theirs], "nextToken": "page-2"},
        {
            "creationTimeBefore": now - dt.timedelta(hours=24),
            "sortBy": "CreationTime",
            "sortOrder": "Ascending",
        },
    )
    stub.add_response(
        "list_provisioned_model_throughputs",
        {"provisionedModelSummaries": [ours]},
        {
            "creationTimeBefore": now - dt.timedelta(hours=24),
            "sortBy": "CreationTime",
            "sortOrder": "Ascending",
            "nextToken": "page-2",
        },
    )
    if delete_stale:
        stub.add_response(
            "delete_provisioned_model_throughput", {}, {"provisionedModelId": ours["provisionedModelArn"]}
        )
    real = handlers.client
    monkeypatch.setattr(
        handlers, "client", lambda service: bedrock if service == "bedrock" else real(service)
    )
    with stub:
        result = handlers.guard_throughput({}, None, now=now)
    stub.assert_no_pending_responses()

    assert result["stale"] == [theirs["provisionedModelArn"], ours["provisionedModelArn"]]
    assert result["deleted"] == ([ours["provisionedModelArn"]] if delete_stale else [])
    message = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"][0]["Body"]
    assert "team-b-model" in message and "fmft-dev-run-1" in message
    assert ("DELETED" in message) == delete_stale
    stats = boto3.client("cloudwatch").get_metric_statistics(
        Namespace=f"FineTuningPlatform/guard-{delete_stale}",
        MetricName="StaleProvisionedThroughputs",
        StartTime=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10),
        EndTime=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10),
        Period=60,
        Statistics=["Maximum"],
    )
    assert [p["Maximum"] for p in stats["Datapoints"]] == [1.0 if delete_stale else 2.0]


def test_claude_3_haiku_runs_use_anthropics_format_and_converse_gets_content_blocks() -> None:
    assert handlers.data_format("anthropic-claude-3-haiku", "FINE_TUNING") == "bedrock-claude-conversation"
    record = {
        "system": "JSON Mode: Enabled",
        "messages": [
            {"role": "user", "content": "what is 3 squared"},
            {"role": "assistant", "content": '{"answer": 9}'},
        ],
    }
    system, messages, reference = handlers._prompt_and_reference(record, "bedrock-claude-conversation")
    assert system == [{"text": "JSON Mode: Enabled"}]
    assert messages == [{"role": "user", "content": [{"text": "what is 3 squared"}]}]
    assert reference == '{"answer": 9}'
