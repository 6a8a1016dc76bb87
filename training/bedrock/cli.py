"""``python -m training.bedrock start|status``: start a Bedrock customization run and follow it.

A run is an execution of the Bedrock stack's state machine ``<prefix>-<env>-bedrock-customization``
(lib/stacks/bedrock-stack.ts names it with ``resourceName(config, 'bedrock-customization')``).

``start`` finds that state machine by name (ListStateMachines), reads the settings of its first state's Lambda
function (DescribeStateMachine, then GetFunctionConfiguration: the ``FMFT_BEDROCK_SETTINGS`` the CDK stack
wrote, so the defaults, bucket and model table are the deployed ones) and checks the input with the first
state's own check, ``handlers.resolve_run`` (and, with ``--check-data``, its data check,
``handlers.validate_data``). A refused input names every bad field, exits 2 and starts nothing. The
execution is named after the run (``--run-name``): Step Functions refuses a second execution of that name,
and ``start`` refuses it first (DescribeExecution), because StartExecution of a running execution's name and
input answers with the running execution instead of an error.

``status`` prints DescribeExecution: status, dates, and the run's output or its error and cause.

Permissions: states:ListStateMachines, DescribeStateMachine, DescribeExecution, StartExecution;
lambda:GetFunctionConfiguration on the check function and kms:Decrypt of its environment's key (the Bedrock
key); s3:GetObject (HeadObject) on the data, as the first state reads it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from training.bedrock import handlers
from training.bedrock.models import CUSTOMIZATION_TYPES, InputError
from training.common.args import UsageError
from training.common.names import BUCKET_NAME_PREFIX, ENVIRONMENT_NAME
from training.cost.cli import ENVIRONMENT_RULE, REGION, AwsCallError, call

PROG = "python -m training.bedrock"
# lib/stacks/bedrock-stack.ts: the state machine is resourceName(config, 'bedrock-customization').
STATE_MACHINE_PURPOSE = "bedrock-customization"
# The environment variable of the Bedrock functions that holds their settings (lib/stacks/bedrock-stack.ts).
SETTINGS_VARIABLE = "FMFT_BEDROCK_SETTINGS"
# An execution's ARN (DescribeExecution, StartExecution's answer).
EXECUTION_ARN = re.compile(r"arn:aws[a-z-]*:states:([a-z0-9-]+):\d{12}:execution:[^:\s]+:[^:\s]+")
RUN_NAME_HELP = f"The run's name: {handlers.RUN_NAME_RULE}"


class BedrockCliError(Exception):
    """The command cannot go on: no state machine, a run already started, unreadable settings (exit 1)."""


def _input(key: str, help_text: str) -> dict[str, str]:
    """The metadata of a flag that sets the run input's field ``key`` (the state machine's input)."""
    return {"help": f"{key}: {help_text}", "input": key}


_ENVIRONMENT_HELP = "The environment's name (the config's name), e.g. dev"
_REGION_HELP = "The Bedrock stack's region (default: the AWS CLI's configured region)"
_PREFIX_HELP = "The config's storage.bucketNamePrefix (resource names start with <prefix>-<env>)"


@dataclasses.dataclass
class StartArgs:
    """Start a Bedrock customization run; its input is checked as the state machine's first state does."""

    environment: str = dataclasses.field(metadata={"help": _ENVIRONMENT_HELP})
    run_name: str = dataclasses.field(
        metadata={
            "help": f"{RUN_NAME_HELP}. The execution's name: a second start of the run is refused. The job "
            "and custom model are named <prefix>-<env>-<run name> unless the input sets customModelName"
        }
    )
    region: str | None = dataclasses.field(default=None, metadata={"help": _REGION_HELP})
    prefix: str = dataclasses.field(default="fmft", metadata={"help": _PREFIX_HELP})
    input: str | None = dataclasses.field(
        default=None,
        metadata={
            "help": "A JSON file holding the run input, the state machine's input object (the fields of the "
            "flags below); a flag given overrides its field"
        },
    )
    dataset_uri: str | None = dataclasses.field(
        default=None,
        metadata=_input(
            "datasetUri",
            "s3://<data bucket>/training-data/processed/<folder>/ holding train.jsonl (and validation.jsonl, "
            "test.jsonl when there); or name the files with the three flags below",
        ),
    )
    training_data_uri: str | None = dataclasses.field(
        default=None, metadata=_input("trainingDataUri", "the training file (s3://...)")
    )
    validation_data_uri: str | None = dataclasses.field(
        default=None, metadata=_input("validationDataUri", "the validation file (s3://...)")
    )
    test_data_uri: str | None = dataclasses.field(
        default=None, metadata=_input("testDataUri", "the test file, for the evaluation (s3://...)")
    )
    base_model_id: str | None = dataclasses.field(
        default=None,
        metadata=_input(
            "baseModelId",
            "a model of training/contracts/bedrock-models.json or the config's bedrock.extraModels",
        ),
    )
    customization_type: str | None = dataclasses.field(
        default=None, metadata=_input("customizationType", " or ".join(CUSTOMIZATION_TYPES))
    )
    hyper_parameters: list[str] | None = dataclasses.field(
        default=None,
        metadata=_input(
            "hyperParameters", "NAME=VALUE pairs, e.g. epochCount=2 learningRate=0.00001 (the model's ranges)"
        ),
    )
    provisioned_model_units: int | None = dataclasses.field(
        default=None,
        metadata=_input(
            "provisionedModelUnits", "model units of provisioned throughput; 0: none (and no evaluation)"
        ),
    )
    evaluation_task: str | None = dataclasses.field(
        default=None, metadata=_input("evaluationTask", ", ".join(handlers.EVALUATION_TASKS))
    )
    max_evaluation_records: int | None = dataclasses.field(
        default=None,
        metadata=_input(
            "maxEvaluationRecords", "test records the evaluation asks the custom model (1 to 10000)"
        ),
    )
    custom_model_name: str | None = dataclasses.field(
        default=None, metadata=_input("customModelName", handlers.RUN_NAME_RULE)
    )
    check_data: bool = dataclasses.field(
        default=False,
        metadata={"help": "Also run the first state's data check here (downloads training and validation)"},
    )
    dry_run: bool = dataclasses.field(
        default=False, metadata={"help": "Check the input and say what would start; start nothing"}
    )
    json: bool = dataclasses.field(default=False, metadata={"help": "Print JSON instead of text"})


