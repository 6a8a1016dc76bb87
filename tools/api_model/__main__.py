"""Check every AWS API request defined in synthesized templates against botocore's service models.

    .venv/bin/python -m tools.api_model cdk.out                  # every *.template.json below cdk.out
    .venv/bin/python -m tools.api_model cdk.out/fmft-dev-pipelines.template.json --verbose

Exit status: 0 when every request fits its operation's input shape, 1 on any finding (or a template that
cannot be read), 2 on usage errors (including paths that hold no template, so an unsynthesized cdk.out cannot
pass).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.api_model.check import TEMPLATE_SUFFIX, check_templates, template_paths


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.api_model",
        description="Find the AWS API requests that SageMaker pipeline steps, Step Functions tasks, custom "
        "resources and Scheduler universal targets define in synthesized CloudFormation templates, and "
        "check each against its operation's input shape in botocore's service models (required and unknown "
        "members, types, enums, lengths, counts, ranges, patterns).",
        epilog="Exit status: 0 clean, 1 findings or unreadable templates, 2 usage errors.",
    )
    parser.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help=f"a template, or a directory searched recursively for *{TEMPLATE_SUFFIX}",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also list what was skipped, and why (CDK-owned custom resources, direct Lambda tasks, ...)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    missing = [str(path) for path in args.paths if not path.exists()]
    if missing:
        parser.error(f"no such file or directory: {', '.join(missing)}")
    paths = template_paths(args.paths)
    if not paths:
        parser.error(f"no *{TEMPLATE_SUFFIX} under {', '.join(map(str, args.paths))} (synthesize first)")
    report = check_templates(paths)
    # A finding quotes template text; it must print whatever encoding the CI runner's locale gives stdout.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")
    for finding in report.findings:
        print(finding)
    if args.verbose:
        for template, skip in report.skips:
            print(f"skipped: {template}: {skip.origin}: {skip.reason}")
    print(report.summary())
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
