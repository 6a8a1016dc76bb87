"""``python -m training.bedrock start|status`` against a moto server: Step Functions, Lambda (the check
function's settings) and S3 (the data the check reads). Each test gets its own environment, so its own state
machine ``fmft-<env>-bedrock-customization`` whose first state runs a function holding the settings the CDK
stack writes; every request the command sends is checked against botocore's service model.

What it proves: a valid input starts exactly one execution, named after the run, with the input as given; a
second start of the run is refused, whether the command sees the execution first or StartExecution refuses
it; every kind of bad input exits 2 naming the field, with nothing started, by the first state's own check
(handlers.resolve_run); bad options exit 2 before any AWS call; status prints what DescribeExecution says."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from tools.api_model import cli_commands
from training.bedrock import __main__ as bedrock_main
from training.bedrock import cli, handlers
from training.tests.api_requests import Recording, RequestLog, api_violations
from training.tests.test_bedrock import BUCKET, NOVA, conversation, put_jsonl, settings

REGION = "us-east-1"
DATA_PREFIX = "training-data/processed/"


class World:
    """One environment's Bedrock stack as the command sees it, and the requests the command sent."""

    def __init__(self, environment: str) -> None:
        self.environment = environment
        self.log: RequestLog = []
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.s3 = boto3.client("s3", region_name=REGION)
        self.state_machine_arn = ""

    def clients(self) -> dict[str, Any]:
        return {
            name: Recording(boto3.client(name, region_name=REGION), self.log)
            for name in ("stepfunctions", "lambda", "s3")
        }

    def main(self, *argv: str, clients: dict[str, Any] | None = None) -> int:
        try:
            return bedrock_main.main(list(argv), clients=clients or self.clients())
        except SystemExit as done:  # argparse's own refusals exit from inside the parser
            return int(done.code or 0)

    def start(self, run: str, *argv: str, **kwargs: Any) -> int:
        return self.main(
            "start", "--environment", self.environment, "--region", REGION, "--run-name", run, *argv, **kwargs
        )

    def executions(self) -> list[dict[str, Any]]:
        return self.sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]

    def sent(self, operation: str) -> list[dict[str, Any]]:
        return [params for _, op, params in self.log if op == operation]

    def dataset(self, name: str, train: int = 10, validation: int = 3) -> str:
        root = f"{DATA_PREFIX}{self.environment}/{name}/"
        put_jsonl(self.s3, root + "train.jsonl", [conversation(i) for i in range(train)])
        if validation:
            put_jsonl(
                self.s3, root + "validation.jsonl", [conversation(i) for i in range(100, 100 + validation)]
            )
        return f"s3://{BUCKET}/{root}"


def function_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


@pytest.fixture
def world(moto_endpoint) -> World:
    """A fresh environment: the check function with the stack's settings, and the state machine that runs it
    first (the shape lib/constructs/bedrock-customization-workflow.ts synthesizes: a LambdaInvoke with
    payloadResponseOnly names the function as its Resource)."""
    env = "t" + uuid.uuid4().hex[:8]
    w = World(env)
    with contextlib.suppress(w.s3.exceptions.BucketAlreadyOwnedByYou):
        w.s3.create_bucket(Bucket=BUCKET)
    iam = boto3.client("iam", region_name=REGION)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=f"fmft-{env}-bedrock", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    cfg = settings(namePrefix=f"fmft-{env}", dataPrefix=DATA_PREFIX)
    function = boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=f"fmft-{env}-bedrock-PrepareFunction0E0008CA",
        Runtime="python3.12",
        Role=role["Arn"],
        Handler="index.handler",
        Code={"ZipFile": function_zip()},
        Environment={"Variables": {cli.SETTINGS_VARIABLE: json.dumps(cfg)}},
    )
    definition = {
        "StartAt": "CheckInputAndData",
        "States": {
            "CheckInputAndData": {
                "Type": "Task",
                "Resource": function["FunctionArn"],
                "Parameters": {"input.$": "$$.Execution.Input", "executionName.$": "$$.Execution.Name"},
                "ResultPath": "$.run",
                "End": True,
            }
        },
    }
    w.state_machine_arn = w.sfn.create_state_machine(
        name=f"fmft-{env}-bedrock-customization", definition=json.dumps(definition), roleArn=role["Arn"]
    )["stateMachineArn"]
    return w


# ------------------------------------------------------------------------------------------ start


