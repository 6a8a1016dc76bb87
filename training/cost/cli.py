"""What ``python -m training.cost report|recommend`` share: one-line argument errors (exit 2), AWS errors
named by their operation (exit 1), the cost tag keys and the environment name rule.

Argument dataclasses are parsed with ``training.common.args.add_dataclass_arguments`` (the documents' commands
are parsed with ``parse_into`` the same way: test_docs_commands.py); the parser here only changes how an
argparse error is printed: one line, never the usage block, so every refused input reads ``<prog>: error:
<option> <value>: allowed: ...``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from training.common.args import USAGE_EXIT, UsageError, add_dataclass_arguments
from training.common.names import ENVIRONMENT_NAME

PROG = "python -m training.cost"
REPO = Path(__file__).resolve().parents[2]

# The tag keys the workflows put on every job, model and endpoint (lib/config/cost-tags.ts, COST_TAG_KEYS);
# test_cost_report.py fails when the two drift.
COST_TAG_KEYS = {
    "environment": "fmft:environment",
    "workflow": "fmft:workflow",
    "execution": "fmft:execution",
}
# An environment's name (lib/config/environment-config.ts: /^[a-z][a-z0-9]{1,9}$/).
ENVIRONMENT = ENVIRONMENT_NAME
ENVIRONMENT_RULE = "2-10 lower-case letters and digits, starting with a letter"
# An AWS region name (us-east-1, eu-central-2, us-gov-west-1, ap-southeast-5).
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")

T = TypeVar("T")


def one_line(text: Any) -> str:
    return " ".join(str(text).split())


class AwsCallError(Exception):
    """An AWS request that failed; the message names the operation (exit status 1)."""

    def __init__(self, operation: str, error: Exception) -> None:
        response = getattr(error, "response", None)
        details = response.get("Error") if isinstance(response, dict) else None
        if isinstance(details, dict) and details.get("Code"):
            detail = f"{details['Code']}: {one_line(details.get('Message') or '')}"
        else:
            detail = f"{type(error).__name__}: {one_line(error)}"
        super().__init__(f"{operation}: {detail}".rstrip(": "))
        self.operation = operation
        self.code = str(details.get("Code")) if isinstance(details, dict) and details.get("Code") else None


class CostError(Exception):
    """An answer the command cannot use (exit status 1)."""


def call(client: Any, method: str, **params: Any) -> Any:
    """``client.<method>(**params)``; an AWS or connection error becomes AwsCallError naming the operation."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return getattr(client, method)(**params)
    except (ClientError, BotoCoreError) as error:
        operation = client.meta.method_to_api_mapping.get(method, method)
        raise AwsCallError(operation, error) from error


class _OneLineParser(argparse.ArgumentParser):
    def error(
        self, message: str
    ) -> Any:  # argparse's own errors: a bad type, an unknown option, a missing one
        message = re.sub(r"(invalid (?:float|int) value: '[^']*')", r"\1; allowed: a number", message)
        self.exit(USAGE_EXIT, f"{self.prog}: error: {one_line(message)}\n")


def parse(args_type: type[T], argv: Sequence[str], prog: str) -> T:
    parser = _OneLineParser(prog=prog, description=(args_type.__doc__ or "").strip())
    add_dataclass_arguments(parser, args_type)
    return args_type(**vars(parser.parse_args(list(argv))))


Handler = Callable[[Any], int]


def main(commands: dict[str, tuple[type, Handler]], description: str, argv: Sequence[str]) -> int:
    """Dispatch ``argv[0]`` to ``commands[name] = (ArgsDataclass, handler(args) -> exit status)``."""
    if not argv or argv[0] in ("-h", "--help"):
        lines = [f"usage: {PROG} {{{','.join(commands)}}} [options]", "", description, "", "commands:"]
        for name, (args_type, _) in commands.items():
            lines.append(f"  {name:<10} {(args_type.__doc__ or '').strip().splitlines()[0]}")
        lines.append(f"\n{PROG} <command> --help shows a command's options.")
        print("\n".join(lines))
        return 0 if argv else USAGE_EXIT
    name = argv[0]
    if name not in commands:
        print(f"{PROG}: error: command {name!r}: allowed: {', '.join(commands)}", file=sys.stderr)
        return USAGE_EXIT
    args_type, handler = commands[name]
    prog = f"{PROG} {name}"
    args = parse(args_type, argv[1:], prog)
    try:
        return int(handler(args))
    except UsageError as error:
        print(f"{prog}: error: {one_line(error)}", file=sys.stderr)
        return USAGE_EXIT
    except AwsCallError as error:
        print(f"{prog}: AWS error: {one_line(error)}", file=sys.stderr)
        return 1
    except CostError as error:
        print(f"{prog}: error: {one_line(error)}", file=sys.stderr)
        return 1


def print_json(document: Any) -> None:
    print(json.dumps(document, indent=2, ensure_ascii=False, default=str))


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[int] = ()) -> list[str]:
    """Fixed-width text table; columns listed in ``right`` are right-aligned (numbers)."""
    cells = [[str(c) for c in header], *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return [
        "  ".join(
            (cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])) for i, cell in enumerate(row)
        ).rstrip()
        for row in cells
    ]
