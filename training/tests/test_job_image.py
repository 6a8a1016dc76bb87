"""The job image (training/Dockerfile) installs requirements.txt on the region's DLC: every pin must
support the DLC's Python, or the image build fails at `cdk deploy`, long after CI went green."""

import json
import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[2]
TRAINING = ROOT / "training"


def dlc_python() -> str:
    """`3.12` from a tag such as `...-gpu-py312-cu130-...`."""
    table = json.loads((ROOT / "lib/config/container-images.json").read_text())
    tag = table["huggingfacePytorchTraining"]["tag"]
    found = re.search(r"-py(\d)(\d+)-", tag)
    assert found, f"container-images.json: tag {tag!r} names no Python version (-pyXY-)"
    return f"{found[1]}.{found[2]}"


def pinned() -> list[Requirement]:
    lines = (TRAINING / "requirements.txt").read_text().splitlines()
    return [Requirement(line) for line in (raw.split("#", 1)[0].strip() for raw in lines) if line]


def test_every_requirement_is_pinned_exactly():
    loose = [str(r) for r in pinned() if len(r.specifier) != 1 or next(iter(r.specifier)).operator != "=="]
    assert not loose, f"requirements.txt: pin with == so the image and the tests run the same code: {loose}"


@pytest.mark.parametrize("requirement", pinned(), ids=lambda r: r.name)
def test_pin_supports_the_dlc_python(requirement: Requirement):
    python = dlc_python()
    installed = metadata.distribution(requirement.name)
    assert requirement.specifier.contains(installed.version), (
        f"{requirement.name}: the venv has {installed.version}, requirements.txt pins {requirement.specifier}"
    )
    requires = installed.metadata.get("Requires-Python") or ""
    assert SpecifierSet(requires).contains(python), (
        f"{requirement.name}=={installed.version} requires Python {requires}; "
        f"the job image's DLC has {python}"
    )


def test_dockerfile_installs_the_pinned_requirements_on_the_configured_base():
    dockerfile = (TRAINING / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE_IMAGE$", dockerfile, re.M)
    assert re.search(r"^FROM \$\{BASE_IMAGE\}$", dockerfile, re.M)
    assert re.search(r"^COPY requirements\.txt (\S+)$", dockerfile, re.M)
    assert re.search(r"pip install --no-cache-dir -r \S*requirements\.txt", dockerfile)