def test_start_starts_one_execution_named_after_the_run_with_the_input(world, tmp_path, capsys):
    data = world.dataset("invoices-v1")
    run_file = tmp_path / "run.json"
    run_file.write_text(json.dumps({"evaluationTask": "none", "hyperParameters": {"epochCount": 1}}))

    code = world.start(
        "invoices-v1",
        "--input", str(run_file),
        "--dataset-uri", data,
        "--base-model-id", NOVA,
        "--hyper-parameters", "epochCount=2", "learningRate=0.00001",
        "--provisioned-model-units", "0",
    )  # fmt: skip

    out = capsys.readouterr()
    assert (code, out.err) == (0, "")
    (execution,) = world.executions()
    assert execution["name"] == "invoices-v1"
    described = world.sfn.describe_execution(executionArn=execution["executionArn"])
    # The input as given (the state machine checks and completes it itself); the flags win over the file.
    assert json.loads(described["input"]) == {
        "evaluationTask": "none",
        "hyperParameters": {"epochCount": 2, "learningRate": 1e-05},
        "datasetUri": data,
        "baseModelId": NOVA,
        "provisionedModelUnits": 0,
    }
    arn = execution["executionArn"]
    assert arn == cli.execution_arn(world.state_machine_arn, "invoices-v1")
    assert f"Started run invoices-v1: {arn}" in out.out
    assert f"job and custom model  fmft-{world.environment}-invoices-v1" in out.out
    follow = f"aws stepfunctions describe-execution --execution-arn {arn} --region {REGION}"
    assert (
        f"  {follow}\n" in out.out
        and f"  python -m training.bedrock status --execution-arn {arn}\n" in out.out
    )
    # Exactly one StartExecution, and every request is one AWS accepts.
    assert [p["name"] for p in world.sent("StartExecution")] == ["invoices-v1"]
    assert api_violations(world.log, "bedrock-cli") == []
    # The printed AWS CLI command is one the CLI accepts.
    doc = tmp_path / "follow.md"
    doc.write_text(f"```bash\n{follow}\n```\n", encoding="utf-8")
    (command,) = cli_commands.find_commands(doc)
    assert command.command == "describe-execution" and cli_commands.problems(command) == []


