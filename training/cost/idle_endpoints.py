"""Deletes or reports the environment's SageMaker endpoints that nobody has called for ``idleHours``.

Lambda handler ``training.cost.idle_endpoints.handler``, run every ``runEveryHours`` by a rule of the
monitoring stack when the environment's config sets ``cost.idleEndpoints``. The same by hand, with your own
credentials and the function's settings: ``python -m training.cost.idle_endpoints [--dry-run]`` (a dry run
deletes nothing and sends no notice). JSON on stdout; exit status 0 done, 1 an endpoint failed or an AWS
error, 2 bad settings.

Settings come from ``FMFT_IDLE_ENDPOINT_SETTINGS`` (JSON written by the CDK construct)::

    {"environment": "dev", "namePrefix": "fmft-dev-", "idleHours": 1..720, "action": "delete" | "report",
     "runEveryHours": 1..24, "ownerTag": {"key": "fmft:environment", "value": "dev"}, "topicArn"}

Every key is checked when the settings are read (an unknown key is an error; ``namePrefix`` must end with
``-<environment>-``); one ``IdleEndpointsError`` lists every problem.

Each run:

1. **The environment's endpoints.** ListEndpoints (``NameContains`` the prefix, ``InService`` only, every
   page), keeping the names that start with the prefix (``fmft-dev-`` never matches ``fmft-prod-...`` or
   ``x-fmft-dev-...``). DescribeEndpoint gives each one's variants, ``LastModifiedTime`` and
   ``EndpointConfigName``.
2. **Its calls.** GetMetricData for every variant at once (500 queries a request, the API's limit; every
   page): ``AWS/SageMaker`` ``Invocations`` (``EndpointName``, ``VariantName``), Sum per whole UTC hour, over
   the last ``idleHours`` plus two hours, or 14 days when that is longer (to say since when an endpoint is
   idle). An endpoint is **idle** when its variants had no invocation in the hours that overlap the last
   ``idleHours`` and it was not changed (``LastModifiedTime``) in that time either: a new or updated endpoint
   gets the full period. ``idleSince`` is the later of the end of the last hour with an invocation and
   ``LastModifiedTime``; it is left out when neither falls in the time looked at.
3. **What is done with an idle endpoint.** One that CloudFormation manages (ListTags: it carries
   ``aws:cloudformation:stack-name``, as the endpoints stack's do) is reported with the stack to destroy,
   never deleted: deleting the endpoint alone would leave the stack drifted. With ``action`` ``delete``, one
   the platform's workflows made (tagged ``ownerTag``: the promotion workflow's staging endpoint) is deleted
   (DeleteEndpoint; IAM, too, admits only endpoints with that tag and without the CloudFormation one). Its
   endpoint configuration and models are kept, not deleted: the summary and the notice name the
   configuration (the staging deployment names its model the same) for people to delete when they no longer
   need them, and the promotion workflow makes the endpoint again when it next validates a version. Every
   other idle endpoint, and every one under ``action`` ``report``, is reported.
4. **Notice.** One SNS notice to ``topicArn`` per run, a line per idle endpoint, when an endpoint was
   deleted, became idle since the last run (its ``idleSince`` crossed ``idleHours`` in the last
   ``runEveryHours``) or failed; and once a day, in the run that starts within ``runEveryHours`` after 08:00
   UTC, a reminder of every endpoint still idle. So an endpoint idle for a week is mailed once, then daily,
   not every hour. A failed publish is logged; it never fails the run.

What ``Invocations`` counts: the requests SageMaker routes to a production variant (InvokeEndpoint and its
streaming form), summed over the endpoint's variants. An endpoint of inference components has one variant and
is counted the same way, by that variant's ``Invocations``; the per-component metric
(``InferenceComponentName``) is not read. (Were its requests published per component only, such an endpoint
would look idle: the platform's is the endpoints stack's, so it would only be reported.) Not counted: requests
SageMaker refuses before they reach a variant (throttled, unauthorized, malformed), shadow variants (they
mirror production traffic), and anything that is not an invocation (monitoring jobs reading the captured
data, people describing the endpoint).

The handler returns (and logs) ``{"checked", "idle": [{"endpointName", "invocations", "idleSince"?,
"lastModified", "managedBy": "cloudformation" | "platform" | "none", "stackName"?, "endpointConfigName",
"action": "deleted" | "reported", "reason", "newlyIdle"}], "errors": [{"endpointName", "error"}],
"notified"}``. An AWS error on one endpoint (DescribeEndpoint, ListTags, DeleteEndpoint) is recorded in
``errors`` and the others go on; an error of ListEndpoints or GetMetricData fails the run (the function's
dead-letter queue, whose alarm notifies).

Standard library and the Lambda runtime's boto3 only (imported when called).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import re
import sys
from collections.abc import Iterable
from typing import Any

from training.common.args import parse_into
from training.common.names import ENVIRONMENT_NAME

SETTINGS_ENV = "FMFT_IDLE_ENDPOINT_SETTINGS"
ACTIONS = ("delete", "report")
MAX_IDLE_HOURS = 720
MAX_RUN_EVERY_HOURS = 24
NAMESPACE, METRIC = "AWS/SageMaker", "Invocations"
HOUR = dt.timedelta(hours=1)
HISTORY = dt.timedelta(days=14)
# GetMetricData takes at most 500 MetricDataQuery structures a request (CloudWatch API Reference).
MAX_QUERIES = 500
REMINDER_HOUR_UTC = 8
STACK_TAG = "aws:cloudformation:stack-name"
LISTED_NOTICE_LINES = 50

ENVIRONMENT = ENVIRONMENT_NAME
# EndpointNameContains (botocore: [a-zA-Z0-9-]+), as a name's start: endpoint-name characters and a final -.
NAME_PREFIX = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,60}-")
TAG_KEY = re.compile(r"[\w.:/=+\-@]{1,128}")
TAG_VALUE = re.compile(r"[\w.:/=+\-@ ]{0,256}")
TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?")


class IdleEndpointsError(Exception):
    """Settings the reaper refuses; the message names each key, the value and what is allowed."""


# ------------------------------------------------------------------------------------------------- settings


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _matches(pattern: re.Pattern[str]) -> Any:
    return lambda v: isinstance(v, str) and pattern.fullmatch(v) is not None


_RULES: dict[str, tuple[Any, str]] = {
    "environment": (_matches(ENVIRONMENT), "an environment name: 2-10 lower-case letters and digits"),
    "namePrefix": (_matches(NAME_PREFIX), "the environment's endpoint name prefix, e.g. fmft-dev-"),
    "idleHours": (
        lambda v: _whole(v, 1, MAX_IDLE_HOURS),
        f"a whole number of hours from 1 to {MAX_IDLE_HOURS}",
    ),
    "action": (lambda v: v in ACTIONS, " or ".join(ACTIONS)),
    "runEveryHours": (
        lambda v: _whole(v, 1, MAX_RUN_EVERY_HOURS),
        f"a whole number of hours from 1 to {MAX_RUN_EVERY_HOURS} (the schedule's rate)",
    ),
    "ownerTag": (
        lambda v: (
            isinstance(v, dict)
            and set(v) == {"key", "value"}
            and _matches(TAG_KEY)(v["key"])
            and _matches(TAG_VALUE)(v["value"])
        ),
        '{"key", "value"}: the tag the platform\'s workflows put on what they make',
    ),
    "topicArn": (_matches(TOPIC_ARN), "an SNS topic ARN"),
}


def check_settings(cfg: Any) -> dict[str, Any]:
    """The settings as given; every problem in one IdleEndpointsError."""
    if not isinstance(cfg, dict):
        raise IdleEndpointsError(
            f"{SETTINGS_ENV}: got {cfg!r:.200}; allowed: a JSON object (the stack writes it)"
        )
    problems = [
        f"{SETTINGS_ENV}.{key}: got {cfg.get(key)!r:.200}; allowed: {allowed}"
        for key, (test, allowed) in _RULES.items()
        if not test(cfg.get(key))
    ]
    unknown = sorted(set(cfg) - set(_RULES))
    if unknown:
        problems.append(f"{SETTINGS_ENV}: unknown keys {', '.join(unknown)}; allowed: {', '.join(_RULES)}")
    env, prefix = cfg.get("environment"), cfg.get("namePrefix")
    if isinstance(env, str) and isinstance(prefix, str) and not prefix.endswith(f"-{env}-"):
        problems.append(
            f"{SETTINGS_ENV}.namePrefix: got {prefix!r}; allowed: a prefix ending in -{env}- (the "
            "environment's own endpoints, never another environment's)"
        )
    if problems:
        raise IdleEndpointsError("invalid settings:\n- " + "\n- ".join(problems))
    return cfg


def settings() -> dict[str, Any]:
    raw = os.environ.get(SETTINGS_ENV)
    if raw is None:
        raise IdleEndpointsError(f"{SETTINGS_ENV}: not set; allowed: the JSON the monitoring stack writes")
    try:
        cfg = json.loads(raw)
    except ValueError:
        raise IdleEndpointsError(
            f"{SETTINGS_ENV}: got {raw!r:.200}; allowed: JSON (the stack writes it)"
        ) from None
    return check_settings(cfg)


# ---------------------------------------------------------------------------------------------- endpoints


@dataclasses.dataclass(frozen=True)
class Endpoint:
    name: str
    arn: str
    last_modified: dt.datetime
    config_name: str
    variants: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Calls:
    """An endpoint's invocations in the idle window, and the end of the last hour that had any (or None)."""

    in_window: float
    last_active: dt.datetime | None


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _error(error: Exception) -> str:
    response = getattr(error, "response", None)
    details = (response or {}).get("Error") if isinstance(response, dict) else None
    if isinstance(details, dict) and details.get("Code"):
        message = " ".join(str(details.get("Message") or "").split())
        return f"{details['Code']}: {message}"
    return f"{type(error).__name__}: {error}"


