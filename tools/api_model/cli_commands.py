"""The AWS CLI commands our documents tell users to run, checked against the same service models as the
templates: the service and the command exist, every ``--option`` is a member of the operation's input (or a
global CLI option), every required member is given, and literal values of enum members are allowed.

    .venv/bin/python -m tools.api_model.cli_commands README.md docs/runbook.md training/README.md

A command is found in a document's shell code blocks wherever it starts (``aws sagemaker ...`` at the start
of a line, after ``$(``, ``&&``, ``;``, ``|`` or ``do``); continuation lines are joined first. The
high-level ``aws s3`` commands and ``aws configure`` are the CLI's own, with no operation behind them.
"""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from botocore import xform_name

from tools.api_model import services

# Options of the CLI itself (aws help topic "config-vars" / "aws help" global options) and of paginated
# commands, which every command accepts whatever its input shape.
GLOBAL_OPTIONS = {
    "--region", "--query", "--output", "--profile", "--endpoint-url", "--no-verify-ssl", "--no-paginate",
    "--debug", "--no-cli-pager", "--cli-binary-format", "--cli-read-timeout", "--cli-connect-timeout",
    "--color", "--no-sign-request", "--ca-bundle", "--cli-input-json", "--cli-input-yaml",
}  # fmt: skip
PAGINATION_OPTIONS = {"--max-items", "--starting-token", "--page-size"}
# Commands the CLI implements itself (no single API operation).
CLI_ONLY = {("s3", None), ("configure", None), ("deploy", None)}
# Options the CLI renames from the member name (awscli/customizations/argrename.py); "service.command.member".
CLI_RENAMES = {"sns.subscribe.endpoint": "notification-endpoint"}
# Commands whose output is a positional file argument (streaming bodies).
OUTFILE_COMMANDS = {("sagemaker-runtime", "invoke-endpoint"), ("lambda", "invoke")}

_START = re.compile(r"(?:^|\$\(|&&|;|\||\bdo\b|\bthen\b)\s*(aws\s+[a-z0-9-]+\s+[a-z0-9-]+)", re.M)


@dataclass(frozen=True)
class CliCommand:
    where: str  # file:line
    text: str
    service: str
    command: str
    options: dict[str, str | None]  # --option -> its value (None: a flag without a value)
    positional: list[str]


def shell_blocks(markdown: str) -> Iterator[tuple[int, str]]:
    """(first line number, text) of every bash/sh code block, continuation lines joined."""
    lines = markdown.split("\n")
    i = 0
    while i < len(lines):
        if re.match(r"^```(bash|sh|shell)\s*$", lines[i]):
            start = i + 2
            body: list[str] = []
            i += 1
            while i < len(lines) and not re.match(r"^```\s*$", lines[i]):
                body.append(lines[i])
                i += 1
            yield start, re.sub(r"\\\n\s*", " ", "\n".join(body))
        i += 1


def _cut(segment: str) -> str:
    """The command up to where the shell ends it: an unquoted line end, ``)``, ``&&``, ``;``, ``|`` or comment
    (a quoted value may span lines)."""
    out, quote, depth = [], "", 0
    for i, ch in enumerate(segment):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            if depth == 0:
                break
            depth -= 1
        elif ch in ";|#\n" or segment.startswith("&&", i):
            break
        out.append(ch)
    return "".join(out).strip()


def find_commands(path: Path) -> list[CliCommand]:
    text = path.read_text(encoding="utf-8")
    commands: list[CliCommand] = []
    for start, block in shell_blocks(text):
        for match in _START.finditer(block):
            line = start + block.count("\n", 0, match.start(1))
            command_text = _cut(block[match.start(1) :])
            # A command substitution inside a value is one word to the shell; placeholders are values too.
            plain = re.sub(r"\$\([^()]*\)", "SUBST", command_text).replace("<", "_").replace(">", "_")
            words = shlex.split(plain)
            service, command, rest = words[1], words[2], words[3:]
            list_options = _list_options(service, command)
            options: dict[str, str | None] = {}
            positional: list[str] = []
            j = 0
            while j < len(rest):
                word = rest[j]
                if word.startswith("--"):
                    values = []
                    while j + 1 < len(rest) and not rest[j + 1].startswith("--"):
                        values.append(rest[j + 1])
                        j += 1
                        if word not in list_options:
                            break  # one value; what follows is positional
                    options[word] = values[0] if values else None
                    j += 1
                else:
                    positional.append(word)
                    j += 1
            where = f"{path.name}:{line}"
            commands.append(CliCommand(where, command_text, service, command, options, positional))
    return commands


