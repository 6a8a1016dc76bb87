"""Launcher of SageMaker processing jobs: unpack the job code archive, then run one module of it.

    python3 /opt/ml/processing/input/launcher/<hash>.py /opt/ml/processing/input/code/<hash>.gz \\
        training.data prepare --input /opt/ml/processing/input/raw --output-dir /opt/ml/processing/output

i.e. ``run_module.py ARCHIVE MODULE [ARGS...]`` runs ``python -m MODULE ARGS...`` with the code of ARCHIVE.

Why it exists: the job code reaches a processing job as a gzipped tar of the ``training/`` package (an S3
input), and the container cannot unpack it on its own without an inline ``bash -c`` script, which
CreateProcessingJob refuses (at most 256 characters per ContainerEntrypoint/ContainerArguments string). Jobs
also run with network isolation: no pip install and no S3 access from the container, so the code cannot be
fetched or installed at start either. This file is uploaded as its own S3 object and arrives as a second
input; every job's command is then this short line.

What it does: extracts ARCHIVE (gzipped tar; absolute paths, ``..`` and links out of the directory are
refused, then ``tarfile``'s ``data`` filter applies) into a fresh temporary directory, checks that it holds
MODULE, puts that directory first on ``sys.path`` and on ``PYTHONPATH`` (so child processes such as torchrun
workers import the same code), sets ``sys.argv = [MODULE, *ARGS]`` and runs MODULE as ``__main__``. The exit
status is the module's. A bad launcher input (missing or unreadable archive, not a gzipped tar, a bad or
missing module, too few arguments) is a one-line error on stderr and exit status 2.

Standard library only: it runs before any of the job code is importable.
"""

from __future__ import annotations

import os
import runpy
import shutil
import sys
import tarfile
import tempfile
import zlib
from pathlib import Path

USAGE_ERROR = 2
# tarfile's extraction filters (Python 3.11.4+) raise FilterError; older versions have neither.
_FILTER_ERRORS = getattr(tarfile, "FilterError", ())


class ArchiveError(Exception):
    """The archive cannot be read, or holds a member that would land outside the target directory."""


def _inside(root: str, path: str) -> bool:
    return os.path.commonpath([root, path]) == root


def _member_problem(member: tarfile.TarInfo, root: str) -> str | None:
    """Why ``member`` must not be extracted under ``root`` (a resolved path), or None."""
    name = member.name
    if name.startswith(("/", "\\")) or os.path.isabs(name):
        return "absolute path"
    if ".." in name.replace("\\", "/").split("/"):
        return "'..' in the path"
    # realpath follows links extracted earlier, so a link cannot be used as a stepping stone out.
    target = os.path.realpath(os.path.join(root, name))
    if not _inside(root, target):
        return "outside the target directory"
    if member.issym():
        if os.path.isabs(member.linkname) or member.linkname.startswith(("/", "\\")):
            return f"symbolic link to an absolute path ({member.linkname})"
        if not _inside(root, os.path.realpath(os.path.join(os.path.dirname(target), member.linkname))):
            return f"symbolic link out of the target directory ({member.linkname})"
    elif member.islnk():
        if not _inside(root, os.path.realpath(os.path.join(root, member.linkname))):
            return f"hard link out of the target directory ({member.linkname})"
    elif not (member.isfile() or member.isdir()):
        return "not a regular file, directory or link"
    return None


def extract_archive(archive: Path, destination: Path) -> None:
    """Extract the gzipped tar ``archive`` into ``destination``, checking each member before it is written
    (one pass over the stream: model archives are gigabytes). Raises ArchiveError."""
    destination.mkdir(parents=True, exist_ok=True)
    root = os.path.realpath(destination)
    # The data filter (Python 3.11.4+) also strips special bits and refuses what slipped past the checks.
    options = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                problem = _member_problem(member, root)
                if problem:
                    raise ArchiveError(f"{archive}: refused member {member.name!r}: {problem}")
                # Directory attributes are not applied: a read-only directory would block its own files.
                tar.extract(member, root, set_attrs=not member.isdir(), **options)
    except ArchiveError:
        raise
    except _FILTER_ERRORS as exc:
        raise ArchiveError(f"{archive}: refused member: {exc}") from exc
    except FileNotFoundError as exc:
        raise ArchiveError(f"{archive}: no such file") from exc
    except IsADirectoryError as exc:
        raise ArchiveError(f"{archive}: is a directory, not a gzipped tar") from exc
    except PermissionError as exc:
        raise ArchiveError(f"{archive}: cannot read it ({exc.strerror})") from exc
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise ArchiveError(f"{archive}: not a gzipped tar archive ({exc})") from exc
    except OSError as exc:
        raise ArchiveError(f"{archive}: cannot extract it ({exc})") from exc


def is_module_name(name: str) -> bool:
    """A dotted Python identifier such as ``training.data``."""
    return all(part.isidentifier() for part in name.split("."))


def module_problem(root: Path, module: str) -> str | None:
    """Why ``module`` cannot be run from ``root``, or None. Checks files only: nothing is imported."""
    parts = module.split(".")
    top = parts[0]
    if not ((root / top).is_dir() or (root / f"{top}.py").is_file()):
        entries = ", ".join(sorted(p.name for p in root.iterdir())[:10]) or "nothing"
        return f"the archive holds no package or module '{top}' at its root (it holds: {entries})"
    path = root.joinpath(*parts)
    if path.with_suffix(".py").is_file() or (path / "__main__.py").is_file():
        return None
    relative = "/".join(parts)
    return f"module '{module}' not found in the archive: no {relative}.py or {relative}/__main__.py"


def _error(message: str) -> int:
    print(f"run_module: error: {message}", file=sys.stderr)
    return USAGE_ERROR


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if len(argv) < 2:
        return _error("expected ARCHIVE MODULE [ARGS...]; see --help")
    archive, module, args = Path(argv[0]), argv[1], argv[2:]
    if not is_module_name(module):
        return _error(f"MODULE must be a dotted Python name such as training.data, got {module!r}")
    if not archive.exists():
        return _error(f"{archive}: no such file")
    code_dir = Path(tempfile.mkdtemp(prefix="job-code-"))
    try:
        try:
            extract_archive(archive, code_dir)
        except ArchiveError as exc:
            return _error(str(exc))
        problem = module_problem(code_dir, module)
        if problem:
            return _error(f"{archive}: {problem}")
        sys.path.insert(0, str(code_dir))
        inherited = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = os.pathsep.join([str(code_dir), *([inherited] if inherited else [])])
        sys.argv = [module, *args]
        # Like `python -m MODULE`: sys.argv[0] becomes the module's file, its SystemExit is the exit status.
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return 0
    finally:
        shutil.rmtree(code_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
