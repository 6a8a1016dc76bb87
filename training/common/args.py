"""Dataclass-driven command-line parsing, in the style of HfArgumentParser, without importing transformers.

Each field of an argument dataclass becomes one ``--flag``; ``metadata={"help": ...}`` is its help text and
``metadata={"choices": [...]}`` restricts its values. Booleans become ``--flag/--no-flag`` pairs (never
``type=bool``, which would read ``--flag False`` as true). A YAML or JSON file given with ``--config``
supplies defaults that flags on the command line override.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def _unwrap_optional(tp: Any) -> Any:
    """Return X for ``X | None`` / ``Optional[X]``, the type itself otherwise."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def add_dataclass_arguments(parser: argparse.ArgumentParser, dataclass_type: type) -> None:
    """Add one option per field of ``dataclass_type`` to ``parser``."""
    hints = typing.get_type_hints(dataclass_type)
    for field in dataclasses.fields(dataclass_type):
        tp = _unwrap_optional(hints[field.name])
        flag = "--" + field.name.replace("_", "-")
        kwargs: dict[str, Any] = {"dest": field.name, "help": field.metadata.get("help", "")}
        if field.default is not dataclasses.MISSING:
            kwargs["default"] = field.default
        elif field.default_factory is not dataclasses.MISSING:
            kwargs["default"] = field.default_factory()
        else:
            kwargs["required"] = True
        if "choices" in field.metadata:
            kwargs["choices"] = list(field.metadata["choices"])
        if tp is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(tp) is list:
            (item_type,) = typing.get_args(tp)
            kwargs["type"] = item_type
            kwargs["nargs"] = "+"
        else:
            kwargs["type"] = tp
        if kwargs.get("default") is not None and not kwargs.get("required"):
            kwargs["help"] += f" (default: {kwargs['default']})"
        parser.add_argument(flag, **kwargs)


def _apply_config(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    """Use the JSON object in ``--config FILE`` as defaults for ``parser``."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", default=None)
    known, _ = pre.parse_known_args(list(argv))
    if known.config:
        text = Path(known.config).read_text(encoding="utf-8")
        if known.config.endswith((".yaml", ".yml")):
            import yaml  # only needed for YAML configs

            values = yaml.safe_load(text)
        else:
            values = json.loads(text)
        if not isinstance(values, dict):
            parser.error(f"--config {known.config} must hold a mapping of flag names to values")
        parser.set_defaults(**{k.replace("-", "_"): v for k, v in values.items()})
        for action in parser._actions:
            if action.dest in values:
                action.required = False


def parse_into(dataclass_type: type[T], argv: Sequence[str], prog: str | None = None) -> T:
    """Parse ``argv`` into an instance of ``dataclass_type``."""
    parser = argparse.ArgumentParser(prog=prog, description=(dataclass_type.__doc__ or "").strip())
    parser.add_argument(
        "--config", default=None, help="YAML or JSON file of defaults; command-line flags win"
    )
    add_dataclass_arguments(parser, dataclass_type)
    _apply_config(parser, argv)
    namespace = vars(parser.parse_args(list(argv)))
    namespace.pop("config", None)
    return dataclass_type(**namespace)


def run_subcommands(
    prog: str, description: str, commands: dict[str, tuple[type, Any]], argv: Sequence[str]
) -> int:
    """Dispatch ``argv[0]`` to ``commands[name] = (ArgsDataclass, handler(args) -> exit code)``."""
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        lines = [f"usage: {prog} {{{','.join(commands)}}} [options]", "", description, "", "commands:"]
        for name, (args_type, _) in commands.items():
            summary = (args_type.__doc__ or "").strip().splitlines()[0]
            lines.append(f"  {name:<12} {summary}")
        print("\n".join(lines))
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    name = argv[0]
    args_type, handler = commands[name]
    args = parse_into(args_type, argv[1:], prog=f"{prog} {name}")
    return int(handler(args))