def test_start_json_reports_the_execution_and_the_checked_run(world, capsys):
    data = world.dataset("json-run")
    assert world.start("json-run", "--dataset-uri", data, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    (execution,) = world.executions()
    assert report["started"] is True and report["executionArn"] == execution["executionArn"]
    # The run as the first state will resolve it: config defaults filled in, the splits found.
    assert report["run"]["trainingDataUri"] == data + "train.jsonl"
    assert report["run"]["validationDataUri"] == data + "validation.jsonl"
    assert report["run"]["hyperParameters"]["epochCount"] == "2"  # bedrock.defaults
    assert report["input"] == {"datasetUri": data}


def test_a_second_start_of_the_same_run_is_refused_and_starts_nothing(world, capsys):
    data = world.dataset("twice")
    assert world.start("twice", "--dataset-uri", data) == 0
    arn = world.executions()[0]["executionArn"]
    capsys.readouterr()
    # Same input: StartExecution would answer with the running execution, not an error; the command refuses.
    # Another input: the same refusal.
    for extra in ([], ["--evaluation-task", "qa"]):
        code = world.start("twice", "--dataset-uri", data, *extra)
        err = capsys.readouterr().err
        assert code == 1
        assert err.startswith(
            "python -m training.bedrock start: error: run twice was already started: "
            f"execution {arn} (RUNNING, started "
        )
        assert "start it again under another --run-name" in err
    assert len(world.executions()) == 1
    assert len(world.sent("StartExecution")) == 1


class ExecutionNotSeen(Recording):
    """A Step Functions client that misses the execution another operator started a moment ago."""

    def describe_execution(self, **params: Any) -> Any:
        self.record("describe_execution", params)
        raise self.client.exceptions.ExecutionDoesNotExist(
            {"Error": {"Code": "ExecutionDoesNotExist", "Message": "not yet"}}, "DescribeExecution"
        )


def test_a_run_started_meanwhile_is_refused_by_step_functions_with_the_same_message(world, capsys):
    data = world.dataset("race")
    assert world.start("race", "--dataset-uri", data, "--evaluation-task", "qa") == 0
    capsys.readouterr()
    clients = world.clients()
    clients["stepfunctions"] = ExecutionNotSeen(boto3.client("stepfunctions", region_name=REGION), world.log)
    code = world.start("race", "--dataset-uri", data, clients=clients)
    assert code == 1
    assert "error: run race was already started: execution arn:aws:states:" in capsys.readouterr().err
    assert len(world.sent("StartExecution")) == 2 and len(world.executions()) == 1


BAD_INPUTS = [
    pytest.param(
        ["--base-model-id", "amazon.nova-giant-v9"],
        "baseModelId: got 'amazon.nova-giant-v9'; allowed: ",
        id="unknown-base-model",
    ),
    pytest.param(
        ["--hyper-parameters", "epochCount=9"],
        f"hyperParameters.epochCount: got 9; allowed for {NOVA}: 1 to 5",
        id="hyperparameter-out-of-range",
    ),
    pytest.param(
        ["--hyper-parameters", "learningRate=fast"],
        "hyperParameters.learningRate: got 'fast'; allowed: a number from 1e-06 to 0.0001",
        id="hyperparameter-not-a-number",
    ),
    pytest.param(
        ["--hyper-parameters", "batchSize=8"],
        f"hyperParameters.batchSize: got 8; not a hyperparameter of {NOVA}",
        id="unknown-hyperparameter",
    ),
    pytest.param(
        ["--customization-type", "CONTINUED_PRE_TRAINING"],
        f"customizationType: got 'CONTINUED_PRE_TRAINING'; allowed for {NOVA}: FINE_TUNING",
        id="customization-type-of-another-model",
    ),
    pytest.param(
        ["--provisioned-model-units", "5"],
        "provisionedModelUnits: got 5; allowed: an integer from 0 (none) to 2",
        id="too-many-model-units",
    ),
    pytest.param(
        ["--evaluation-task", "translation"],
        "evaluationTask: got 'translation'; allowed: none, summarization, qa, classification",
        id="unknown-evaluation-task",
    ),
    pytest.param(
        ["--max-evaluation-records", "0"],
        "maxEvaluationRecords: got 0; allowed: an integer from 1 to 10000",
        id="no-evaluation-records",
    ),
    pytest.param(
        ["--custom-model-name", "my_model"],
        "customModelName: got 'my_model'; allowed: up to 63 letters and digits",
        id="custom-model-name",
    ),
]


@pytest.mark.parametrize(("argv", "message"), BAD_INPUTS)
def test_each_bad_input_exits_2_naming_the_field_and_starts_nothing(world, capsys, argv, message):
    data = world.dataset("bad")
    code = world.start("bad", "--dataset-uri", data, *argv)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(
        "python -m training.bedrock start: error: the run input is refused; nothing was started:\n"
    )
    assert f"\n  {message}" in err
    assert world.executions() == [] and world.sent("StartExecution") == []
    assert api_violations(world.log, "bedrock-cli") == []


def test_missing_data_is_refused(world, capsys):
    assert world.start("no-data") == 2
    assert "\n  trainingDataUri: missing; give it or datasetUri\n" in capsys.readouterr().err
    empty = f"s3://{BUCKET}/{DATA_PREFIX}{world.environment}/empty/"
    assert world.start("no-data", "--dataset-uri", empty) == 2
    assert f"\n  datasetUri: got '{empty}'; it holds no train.jsonl\n" in capsys.readouterr().err
    outside = "s3://someone-elses-bucket/train.jsonl"
    assert world.start("no-data", "--training-data-uri", outside) == 2
    assert f"trainingDataUri: got '{outside}'; allowed: an object under s3://{BUCKET}/{DATA_PREFIX}" in (
        capsys.readouterr().err
    )
    assert world.executions() == []


def test_every_problem_of_an_input_file_is_named_at_once(world, tmp_path, capsys):
    run_file = tmp_path / "run.json"
    run_file.write_text(json.dumps({"baseModelId": "nope", "epochs": 3, "provisionedModelUnits": "1"}))
    assert world.start("file", "--input", str(run_file)) == 2
    err = capsys.readouterr().err
    for field in (
        "epochs: not an input of this state machine",
        "baseModelId: got 'nope'",
        "provisionedModelUnits: got '1'",
        "trainingDataUri: missing",
    ):
        assert f"\n  {field}" in err
    assert world.executions() == []


def test_with_check_data_the_first_states_data_check_runs_here_too(world, capsys):
    root = f"{DATA_PREFIX}{world.environment}/broken/"
    put_jsonl(world.s3, root + "train.jsonl", [conversation(i) for i in range(10)] + [{"messages": "x"}])
    data = f"s3://{BUCKET}/{root}"
    assert world.start("broken", "--dataset-uri", data, "--check-data") == 2
    err = capsys.readouterr().err
    assert "the run input is refused; nothing was started:\n  bedrock-conversation data for" in err
    assert world.executions() == []
    # Good data passes the same check; the valid records are reported.
    good = world.dataset("good")
    assert world.start("good", "--dataset-uri", good, "--check-data") == 0
    assert "valid records         train 10, validation 3" in capsys.readouterr().out


def test_dry_run_checks_and_starts_nothing(world, capsys):
    data = world.dataset("dry")
    assert world.start("dry", "--dataset-uri", data, "--dry-run") == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "Input accepted; nothing was started (--dry-run). The run would be execution dry of "
    )
    assert f"job and custom model  fmft-{world.environment}-dry" in out
    assert world.executions() == [] and world.sent("StartExecution") == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--environment", "Dev"], "--environment Dev: allowed: 2-10 lower-case letters and digits"),
        (["--run-name", "my_run"], f"--run-name my_run: allowed: {handlers.RUN_NAME_RULE}"),
        (["--region", "mars-1"], "--region mars-1: allowed: an AWS region name such as us-east-1"),
        (["--prefix", "FM"], "--prefix FM: allowed: lower-case letters, digits and single hyphens"),
        (["--hyper-parameters", "epochCount"], "--hyper-parameters epochCount: allowed: NAME=VALUE"),
        (["--input", "no-such-run.json"], "--input no-such-run.json: no such file"),
    ],
)
def test_bad_options_exit_2_before_any_aws_call(world, capsys, argv, message):
    options = {"--environment": world.environment, "--run-name": "opts", "--region": REGION}
    options.update(zip(argv[::2], argv[1::2], strict=True))
    assert world.main("start", *[word for pair in options.items() for word in pair]) == 2
    assert message in capsys.readouterr().err
    assert world.log == []