@dataclasses.dataclass
class StatusArgs:
    """Show a run: its status, dates, and its output or its error and cause (DescribeExecution)."""

    execution_arn: str | None = dataclasses.field(
        default=None, metadata={"help": "The execution's ARN, as start printed it; or give --run-name"}
    )
    run_name: str | None = dataclasses.field(
        default=None, metadata={"help": f"{RUN_NAME_HELP}; with --environment (and --region)"}
    )
    environment: str | None = dataclasses.field(default=None, metadata={"help": _ENVIRONMENT_HELP})
    region: str | None = dataclasses.field(default=None, metadata={"help": _REGION_HELP})
    prefix: str = dataclasses.field(default="fmft", metadata={"help": _PREFIX_HELP})
    json: bool = dataclasses.field(default=False, metadata={"help": "Print JSON instead of text"})


# ------------------------------------------------------------------------------------------ arguments


def state_machine_name(prefix: str, environment: str) -> str:
    return f"{prefix}-{environment}-{STATE_MACHINE_PURPOSE}"


def _name_problems(environment: str | None, prefix: str, region: str | None) -> list[str]:
    problems = []
    if environment is not None and not ENVIRONMENT_NAME.fullmatch(environment):
        problems.append(f"--environment {environment}: allowed: {ENVIRONMENT_RULE}")
    if not BUCKET_NAME_PREFIX.fullmatch(prefix):
        problems.append(f"--prefix {prefix}: allowed: lower-case letters, digits and single hyphens")
    if region is not None and not REGION.fullmatch(region):
        problems.append(f"--region {region}: allowed: an AWS region name such as us-east-1")
    return problems


def _run_name_problem(name: str) -> list[str]:
    return [] if handlers.is_run_name(name) else [f"--run-name {name}: allowed: {handlers.RUN_NAME_RULE}"]


def _refuse(problems: list[str]) -> None:
    if problems:
        raise UsageError("; ".join(problems))


def _number_or_text(value: str) -> Any:
    """A hyperparameter value as JSON reads it when it is a number (2, 1e-05), else the text as given."""
    try:
        number = json.loads(value)
    except ValueError:
        return value
    return number if isinstance(number, int | float) and not isinstance(number, bool) else value


