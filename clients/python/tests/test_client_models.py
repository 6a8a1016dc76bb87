"""The generated models cannot drift from api/openapi.json: regenerating them must give the committed file.

The command is the one the committed file records in its header (datamodel-codegen's --enable-command-header),
run from the repository root; the generator's version is pinned in training/requirements-dev.txt and recorded
in the header too, so a new generator shows up here as a difference to commit.
"""

from __future__ import annotations

import difflib
import shlex
import shutil
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from conftest import CLIENT_ROOT, REPO_ROOT

from fmft_inference import models

MODELS = CLIENT_ROOT / "src" / "fmft_inference" / "models.py"
COMMAND_PREFIX = "#   command:   "


def recorded_command() -> list[str]:
    for line in MODELS.read_text(encoding="utf-8").splitlines():
        if line.startswith(COMMAND_PREFIX):
            return shlex.split(line[len(COMMAND_PREFIX) :])
    raise AssertionError(f"{MODELS} has no '{COMMAND_PREFIX.strip()}' header line")


def test_the_committed_models_are_what_the_generator_makes_of_the_document() -> None:
    command = recorded_command()
    assert command[0] == "datamodel-codegen"
    assert command[command.index("--input") + 1] == "api/openapi.json"
    assert "--output" not in command, (
        "the command writes to stdout; the header must not name a temporary file"
    )
    executable = Path(sys.executable).with_name("datamodel-codegen")
    generator = str(executable) if executable.exists() else shutil.which("datamodel-codegen")
    if generator is None:
        pytest.fail("datamodel-codegen is not installed: pip install -r training/requirements-dev.txt")
    generated = subprocess.run(
        [generator, *command[1:]], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=300
    ).stdout
    committed = MODELS.read_text(encoding="utf-8")
    if generated != committed:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                generated.splitlines(keepends=True),
                "committed",
                "generated",
            )
        )
        target = MODELS.relative_to(REPO_ROOT)
        pytest.fail(
            f"{target} differs from what api/openapi.json generates; regenerate it from the repository root:"
            f"\n  {shlex.join(command)} > {target}\n\n{diff[:6000]}"
        )


def test_the_models_type_every_schema_of_the_document_with_its_required_members() -> None:
    import json

    schemas = json.loads((REPO_ROOT / "api" / "openapi.json").read_text(encoding="utf-8"))["components"][
        "schemas"
    ]
    for name, schema in schemas.items():
        if schema.get("type") != "object":
            continue
        typed = getattr(models, name)
        hints = typing.get_type_hints(typed, include_extras=True)
        assert set(hints) == set(schema["properties"]), name
        optional = {key for key, hint in hints.items() if typing.get_origin(hint) is typing.NotRequired}
        assert set(schema["properties"]) - optional == set(schema.get("required", [])), name
