"""The processing-job launcher, run as a real subprocess the way a container runs it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = REPO / "training" / "run_module.py"

# A package that records what the launcher gave it, asks a child process where it imports itself from
# (PYTHONPATH), and exits with the code it is told.
PROBE_MAIN = """
import json, os, subprocess, sys
out, code, *rest = sys.argv[1:]
child = subprocess.run(
    [sys.executable, "-c", "import probe; print(probe.__file__)"], capture_output=True, text=True, check=True
)
record = {"argv": sys.argv, "cwd": os.getcwd(), "path": sys.path, "child": child.stdout.strip(),
          "file": __file__, "name": __name__}
with open(out, "w") as handle:
    json.dump(record, handle)
sys.exit(int(code))
"""


def make_archive(path: Path, files: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def probe_archive(tmp_path: Path) -> Path:
    return make_archive(
        tmp_path / "code.gz", {"probe/__init__.py": "", "probe/__main__.py": PROBE_MAIN, "probe/util.py": ""}
    )


def launch(*args: str | Path, cwd: Path, tmpdir: Path | None = None) -> subprocess.CompletedProcess:
    env = None
    if tmpdir is not None:
        tmpdir.mkdir(exist_ok=True)
        env = {**os.environ, "TMPDIR": str(tmpdir)}
    return subprocess.run(
        [sys.executable, str(LAUNCHER), *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_runs_the_module_with_its_arguments_and_exit_code(tmp_path: Path, probe_archive: Path) -> None:
    out = tmp_path / "record.json"
    work = tmp_path / "work"
    work.mkdir()
    args = ["--flag", "two words", "", "ünïcode", "--x=1 2"]
    result = launch(probe_archive, "probe", out, "7", *args, cwd=work, tmpdir=tmp_path / "tmp")
    assert result.returncode == 7, result.stderr
    record = json.loads(out.read_text())
    assert record["argv"][1:] == [str(out), "7", *args]
    assert record["name"] == "__main__"
    code_dir = Path(record["path"][0])
    assert code_dir.parent == tmp_path / "tmp" and Path(record["file"]) == code_dir / "probe" / "__main__.py"
    assert record["child"] == str(code_dir / "probe" / "__init__.py")  # PYTHONPATH reaches child processes
    assert record["cwd"] == str(work)
    assert not code_dir.exists()  # the extracted code is removed afterwards


def test_exit_code_zero_passes_through(tmp_path: Path, probe_archive: Path) -> None:
    result = launch(probe_archive, "probe", tmp_path / "r.json", "0", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")


def test_runs_the_real_training_package(tmp_path: Path) -> None:
    archive = tmp_path / "training.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(REPO / "training", "training", filter=lambda i: None if "__pycache__" in i.name else i)
    result = launch(archive, "training.data", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "prepare" in result.stdout and "usage: python -m training.data" in result.stdout


def test_help_prints_the_command(tmp_path: Path) -> None:
    for flag in ("--help", "-h"):
        result = launch(flag, cwd=tmp_path)
        assert result.returncode == 0
        assert "input/launcher/<hash>.py /opt/ml/processing/input/code/<hash>.gz" in result.stdout
        assert "256 characters" in result.stdout


def _bad_inputs(tmp_path: Path, archive: Path) -> list[tuple[list[str | Path], str]]:
    plain_tar = tmp_path / "plain.tar"
    with tarfile.open(plain_tar, "w") as tar:
        tar.add(archive, "x")
    not_gzip = tmp_path / "notes.gz"
    not_gzip.write_text("not an archive")
    return [
        ([], "expected ARCHIVE MODULE [ARGS...]"),
        ([archive], "expected ARCHIVE MODULE [ARGS...]"),
        ([tmp_path / "missing.gz", "probe"], "missing.gz: no such file"),
        ([tmp_path, "probe"], "is a directory, not a gzipped tar"),
        ([plain_tar, "probe"], "not a gzipped tar archive"),
        ([not_gzip, "probe"], "not a gzipped tar archive"),
        ([archive, "probe-main"], "MODULE must be a dotted Python name"),
        ([archive, "probe..x"], "MODULE must be a dotted Python name"),
        ([archive, "training.data"], "holds no package or module 'training' at its root (it holds: probe)"),
        ([archive, "probe.missing"], "no probe/missing.py or probe/missing/__main__.py"),
        ([archive, "probe.util.x"], "module 'probe.util.x' not found in the archive"),
    ]


def test_each_bad_input_is_one_line_and_exit_2(tmp_path: Path, probe_archive: Path) -> None:
    for args, message in _bad_inputs(tmp_path, probe_archive):
        result = launch(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("run_module: error: "), (args, result.stderr)
        assert message in lines[0], (args, lines[0])
        assert result.stdout == ""


def _archive_with(path: Path, member: tarfile.TarInfo, data: bytes = b"x") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        ok = tarfile.TarInfo("probe/__init__.py")
        tar.addfile(ok, io.BytesIO(b""))
        if member.isfile():
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
        else:
            tar.addfile(member)
    return path


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (tarfile.TarInfo("../evil.txt"), "'..' in the path"),
        (tarfile.TarInfo("probe/../../evil.txt"), "'..' in the path"),
        (tarfile.TarInfo("/tmp/evil.txt"), "absolute path"),
        (_link("probe/out", "../../.."), "symbolic link out of the target directory"),
        (_link("probe/abs", "/etc"), "symbolic link to an absolute path"),
        (_link("probe/hard", "../evil.txt", tarfile.LNKTYPE), "hard link out of the target directory"),
    ],
)
def test_members_outside_the_directory_are_refused(
    tmp_path: Path, member: tarfile.TarInfo, reason: str
) -> None:
    archive = _archive_with(tmp_path / "evil.gz", member)
    scratch = tmp_path / "tmp"
    work = tmp_path / "work"
    work.mkdir()
    scratch.mkdir()
    before = sorted(tmp_path.rglob("*"))
    result = launch(archive, "probe", cwd=work, tmpdir=scratch)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and reason in result.stderr, result.stderr
    assert f"refused member {member.name!r}" in result.stderr
    # Nothing was written anywhere: not outside, and the extraction directory itself is gone.
    assert sorted(tmp_path.rglob("*")) == before
    assert list(scratch.iterdir()) == []
