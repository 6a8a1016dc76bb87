"""The idle-endpoint reaper (training/cost/idle_endpoints.py) against a moto server: endpoints made through
the SageMaker API (moto puts them InService at once, changed "now"), their Invocations put into CloudWatch,
and the SNS notices (delivered to an SQS subscription). The reaper's clock runs ahead of moto's instead of
moto's endpoints being made in the past.

Every request the reaper sends is recorded and checked against botocore's model. moto does not do two things
AWS does, and botocore's Stubber stands in for that one call only:

- a DeleteEndpoint that fails (AWS refuses one while the endpoint is being updated; moto updates at once);
- GetMetricData pages (moto returns every datapoint in one response, never a NextToken).

moto lets a test tag an endpoint ``aws:cloudformation:stack-name``, which AWS reserves for CloudFormation: it
stands for an endpoint of the endpoints stack.
"""

from __future__ import annotations

import dataclasses
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
import pytest
from botocore.stub import Stubber

from training.cost import idle_endpoints as reaper
from training.cost.idle_endpoints import IdleEndpointsError
from training.tests.api_requests import Recording, api_violations

REPO = Path(__file__).resolve().parents[2]
ACCOUNT, REGION = "123456789012", "us-east-1"
STAGING = "fmft-dev-llm-staging"
OWNER = {"fmft:environment": "dev"}
STACK = {"aws:cloudformation:stack-name": "fmft-dev-endpoints", **OWNER}


@dataclasses.dataclass
class World:
    sm: Any
    cw: Any
    sns: Any
    sqs: Any
    inbox: str
    cfg: dict[str, Any]
    log: list[tuple[str, str, dict[str, Any]]]

    def clients(self, sm: Any = None) -> tuple[Any, Any, Any]:
        return (
            sm or Recording(self.sm, self.log),
            Recording(self.cw, self.log),
            Recording(self.sns, self.log),
        )

    def run(self, now: dt.datetime, sm: Any = None, dry_run: bool = False, **cfg: Any) -> dict[str, Any]:
        return reaper.reap(self.cfg | cfg, *self.clients(sm), now=now, dry_run=dry_run)

    def endpoint(
        self, name: str, tags: dict[str, str] | None = None, variants: tuple[str, ...] = ("a",)
    ) -> Any:
        """An InService endpoint whose configuration and model are both called ``<name>-config``; its
        LastModifiedTime (moto's now)."""
        config = f"{name}-config"
        self.sm.create_model(
            ModelName=config,
            ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/deploy",
            PrimaryContainer={"Image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/llm:1"},
        )
        self.sm.create_endpoint_config(
            EndpointConfigName=config,
            ProductionVariants=[
                {
                    "VariantName": v,
                    "ModelName": config,
                    "InstanceType": "ml.g4dn.xlarge",
                    "InitialInstanceCount": 1,
                }
                for v in variants
            ],
        )
        tag_list = [{"Key": k, "Value": v} for k, v in (tags or {}).items()]
        self.sm.create_endpoint(
            EndpointName=name, EndpointConfigName=config, **({"Tags": tag_list} if tags else {})
        )
        return self.sm.describe_endpoint(EndpointName=name)["LastModifiedTime"].astimezone(dt.UTC)

    def invoked(self, name: str, at: dt.datetime, count: float = 1, variant: str = "a") -> None:
        """Invocations as SageMaker publishes them."""
        self.cw.put_metric_data(
            Namespace="AWS/SageMaker",
            MetricData=[
                {
                    "MetricName": "Invocations",
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": name},
                        {"Name": "VariantName", "Value": variant},
                    ],
                    "Value": count,
                    "Timestamp": at,
                }
            ],
        )

    def names(self) -> list[str]:
        return sorted(e["EndpointName"] for e in self.sm.list_endpoints(MaxResults=100)["Endpoints"])

    def sent(self, operation: str) -> list[dict[str, Any]]:
        return [params for _, op, params in self.log if op == operation]

    def notices(self) -> list[dict[str, str]]:
        found = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.inbox, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return found
            for m in got:
                body = json.loads(m["Body"])
                found.append({"subject": body["Subject"], "message": body["Message"]})
                self.sqs.delete_message(QueueUrl=self.inbox, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture
def world(moto_endpoint):
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).close()
    sm, cw, sns, sqs = (
        boto3.client(s, region_name=REGION) for s in ("sagemaker", "cloudwatch", "sns", "sqs")
    )
    topic = sns.create_topic(Name="fmft-dev-alerts")["TopicArn"]
    inbox = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
    cfg = reaper.check_settings(
        {
            "environment": "dev",
            "namePrefix": "fmft-dev-",
            "idleHours": 24,
            "action": "delete",
            "runEveryHours": 1,
            "ownerTag": {"key": "fmft:environment", "value": "dev"},
            "topicArn": topic,
        }
    )
    w = World(sm, cw, sns, sqs, inbox, cfg, [])
    yield w
    assert api_violations(w.log, "idle-endpoints") == []


