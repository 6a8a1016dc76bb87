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


def test_unknown_config_key_is_an_error_naming_it_and_the_allowed_keys(tmp_path: Path, capsys) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("name: n\nratoi: 0.9\n")  # a typo must not leave ratio at its default
    with pytest.raises(SystemExit) as exit_info:
        parse_into(Example, ["--config", str(config)], prog="prog")
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == (
        f"prog: error: --config {config}: unknown key 'ratoi'; allowed keys: limit, mode, name, ratio, "
        "strict, tags\n"
    )


def test_config_file_problems_are_one_line_errors(tmp_path: Path, capsys) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": ')
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    for path, message in (
        (tmp_path / "missing.yaml", f"--config {tmp_path / 'missing.yaml'}: no such file"),
        (broken, f"--config {broken}: not valid JSON: Expecting value: line 1 column 10 (char 9)"),
        (listed, f"--config {listed}: must hold a mapping of flag names to values, got list"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            parse_into(Example, ["--config", str(path)], prog="prog")
        assert exit_info.value.code == 2
        assert capsys.readouterr().err == f"prog: error: {message}\n"


def test_help_ignores_the_config_file(tmp_path: Path, capsys) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("typo: 1\n")
    with pytest.raises(SystemExit) as exit_info:
        parse_into(Example, ["--config", str(config), "--help"], prog="prog")
    assert exit_info.value.code == 0 and "--ratio RATIO" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("module", "command"),
    [("training.data.__main__", "split"), ("training.evaluate.__main__", "classification")],
)
def test_unknown_config_key_in_the_data_and_evaluate_clis(tmp_path: Path, capsys, module, command) -> None:
    """Both used to crash with TypeError: unexpected keyword argument."""
    import importlib

    config = tmp_path / "c.json"
    config.write_text(json.dumps({"output_dir": str(tmp_path / "out"), "sed": 3}))
    main = importlib.import_module(module).main
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--config", str(config)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"--config {config}: unknown key 'sed'; allowed keys: " in err and "output_dir, " in err
    assert "seed" in err.split("allowed keys: ")[1].rstrip().split(", ")
    assert not (tmp_path / "out").exists()


def test_train_config_typo_is_an_error_not_the_default(tmp_path: Path, capsys) -> None:
    from training.train.args import parse_config

    config = tmp_path / "train.yaml"
    config.write_text("model_name_or_path: m\nlearning_rate: 0.001\nlora-rank: 8\nwarmup_steps: 10\n")
    with pytest.raises(SystemExit) as exit_info:
        parse_config(["--config", str(config)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"python -m training.train: error: --config {config}: unknown keys 'lora-rank', 'warmup_steps'; "
        "allowed keys: attn_implementation, checkpoint_dir, completion_only_loss,"
    )
    assert "lora_r, lora_target_modules," in err and "warmup_ratio, weight_decay\n" in err
    config.write_text("model_name_or_path: m\nlearning_rate: 0.001\nlora-r: 8\n")
    parsed = parse_config(["--config", str(config)])
    assert (parsed.training.learning_rate, parsed.method.lora_r) == (0.001, 8)