def environment_endpoints(sm: Any, prefix: str) -> list[str]:
    """Names of the InService endpoints that start with ``prefix``, every page of ListEndpoints."""
    names, token = [], None
    while True:
        page = sm.list_endpoints(
            NameContains=prefix,
            StatusEquals="InService",
            MaxResults=100,
            **({"NextToken": token} if token else {}),
        )
        names += [
            e["EndpointName"] for e in page.get("Endpoints", []) if e["EndpointName"].startswith(prefix)
        ]
        token = page.get("NextToken")
        if not token:
            return sorted(names)


def describe(sm: Any, name: str) -> Endpoint:
    found = sm.describe_endpoint(EndpointName=name)
    variants = tuple(v["VariantName"] for v in found.get("ProductionVariants") or [])
    if not variants:
        raise ValueError(f"{name}: DescribeEndpoint shows no production variant to count invocations of")
    return Endpoint(
        name=name,
        arn=found["EndpointArn"],
        last_modified=_aware(found["LastModifiedTime"]),
        config_name=found.get("EndpointConfigName", ""),
        variants=variants,
    )


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def invocations(
    cw: Any, endpoints: list[Endpoint], start: dt.datetime, end: dt.datetime, window_start: dt.datetime
) -> dict[str, Calls]:
    """Hourly ``Invocations`` sums of every variant from ``start`` to ``end`` (whole hours), per endpoint: the
    sum of the hours that overlap ``[window_start, end)`` and the end of the last hour with any."""
    queries = [(e.name, v) for e in endpoints for v in e.variants]
    points: dict[str, list[tuple[dt.datetime, float]]] = {e.name: [] for e in endpoints}
    for batch in _chunks(queries, MAX_QUERIES):
        ids = {f"q{i}": endpoint for i, (endpoint, _) in enumerate(batch)}
        request = {
            "MetricDataQueries": [
                {
                    "Id": f"q{i}",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": NAMESPACE,
                            "MetricName": METRIC,
                            "Dimensions": [
                                {"Name": "EndpointName", "Value": endpoint},
                                {"Name": "VariantName", "Value": variant},
                            ],
                        },
                        "Period": int(HOUR.total_seconds()),
                        "Stat": "Sum",
                    },
                    "ReturnData": True,
                }
                for i, (endpoint, variant) in enumerate(batch)
            ],
            "StartTime": _iso(start),
            "EndTime": _iso(end),
            "ScanBy": "TimestampDescending",
        }
        token = None
        while True:
            page = cw.get_metric_data(**request, **({"NextToken": token} if token else {}))
            for result in page.get("MetricDataResults", []):
                stamps, values = result.get("Timestamps", []), result.get("Values", [])
                points[ids[result["Id"]]].extend(
                    (_aware(t), float(v)) for t, v in zip(stamps, values, strict=True)
                )
            token = page.get("NextToken")
            if not token:
                break
    calls = {}
    for name, series in points.items():
        busy = [t + HOUR for t, v in series if v > 0]
        calls[name] = Calls(
            in_window=sum(v for t, v in series if t + HOUR > window_start),
            last_active=max(busy, default=None),
        )
    return calls


