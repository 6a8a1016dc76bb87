"""Every Python Lambda handler the CDK app names imports from the bundled packages alone.

The functions' code is ``training/`` cut down to ``HANDLER_PACKAGES`` (lib/constructs/python-handlers-code.ts)
and runs on the Lambda Python runtime, which has the standard library and boto3 (with its own dependencies)
and nothing else. A handler module that imports numpy, or a package left out of the bundle, would fail at
its first invocation; here it fails the import, in a fresh interpreter that sees only the bundle.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# boto3 and what it brings along in the Lambda runtime.
RUNTIME_PACKAGES = ("boto3", "botocore", "jmespath", "dateutil", "urllib3", "s3transfer", "six")


def handler_modules() -> list[str]:
    """The modules of every Lambda handler string in lib/: `'training.<module>.<name>handler'`, or a
    templated `training.<module>.${handler}`."""
    found: set[str] = set()
    for path in (REPO / "lib").rglob("*.ts"):
        text = path.read_text(encoding="utf-8")
        for handler in re.findall(r"['`](training(?:\.\w+)+)\.(?:\w*handler|\$\{handler\})['`]", text):
            found.add(handler)
    return sorted(found)


def bundled_packages() -> list[str]:
    source = (REPO / "lib" / "constructs" / "python-handlers-code.ts").read_text(encoding="utf-8")
    return re.findall(r"'([\w.]+)'", re.search(r"HANDLER_PACKAGES = \[(.*?)\]", source, re.S)[1])


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lambda")
    (root / "training").mkdir()
    for entry in bundled_packages():
        src, dst = REPO / "training" / entry, root / "training" / entry
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dst)
    return root


def test_the_app_names_the_handlers_this_test_expects() -> None:
    modules = handler_modules()
    for module in (
        "training.monitor.canary",
        "training.registry.promotion",
        "training.cost.idle_endpoints",
        "training.triggers.retrain",
    ):
        assert module in modules, f"{module} is no longer a handler module of lib/: {modules}"


def guarded_import(bundle: Path, module: str) -> subprocess.CompletedProcess[str]:
    """Import `module` in a fresh interpreter in `bundle`, where only the standard library, the bundle and the
    runtime's packages may be imported."""
    script = (
        "import importlib.abc, sys\n"
        "class Only(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        top = name.split('.')[0]\n"
        f"        if top not in sys.stdlib_module_names and top not in ('training', *{RUNTIME_PACKAGES!r}):\n"
        "            raise ImportError('not in the Lambda runtime: ' + name)\n"
        "sys.meta_path.insert(0, Only())\n"
        f"import {module} as m\n"
        "print(m.__file__)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-c", script], cwd=bundle, env=env, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("module", handler_modules())
def test_the_handler_module_imports_with_the_bundle_and_the_lambda_runtime_only(
    bundle: Path, module: str
) -> None:
    done = guarded_import(bundle, module)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(bundle / Path(*module.split(".")).with_suffix(".py"))


def test_the_guard_refuses_what_the_runtime_lacks(bundle: Path) -> None:
    """numpy is installed here, not in the Lambda runtime: the guard refuses it, as it would in a handler."""
    done = guarded_import(bundle, "numpy")
    assert done.returncode != 0
    assert "not in the Lambda runtime: numpy" in done.stderr