def _operation(service: str, command: str) -> str | None:
    model = services.service_model(service)
    if model is None:
        return None
    by_cli_name = {xform_name(op).replace("_", "-"): op for op in model.operation_names}
    return by_cli_name.get(command)


def _cli_names(service: str, op_name: str) -> dict[str, str]:
    """--option name -> member of the operation's input, with the CLI's renames."""
    op = services.operation_model(service, op_name)
    shape = op.input_shape if op else None
    names = {}
    for member in shape.members if shape else {}:
        default = xform_name(member).replace("_", "-")
        names[CLI_RENAMES.get(f"{service}.{_cli_command(op_name)}.{default}", default)] = member
    return names


def _cli_command(op_name: str) -> str:
    return xform_name(op_name).replace("_", "-")


def _list_options(service: str, command: str) -> set[str]:
    """The options of a command that take several values (list members)."""
    op_name = _operation(service, command) if services.service_model(service) else None
    if op_name is None:
        return set()
    shape = services.operation_model(service, op_name).input_shape
    names = _cli_names(service, op_name)
    return {f"--{name}" for name, member in names.items() if shape.members[member].type_name == "list"}


def problems(cmd: CliCommand) -> list[str]:
    """What is wrong with one command, each naming the command's place and the option."""
    where = f"{cmd.where}: aws {cmd.service} {cmd.command}"
    if (cmd.service, None) in CLI_ONLY:
        return []
    if services.service_model(cmd.service) is None:
        return [f"{where}: no such service '{cmd.service}'"]
    op_name = _operation(cmd.service, cmd.command)
    if op_name is None:
        return [f"{where}: '{cmd.service}' has no command '{cmd.command}'"]
    op = services.operation_model(cmd.service, op_name)
    assert op is not None
    shape = op.input_shape
    members = _cli_names(cmd.service, op_name)
    found: list[str] = []
    given: set[str] = set()
    for option, value in cmd.options.items():
        name = option[2:]
        if option in GLOBAL_OPTIONS or option in PAGINATION_OPTIONS:
            continue
        if name not in members:
            allowed = ", ".join(f"--{m}" for m in sorted(members)) or "none"
            found.append(f"{where}: unknown option {option}; allowed: {allowed}")
            continue
        member = members[name]
        given.add(member)
        enum = getattr(shape.members[member], "enum", None) or [] if shape else []
        if enum and value is not None and re.fullmatch(r"[A-Za-z0-9_.:-]+", value) and value not in enum:
            found.append(f"{where}: {option} {value} is not one of {', '.join(enum)}")
    for required in shape.required_members if shape else []:
        # The CLI fills idempotency tokens itself.
        if required not in given and not shape.members[required].metadata.get("idempotencyToken"):
            option = next(name for name, member in members.items() if member == required)
            found.append(f"{where}: missing --{option} (required by {op_name})")
    extra = cmd.positional[1:] if (cmd.service, cmd.command) in OUTFILE_COMMANDS else cmd.positional
    if extra:
        found.append(f"{where}: unexpected arguments {extra}")
    return found


def main(argv: list[str] | None = None) -> int:
    paths = [Path(p) for p in (sys.argv[1:] if argv is None else argv)]
    if not paths or any(p.name in ("-h", "--help") for p in paths):
        print(__doc__)
        return 0 if paths else 2
    commands = [c for p in paths for c in find_commands(p)]
    found = [text for c in commands for text in problems(c)]
    for text in found:
        print(text)
    print(f"aws-cli: {len(commands)} commands in {len(paths)} documents; {len(found)} problems")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
