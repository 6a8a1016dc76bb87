"""The package as pyproject.toml declares it: one version, no runtime dependency, Python 3.9 syntax."""

from __future__ import annotations

import ast

import pytest
from conftest import CLIENT_ROOT

import fmft_inference

tomllib = pytest.importorskip("tomllib")
PROJECT = tomllib.loads((CLIENT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
SOURCES = sorted((CLIENT_ROOT / "src" / "fmft_inference").glob("*.py"))


def test_the_version_is_the_projects() -> None:
    assert fmft_inference.__version__ == PROJECT["version"] == "0.1.0"


def test_the_standard_library_is_the_only_runtime_dependency_and_botocore_the_iam_extra() -> None:
    assert PROJECT["dependencies"] == []
    assert [requirement.split(">")[0] for requirement in PROJECT["optional-dependencies"]["iam"]] == [
        "botocore"
    ]


@pytest.mark.parametrize("source", SOURCES, ids=[source.name for source in SOURCES])
def test_every_module_is_python_3_9_syntax(source) -> None:
    assert PROJECT["requires-python"] == ">=3.9"
    ast.parse(source.read_text(encoding="utf-8"), filename=str(source), feature_version=(3, 9))


def test_the_public_names_are_exported() -> None:
    for name in fmft_inference.__all__:
        assert hasattr(fmft_inference, name), name
