"""What an environment's runs cost, and which endpoint instance types fit a model (docs/cost.md).

    python -m training.cost report --environment dev --start 2026-11-01 --end 2026-12-01 [--json]
    python -m training.cost recommend --parameters 7e9 --dtype bf16 --requests-per-second 5 \\
        --max-latency-ms 20000 --output-tokens 256 [--json]

``report`` (training/cost/report.py): cost by pipeline execution, instance type and model version from Cost
Explorer, and the spot savings of each training job. ``recommend`` (training/cost/recommend.py): endpoint
instance types ranked by an offline estimate from the model's size, with an optional SageMaker Inference
Recommender job. Exit status: 0 done, 1 an AWS error (the operation named), 2 a bad option (one line naming
it, its value and what is allowed).
"""

from __future__ import annotations

import sys

from training.cost import cli, recommend, report

# The subcommands and their arguments (the documents' commands are parsed with these: test_docs_commands.py).
COMMANDS = {
    "report": (report.ReportArgs, report.run),
    "recommend": (recommend.RecommendArgs, recommend.run),
}


def main(argv: list[str] | None = None) -> int:
    return cli.main(COMMANDS, (__doc__ or "").splitlines()[0], sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