def list_tags(sm: Any, arn: str) -> dict[str, str]:
    tags, token = {}, None
    while True:
        page = sm.list_tags(ResourceArn=arn, MaxResults=100, **({"NextToken": token} if token else {}))
        tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
        token = page.get("NextToken")
        if not token:
            return tags


# ------------------------------------------------------------------------------------------------- the run


def destroy_command(cfg: dict[str, Any], stack: str) -> str:
    return f"npx cdk destroy -c env={cfg['environment']} {stack}"


def judge(
    endpoint: Endpoint,
    calls: Calls,
    cfg: dict[str, Any],
    sm: Any,
    now: dt.datetime,
    looked_from: dt.datetime,
    dry_run: bool,
) -> dict[str, Any] | None:
    """What happens to one endpoint: None when it is in use, else its summary entry (after any delete).
    ``looked_from``: the start of the metrics read; an idle time that began before it is not known."""
    window_start = now - dt.timedelta(hours=cfg["idleHours"])
    if calls.in_window > 0 or endpoint.last_modified > window_start:
        return None
    since = max([endpoint.last_modified, *([calls.last_active] if calls.last_active else [])])
    known = since >= looked_from
    entry: dict[str, Any] = {
        "endpointName": endpoint.name,
        "invocations": int(calls.in_window),
        **({"idleSince": _iso(since)} if known else {}),
        "lastModified": _iso(endpoint.last_modified),
        "endpointConfigName": endpoint.config_name,
        "newlyIdle": known and since > window_start - dt.timedelta(hours=cfg["runEveryHours"]),
    }
    tags = list_tags(sm, endpoint.arn)
    stack = tags.get(STACK_TAG)
    owner = cfg["ownerTag"]
    if stack:
        return entry | {
            "managedBy": "cloudformation",
            "stackName": stack,
            "action": "reported",
            "reason": f"managed by CloudFormation stack {stack}: destroy the stack "
            f"({destroy_command(cfg, stack)}, with -c serving=<file> if it was deployed with one); deleting "
            "the endpoint alone would drift it",
        }
    managed_by = "platform" if tags.get(owner["key"]) == owner["value"] else "none"
    entry["managedBy"] = managed_by
    keep = f"kept its endpoint configuration {endpoint.config_name} and the models it names"
    by_hand = f"aws sagemaker delete-endpoint --endpoint-name {endpoint.name}"
    if managed_by == "none":
        why = (
            f"not tagged {owner['key']}={owner['value']} (not made by the platform's workflows), so never "
            f"deleted here: if nobody needs it, {by_hand}"
        )
        return entry | {"action": "reported", "reason": why}
    if cfg["action"] == "report":
        return entry | {"action": "reported", "reason": f"action is report: if nobody needs it, {by_hand}"}
    if dry_run:
        return entry | {"action": "reported", "reason": f"dry run: would be deleted ({keep})"}
    sm.delete_endpoint(EndpointName=endpoint.name)
    return entry | {"action": "deleted", "reason": f"deleted; {keep}"}


