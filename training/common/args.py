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
import sys
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


class UsageError(Exception):
    """A bad flag value, config file or input path: one line on stderr and exit status 2, no traceback."""


USAGE_EXIT = 2


def config_keys(parser: argparse.ArgumentParser) -> list[str]:
    """The keys a ``--config`` file may hold for ``parser``: its options' destinations, without --config."""
    skip = {"help", "config"}
    return sorted({a.dest for a in parser._actions if a.option_strings and a.dest not in skip})


def load_config(path: str, allowed: Sequence[str]) -> dict[str, Any]:
    """The mapping in the YAML/JSON file ``path``, keys as field names (``lora-r`` -> ``lora_r``).

    Raises UsageError for a missing or unparsable file, a file that holds no mapping, and any key that is not
    one of ``allowed``: a typo in a hyperparameter must not silently train with the default."""
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"--config {path}: no such file")
    text = file.read_text(encoding="utf-8")
    try:
        if path.endswith((".yaml", ".yml")):
            import yaml  # only needed for YAML configs

            values = yaml.safe_load(text)
        else:
            values = json.loads(text)
    except Exception as exc:  # yaml.YAMLError or json.JSONDecodeError: either way the file is unreadable
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(
            f"--config {path}: not valid {'YAML' if path.endswith(('.yaml', '.yml')) else 'JSON'}: {first}"
        ) from exc
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise UsageError(
            f"--config {path}: must hold a mapping of flag names to values, got {type(values).__name__}"
        )
    normalized = {str(k).replace("-", "_"): v for k, v in values.items()}
    unknown = [k for k in values if str(k).replace("-", "_") not in allowed]
    if unknown:
        names = ", ".join(repr(str(k)) for k in unknown)
        raise UsageError(
            f"--config {path}: unknown key{'s' if len(unknown) > 1 else ''} {names}; allowed keys: "
            + ", ".join(allowed)
        )
    return normalized


def _apply_config(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    """Use the mapping in ``--config FILE`` as defaults for ``parser``; unknown keys are an error."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", default=None)
    known, _ = pre.parse_known_args(list(argv))
    if not known.config or any(a in ("-h", "--help") for a in argv):
        return
    try:
        values = load_config(known.config, config_keys(parser))
    except UsageError as exc:
        parser.exit(USAGE_EXIT, f"{parser.prog}: error: {exc}\n")
    parser.set_defaults(**values)
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
    """Dispatch ``argv[0]`` to ``commands[name] = (ArgsDataclass, handler(args) -> exit code)``.

    A handler that raises UsageError (a missing input file, a model directory that is not one) ends the
    command with one line on stderr and exit status 2."""
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        lines = [f"usage: {prog} {{{','.join(commands)}}} [options]", "", description, "", "commands:"]
        for name, (args_type, _) in commands.items():
            summary = (args_type.__doc__ or "").strip().splitlines()[0]
            lines.append(f"  {name:<12} {summary}")
        if argv and argv[0] not in ("-h", "--help"):
            print(
                f"{prog}: error: unknown command {argv[0]!r}; allowed: {', '.join(commands)}", file=sys.stderr
            )
        print("\n".join(lines))
        return 0 if argv and argv[0] in ("-h", "--help") else USAGE_EXIT
    name = argv[0]
    args_type, handler = commands[name]
    args = parse_into(args_type, argv[1:], prog=f"{prog} {name}")
    try:
        return int(handler(args))
    except UsageError as exc:
        print(f"{prog} {name}: error: {exc}", file=sys.stderr)
        return USAGE_EXIT


def existing_path(value: str | Path, flag: str, kind: str = "file or directory") -> Path:
    """``value`` as a Path that exists; otherwise UsageError naming the flag."""
    path = Path(value)
    if not path.exists():
        raise UsageError(f"{flag} {path}: no such {kind}")
    return path


def model_directory(value: str | Path, flag: str) -> Path:
    """A local Hugging Face model or PEFT adapter directory (``config.json`` or ``adapter_config.json``)."""
    path = existing_path(value, flag, "directory")
    if not path.is_dir():
        raise UsageError(f"{flag} {path}: not a directory; expected a model directory")
    if not any((path / name).is_file() for name in ("config.json", "adapter_config.json")):
        raise UsageError(
            f"{flag} {path}: not a model directory (it has no config.json or adapter_config.json)"
        )
    return path
