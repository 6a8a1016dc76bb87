"""What an environment's runs cost, by pipeline execution, instance type and model version (Cost Explorer),
and the spot savings of each of its training jobs, from SageMaker.

    python -m training.cost report --environment dev --start 2026-11-01 --end 2026-12-01 [--json]

1. **Costs.** GetCostAndUsage (every page, ``NextPageToken``): ``UnblendedCost``, ``DAILY`` or ``MONTHLY``,
   filtered on the tag ``fmft:environment`` = the environment, grouped by the tag ``fmft:execution`` (the
   pipeline execution id or state machine execution name every job carries: lib/config/cost-tags.ts) and by
   the dimension ``INSTANCE_TYPE`` (``--group-by usage-type``: ``USAGE_TYPE``, which also tells training,
   processing and hosting apart). Cost Explorer has no per-job dimension: a training job's cost is inside its
   execution's row for its instance type.
2. **Model versions.** ListModelPackages of the group (``<prefix>-<env>-fine-tuning-models``: what
   SageMakerFineTuningPipeline names it) created since ``--start``, and DescribeModelPackage of each: the
   pipeline registers every version with ``CustomerMetadataProperties.pipeline_execution`` = its execution id
   (the lineage of lib/pipeline/fine-tuning-pipeline.ts), the same value as the ``fmft:execution`` tag of the
   execution's jobs.
3. **Spot savings.** ListTrainingJobs created in the period (every page), ListTags of each: the environment's
   are the jobs tagged ``fmft:environment`` = the environment, or untagged and named ``<prefix>-<env>-...``
   (the pipeline names its jobs ``pipelines-...``, so the tag decides for them). DescribeTrainingJob of those:
   savings = 1 - ``BillableTimeInSeconds`` / ``TrainingTimeInSeconds``, the formula of the DescribeTrainingJob
   API reference (what the SageMaker console shows); billable instance-hours = ``BillableTimeInSeconds`` x the
   instance count / 3600.

Period rules (Cost Explorer's): dates ``YYYY-MM-DD`` (UTC), the end exclusive, the start before the end; the
API keeps the current month and the 13 months before it ("Best practices for the AWS Cost Explorer API", AWS
Cost Management user guide), so the start is no earlier than the first day of the month 13 months back; costs
exist up to today, so the end is no later than tomorrow. Default: the current month up to today.

Exit status 0 done; 1 an AWS error (the operation named); 2 a bad option (one line naming it, the value and
what is allowed). Needs ``ce:GetCostAndUsage`` and ``sagemaker:ListTrainingJobs``, ``ListTags``,
``DescribeTrainingJob``, ``ListModelPackages``, ``DescribeModelPackage``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import defaultdict
from decimal import Decimal
from typing import Any

from training.common.args import UsageError
from training.common.names import BUCKET_NAME_PREFIX
from training.cost.cli import (
    COST_TAG_KEYS,
    ENVIRONMENT,
    ENVIRONMENT_RULE,
    REGION,
    CostError,
    call,
    print_json,
    table,
)

METRIC = "UnblendedCost"
GRANULARITIES = ("MONTHLY", "DAILY")
GROUP_BY = {"instance-type": "INSTANCE_TYPE", "usage-type": "USAGE_TYPE"}
# Cost Explorer keeps the current month and the 13 months before it (Cost Explorer API best practices).
HISTORY_MONTHS = 13
# StartCostAllocationTagBackfill: "Dates can't precede the previous twelve months" (Cost Explorer API
# reference).
BACKFILL_MONTHS = 12
# The pipeline's lineage key holding the execution id (lib/pipeline/fine-tuning-pipeline.ts, `lineage`).
EXECUTION_KEY = "pipeline_execution"
DEFAULT_PREFIX = "fmft"
# Cost Explorer's endpoint is in us-east-1 (https://ce.us-east-1.amazonaws.com, the Cost Explorer API
# reference).
CE_REGION = "us-east-1"
NO_EXECUTION = "(no execution tag)"
# storage.bucketNamePrefix (lib/config/environment-config.ts) and a model package group name (botocore's
# pattern).
_PREFIX = BUCKET_NAME_PREFIX
_GROUP = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")


@dataclasses.dataclass
class ReportArgs:
    """Cost by pipeline execution, instance type and model version (Cost Explorer); spot savings per job."""

    environment: str = dataclasses.field(
        metadata={"help": "The environment (its fmft:environment tag), e.g. dev"}
    )
    start: str | None = dataclasses.field(
        default=None, metadata={"help": "First day, YYYY-MM-DD (UTC) (default: the first day of this month)"}
    )
    end: str | None = dataclasses.field(
        default=None, metadata={"help": "Day after the last one, YYYY-MM-DD, exclusive (default: tomorrow)"}
    )
    granularity: str = dataclasses.field(
        default="MONTHLY", metadata={"help": "Cost Explorer's periods", "choices": GRANULARITIES}
    )
    group_by: str = dataclasses.field(
        default="instance-type",
        metadata={"help": "Second grouping after the execution", "choices": tuple(GROUP_BY)},
    )
    region: str | None = dataclasses.field(
        default=None,
        metadata={"help": "Region of the SageMaker jobs and registry (default: your AWS config's)"},
    )
    resource_prefix: str = dataclasses.field(
        default=DEFAULT_PREFIX,
        metadata={"help": "The config's storage.bucketNamePrefix, which names resources"},
    )
    model_package_group: str | None = dataclasses.field(
        default=None,
        metadata={"help": "Model package group (default: <prefix>-<environment>-fine-tuning-models)"},
    )
    json: bool = dataclasses.field(default=False, metadata={"help": "Print JSON instead of tables"})


@dataclasses.dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # exclusive


# ------------------------------------------------------------------------------------------------ arguments


def _date(flag: str, value: str) -> dt.date:
    try:
        if len(value) != 10:
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{flag} {value}: allowed: a date YYYY-MM-DD") from None


def _months_back(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


def earliest_start(today: dt.date) -> dt.date:
    return _months_back(today, HISTORY_MONTHS)


def check_period(start: str | None, end: str | None, today: dt.date) -> Period:
    first = _date("--start", start) if start is not None else today.replace(day=1)
    last = _date("--end", end) if end is not None else today + dt.timedelta(days=1)
    if first >= last:
        raise UsageError(
            f"--start {first}, --end {last}: allowed: a start before the end (the end is exclusive)"
        )
    oldest = earliest_start(today)
    if first < oldest:
        raise UsageError(
            f"--start {first}: allowed: {oldest} or later (Cost Explorer keeps this month and the "
            f"{HISTORY_MONTHS} before it)"
        )
    latest = today + dt.timedelta(days=1)
    if last > latest:
        raise UsageError(
            f"--end {last}: allowed: {latest} or earlier (costs exist up to today, UTC; the end is exclusive)"
        )
    return Period(first, last)


def check_names(args: ReportArgs) -> tuple[str, str]:
    """(training job name prefix, model package group) of the environment."""
    if not ENVIRONMENT.fullmatch(args.environment):
        raise UsageError(f"--environment {args.environment}: allowed: {ENVIRONMENT_RULE}")
    if not _PREFIX.fullmatch(args.resource_prefix):
        raise UsageError(
            f"--resource-prefix {args.resource_prefix}: "
            "allowed: lower-case letters, digits and single hyphens"
        )
    group = args.model_package_group or f"{args.resource_prefix}-{args.environment}-fine-tuning-models"
    if not _GROUP.fullmatch(group):
        raise UsageError(
            f"--model-package-group {group}: allowed: a model package group name (1-63 characters)"
        )
    return f"{args.resource_prefix}-{args.environment}-", group


def region_of(flag_value: str | None) -> str:
    region = flag_value
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


# -------------------------------------------------------------------------------------------- Cost Explorer


def cost_request(environment: str, period: Period, granularity: str, group_by: str) -> dict[str, Any]:
    """The GetCostAndUsage request (every page repeats it with NextPageToken)."""
    return {
        "TimePeriod": {"Start": period.start.isoformat(), "End": period.end.isoformat()},
        "Granularity": granularity,
        "Metrics": [METRIC],
        "Filter": {
            "Tags": {"Key": COST_TAG_KEYS["environment"], "Values": [environment], "MatchOptions": ["EQUALS"]}
        },
        "GroupBy": [
            {"Type": "TAG", "Key": COST_TAG_KEYS["execution"]},
            {"Type": "DIMENSION", "Key": GROUP_BY[group_by]},
        ],
    }


def cost_results(ce: Any, request: dict[str, Any]) -> list[dict[str, Any]]:
    """ResultsByTime of every page."""
    results, token = [], None
    while True:
        page = call(ce, "get_cost_and_usage", **request, **({"NextPageToken": token} if token else {}))
        results += page.get("ResultsByTime", [])
        token = page.get("NextPageToken")
        if not token:
            return results


@dataclasses.dataclass
class Costs:
    unit: str | None
    by_group: dict[tuple[str | None, str | None], Decimal]  # (execution, instance or usage type) -> amount
    by_period: list[dict[str, Any]]


def summarize(results: list[dict[str, Any]]) -> Costs:
    """Sum the groups of every period (pages may repeat a period with further groups)."""
    by_group: dict[tuple[str | None, str | None], Decimal] = defaultdict(Decimal)
    periods: dict[tuple[str, str], dict[str, Any]] = {}
    units: set[str] = set()
    for result in results:
        span = result.get("TimePeriod") or {}
        key = (span.get("Start", ""), span.get("End", ""))
        period = periods.setdefault(
            key, {"start": key[0], "end": key[1], "estimated": False, "cost": Decimal(0)}
        )
        period["estimated"] = period["estimated"] or bool(result.get("Estimated"))
        for group in result.get("Groups", []):
            metric = (group.get("Metrics") or {}).get(METRIC) or {}
            amount = Decimal(str(metric.get("Amount", "0")))
            if metric.get("Unit"):
                units.add(metric["Unit"])
            tag, dimension = [*group.get("Keys", []), "", ""][:2]
            execution = tag.split("$", 1)[1] if "$" in tag else tag
            by_group[(execution or None, dimension or None)] += amount
            period["cost"] += amount
    if len(units) > 1:
        raise CostError(
            f"Cost Explorer answered in several units ({', '.join(sorted(units))}); cannot add them"
        )
    ordered = [periods[k] for k in sorted(periods)]
    return Costs(next(iter(units), None), dict(by_group), ordered)


# ------------------------------------------------------------------------------------------------ SageMaker


def _iso(day: dt.date) -> str:
    """Midnight UTC of ``day`` as the API's timestamp text."""
    return f"{day.isoformat()}T00:00:00Z"