def reap(
    cfg: dict[str, Any], sm: Any, cw: Any, sns: Any, now: dt.datetime, dry_run: bool = False
) -> dict[str, Any]:
    """One run (the handler with its settings, clients and clock given). Returns the summary."""
    now = now.astimezone(dt.UTC)
    idle_for = dt.timedelta(hours=cfg["idleHours"])
    end = now.replace(minute=0, second=0, microsecond=0) + HOUR
    start = end - max(HISTORY, idle_for + 2 * HOUR)
    names = environment_endpoints(sm, cfg["namePrefix"])
    errors: list[dict[str, str]] = []
    endpoints: list[Endpoint] = []
    for name in names:
        try:
            endpoints.append(describe(sm, name))
        except Exception as error:
            errors.append({"endpointName": name, "error": _error(error)})
    calls = invocations(cw, endpoints, start, end, now - idle_for)
    idle: list[dict[str, Any]] = []
    for endpoint in endpoints:
        try:
            entry = judge(endpoint, calls[endpoint.name], cfg, sm, now, start, dry_run)
        except Exception as error:
            errors.append({"endpointName": endpoint.name, "error": _error(error)})
            continue
        if entry is not None:
            idle.append(entry)
    summary: dict[str, Any] = {"checked": len(names), "idle": idle, "errors": errors, "notified": False}
    if not dry_run and should_notify(summary, cfg, now):
        summary["notified"] = notify(sns, cfg, summary, now)
    return summary