def run_input(args: StartArgs) -> dict[str, Any]:
    """The state machine's input: ``--input``'s object with the flags given written over its fields."""
    document: dict[str, Any] = {}
    if args.input is not None:
        path = Path(args.input)
        if not path.is_file():
            raise UsageError(f"--input {args.input}: no such file")
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as error:
            raise UsageError(f"--input {args.input}: not valid JSON: {error}") from None
        if not isinstance(document, dict):
            raise UsageError(f"--input {args.input}: must hold a JSON object (the run input)")
    for field in dataclasses.fields(StartArgs):
        key = field.metadata.get("input")
        value = getattr(args, field.name)
        if key is None or value is None:
            continue
        if key == "hyperParameters":
            pairs = {}
            for pair in value:
                name, sep, text = pair.partition("=")
                if not sep or not name:
                    raise UsageError(f"--hyper-parameters {pair}: allowed: NAME=VALUE, e.g. epochCount=2")
                pairs[name] = _number_or_text(text)
            given = document.get(key)
            value = {**given, **pairs} if isinstance(given, dict) else pairs
        document[key] = value
    return document


def _region(given: str | None, clients: dict[str, Any]) -> str:
    if given:
        return given
    if clients:  # the tests' clients know their region
        return next(iter(clients.values())).meta.region_name
    import boto3

    region = boto3.session.Session().region_name
    if not region:
        raise UsageError("--region: missing; give it, or configure a region (AWS_REGION, aws configure)")
    return region


class Clients:
    """boto3 clients of one region, made on first use; tests pass their own."""

    def __init__(self, region: str, given: dict[str, Any] | None = None) -> None:
        self.region = region
        self._clients = dict(given or {})

    def __call__(self, service: str) -> Any:
        if service not in self._clients:
            import boto3

            self._clients[service] = boto3.client(service, region_name=self.region)
        return self._clients[service]


# ------------------------------------------------------------------------------------------ AWS


def find_state_machine(sfn: Any, name: str, region: str) -> str:
    """The ARN of the state machine named ``name`` (ListStateMachines, every page)."""
    token = None
    while True:
        page = call(sfn, "list_state_machines", **({"nextToken": token} if token else {}))
        for machine in page.get("stateMachines", []):
            if machine["name"] == name:
                return machine["stateMachineArn"]
        token = page.get("nextToken")
        if not token:
            raise BedrockCliError(
                f"no state machine {name} in {region}: is the environment's Bedrock stack "
                f"({name.removesuffix('-' + STATE_MACHINE_PURPOSE)}-bedrock) deployed in this region?"
            )


def execution_arn(state_machine_arn: str, execution_name: str) -> str:
    """The ARN Step Functions gives the state machine's execution ``execution_name``:
    ``arn:<partition>:states:<region>:<account>:execution:<state machine>:<execution>``."""
    parts = state_machine_arn.split(":")
    return ":".join([*parts[:5], "execution", parts[6], execution_name])


def run_settings(sfn: Any, lambda_: Any, state_machine_arn: str) -> dict[str, Any]:
    """The settings of the function the state machine's first state runs (``resolve_run``'s config)."""
    described = call(sfn, "describe_state_machine", stateMachineArn=state_machine_arn)
    definition = json.loads(described["definition"])
    first_name = definition.get("StartAt")
    first = definition.get("States", {}).get(first_name, {})
    resource = str(first.get("Resource", ""))
    # A LambdaInvoke state names its function as the Resource (payloadResponseOnly) or as FunctionName.
    function = resource if ":lambda:" in resource else (first.get("Parameters") or {}).get("FunctionName")
    if not function:
        raise BedrockCliError(
            f"{state_machine_arn}: its first state {first_name!r} runs no Lambda function; "
            "not the Bedrock customization workflow"
        )
    config = call(lambda_, "get_function_configuration", FunctionName=function)
    environment = config.get("Environment") or {}
    if environment.get("Error"):
        error = environment["Error"]
        raise BedrockCliError(
            f"the settings of {function} cannot be read ({error.get('ErrorCode')}: "
            f"{' '.join(str(error.get('Message', '')).split())}); reading them needs kms:Decrypt on "
            f"{config.get('KMSKeyArn', 'the key of its environment')}"
        )
    raw = (environment.get("Variables") or {}).get(SETTINGS_VARIABLE)
    if raw is None:
        raise BedrockCliError(f"{function} has no {SETTINGS_VARIABLE}; not the Bedrock check function")
    return json.loads(raw)