def model_versions(sm: Any, group: str, since: dt.date) -> dict[str, list[dict[str, Any]]]:
    """Execution id -> the versions of ``group`` it registered (created since ``since``)."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    token = None
    while True:
        page = call(
            sm,
            "list_model_packages",
            ModelPackageGroupName=group,
            CreationTimeAfter=_iso(since),
            SortBy="CreationTime",
            SortOrder="Ascending",
            MaxResults=100,
            **({"NextToken": token} if token else {}),
        )
        for summary in page.get("ModelPackageSummaryList", []):
            described = call(sm, "describe_model_package", ModelPackageName=summary["ModelPackageArn"])
            execution = (described.get("CustomerMetadataProperties") or {}).get(EXECUTION_KEY)
            if execution:
                found[execution].append(
                    {
                        "version": described.get("ModelPackageVersion"),
                        "arn": described.get("ModelPackageArn"),
                        "approval": described.get("ModelApprovalStatus"),
                    }
                )
        token = page.get("NextToken")
        if not token:
            return dict(found)


def _tags(sm: Any, arn: str) -> dict[str, str]:
    tags, token = {}, None
    while True:
        page = call(
            sm, "list_tags", ResourceArn=arn, MaxResults=100, **({"NextToken": token} if token else {})
        )
        tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
        token = page.get("NextToken")
        if not token:
            return tags


def spot_savings(training_seconds: Any, billable_seconds: Any) -> float | None:
    """1 - billable / training (DescribeTrainingJob API reference); None until both are known."""
    if (
        not isinstance(training_seconds, int)
        or not isinstance(billable_seconds, int)
        or training_seconds <= 0
    ):
        return None
    return 1 - billable_seconds / training_seconds


def _instances(resource: dict[str, Any]) -> tuple[str | None, int]:
    groups = resource.get("InstanceGroups") or []
    if groups:
        types = sorted({g.get("InstanceType", "") for g in groups})
        return "+".join(types), sum(int(g.get("InstanceCount") or 0) for g in groups)
    return resource.get("InstanceType"), int(resource.get("InstanceCount") or 0)


def training_jobs(sm: Any, environment: str, name_prefix: str, period: Period) -> list[dict[str, Any]]:
    """The environment's training jobs created in the period, with their spot savings."""
    jobs, token = [], None
    while True:
        page = call(
            sm,
            "list_training_jobs",
            CreationTimeAfter=_iso(period.start),
            CreationTimeBefore=_iso(period.end),
            SortBy="CreationTime",
            SortOrder="Ascending",
            MaxResults=100,
            **({"NextToken": token} if token else {}),
        )
        for summary in page.get("TrainingJobSummaries", []):
            tags = _tags(sm, summary["TrainingJobArn"])
            owner = tags.get(COST_TAG_KEYS["environment"])
            name = summary["TrainingJobName"]
            if owner != environment and not (owner is None and name.startswith(name_prefix)):
                continue
            job = call(sm, "describe_training_job", TrainingJobName=name)
            instance_type, count = _instances(job.get("ResourceConfig") or {})
            training, billable = job.get("TrainingTimeInSeconds"), job.get("BillableTimeInSeconds")
            savings = spot_savings(training, billable)
            jobs.append(
                {
                    "name": name,
                    "execution": tags.get(COST_TAG_KEYS["execution"]),
                    "status": job.get("TrainingJobStatus"),
                    "instanceType": instance_type,
                    "instanceCount": count,
                    "spot": bool(job.get("EnableManagedSpotTraining")),
                    "trainingSeconds": training,
                    "billableSeconds": billable,
                    "billableInstanceHours": (
                        round(billable * count / 3600, 4) if isinstance(billable, int) else None
                    ),
                    "spotSavingsPercent": round(savings * 100, 1) if savings is not None else None,
                }
            )
        token = page.get("NextToken")
        if not token:
            return jobs


