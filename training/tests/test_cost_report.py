"""``python -m training.cost report`` (training/cost/report.py) against a moto server: Cost Explorer answers
injected through moto's ``/moto-api/static/ce/cost-and-usage-results`` (moto 5 queues them; each new request
body takes the next, so two queued results are two pages), training jobs and model versions made through the
SageMaker API. moto leaves ``TrainingTimeInSeconds`` and ``BillableTimeInSeconds`` out of DescribeTrainingJob;
the tests set them on moto's job objects (the server runs in this process), as AWS reports them once a job
ends.

Every request the command sends is recorded and checked against botocore's model (tools/api_model); the AWS
CLI commands it prints are checked the way the documents' are (tools/api_model/cli_commands.py).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber

from tools.api_model import cli_commands
from training.cost import __main__ as cost_main
from training.cost import report
from training.cost.cli import COST_TAG_KEYS
from training.tests.api_requests import Recording, api_violations

REPO = Path(__file__).resolve().parents[2]
ACCOUNT, REGION = "123456789012", "us-east-1"
GROUP = "fmft-dev-fine-tuning-models"
TODAY = dt.datetime.now(dt.UTC).date()
START, END = TODAY.replace(day=1), TODAY + dt.timedelta(days=1)


def post(url: str, body: dict[str, Any] | None = None) -> None:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if body is not None else {}
    urllib.request.urlopen(urllib.request.Request(url, data=data, method="POST", headers=headers)).close()


def group(execution: str | None, dimension: str, amount: str) -> dict[str, Any]:
    """A Cost Explorer group as AWS answers it: ``<tag key>$<value>`` (``$`` alone for untagged costs)."""
    return {
        "Keys": [f"{COST_TAG_KEYS['execution']}${execution or ''}", dimension],
        "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}},
    }


PAGES = [
    {
        "ResultsByTime": [
            {
                "TimePeriod": {"Start": START.isoformat(), "End": END.isoformat()},
                "Total": {},
                "Groups": [
                    group("exec1", "ml.g5.2xlarge", "10.25"),
                    group("exec2", "ml.g5.xlarge", "3.5"),
                ],
                "Estimated": False,
            }
        ],
        "DimensionValueAttributes": [],
        "NextPageToken": "page-2",
    },
    {
        "ResultsByTime": [
            {
                "TimePeriod": {"Start": START.isoformat(), "End": END.isoformat()},
                "Total": {},
                "Groups": [
                    group("exec1", "ml.m5.xlarge", "0.75"),
                    group(None, "", "1.2"),
                ],
                "Estimated": True,
            }
        ],
        "DimensionValueAttributes": [],
    },
]


class World:
    def __init__(self, url: str) -> None:
        self.url = url
        self.sm = boto3.client("sagemaker", region_name=REGION)
        self.ce = boto3.client("ce", region_name=REGION)
        self.log: list[tuple[str, str, dict[str, Any]]] = []

    def costs(self, pages: list[dict[str, Any]]) -> None:
        post(f"{self.url}/moto-api/static/ce/cost-and-usage-results", {"results": pages})

    def training_job(
        self,
        name: str,
        tags: dict[str, str],
        instance_type: str,
        count: int,
        spot: bool,
        training: int,
        billable: int,
    ) -> None:
        self.sm.create_training_job(
            TrainingJobName=name,
            AlgorithmSpecification={"TrainingImage": "image", "TrainingInputMode": "File"},
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/training",
            OutputDataConfig={"S3OutputPath": "s3://fmft-dev-models/out"},
            ResourceConfig={"InstanceType": instance_type, "InstanceCount": count, "VolumeSizeInGB": 50},
            StoppingCondition={
                "MaxRuntimeInSeconds": 86400,
                **({"MaxWaitTimeInSeconds": 172800} if spot else {}),
            },
            EnableManagedSpotTraining=spot,
            **({"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]} if tags else {}),
        )
        from moto.backends import get_backend

        job = get_backend("sagemaker")[ACCOUNT][REGION].training_jobs[name]
        job.training_time_in_seconds, job.billable_time_in_seconds = training, billable

    def version(self, group_name: str, execution: str) -> str:
        return self.sm.create_model_package(
            ModelPackageGroupName=group_name,
            ModelApprovalStatus="PendingManualApproval",
            CustomerMetadataProperties={
                "pipeline_execution": execution,
                "base_model": "s3://fmft-dev-base/m/",
            },
            InferenceSpecification={
                "Containers": [{"Image": "image", "ModelDataUrl": "s3://fmft-dev-models/model.tar.gz"}],
                "SupportedContentTypes": ["application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
        )["ModelPackageArn"]

    def clients(self) -> tuple[Any, Any]:
        return Recording(self.ce, self.log), Recording(self.sm, self.log)

    def sent(self, operation: str) -> list[dict[str, Any]]:
        return [params for _, op, params in self.log if op == operation]


@pytest.fixture
def world(moto_endpoint: str) -> Any:
    post(f"{moto_endpoint}/moto-api/reset")
    w = World(moto_endpoint)
    yield w
    assert api_violations(w.log, "cost-report") == []


def environment(w: World) -> dict[str, str]:
    """The environment's runs: two versions, four training jobs of which two are the environment's."""
    dev = {COST_TAG_KEYS["environment"]: "dev"}
    w.sm.create_model_package_group(ModelPackageGroupName=GROUP)
    w.sm.create_model_package_group(ModelPackageGroupName="fmft-prod-fine-tuning-models")
    arns = {"v1": w.version(GROUP, "exec1"), "v2": w.version(GROUP, "exec2")}
    w.version("fmft-prod-fine-tuning-models", "exec1")  # another group: never read
    # The pipeline's spot job (named by SageMaker Pipelines, so only its tags say whose it is).
    w.training_job(
        "pipelines-exec1-FineTune-a1b2",
        dev | {COST_TAG_KEYS["execution"]: "exec1"},
        "ml.g5.2xlarge",
        2,
        True,
        2000,
        600,
    )
    # An untagged job named like the environment's: on-demand, so it bills every second it trains.
    w.training_job("fmft-dev-adhoc", {}, "ml.g5.xlarge", 1, False, 1000, 1000)
    # Other environments' jobs: a prod tag decides, whatever the name.
    w.training_job(
        "pipelines-exec9-FineTune-c3d4",
        {COST_TAG_KEYS["environment"]: "prod"},
        "ml.p4d.24xlarge",
        1,
        True,
        10,
        5,
    )
    w.training_job(
        "fmft-dev-but-prod", {COST_TAG_KEYS["environment"]: "prod"}, "ml.g5.xlarge", 1, True, 10, 5
    )
    return arns


def args(**overrides: Any) -> report.ReportArgs:
    return report.ReportArgs(**({"environment": "dev"} | overrides))


def run_report(w: World, capsys: pytest.CaptureFixture[str], **overrides: Any) -> dict[str, Any]:
    assert report.run(args(json=True, **overrides), clients=w.clients(), today=TODAY) == 0
    return json.loads(capsys.readouterr().out)


# --------------------------------------------------------------------------------------------------- report


def test_costs_are_grouped_per_execution_and_mapped_to_model_versions(world, capsys):
    arns = environment(world)
    world.costs(PAGES)
    result = run_report(world, capsys)

    assert result["total"] == 15.7 and result["unit"] == "USD" and result["estimated"] is True
    assert result["costs"] == [
        {"execution": "exec1", "modelVersions": [1], "instanceType": "ml.g5.2xlarge", "cost": 10.25},
        {"execution": "exec2", "modelVersions": [2], "instanceType": "ml.g5.xlarge", "cost": 3.5},
        {"execution": None, "modelVersions": [], "instanceType": None, "cost": 1.2},
        {"execution": "exec1", "modelVersions": [1], "instanceType": "ml.m5.xlarge", "cost": 0.75},
    ]
    by_execution = {e["execution"]: e for e in result["byExecution"]}
    assert by_execution["exec1"]["cost"] == 11.0
    assert by_execution["exec1"]["modelVersions"] == [
        {"version": 1, "arn": arns["v1"], "approval": "PendingManualApproval"}
    ]
    assert by_execution["exec1"]["trainingJobs"] == ["pipelines-exec1-FineTune-a1b2"]
    assert by_execution["exec2"]["cost"] == 3.5 and by_execution[None]["cost"] == 1.2
    assert result["byPeriod"] == [
        {"start": START.isoformat(), "end": END.isoformat(), "estimated": True, "cost": 15.7}
    ]

    # Both pages were read: the second request is the first with its NextPageToken.
    first, second = world.sent("GetCostAndUsage")
    assert first == report.cost_request("dev", report.Period(START, END), "MONTHLY", "instance-type")
    assert first["Filter"] == {
        "Tags": {"Key": "fmft:environment", "Values": ["dev"], "MatchOptions": ["EQUALS"]}
    }
    assert first["GroupBy"] == [
        {"Type": "TAG", "Key": "fmft:execution"},
        {"Type": "DIMENSION", "Key": "INSTANCE_TYPE"},
    ]
    assert first["Metrics"] == ["UnblendedCost"] and first["Granularity"] == "MONTHLY"
    assert second == first | {"NextPageToken": "page-2"}
    # Only the environment's group is read.
    assert {p["ModelPackageGroupName"] for p in world.sent("ListModelPackages")} == {GROUP}


def test_spot_savings_per_training_job_from_billable_and_training_seconds(world, capsys):
    environment(world)
    world.costs(PAGES)
    result = run_report(world, capsys)
    jobs = {j["name"]: j for j in result["trainingJobs"]}
    assert set(jobs) == {"pipelines-exec1-FineTune-a1b2", "fmft-dev-adhoc"}
    spot = jobs["pipelines-exec1-FineTune-a1b2"]
    # 1 - 600 / 2000 = 70 %; 600 s x 2 instances = 1200 instance-seconds = 0.3333 h.
    assert spot == {
        "name": "pipelines-exec1-FineTune-a1b2",
        "execution": "exec1",
        "modelVersions": [1],
        "status": "Completed",
        "instanceType": "ml.g5.2xlarge",
        "instanceCount": 2,
        "spot": True,
        "trainingSeconds": 2000,
        "billableSeconds": 600,
        "billableInstanceHours": 0.3333,
        "spotSavingsPercent": 70.0,
    }
    on_demand = jobs["fmft-dev-adhoc"]
    assert on_demand["spotSavingsPercent"] == 0.0 and on_demand["execution"] is None and not on_demand["spot"]
    assert on_demand["modelVersions"] == [] and on_demand["billableInstanceHours"] == 0.2778
    # Spot jobs together: 4000 training and 1200 billable instance-seconds.
    assert result["spotSavings"] == {
        "jobs": 1,
        "trainingInstanceHours": 1.1111,
        "billableInstanceHours": 0.3333,
        "percent": 70.0,
    }
    # Only the environment's jobs are described; every job's tags are read to know whose it is.
    assert sorted(p["TrainingJobName"] for p in world.sent("DescribeTrainingJob")) == [
        "fmft-dev-adhoc",
        "pipelines-exec1-FineTune-a1b2",
    ]
    assert len(world.sent("ListTags")) == 4
    listed = world.sent("ListTrainingJobs")[0]
    assert (
        listed["CreationTimeAfter"] == f"{START}T00:00:00Z"
        and listed["CreationTimeBefore"] == f"{END}T00:00:00Z"
    )


def test_the_table_names_each_cost_its_version_and_the_savings(world, capsys):
    environment(world)
    world.costs(PAGES)
    assert report.run(args(), clients=world.clients(), today=TODAY) == 0
    text = capsys.readouterr().out
    rows = [" ".join(line.split()) for line in text.splitlines()]
    assert "EXECUTION MODEL VERSION INSTANCE TYPE COST USD" in rows
    assert "exec1 1 ml.g5.2xlarge 10.25" in rows
    assert "exec2 2 ml.g5.xlarge 3.50" in rows
    assert "(no execution tag) - (none) 1.20" in rows
    assert "Total: 15.70 USD (estimated: may still change)" in rows
    assert "pipelines-exec1-FineTune-a1b2 exec1 1 ml.g5.2xlarge 2 spot 2000 600 70.0%" in rows
    assert "fmft-dev-adhoc - - ml.g5.xlarge 1 on-demand 1000 1000 0.0%" in rows
    assert "Spot jobs: 0.3333 billable of 1.1111 training instance-hours, 70.0% saved." in rows
    # What Cost Explorer needs and how fresh its data is, said in the output itself.
    assert report.activation_command() in text and "up to 24 hours" in text
    assert "Cost data lags" in text


def test_usage_type_grouping_and_daily_periods(world, capsys):
    world.costs(
        [
            {
                "ResultsByTime": [
                    {
                        "TimePeriod": {
                            "Start": START.isoformat(),
                            "End": (START + dt.timedelta(days=1)).isoformat(),
                        },
                        "Groups": [group("exec1", "USE1-Train:ml.g5.2xlarge", "2.5")],
                        "Estimated": False,
                    },
                    {
                        "TimePeriod": {
                            "Start": (START + dt.timedelta(days=1)).isoformat(),
                            "End": (START + dt.timedelta(days=2)).isoformat(),
                        },
                        "Groups": [group("exec1", "USE1-Train:ml.g5.2xlarge", "1.25")],
                        "Estimated": False,
                    },
                ]
            }
        ]
    )
    end = START + dt.timedelta(days=2)
    result = run_report(world, capsys, group_by="usage-type", granularity="DAILY", end=end.isoformat())
    (request,) = world.sent("GetCostAndUsage")
    assert request["Granularity"] == "DAILY" and request["GroupBy"][1] == {
        "Type": "DIMENSION",
        "Key": "USAGE_TYPE",
    }
    assert request["TimePeriod"] == {"Start": START.isoformat(), "End": end.isoformat()}
    assert result["costs"] == [
        {"execution": "exec1", "modelVersions": [], "usageType": "USE1-Train:ml.g5.2xlarge", "cost": 3.75}
    ]
    assert [p["cost"] for p in result["byPeriod"]] == [2.5, 1.25] and result["estimated"] is False


# ------------------------------------------------------------------------------------------------ the rules


def test_the_cost_tag_keys_agree_with_the_workflows():
    source = (REPO / "lib" / "config" / "cost-tags.ts").read_text(encoding="utf-8")
    assert dict(re.findall(r"^\s+(\w+): '([^']+)',", source, flags=re.M)) == COST_TAG_KEYS


def test_the_period_rules():
    today = dt.date(2026, 11, 30)
    assert report.earliest_start(today) == dt.date(2025, 10, 1)
    assert report.earliest_start(dt.date(2026, 1, 15)) == dt.date(2024, 12, 1)
    assert report.check_period(None, None, today) == report.Period(dt.date(2026, 11, 1), dt.date(2026, 12, 1))
    assert report.check_period("2025-10-01", "2026-12-01", today) == report.Period(
        dt.date(2025, 10, 1), dt.date(2026, 12, 1)
    )


def test_the_printed_aws_commands_are_commands_the_cli_accepts(tmp_path):
    period = report.Period(dt.date(2026, 11, 1), dt.date(2026, 12, 1))
    backfill = report.backfill_command(period, dt.date(2026, 11, 30))
    assert backfill == "aws ce start-cost-allocation-tag-backfill --backfill-from 2026-11-01T00:00:00Z"
    # Twelve months back at most (StartCostAllocationTagBackfill).
    old = report.Period(dt.date(2025, 10, 1), dt.date(2025, 11, 1))
    assert report.backfill_command(old, dt.date(2026, 11, 30)).endswith("2025-11-01T00:00:00Z")
    doc = tmp_path / "commands.md"
    doc.write_text(f"```bash\n{report.activation_command()}\n{backfill}\n```\n", encoding="utf-8")
    commands = cli_commands.find_commands(doc)
    assert [c.command for c in commands] == [
        "update-cost-allocation-tags-status",
        "start-cost-allocation-tag-backfill",
    ]
    assert [p for c in commands for p in cli_commands.problems(c)] == []
    model = botocore.session.get_session().get_service_model("ce")
    assert "Active" in model.shape_for("CostAllocationTagStatus").enum
    assert (
        commands[0]
        .options["--cost-allocation-tags-status"]
        .startswith("TagKey=fmft:environment,Status=Active")
    )


BAD = [
    (
        ["--environment", "Dev"],
        "--environment Dev: allowed: 2-10 lower-case letters and digits, starting with a letter",
    ),
    (["--environment", "dev", "--start", "2026-02-30"], "--start 2026-02-30: allowed: a date YYYY-MM-DD"),
    (["--environment", "dev", "--end", "tomorrow"], "--end tomorrow: allowed: a date YYYY-MM-DD"),
    (
        ["--environment", "dev", "--start", START.isoformat(), "--end", START.isoformat()],
        f"--start {START}, --end {START}: allowed: a start before the end (the end is exclusive)",
    ),
    (
        ["--environment", "dev", "--start", "2000-01-01"],
        f"--start 2000-01-01: allowed: {report.earliest_start(TODAY)} or later (Cost Explorer keeps this "
        "month and the 13 before it)",
    ),
    (
        ["--environment", "dev", "--end", "2999-01-01"],
        f"--end 2999-01-01: allowed: {END} or earlier (costs exist up to today, UTC; the end is exclusive)",
    ),
    (
        ["--environment", "dev", "--granularity", "HOURLY"],
        "argument --granularity: invalid choice: 'HOURLY' (choose from 'MONTHLY', 'DAILY')",
    ),
    (
        ["--environment", "dev", "--group-by", "service"],
        "argument --group-by: invalid choice: 'service' (choose from 'instance-type', 'usage-type')",
    ),
    (
        ["--environment", "dev", "--region", "mars-1"],
        "--region mars-1: allowed: an AWS region name such as us-east-1",
    ),
    (
        ["--environment", "dev", "--resource-prefix", "FM"],
        "--resource-prefix FM: allowed: lower-case letters, digits and single hyphens",
    ),
    (
        ["--environment", "dev", "--model-package-group", "my_group"],
        "--model-package-group my_group: allowed: a model package group name (1-63 characters)",
    ),
    ([], "the following arguments are required: --environment"),
    (["--environment", "dev", "--since", "2026-01-01"], "unrecognized arguments: --since 2026-01-01"),
]


def exit_status(argv: list[str]) -> Any:
    """What ``python -m training.cost`` exits with (argparse's own refusals exit from inside the parser)."""
    try:
        return cost_main.main(argv)
    except SystemExit as exit_:
        return exit_.code


@pytest.mark.parametrize(("argv", "message"), BAD, ids=[" ".join(a) or "nothing" for a, _ in BAD])
def test_a_bad_option_is_one_line_naming_it_with_exit_status_2(argv, message, capsys, monkeypatch):
    def no_aws(*_: Any, **__: Any) -> Any:
        raise AssertionError("a bad option must be refused before any AWS client is made")

    monkeypatch.setattr(boto3, "client", no_aws)
    assert exit_status(["report", *argv]) == 2
    assert capsys.readouterr().err == f"python -m training.cost report: error: {message}\n"


def test_an_aws_error_names_the_operation_and_exits_1(capsys, monkeypatch):
    ce = boto3.client("ce", region_name=REGION, aws_access_key_id="a", aws_secret_access_key="b")
    stubber = Stubber(ce)
    stubber.add_client_error(
        "get_cost_and_usage",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform: ce:GetCostAndUsage",
    )
    sm = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="a", aws_secret_access_key="b")
    monkeypatch.setattr(boto3, "client", lambda service, **_: {"ce": ce, "sagemaker": sm}[service])
    with stubber:
        code = cost_main.main(["report", "--environment", "dev", "--region", REGION])
    assert code == 1
    assert capsys.readouterr().err == (
        "python -m training.cost report: AWS error: GetCostAndUsage: AccessDeniedException: User is not "
        "authorized to perform: ce:GetCostAndUsage\n"
    )