def test_an_input_file_that_is_not_an_object_is_refused(world, tmp_path, capsys):
    run_file = tmp_path / "run.json"
    run_file.write_text("[1, 2]")
    assert world.start("list", "--input", str(run_file)) == 2
    assert f"--input {run_file}: must hold a JSON object (the run input)" in capsys.readouterr().err
    assert world.log == []


def test_no_state_machine_in_the_region_is_exit_1_naming_the_stack(world, capsys):
    code = world.main("start", "--environment", "nostack", "--region", REGION, "--run-name", "r1")
    assert code == 1
    assert capsys.readouterr().err == (
        "python -m training.bedrock start: error: no state machine fmft-nostack-bedrock-customization in "
        "us-east-1: is the environment's Bedrock stack (fmft-nostack-bedrock) deployed in this region?\n"
    )


def test_the_flags_are_exactly_the_state_machines_input_fields():
    flags = {
        f.metadata["input"] for f in cli.StartArgs.__dataclass_fields__.values() if "input" in f.metadata
    }
    assert flags == handlers.RUN_INPUT_KEYS


def test_the_state_machine_name_is_the_stacks(tmp_path):
    # lib/stacks/bedrock-stack.ts: resourceName(config, 'bedrock-customization') is <prefix>-<env>-<purpose>.
    stack = (Path(__file__).resolve().parents[2] / "lib/stacks/bedrock-stack.ts").read_text(encoding="utf-8")
    assert f"stateMachineName: resourceName(config, '{cli.STATE_MACHINE_PURPOSE}')" in stack
    assert cli.state_machine_name("fmft", "dev") == "fmft-dev-bedrock-customization"


class UnreadableSettings:
    """GetFunctionConfiguration's answer when the caller may not decrypt the function's environment."""

    def get_function_configuration(self, **_params: Any) -> dict[str, Any]:
        return {
            "KMSKeyArn": "arn:aws:kms:us-east-1:111122223333:key/abc",
            "Environment": {"Error": {"ErrorCode": "AccessDeniedException", "Message": "KMS access denied"}},
        }


def test_unreadable_settings_name_the_key_to_decrypt_with(world):
    with pytest.raises(
        cli.BedrockCliError, match=r"needs kms:Decrypt on arn:aws:kms:us-east-1:111122223333:key/abc"
    ):
        cli.run_settings(world.sfn, UnreadableSettings(), world.state_machine_arn)


# ------------------------------------------------------------------------------------------ status