def should_notify(summary: dict[str, Any], cfg: dict[str, Any], now: dt.datetime) -> bool:
    """Something changed (deleted, newly idle, failed), or it is the daily reminder's run and any is idle."""
    idle = summary["idle"]
    if summary["errors"] or any(e["action"] == "deleted" or e["newlyIdle"] for e in idle):
        return True
    reminder = now.replace(hour=REMINDER_HOUR_UTC, minute=0, second=0, microsecond=0)
    return bool(idle) and reminder <= now < reminder + dt.timedelta(hours=cfg["runEveryHours"])


def notice(cfg: dict[str, Any], summary: dict[str, Any], now: dt.datetime) -> tuple[str, str]:
    """Subject (at most 100 characters) and text of the run's notice."""
    idle, errors = summary["idle"], summary["errors"]
    deleted = sum(e["action"] == "deleted" for e in idle)
    parts = [f"{deleted} deleted"] if deleted else []
    parts.append(f"{len(idle) - deleted} reported")
    if errors:
        parts.append(f"{len(errors)} failed")
    subject = f"{cfg['namePrefix'].rstrip('-')} idle endpoints: {', '.join(parts)}"[:100]
    lines = [
        f"Endpoints named {cfg['namePrefix']}* with no invocation for {cfg['idleHours']} h and no change in "
        f"that time ({summary['checked']} checked at {_iso(now)}):",
    ]
    for e in idle[:LISTED_NOTICE_LINES]:
        since = f"idle since {e['idleSince']}" if "idleSince" in e else "idle all the time looked at"
        state = "newly idle" if e["newlyIdle"] else "still idle"
        lines.append(f"- {e['endpointName']} ({state}, {since}): {e['reason']}")
    if len(idle) > LISTED_NOTICE_LINES:
        lines.append(f"... and {len(idle) - LISTED_NOTICE_LINES} more (the function's log has them all)")
    if deleted:
        lines.append(
            "Deleted endpoints' configurations and models are kept: `aws sagemaker "
            "describe-endpoint-config --endpoint-config-name <name>` names the models; "
            "delete-endpoint-config and delete-model remove them."
        )
    if errors:
        lines.append("Not judged (an AWS error; the next run tries again):")
        lines += [f"- {e['endpointName']}: {e['error']}" for e in errors[:LISTED_NOTICE_LINES]]
    return subject, "\n".join(lines)


def notify(sns: Any, cfg: dict[str, Any], summary: dict[str, Any], now: dt.datetime) -> bool:
    """Publish the run's notice; a failure is logged, never raised."""
    subject, text = notice(cfg, summary, now)
    try:
        sns.publish(TopicArn=cfg["topicArn"], Subject=subject, Message=text[:200_000])
    except Exception as error:
        print(json.dumps({"notifyError": _error(error)}))
        return False
    return True


def _clients() -> tuple[Any, Any, Any]:
    import boto3  # the Lambda runtime's
    from botocore.config import Config

    retries = Config(retries={"max_attempts": 8, "mode": "adaptive"})
    sm, cw, sns = (boto3.client(s, config=retries) for s in ("sagemaker", "cloudwatch", "sns"))
    return sm, cw, sns


def handler(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    summary = reap(settings(), *_clients(), now=dt.datetime.now(dt.UTC))
    print(json.dumps(summary))
    return summary


# ------------------------------------------------------------------------------------------------- command


@dataclasses.dataclass
class IdleEndpointsArgs:
    """Look for idle endpoints of the environment as the hourly function does: delete or report them and
    notify. Settings: FMFT_IDLE_ENDPOINT_SETTINGS, the JSON in the function's environment."""

    dry_run: bool = dataclasses.field(
        default=False, metadata={"help": "Delete nothing and send no notice; print what would be done"}
    )


def main(argv: list[str] | None = None) -> int:
    prog = "python -m training.cost.idle_endpoints"
    args = parse_into(IdleEndpointsArgs, sys.argv[1:] if argv is None else argv, prog=prog)
    try:
        cfg = settings()
    except IdleEndpointsError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        with contextlib.redirect_stdout(sys.stderr):  # log lines; stdout gets the summary only
            summary = reap(cfg, *_clients(), now=dt.datetime.now(dt.UTC), dry_run=args.dry_run)
    except (ClientError, BotoCoreError) as error:
        print(f"{prog}: AWS error: {_error(error)}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