# ------------------------------------------------------------------------------------------------ the command


def command(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "training.cost", *argv],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_reports_through_python_m(world):
    environment(world)
    world.costs(PAGES)
    done = command("report", "--environment", "dev", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["total"] == 15.7 and result["period"] == {
        "start": START.isoformat(),
        "end": END.isoformat(),
        "endExclusive": True,
        "granularity": "MONTHLY",
    }
    assert [(c["execution"], c["modelVersions"], c["cost"]) for c in result["costs"]][:2] == [
        ("exec1", [1], 10.25),
        ("exec2", [2], 3.5),
    ]
    assert {j["name"]: j["spotSavingsPercent"] for j in result["trainingJobs"]} == {
        "pipelines-exec1-FineTune-a1b2": 70.0,
        "fmft-dev-adhoc": 0.0,
    }
    assert any(report.activation_command() in note for note in result["notes"])


def test_help_has_no_side_effects():
    # Any AWS request would go to a closed port and fail; --help makes none.
    done = command("report", "--help", AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_MAX_ATTEMPTS="1")
    assert done.returncode == 0 and done.stderr == ""
    assert "--environment ENVIRONMENT" in done.stdout and "--granularity {MONTHLY,DAILY}" in done.stdout
    listing = command("--help")
    assert listing.returncode == 0 and "report" in listing.stdout and "recommend" in listing.stdout
    unknown = command("forecast")
    assert unknown.returncode == 2
    assert (
        unknown.stderr == "python -m training.cost: error: command 'forecast': allowed: report, recommend\n"
    )
