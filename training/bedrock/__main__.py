"""Start a Bedrock customization run and follow it (the Bedrock stack's state machine).

    python -m training.bedrock start --environment dev --region us-east-1 --run-name invoices-v1 \\
        --dataset-uri s3://<data bucket>/training-data/processed/bedrock/invoices-v1/ \\
        --base-model-id amazon.nova-micro-v1:0:128k --hyper-parameters epochCount=2 learningRate=0.00001 \\
        [--input run.json] [--check-data] [--dry-run] [--json]
    python -m training.bedrock status --environment dev --region us-east-1 --run-name invoices-v1 [--json]

``start`` checks the input with the state machine's own first-state check before it starts anything, then
starts the execution named after the run; ``status`` prints DescribeExecution (training/bedrock/cli.py).
Exit status: 0 done, 1 refused (a run of that name exists, no state machine) or an AWS error (the operation
named), 2 a bad option or a refused input (every bad field named; nothing started).
"""

from __future__ import annotations

import functools
import sys
from typing import Any

from training.bedrock import cli
from training.common.args import run_subcommands

# The subcommands and their arguments (the documents' commands are parsed with these: test_docs_commands.py).
COMMANDS = {
    "start": (cli.StartArgs, cli.start),
    "status": (cli.StatusArgs, cli.status),
}


def main(argv: list[str] | None = None, clients: dict[str, Any] | None = None) -> int:
    """``clients``: boto3 clients by service name (tests); by default made for the region."""
    from botocore.exceptions import BotoCoreError, ClientError

    def guarded(name: str, handler: Any, args: Any) -> int:
        try:
            return handler(args, clients)
        except (cli.BedrockCliError, cli.AwsCallError) as error:
            print(f"{cli.PROG} {name}: error: {error}", file=sys.stderr)
            return 1
        except (ClientError, BotoCoreError) as error:  # the input check's own S3 reads
            print(f"{cli.PROG} {name}: AWS error: {type(error).__name__}: {error}", file=sys.stderr)
            return 1

    commands = {
        name: (args_type, functools.partial(guarded, name, handler))
        for name, (args_type, handler) in COMMANDS.items()
    }
    description = (__doc__ or "").splitlines()[0]
    return run_subcommands(cli.PROG, description, commands, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