def describe_execution(sfn: Any, arn: str) -> dict[str, Any] | None:
    """DescribeExecution's answer, or None when there is no such execution."""
    try:
        return call(sfn, "describe_execution", executionArn=arn)
    except AwsCallError as error:
        if error.code == "ExecutionDoesNotExist":
            return None
        raise


def _already_started(name: str, arn: str, existing: dict[str, Any] | None) -> BedrockCliError:
    state = f" ({existing['status']}, started {_date(existing.get('startDate'))})" if existing else ""
    return BedrockCliError(
        f"run {name} was already started: execution {arn}{state}. Step Functions refuses a second execution "
        f"of the same name; start it again under another --run-name. Follow it with: {PROG} status "
        f"--execution-arn {arn}"
    )


# ------------------------------------------------------------------------------------------ start


def start(args: StartArgs, clients: dict[str, Any] | None = None) -> int:
    """``start``: check, then StartExecution; exit status 0 started (or checked, with --dry-run)."""
    problems = _name_problems(args.environment, args.prefix, args.region) + _run_name_problem(args.run_name)
    _refuse(problems)
    document = run_input(args)
    region = _region(args.region, clients or {})
    aws = Clients(region, clients)
    sfn = aws("stepfunctions")
    name = state_machine_name(args.prefix, args.environment)
    machine_arn = find_state_machine(sfn, name, region)
    cfg = run_settings(sfn, aws("lambda"), machine_arn)
    try:
        run = handlers.resolve_run(document, args.run_name, cfg, aws("s3"))
        if args.check_data:
            run["records"] = handlers.validate_data(run, aws("s3"))
    except (InputError, handlers.DatasetInvalidError) as error:
        lines = error.problems if isinstance(error, InputError) else str(error).splitlines()
        raise UsageError(
            "the run input is refused; nothing was started:\n" + "\n".join(f"  {line}" for line in lines)
        ) from None

    arn = execution_arn(machine_arn, args.run_name)
    existing = describe_execution(sfn, arn)
    if existing is not None:
        raise _already_started(args.run_name, arn, existing)
    follow = follow_commands(arn, region)
    if args.dry_run:
        report = {"started": False, "stateMachineArn": machine_arn, "executionName": args.run_name}
        _print_start({**report, "input": document, "run": run, "follow": []}, args.json)
        return 0
    try:
        started = call(
            sfn,
            "start_execution",
            stateMachineArn=machine_arn,
            name=args.run_name,
            input=json.dumps(document, ensure_ascii=False),
        )
    except AwsCallError as error:
        if error.code == "ExecutionAlreadyExists":  # started by someone else since the check above
            raise _already_started(args.run_name, arn, None) from None
        raise
    report = {
        "started": True,
        "stateMachineArn": machine_arn,
        "executionName": args.run_name,
        "executionArn": started["executionArn"],
        "startDate": _date(started.get("startDate")),
        "input": document,
        "run": run,
        "follow": follow,
    }
    _print_start(report, args.json)
    return 0


def follow_commands(arn: str, region: str) -> list[str]:
    """How to follow an execution: this module's status, and the AWS CLI's describe-execution."""
    return [
        f"{PROG} status --execution-arn {arn}",
        f"aws stepfunctions describe-execution --execution-arn {arn} --region {region}",
    ]


def _print_start(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(report, indent=2, ensure_ascii=False, default=str))
        return
    run = report["run"]
    lines = [
        f"Started run {report['executionName']}: {report['executionArn']}"
        if report["started"]
        else f"Input accepted; nothing was started (--dry-run). The run would be execution "
        f"{report['executionName']} of {report['stateMachineArn']}",
        f"  job and custom model  {run['jobName']}",
        f"  base model            {run['baseModelIdentifier']} ({run['customizationType']})",
        f"  hyperparameters       {', '.join(f'{k}={v}' for k, v in run['hyperParameters'].items())}",
        f"  training data         {run['trainingDataUri']}",
        f"  validation data       {run['validationDataUri'] or '(none)'}",
        f"  test data             {run['testDataUri'] or '(none)'}",
        f"  provisioned units     {run['provisionedModelUnits']}",
        f"  evaluation            {run['evaluationTask'] if run['evaluate'] else 'none'}",
    ]
    if "records" in run:
        lines.append(f"  valid records         {', '.join(f'{k} {v}' for k, v in run['records'].items())}")
    if report["follow"]:
        lines += ["Follow it:", *(f"  {command}" for command in report["follow"])]
    print("\n".join(lines))