def later(moment: dt.datetime, hours: float) -> dt.datetime:
    return moment + dt.timedelta(hours=hours)


# ------------------------------------------------------------------------------------------------ deciding


def test_an_idle_staging_endpoint_is_deleted_its_configuration_kept_and_named(world):
    made = world.endpoint(STAGING, OWNER)
    result = world.run(later(made, 24.2))
    (entry,) = result["idle"]
    assert entry == {
        "endpointName": STAGING,
        "invocations": 0,
        "idleSince": made.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lastModified": made.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "endpointConfigName": f"{STAGING}-config",
        "newlyIdle": True,
        "managedBy": "platform",
        "action": "deleted",
        "reason": f"deleted; kept its endpoint configuration {STAGING}-config and the models it names",
    }
    assert result["checked"] == 1 and result["errors"] == [] and result["notified"] is True
    assert world.names() == []
    assert world.sent("DeleteEndpoint") == [{"EndpointName": STAGING}]
    # Not its configuration and model: people delete them (the notice says how).
    assert world.sm.describe_endpoint_config(EndpointConfigName=f"{STAGING}-config")["ProductionVariants"]
    assert world.sm.describe_model(ModelName=f"{STAGING}-config")["ModelName"] == f"{STAGING}-config"
    (notice,) = world.notices()
    assert notice["subject"] == "fmft-dev idle endpoints: 1 deleted, 0 reported"
    assert f"- {STAGING} (newly idle, idle since {entry['idleSince']}): deleted; kept" in notice["message"]
    assert "describe-endpoint-config --endpoint-config-name <name>` names the models" in notice["message"]
    # Every page of ListEndpoints, InService endpoints named with the prefix only; one metrics request.
    assert world.sent("ListEndpoints") == [
        {"NameContains": "fmft-dev-", "StatusEquals": "InService", "MaxResults": 100}
    ]
    (metrics,) = world.sent("GetMetricData")
    (query,) = metrics["MetricDataQueries"]
    assert query["MetricStat"] == {
        "Metric": {
            "Namespace": "AWS/SageMaker",
            "MetricName": "Invocations",
            "Dimensions": [{"Name": "EndpointName", "Value": STAGING}, {"Name": "VariantName", "Value": "a"}],
        },
        "Period": 3600,
        "Stat": "Sum",
    }


def test_a_busy_endpoint_is_kept_and_one_called_before_the_period_is_idle_since_that_hour(world):
    made = world.endpoint("fmft-dev-busy", OWNER, variants=("a", "b"))
    world.endpoint("fmft-dev-quiet", OWNER)
    now = later(made, 40)
    # One call on the second variant 23.5 h ago keeps the endpoint: any variant counts.
    world.invoked("fmft-dev-busy", later(now, -23.5), variant="b")
    world.invoked("fmft-dev-quiet", later(now, -30), count=5)
    result = world.run(now)
    assert [e["endpointName"] for e in result["idle"]] == ["fmft-dev-quiet"]
    (quiet,) = result["idle"]
    called = later(now, -30)
    hour_end = called.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    assert quiet["idleSince"] == hour_end.strftime("%Y-%m-%dT%H:%M:%SZ") and quiet["invocations"] == 0
    assert world.names() == ["fmft-dev-busy"]
    (metrics,) = world.sent("GetMetricData")
    assert len(metrics["MetricDataQueries"]) == 3  # two variants and one


def test_a_recently_changed_endpoint_is_kept(world):
    made = world.endpoint(STAGING, OWNER)
    result = world.run(later(made, 23.5))
    assert result == {"checked": 1, "idle": [], "errors": [], "notified": False}
    assert world.names() == [STAGING] and world.notices() == []


