"""Dataclass argument parsing: types, lists, --flag/--no-flag booleans, JSON config with CLI overrides."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from training.common.args import parse_into, run_subcommands


@dataclass
class Example:
    """Example arguments."""

    name: str = field(metadata={"help": "required name"})
    ratio: float = field(default=0.5, metadata={"help": "a float"})
    tags: list[str] = field(default_factory=lambda: ["a"], metadata={"help": "a list"})
    limit: int | None = field(default=None, metadata={"help": "optional int"})
    strict: bool = field(default=True, metadata={"help": "a switch"})
    mode: str = field(default="x", metadata={"help": "a choice", "choices": ["x", "y"]})


def test_types_lists_and_boolean_switches() -> None:
    args = parse_into(
        Example, ["--name", "n", "--ratio", "0.25", "--tags", "b", "c", "--limit", "3", "--no-strict"]
    )
    assert args == Example(name="n", ratio=0.25, tags=["b", "c"], limit=3, strict=False, mode="x")
    assert parse_into(Example, ["--name", "n"]).strict is True


def test_required_and_choices_are_enforced(capsys) -> None:
    with pytest.raises(SystemExit):
        parse_into(Example, [])
    with pytest.raises(SystemExit):
        parse_into(Example, ["--name", "n", "--mode", "z"])
    assert "invalid choice: 'z'" in capsys.readouterr().err


def test_json_config_supplies_defaults_and_flags_override(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"name": "from-config", "ratio": 0.9, "strict": False}))
    args = parse_into(Example, ["--config", str(config), "--ratio", "0.1"])
    assert (args.name, args.ratio, args.strict) == ("from-config", 0.1, False)


def test_yaml_config(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("name: from-yaml\ntags: [x, y]\nstrict: false\n")
    args = parse_into(Example, ["--config", str(config)])
    assert (args.name, args.tags, args.strict) == ("from-yaml", ["x", "y"], False)


def test_subcommand_dispatch_and_help(capsys) -> None:
    commands = {"run": (Example, lambda a: 0 if a.name == "ok" else 3)}
    assert run_subcommands("prog", "Does things.", commands, ["run", "--name", "ok"]) == 0
    assert run_subcommands("prog", "Does things.", commands, ["run", "--name", "no"]) == 3
    assert run_subcommands("prog", "Does things.", commands, ["nope"]) == 2
    assert "run          Example arguments." in capsys.readouterr().out