# --------------------------------------------------------------------------------------------------- report


def _money(amount: Decimal) -> float:
    return float(round(amount, 4))


def activation_command() -> str:
    pairs = " ".join(f"TagKey={key},Status=Active" for key in COST_TAG_KEYS.values())
    return f"aws ce update-cost-allocation-tags-status --cost-allocation-tags-status {pairs}"


def backfill_command(period: Period, today: dt.date) -> str:
    start = max(period.start.replace(day=1), _months_back(today, BACKFILL_MONTHS))
    return f"aws ce start-cost-allocation-tag-backfill --backfill-from {start.isoformat()}T00:00:00Z"


def notes(period: Period, today: dt.date) -> list[str]:
    return [
        "Cost Explorer groups and filters only by tags activated as cost allocation tags (once, by the "
        f"management or standalone account): {activation_command()} . An activated tag counts costs from "
        "its activation on (it can take up to 24 hours to activate); earlier costs have no tag value and "
        f"are left out of this report, unless backfilled: {backfill_command(period, today)} . An empty "
        "report most often means the tags are not active yet.",
        "Cost data lags: AWS updates billing data up to three times a day, so the last 24 hours are "
        "missing or incomplete, and periods marked estimated may still change.",
        "Cost Explorer has no per-job dimension: a training job's cost is inside its execution's row for "
        "its instance type, together with the execution's processing jobs and endpoints of that type.",
        "Spot savings = 1 - BillableTimeInSeconds / TrainingTimeInSeconds (DescribeTrainingJob; what the "
        "SageMaker console shows); billable instance-hours = BillableTimeInSeconds x instance count / 3600.",
    ]