def test_an_idle_endpoint_of_cloudformation_is_only_reported_with_the_stack_to_destroy(world):
    made = world.endpoint("fmft-dev-llm", STACK)
    result = world.run(later(made, 24.2))
    (entry,) = result["idle"]
    assert entry["managedBy"] == "cloudformation" and entry["stackName"] == "fmft-dev-endpoints"
    assert entry["action"] == "reported"
    assert (
        "destroy the stack (npx cdk destroy -c env=dev fmft-dev-endpoints, with -c serving=<file>"
        in entry["reason"]
    )
    assert world.names() == ["fmft-dev-llm"] and world.sent("DeleteEndpoint") == []
    (notice,) = world.notices()
    assert notice["subject"] == "fmft-dev idle endpoints: 1 reported"
    assert "deleting the endpoint alone would drift it" in notice["message"]


def test_an_idle_endpoint_the_platform_did_not_make_is_only_reported(world):
    made = world.endpoint("fmft-dev-experiment", {"fmft:environment": "prod"})
    (entry,) = world.run(later(made, 30))["idle"]
    assert entry["managedBy"] == "none" and entry["action"] == "reported"
    assert entry["reason"].startswith(
        "not tagged fmft:environment=dev (not made by the platform's workflows)"
    )
    assert "aws sagemaker delete-endpoint --endpoint-name fmft-dev-experiment" in entry["reason"]
    assert world.names() == ["fmft-dev-experiment"]


def test_the_report_action_deletes_nothing(world):
    made = world.endpoint(STAGING, OWNER)
    world.endpoint("fmft-dev-llm", STACK)
    result = world.run(later(made, 72.2), idleHours=72, action="report")
    assert [(e["endpointName"], e["action"]) for e in result["idle"]] == [
        ("fmft-dev-llm", "reported"),
        (STAGING, "reported"),
    ]
    assert result["idle"][1]["reason"].startswith("action is report: if nobody needs it, aws sagemaker")
    assert world.names() == ["fmft-dev-llm", STAGING] and world.sent("DeleteEndpoint") == []
    (notice,) = world.notices()
    assert notice["subject"] == "fmft-dev idle endpoints: 2 reported"


def test_a_dry_run_deletes_nothing_and_sends_nothing(world):
    made = world.endpoint(STAGING, OWNER)
    (entry,) = world.run(later(made, 25), dry_run=True)["idle"]
    assert entry["action"] == "reported" and entry["reason"].startswith("dry run: would be deleted")
    assert world.names() == [STAGING] and world.notices() == []
    assert world.sent("DeleteEndpoint") == [] and world.sent("Publish") == []


def test_endpoints_of_other_environments_are_ignored(world):
    made = world.endpoint("fmft-prod-llm", {"fmft:environment": "prod"})
    world.endpoint("x-fmft-dev-llm", OWNER)  # holds the prefix, does not start with it
    world.endpoint("fmft-devel-llm", OWNER)
    result = world.run(later(made, 48))
    assert result == {"checked": 0, "idle": [], "errors": [], "notified": False}
    assert world.names() == ["fmft-devel-llm", "fmft-prod-llm", "x-fmft-dev-llm"]
    assert world.sent("DescribeEndpoint") == [] and world.sent("GetMetricData") == []


def test_an_error_on_one_endpoint_does_not_stop_the_others(world):
    made = world.endpoint("fmft-dev-a-staging", OWNER)
    world.endpoint("fmft-dev-b-staging", OWNER)
    # moto updates an endpoint at once, so it never refuses a delete the way AWS does during an update: the
    # Stubber gives that one DeleteEndpoint AWS's answer, every other call goes to moto.
    stubbed = boto3.client("sagemaker", region_name=REGION)
    stubber = Stubber(stubbed)
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/fmft-dev-a-staging"
    message = f"Cannot update in-progress endpoint '{arn}'."
    stubber.add_client_error(
        "delete_endpoint",
        service_error_code="ValidationException",
        service_message=message,
        expected_params={"EndpointName": "fmft-dev-a-staging"},
    )

    class FailingFirstDelete(Recording):
        def delete_endpoint(self, **params: Any) -> Any:
            self.log.append(("sagemaker", "DeleteEndpoint", params))
            target = stubbed if params["EndpointName"] == "fmft-dev-a-staging" else self.client
            return target.delete_endpoint(**params)

    with stubber:
        result = world.run(later(made, 25), sm=FailingFirstDelete(world.sm, world.log))
    stubber.assert_no_pending_responses()
    assert result["errors"] == [
        {"endpointName": "fmft-dev-a-staging", "error": f"ValidationException: {message}"}
    ]
    assert [(e["endpointName"], e["action"]) for e in result["idle"]] == [("fmft-dev-b-staging", "deleted")]
    assert world.names() == ["fmft-dev-a-staging"]
    (notice,) = world.notices()
    assert notice["subject"] == "fmft-dev idle endpoints: 1 deleted, 0 reported, 1 failed"
    assert (
        "- fmft-dev-a-staging: ValidationException: Cannot update in-progress endpoint" in notice["message"]
    )