# ------------------------------------------------------------------------------------------ status


def status(args: StatusArgs, clients: dict[str, Any] | None = None) -> int:
    """``status``: DescribeExecution of the run, as text or JSON; exit status 0 whatever the run's status."""
    problems = _name_problems(args.environment, args.prefix, args.region)
    if (args.execution_arn is None) == (args.run_name is None):
        problems.append("--execution-arn, --run-name: allowed: exactly one of them")
    if args.run_name is not None:
        problems += _run_name_problem(args.run_name)
        if args.environment is None:
            problems.append("--environment: missing; --run-name needs it")
    arn_region = None
    if args.execution_arn is not None:
        match = EXECUTION_ARN.fullmatch(args.execution_arn)
        if not match:
            problems.append(
                f"--execution-arn {args.execution_arn}: allowed: an execution ARN "
                "(arn:aws:states:<region>:<account>:execution:<state machine>:<name>)"
            )
        else:
            arn_region = match[1]
            if args.region is not None and args.region != arn_region:
                problems.append(f"--region {args.region}: the execution is in {arn_region}")
    _refuse(problems)
    region = arn_region or _region(args.region, clients or {})
    sfn = Clients(region, clients)("stepfunctions")
    if args.execution_arn is not None:
        arn = args.execution_arn
    else:
        assert args.environment is not None and args.run_name is not None
        machine = find_state_machine(sfn, state_machine_name(args.prefix, args.environment), region)
        arn = execution_arn(machine, args.run_name)
    described = describe_execution(sfn, arn)
    if described is None:
        raise BedrockCliError(f"no execution {arn}: no run of that name was started in {region}")
    if args.json:
        print(json.dumps(status_document(described), indent=2, ensure_ascii=False, default=str))
    else:
        print("\n".join(status_lines(described)))
    return 0


def _date(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="seconds")
    return None if value is None else str(value)


def _parsed(text: str | None) -> Any:
    """JSON text parsed (outputs and causes are JSON strings), else the text itself."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def status_document(described: dict[str, Any]) -> dict[str, Any]:
    """DescribeExecution's answer for ``--json``: dates in ISO 8601, input, output and cause parsed."""
    return {
        "executionArn": described["executionArn"],
        "name": described.get("name"),
        "stateMachineArn": described.get("stateMachineArn"),
        "status": described["status"],
        "startDate": _date(described.get("startDate")),
        "stopDate": _date(described.get("stopDate")),
        "input": _parsed(described.get("input")),
        "output": _parsed(described.get("output")),
        "error": described.get("error"),
        "cause": _parsed(described.get("cause")),
    }


def _indented(document: Any) -> list[str]:
    text = document if isinstance(document, str) else json.dumps(document, indent=2, ensure_ascii=False)
    return [f"    {line}" for line in text.splitlines()]


def status_lines(described: dict[str, Any]) -> list[str]:
    """DescribeExecution's answer for people: what it is, when, and how it ended."""
    doc = status_document(described)
    lines = [
        f"run        {doc['name']}",
        f"execution  {doc['executionArn']}",
        f"status     {doc['status']}",
        f"started    {doc['startDate']}",
        f"stopped    {doc['stopDate'] or ('(still running)' if doc['status'] == 'RUNNING' else '-')}",
    ]
    output = doc["output"]
    if isinstance(output, dict):
        job, throughput = output.get("job") or {}, output.get("throughput") or {}
        if job.get("outputModelArn"):
            lines.append(f"custom model  {job['outputModelArn']}")
        if throughput.get("arn"):
            lines.append(f"provisioned throughput  {throughput['arn']} (it bills hourly until deleted)")
    if output is not None:
        lines += ["output:", *_indented(output)]
    if doc["error"] is not None:
        lines.append(f"error      {doc['error']}")
    cause = doc["cause"]
    if isinstance(cause, dict) and "errorMessage" in cause:  # a Lambda function's error (the input check)
        lines += [f"cause      {cause.get('errorType', 'error')}:", *_indented(str(cause["errorMessage"]))]
    elif cause not in (None, ""):
        lines += ["cause:", *_indented(cause)]
    return lines
