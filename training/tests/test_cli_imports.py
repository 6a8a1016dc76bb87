"""Every ``python -m training...`` command parses its arguments, prints its --help and refuses a bad flag
without importing the numeric or model stack: those take seconds to load, and only running a command needs
them. Each case runs in a fresh interpreter, so what one imports cannot hide what another does."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("numpy", "scipy", "pandas", "pyarrow", "sklearn", "torch", "transformers", "peft")
# Every CLI package of training/, found by its __main__.py: a new one is covered without listing it here.
CLI_PACKAGES = sorted(
    ".".join(path.parent.relative_to(REPO).parts) for path in (REPO / "training").glob("**/__main__.py")
)

# Runs MODULE with ARGS as `python -m MODULE ARGS...` does, its stdout kept apart, then prints one JSON line:
# the exit status and which heavy modules were imported.
PROBE = f"""
import contextlib, io, json, runpy, sys
module, *args = sys.argv[1:]
sys.argv = [module, *args]
code = 0
with contextlib.redirect_stdout(io.StringIO()) as stdout:
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = 0 if exc.code is None else exc.code
heavy = [name for name in {HEAVY!r} if name in sys.modules]
print(json.dumps({{"code": code, "heavy": heavy, "stdout": stdout.getvalue()}}))
"""


def run_cli(module: str, *args: str) -> tuple[int, list[str], str, str]:
    """(exit status, heavy modules imported, stdout, stderr) of ``python -m module args...``."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, module, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.splitlines()[-1])
    return record["code"], record["heavy"], record["stdout"], result.stderr


def subcommands() -> list[tuple[str, str]]:
    """(package, subcommand) of every CLI that dispatches subcommands (a COMMANDS mapping)."""
    found = []
    for package in CLI_PACKAGES:
        commands = getattr(importlib.import_module(f"{package}.__main__"), "COMMANDS", {})
        found += [(package, name) for name in commands]
    return found


def test_every_cli_package_is_found() -> None:
    assert {"training.evaluate", "training.explain", "training.monitor"} <= set(CLI_PACKAGES)


@pytest.mark.parametrize("package", CLI_PACKAGES)
def test_help_imports_nothing_heavy(package: str) -> None:
    code, heavy, stdout, stderr = run_cli(package, "--help")
    assert (code, heavy) == (0, []), stderr
    assert "usage:" in stdout


SUBCOMMANDS = subcommands()


def test_the_subcommands_of_evaluate_and_monitor_are_covered() -> None:
    expected = {
        ("training.evaluate", "classification"),
        ("training.evaluate", "model"),
        ("training.monitor", "run"),
        ("training.monitor", "score-canary"),
    }
    assert expected <= set(SUBCOMMANDS)


@pytest.mark.parametrize(("package", "command"), SUBCOMMANDS)
def test_subcommand_help_imports_nothing_heavy(package: str, command: str) -> None:
    code, heavy, stdout, stderr = run_cli(package, command, "--help")
    assert (code, heavy) == (0, []), stderr
    assert f"usage: python -m {package} {command}" in stdout


@pytest.mark.parametrize(
    ("command", "required"),
    [
        (["training.evaluate", "classification"], []),
        (["training.explain"], []),
        (["training.monitor", "score-canary"], ["--task", "qa"]),
    ],
)
def test_unknown_flag_exits_2_without_importing_anything_heavy(
    command: list[str], required: list[str]
) -> None:
    code, heavy, _, stderr = run_cli(*command, *required, "--no-such-flag")
    assert (code, heavy) == (2, []), stderr
    assert f"python -m {' '.join(command)}: error: unrecognized arguments: --no-such-flag" in stderr


@pytest.mark.parametrize("package", ["training.evaluate", "training.monitor"])
def test_unknown_subcommand_exits_2_without_importing_anything_heavy(package: str) -> None:
    code, heavy, stdout, stderr = run_cli(package, "no-such-command")
    assert (code, heavy) == (2, []), stderr
    assert f"python -m {package}: error: unknown command 'no-such-command'" in stderr
    assert "commands:" in stdout