def test_an_endpoint_that_disappears_while_looked_at_is_an_error_of_its_own(world):
    made = world.endpoint(STAGING, OWNER)
    world.endpoint("fmft-dev-gone", OWNER)

    class DeletedAfterListing(Recording):
        def list_endpoints(self, **params: Any) -> Any:
            page = Recording.__getattr__(self, "list_endpoints")(**params)
            self.client.delete_endpoint(EndpointName="fmft-dev-gone")
            return page

    result = world.run(later(made, 25), sm=DeletedAfterListing(world.sm, world.log))
    (error,) = result["errors"]
    assert error["endpointName"] == "fmft-dev-gone" and error["error"].startswith(
        "ValidationException: Could not"
    )
    assert [e["endpointName"] for e in result["idle"]] == [STAGING] and result["checked"] == 2


def test_an_endpoint_idle_for_days_is_mailed_when_it_becomes_idle_then_once_a_day(world):
    made = world.endpoint("fmft-dev-llm", STACK)
    first = later(made, 24 + 10 / 60)
    assert world.run(first)["idle"][0]["newlyIdle"] is True
    assert len(world.notices()) == 1
    # A run later it is still idle: in the summary, not mailed again. moto stamps the endpoint with the real
    # clock, so when the next hour is the 08:00 reminder's (a test run at about 07:00 UTC), the one after it.
    following = later(first, 1)
    if following.hour == reaper.REMINDER_HOUR_UTC:
        following = later(first, 2)
    again = world.run(following)
    assert again["idle"][0]["newlyIdle"] is False and again["notified"] is False
    assert world.notices() == []
    # The run in the hour after 08:00 UTC reminds of it.
    reminder = later(first, 2).replace(hour=8, minute=5)
    if reminder < later(first, 2):
        reminder += dt.timedelta(days=1)
    result = world.run(reminder)
    assert result["notified"] is True and result["idle"][0]["newlyIdle"] is False
    (notice,) = world.notices()
    assert "- fmft-dev-llm (still idle, idle since " in notice["message"]
    assert world.run(later(reminder, 1))["notified"] is False


def test_bad_settings_are_refused_naming_each_key(world):
    bad = world.cfg | {
        "idleHours": 0,
        "action": "stop",
        "namePrefix": "fmft-",
        "ownerTag": {"key": "fmft:environment"},
        "extra": 1,
    }
    with pytest.raises(IdleEndpointsError) as raised:
        reaper.check_settings(bad)
    message = str(raised.value)
    assert (
        "FMFT_IDLE_ENDPOINT_SETTINGS.idleHours: got 0; allowed: a whole number of hours from 1 to 720"
        in message
    )
    assert "FMFT_IDLE_ENDPOINT_SETTINGS.action: got 'stop'; allowed: delete or report" in message
    assert "FMFT_IDLE_ENDPOINT_SETTINGS.namePrefix: got 'fmft-'; allowed: a prefix ending in -dev-" in message
    assert "FMFT_IDLE_ENDPOINT_SETTINGS.ownerTag: got {'key': 'fmft:environment'}" in message
    assert "FMFT_IDLE_ENDPOINT_SETTINGS: unknown keys extra" in message
    for key in ("environment", "topicArn", "runEveryHours"):
        without = {k: v for k, v in world.cfg.items() if k != key}
        with pytest.raises(
            IdleEndpointsError, match=re.escape(f"FMFT_IDLE_ENDPOINT_SETTINGS.{key}: got None")
        ):
            reaper.check_settings(without)
    with pytest.raises(IdleEndpointsError, match="allowed: a JSON object"):
        reaper.check_settings([])