def test_status_by_run_name_and_by_arn_prints_describe_execution(world, capsys):
    data = world.dataset("followed")
    assert world.start("followed", "--dataset-uri", data) == 0
    capsys.readouterr()
    arn = world.executions()[0]["executionArn"]
    described = world.sfn.describe_execution(executionArn=arn)

    assert (
        world.main("status", "--environment", world.environment, "--region", REGION, "--run-name", "followed")
        == 0
    )
    by_name = capsys.readouterr().out
    assert by_name.splitlines() == [
        "run        followed",
        f"execution  {arn}",
        "status     RUNNING",
        f"started    {cli._date(described['startDate'])}",
        "stopped    (still running)",
    ]
    assert world.main("status", "--execution-arn", arn) == 0
    assert capsys.readouterr().out == by_name

    world.sfn.stop_execution(executionArn=arn)
    described = world.sfn.describe_execution(executionArn=arn)
    assert world.main("status", "--execution-arn", arn, "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["status"] == described["status"] == "ABORTED"
    assert document["stopDate"] == cli._date(described["stopDate"]) is not None
    assert document["input"] == {"datasetUri": data} and document["name"] == "followed"
    assert api_violations(world.log, "bedrock-cli") == []


def test_status_of_a_run_never_started_is_exit_1(world, capsys):
    argv = ["status", "--environment", world.environment, "--region", REGION, "--run-name", "ghost"]
    assert world.main(*argv) == 1
    assert "no execution arn:aws:states:us-east-1:" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "--execution-arn, --run-name: allowed: exactly one of them"),
        (["--run-name", "r1"], "--environment: missing; --run-name needs it"),
        (["--execution-arn", "arn:aws:states:us-east-1:1:execution:x"], "allowed: an execution ARN"),
        (
            [
                "--execution-arn",
                "arn:aws:states:us-east-1:111122223333:execution:sm:r1",
                "--region",
                "eu-west-1",
            ],
            "--region eu-west-1: the execution is in us-east-1",
        ),
    ],
)
def test_status_options_are_checked_first(world, capsys, argv, message):
    assert world.main("status", *argv) == 2
    assert message in capsys.readouterr().err
    assert world.log == []


FAILED = {
    "executionArn": "arn:aws:states:us-east-1:111122223333:execution:fmft-dev-bedrock-customization:r1",
    "name": "r1",
    "status": "FAILED",
    "startDate": dt.datetime(2026, 11, 30, 5, 0, tzinfo=dt.UTC),
    "stopDate": dt.datetime(2026, 11, 30, 5, 1, tzinfo=dt.UTC),
    "input": '{"datasetUri": "s3://b/x/"}',
    "error": "InputError",
    "cause": json.dumps(
        {
            "errorMessage": "baseModelId: got 'x'; allowed: a\n"
            "trainingDataUri: missing; give it or datasetUri",
            "errorType": "InputError",
            "requestId": "1",
            "stackTrace": [],
        }
    ),
}


def test_a_failed_run_shows_the_first_states_problems_one_per_line():
    assert cli.status_lines(FAILED) == [
        "run        r1",
        f"execution  {FAILED['executionArn']}",
        "status     FAILED",
        "started    2026-11-30T05:00:00+00:00",
        "stopped    2026-11-30T05:01:00+00:00",
        "error      InputError",
        "cause      InputError:",
        "    baseModelId: got 'x'; allowed: a",
        "    trainingDataUri: missing; give it or datasetUri",
    ]
    assert cli.status_document(FAILED)["cause"]["errorType"] == "InputError"


def test_a_succeeded_run_shows_its_custom_model_throughput_and_output():
    output = {
        "run": {"jobName": "fmft-dev-r1"},
        "job": {
            "jobArn": "arn:aws:bedrock:us-east-1:111122223333:model-customization-job/x",
            "outputModelArn": "arn:aws:bedrock:us-east-1:111122223333:custom-model/y",
        },
        "throughput": {
            "arn": "arn:aws:bedrock:us-east-1:111122223333:provisioned-model/z",
            "status": "InService",
        },
    }
    succeeded = {**FAILED, "status": "SUCCEEDED", "output": json.dumps(output), "error": None, "cause": None}
    lines = cli.status_lines(succeeded)
    assert lines[4:7] == [
        "stopped    2026-11-30T05:01:00+00:00",
        f"custom model  {output['job']['outputModelArn']}",
        f"provisioned throughput  {output['throughput']['arn']} (it bills hourly until deleted)",
    ]
    assert lines[7] == "output:" and json.loads("\n".join(lines[8:])) == output
    assert cli.status_document(succeeded)["output"] == output


# ------------------------------------------------------------------------------------------ help


def test_help_at_every_level(capsys):
    assert bedrock_main.main(["--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: python -m training.bedrock {start,status} [options]")
    for command in ("start", "status"):
        with pytest.raises(SystemExit) as done:
            bedrock_main.main([command, "--help"])
        assert done.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: python -m training.bedrock {command} [-h]")
