"""Every ``python -m training...`` command our documents show parses with the command's own parser: the
module and subcommand exist, every option is one the command takes, and every value has the right type and
is an allowed choice. The commands are parsed, not run (their inputs are examples)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from training.bedrock.__main__ import COMMANDS as BEDROCK_COMMANDS
from training.bench_monitor import BenchArgs as MonitorBenchArgs
from training.common.args import parse_into
from training.compliance.__main__ import COMMANDS as COMPLIANCE_COMMANDS
from training.cost.__main__ import COMMANDS as COST_COMMANDS
from training.cost.idle_endpoints import IdleEndpointsArgs
from training.data.__main__ import COMMANDS as DATA_COMMANDS
from training.dr.__main__ import COMMANDS as DR_COMMANDS
from training.evaluate.__main__ import COMMANDS as EVALUATE_COMMANDS
from training.explain.__main__ import ExplainArgs
from training.monitor.__main__ import COMMANDS as MONITOR_COMMANDS
from training.registry.promotion import COMMAND_ARGS as PROMOTION_COMMANDS
from training.train.args import parse_config
from training.triggers.retrain import RetrainArgs

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = [
    REPO / "README.md",
    REPO / "training" / "README.md",
    REPO / "training" / "train" / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
]
# Commands checked elsewhere, with where: they have no parser of their own to call without running them.
CHECKED_ELSEWHERE = {
    "training.train.tiny": "run as written by test_quickstart.py",
    "training.bench_stream_memory": "run by test_stream_memory.py",
}
_COMMAND = re.compile(
    r"(?:python3?|\.venv/bin/python|torchrun(?:[ \t]+--\S+)*)[ \t]+-m[ \t]+"
    r"(training[\w.]*)((?:[ \t]+[^\s|;&#]+)*)"
)
# `npx tsx scripts/fmft.ts <group> ARGS` (or `npx fmft`) runs `python -m <module> ARGS` for the operator
# CLI's Python groups (training/contracts/operator-cli.json); its endpoint and pipeline groups are parsed by
# test/cli/fmft.test.ts.
_OPERATOR_CLI = json.loads((REPO / "training/contracts/operator-cli.json").read_text(encoding="utf-8"))
FMFT_MODULES = {group["name"]: group["module"] for group in _OPERATOR_CLI["groups"]}
_FMFT_COMMAND = re.compile(
    r"npx[ \t]+(?:tsx[ \t]+scripts/fmft\.ts|fmft)[ \t]+([a-z][\w-]*)((?:[ \t]+[^\s|;&#]+)*)"
)


def documented_commands() -> list[tuple[str, str, list[str]]]:
    """(where, module, arguments) of every command in the documents' shell blocks."""
    found = []
    for doc in DOCUMENTS:
        text = doc.read_text(encoding="utf-8")
        for block in re.finditer(r"^```(?:bash|sh)\n(.*?)^```", text, flags=re.S | re.M):
            body = re.sub(r"\\\n\s*", " ", block.group(1))
            start = text.count("\n", 0, block.start()) + 2
            for match in _COMMAND.finditer(body):
                line = start + body.count("\n", 0, match.start())
                found.append((f"{doc.relative_to(REPO)}:{line}", match.group(1), shlex.split(match.group(2))))
            for match in _FMFT_COMMAND.finditer(body):
                if match.group(1) in FMFT_MODULES:
                    line = start + body.count("\n", 0, match.start())
                    module = FMFT_MODULES[match.group(1)]
                    found.append((f"{doc.relative_to(REPO)}:{line}", module, shlex.split(match.group(2))))
    return found


def _concrete(args: list[str], tmp_path: Path) -> list[str]:
    """Example values made parseable: `[--opt VALUE]` usage brackets dropped, `{a,b}` alternatives -> a, a
    --config file -> an empty mapping."""
    args = [w.strip("[]") for w in args if w not in ("[", "]")]
    out = []
    for i, word in enumerate(args):
        if re.fullmatch(r"\{[\w-]+(,[\w-]+)+\}", word):
            word = word[1:].split(",")[0]
        if i > 0 and args[i - 1] == "--config":
            empty = tmp_path / "empty.yaml"
            empty.write_text("{}\n", encoding="utf-8")
            word = str(empty)
        out.append(word)
    return out


COMMANDS = documented_commands()


def test_the_documents_show_commands_of_every_cli() -> None:
    modules = {module for _, module, _ in COMMANDS}
    assert modules >= {
        "training.data",
        "training.evaluate",
        "training.monitor",
        "training.train",
        "training.train.launch",
    }
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize(("where", "module", "args"), COMMANDS, ids=[c[0] for c in COMMANDS])
def test_documented_command_parses(where: str, module: str, args: list[str], tmp_path: Path) -> None:
    args = _concrete(args, tmp_path)
    if module in CHECKED_ELSEWHERE:
        return
    subcommands = {
        "training.data": DATA_COMMANDS,
        "training.evaluate": EVALUATE_COMMANDS,
        "training.monitor": MONITOR_COMMANDS,
        "training.compliance": COMPLIANCE_COMMANDS,
        "training.cost": COST_COMMANDS,
        "training.bedrock": BEDROCK_COMMANDS,
    }
    if module in subcommands:
        commands = subcommands[module]
        assert args and args[0] in commands, f"{where}: {module} has no subcommand {args[:1]}"
        if "--help" in args:
            return
        parse_into(commands[args[0]][0], args[1:], prog=f"python -m {module} {args[0]}")
    elif module == "training.bench_monitor":
        parse_into(MonitorBenchArgs, args, prog=module)
    elif module == "training.explain":
        parse_into(ExplainArgs, args, prog=module)
    elif module == "training.triggers.retrain":
        parse_into(RetrainArgs, args, prog=module)
    elif module == "training.cost.idle_endpoints":
        parse_into(IdleEndpointsArgs, args, prog=module)
    elif module == "training.registry.promotion":
        assert args and args[0] in PROMOTION_COMMANDS, f"{where}: {module} has no subcommand {args[:1]}"
        parse_into(PROMOTION_COMMANDS[args[0]], args[1:], prog=f"python -m {module} {args[0]}")
    elif module == "training.dr":
        assert args and args[0] in DR_COMMANDS, f"{where}: {module} has no subcommand {args[:1]}"
        parse_into(DR_COMMANDS[args[0]], args[1:], prog=f"python -m {module} {args[0]}")
    elif module in ("training.train", "training.train.launch"):
        if "--help" in args:
            return
        parse_config(args)
    else:
        pytest.fail(f"{where}: {module} is not a command this test knows; add it")