def test_metric_queries_go_500_a_request_and_every_page_is_read():
    # moto returns every datapoint at once, never a NextToken: the Stubber gives the pages AWS would.
    cw = boto3.client("cloudwatch", region_name=REGION)
    log: list[tuple[str, str, dict[str, Any]]] = []
    stubber = Stubber(cw)
    now = dt.datetime(2026, 11, 29, 10, 30, tzinfo=dt.UTC)
    hour = lambda h: now.replace(minute=0) - dt.timedelta(hours=h)  # noqa: E731
    endpoints = [
        reaper.Endpoint(
            f"fmft-dev-e{i}", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/fmft-dev-e{i}", now, "c", ("a",)
        )
        for i in range(501)
    ]
    pages = [
        (
            {
                "MetricDataResults": [{"Id": "q0", "Timestamps": [hour(1)], "Values": [2.0]}],
                "NextToken": "page2",
            }
        ),
        ({"MetricDataResults": [{"Id": "q0", "Timestamps": [hour(30)], "Values": [1.0]}]}),
        ({"MetricDataResults": [{"Id": "q0", "Timestamps": [hour(40)], "Values": [4.0]}]}),
    ]
    for page in pages:
        stubber.add_response("get_metric_data", page)
    with stubber:
        calls = reaper.invocations(Recording(cw, log), endpoints, hour(400), hour(-1), later(now, -24))
    stubber.assert_no_pending_responses()
    sizes = [(len(p["MetricDataQueries"]), p.get("NextToken")) for _, _, p in log]
    assert sizes == [(500, None), (500, "page2"), (1, None)]
    assert calls["fmft-dev-e0"] == reaper.Calls(in_window=2.0, last_active=hour(0))
    assert calls["fmft-dev-e500"] == reaper.Calls(in_window=0.0, last_active=hour(39))
    assert calls["fmft-dev-e1"] == reaper.Calls(in_window=0.0, last_active=None)
    assert api_violations(log, "idle-endpoints") == []


def test_the_limits_agree_with_the_construct():
    source = (REPO / "lib" / "constructs" / "idle-endpoint-reaper.ts").read_text(encoding="utf-8")
    assert int(re.search(r"export const MAX_IDLE_HOURS = (\d+);", source)[1]) == reaper.MAX_IDLE_HOURS
    assert f"'{reaper.STACK_TAG}'" in source


def test_the_subject_fits_sns(world):
    cfg = world.cfg | {"namePrefix": "a" * 55 + "-dev-"}
    summary = {"checked": 1, "idle": [], "errors": [{"endpointName": "x", "error": "e"}] * 3}
    subject, _ = reaper.notice(cfg, summary, dt.datetime.now(dt.UTC))
    assert len(subject) <= 100


# ------------------------------------------------------------------------------------------ handler, command


def test_the_handler_reads_its_settings_and_makes_its_clients(world, monkeypatch):
    world.endpoint("fmft-dev-new", OWNER)
    monkeypatch.setenv(reaper.SETTINGS_ENV, json.dumps(world.cfg))
    assert reaper.handler({"source": "aws.events"}) == {
        "checked": 1,
        "idle": [],
        "errors": [],
        "notified": False,
    }
    monkeypatch.setenv(reaper.SETTINGS_ENV, "{")
    with pytest.raises(
        IdleEndpointsError, match=re.escape("FMFT_IDLE_ENDPOINT_SETTINGS: got '{'; allowed: JSON")
    ):
        reaper.handler({})


def cli(world: World, *args: str, settings: str | None = None) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        reaper.SETTINGS_ENV: settings if settings is not None else json.dumps(world.cfg),
    }
    return subprocess.run(
        [sys.executable, "-m", "training.cost.idle_endpoints", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def age(name: str, hours: float) -> None:
    """Move an endpoint's LastModifiedTime back in moto's backend (the server runs in this process): the
    command runs on the real clock, and moto's API makes every endpoint "now"."""
    from moto.backends import get_backend

    endpoint = get_backend("sagemaker")[ACCOUNT][REGION].endpoints[name]
    endpoint.last_modified_time -= dt.timedelta(hours=hours)


def test_the_command_runs_the_same_and_its_dry_run_only_reports(world):
    world.endpoint(STAGING, OWNER)
    age(STAGING, 2)
    settings = json.dumps(world.cfg | {"idleHours": 1})
    dry = cli(world, "--dry-run", settings=settings)
    assert dry.returncode == 0, dry.stderr
    (entry,) = json.loads(dry.stdout)["idle"]
    assert entry["action"] == "reported" and entry["reason"].startswith("dry run: would be deleted")
    assert world.names() == [STAGING] and world.notices() == []

    done = cli(world, settings=settings)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert [e["action"] for e in summary["idle"]] == ["deleted"] and summary["notified"] is True
    assert world.names() == [] and len(world.notices()) == 1

    bad = cli(world, "--dry-run", settings=json.dumps(world.cfg | {"action": "delete-all"}))
    assert bad.returncode == 2
    assert "FMFT_IDLE_ENDPOINT_SETTINGS.action: got 'delete-all'; allowed: delete or report" in bad.stderr
