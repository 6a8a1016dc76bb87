"""Compliance report and SageMaker model card of one registered model version.

    python -m training.compliance report \
        --model-package-arn arn:aws:sagemaker:eu-west-1:123456789012:model-package/fmft-prod-models/3 \
        --output-dir compliance/fmft-prod-models-3 --nag-report cdk.out \
        --metric-namespace FineTuningPlatform/prod --endpoint-name fmft-prod-llm --variant-name current \
        --with-cloudtrail --create-model-card

report reads DescribeModelPackage (lineage, approval, the S3 URIs of evaluation.json and baseline.json),
those documents, an optional explanations.json, CloudWatch (the capture monitor's metrics and the endpoint's
alarms, with --endpoint-name/--variant-name), CloudTrail (UpdateModelPackage events, with --with-cloudtrail)
and cdk-nag's policy-validation reports (--nag-report), and writes compliance.json, compliance.html and
model-card.json to --output-dir, all or none. With --create-model-card it also creates the SageMaker model
card (Draft), or adds a version to it when its content changed. A missing or malformed document is reported,
never an error. Exit status: 2 for a bad flag or a model package that does not exist (nothing written), 1
when AWS refuses DescribeModelPackage, the outputs cannot be written or the model card cannot be saved.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from training.common.args import UsageError, existing_path, run_subcommands
from training.compliance import model_card, registry
from training.compliance.report import (
    HTML_FILE,
    REPORT_FILE,
    AwsClients,
    Sources,
    assemble,
    problems,
    write_outputs,
)

PROG = "python -m training.compliance"
MAX_MONITORING_HOURS = 63 * 24  # CloudWatch keeps 5-minute data points for 63 days


@dataclass
class ReportArgs:
    """Compliance report (compliance.json, .html) and model card (model-card.json) of one model version."""

    model_package_arn: str = field(
        metadata={"help": "ARN of the model package version (...:model-package/<group>/<version>)"}
    )
    output_dir: str = field(
        metadata={"help": "Where compliance.json, compliance.html and model-card.json go"}
    )
    region: str | None = field(default=None, metadata={"help": "AWS region (default: the ARN's)"})
    explanations: str | None = field(
        default=None,
        metadata={
            "help": "explanations.json (s3:// or a path) of training.explain (default: the package's "
            "ModelMetrics.Explainability.Report, else its 'explanations' metadata; optional)"
        },
    )
    nag_report: list[str] = field(
        default_factory=list,
        metadata={"help": "cdk-nag policy-validation report(s): cdk.out/validation-report.json or cdk.out"},
    )
    metric_namespace: str | None = field(
        default=None,
        metadata={"help": "Namespace of the monitor metrics: FineTuningPlatform/<environment>"},
    )
    endpoint_name: str | None = field(default=None, metadata={"help": "Endpoint that serves this version"})
    variant_name: str | None = field(default=None, metadata={"help": "Its production variant"})
    monitoring_hours: int = field(default=24, metadata={"help": "Hours of monitor metrics to read"})
    with_cloudtrail: bool = field(
        default=False, metadata={"help": "Read the approval changes from CloudTrail (LookupEvents, 90 days)"}
    )
    create_model_card: bool = field(
        default=False,
        metadata={
            "help": "Create the SageMaker model card (Draft), or add a version when its content changed"
        },
    )


def check_flags(args: ReportArgs) -> re.Match[str]:
    """The parts of the ARN; UsageError for any bad flag, before any AWS call."""
    match = registry.MODEL_PACKAGE_ARN.fullmatch(args.model_package_arn)
    if not match:
        raise UsageError(
            f"--model-package-arn {args.model_package_arn}: not a model package version ARN "
            "(arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>)"
        )
    if bool(args.endpoint_name) != bool(args.variant_name):
        raise UsageError("--endpoint-name and --variant-name go together")
    if args.endpoint_name and not args.metric_namespace:
        raise UsageError("--endpoint-name needs --metric-namespace (FineTuningPlatform/<environment>)")
    if not 1 <= args.monitoring_hours <= MAX_MONITORING_HOURS:
        raise UsageError(f"--monitoring-hours {args.monitoring_hours}: allowed: 1 to {MAX_MONITORING_HOURS}")
    for path in args.nag_report:
        existing_path(path, "--nag-report")
    if args.explanations and not args.explanations.startswith("s3://"):
        existing_path(args.explanations, "--explanations", "file")
    output = Path(args.output_dir)
    if output.exists() and not output.is_dir():
        raise UsageError(f"--output-dir {output}: not a directory")
    return match


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def run_report(args: ReportArgs) -> int:
    match = check_flags(args)
    aws = AwsClients(args.region or match[1])
    try:
        package = registry.describe_model_package(aws.sagemaker, args.model_package_arn)
    except registry.ModelPackageError as exc:
        print(f"{PROG} report: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2 if exc.not_found else 1
    sources = Sources(
        explanations=args.explanations,
        nag_reports=args.nag_report,
        metric_namespace=args.metric_namespace,
        endpoint_name=args.endpoint_name,
        variant_name=args.variant_name,
        monitoring_hours=args.monitoring_hours,
        with_cloudtrail=args.with_cloudtrail,
    )
    report = assemble(package, sources, aws, dt.datetime.now(dt.UTC))
    content = model_card.build_content(report)
    output = Path(args.output_dir)
    try:
        output.mkdir(parents=True, exist_ok=True)  # fail before the model card is saved, not after
    except OSError as exc:
        print(f"{PROG} report: error: cannot write to {output}: {_one_line(str(exc))}", file=sys.stderr)
        return 1
    if args.create_model_card:
        report["modelCard"]["registry"] = model_card.publish(
            aws.sagemaker, report["modelCard"]["name"], content
        )
    report["problems"] = problems(report)
    try:
        write_outputs(report, content, output)
    except OSError as exc:
        print(f"{PROG} report: error: cannot write to {output}: {_one_line(str(exc))}", file=sys.stderr)
        return 1
    info, card = report["modelPackage"], report["modelCard"]["registry"]
    parts = {
        "approval": report["approval"]["status"],
        "evaluation": report["evaluation"]["status"],
        "training data": report["trainingData"]["status"],
        "monitoring": report["monitoring"]["status"],
        "compliance packs": report["compliancePacks"]["status"],
        "model card": card["status"],
    }
    print(
        f"{info['group']} version {info['version']}: {', '.join(f'{k} {v}' for k, v in parts.items())}; "
        f"{len(report['problems'])} problems; wrote {output}/{REPORT_FILE}, {HTML_FILE}, "
        f"{model_card.MODEL_CARD_FILE}"
    )
    if card["status"] == "failed":
        print(f"{PROG} report: error: model card: {_one_line(card['problem'])}", file=sys.stderr)
        return 1
    return 0


COMMANDS = {"report": (ReportArgs, run_report)}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return run_subcommands(PROG, __doc__.splitlines()[0], COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