def build(
    environment: str,
    period: Period,
    granularity: str,
    group_by: str,
    costs: Costs,
    versions: dict[str, list[dict[str, Any]]],
    jobs: list[dict[str, Any]],
    today: dt.date,
) -> dict[str, Any]:
    def numbers(execution: str | None) -> list[Any]:
        return [v["version"] for v in versions.get(execution or "", [])]

    dimension = "instanceType" if group_by == "instance-type" else "usageType"
    rows = sorted(costs.by_group.items(), key=lambda item: (-item[1], item[0][0] or "", item[0][1] or ""))
    by_execution: dict[str | None, Decimal] = defaultdict(Decimal)
    for (execution, _), amount in costs.by_group.items():
        by_execution[execution] += amount
    for job in jobs:
        job["modelVersions"] = numbers(job["execution"])
    spot = [j for j in jobs if j["spot"] and j["spotSavingsPercent"] is not None]
    trained = sum(j["trainingSeconds"] * j["instanceCount"] for j in spot)
    billed = sum(j["billableSeconds"] * j["instanceCount"] for j in spot)
    return {
        "environment": environment,
        "period": {
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "endExclusive": True,
            "granularity": granularity,
        },
        "metric": METRIC,
        "groupBy": [f"TAG {COST_TAG_KEYS['execution']}", f"DIMENSION {GROUP_BY[group_by]}"],
        "unit": costs.unit,
        "total": _money(sum(costs.by_group.values(), Decimal(0))),
        "estimated": any(p["estimated"] for p in costs.by_period),
        "costs": [
            {
                "execution": execution,
                "modelVersions": numbers(execution),
                dimension: value,
                "cost": _money(amount),
            }
            for (execution, value), amount in rows
        ],
        "byExecution": [
            {
                "execution": execution,
                "modelVersions": versions.get(execution or "", []),
                "cost": _money(amount),
                "trainingJobs": [j["name"] for j in jobs if j["execution"] == execution],
            }
            for execution, amount in sorted(by_execution.items(), key=lambda item: (-item[1], item[0] or ""))
        ],
        "byPeriod": [p | {"cost": _money(p["cost"])} for p in costs.by_period],
        "trainingJobs": jobs,
        "spotSavings": {
            "jobs": len(spot),
            "trainingInstanceHours": round(trained / 3600, 4),
            "billableInstanceHours": round(billed / 3600, 4),
            "percent": round((1 - billed / trained) * 100, 1) if trained else None,
        },
        "notes": notes(period, today),
    }


def render(report: dict[str, Any]) -> str:
    unit = report["unit"] or ""
    dimension = "instanceType" if "INSTANCE_TYPE" in report["groupBy"][1] else "usageType"
    period = report["period"]
    lines = [
        f"Cost of environment {report['environment']} from {period['start']} to {period['end']} "
        f"(exclusive), {report['metric']}, {period['granularity']}, by execution and "
        f"{dimension.replace('Type', ' type')}:",
        "",
    ]
    rows = [
        [
            c["execution"] or NO_EXECUTION,
            ", ".join(str(v) for v in c["modelVersions"]) or "-",
            c[dimension] or "(none)",
            f"{c['cost']:.2f}",
        ]
        for c in report["costs"]
    ]
    header = ["EXECUTION", "MODEL VERSION", "INSTANCE TYPE" if dimension == "instanceType" else "USAGE TYPE"]
    lines += table([*header, f"COST {unit}".strip()], rows, right=(3,)) if rows else ["(no costs)"]
    estimated = " (estimated: may still change)" if report["estimated"] else ""
    lines += ["", f"Total: {report['total']:.2f} {unit}{estimated}".rstrip(), ""]
    lines.append("Training jobs created in the period (spot savings = 1 - billable / training time):")
    lines.append("")
    jobs = [
        [
            j["name"],
            j["execution"] or "-",
            ", ".join(str(v) for v in j["modelVersions"]) or "-",
            j["instanceType"] or "-",
            j["instanceCount"],
            "spot" if j["spot"] else "on-demand",
            "-" if j["trainingSeconds"] is None else j["trainingSeconds"],
            "-" if j["billableSeconds"] is None else j["billableSeconds"],
            "-" if j["spotSavingsPercent"] is None else f"{j['spotSavingsPercent']:.1f}%",
        ]
        for j in report["trainingJobs"]
    ]
    header = ["JOB", "EXECUTION", "VERSION", "INSTANCE TYPE", "COUNT", "CAPACITY", "TRAINING s", "BILLABLE s"]
    lines += table([*header, "SAVINGS"], jobs, right=(4, 6, 7, 8)) if jobs else ["(no training jobs)"]
    overall = report["spotSavings"]
    if overall["percent"] is not None:
        lines += [
            "",
            f"Spot jobs: {overall['billableInstanceHours']} billable of {overall['trainingInstanceHours']} "
            f"training instance-hours, {overall['percent']:.1f}% saved.",
        ]
    lines += ["", "Notes:", *(f"- {note}" for note in report["notes"])]
    return "\n".join(lines)


def report(
    args: ReportArgs, ce: Any, sm: Any, today: dt.date, period: Period, name_prefix: str, group: str
) -> dict[str, Any]:
    request = cost_request(args.environment, period, args.granularity, args.group_by)
    costs = summarize(cost_results(ce, request))
    versions = model_versions(sm, group, period.start)
    jobs = training_jobs(sm, args.environment, name_prefix, period)
    return build(args.environment, period, args.granularity, args.group_by, costs, versions, jobs, today)


def run(args: ReportArgs, clients: tuple[Any, Any] | None = None, today: dt.date | None = None) -> int:
    today = today or dt.datetime.now(dt.UTC).date()
    name_prefix, group = check_names(args)
    period = check_period(args.start, args.end, today)
    if clients is None:
        import boto3

        region = region_of(args.region)
        clients = (boto3.client("ce", region_name=CE_REGION), boto3.client("sagemaker", region_name=region))
    document = report(args, *clients, today, period, name_prefix, group)
    if args.json:
        print_json(document)
    else:
        print(render(document))
    return 0
