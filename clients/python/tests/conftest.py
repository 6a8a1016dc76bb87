"""Fixtures of the Python client's tests: the package from src/ (no install needed) and the local server.

The local server (api/local-server.ts, api/vectors/README.md) runs the real API handler behind plain HTTP with
scripted models; one process serves the whole session, and each test posts its own script first.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CLIENT_ROOT = Path(__file__).resolve().parents[1]
REPO_ROOT = CLIENT_ROOT.parents[1]
sys.path.insert(0, str(CLIENT_ROOT / "src"))

VECTORS: dict[str, Any] = json.loads(
    (REPO_ROOT / "api" / "vectors" / "vectors.json").read_text(encoding="utf-8")
)

# tsx compiles the server and the handler on start; a loaded 2-core machine needs a while.
SERVER_START_SECONDS = 90


class LocalServer:
    """The running local server: its API URL and its control routes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.origin = url.split("/v1/")[0]

    def script(self, steps: list[dict[str, Any]]) -> None:
        """Replaces the script with `steps` and clears the recorded requests."""
        body = json.dumps({"steps": steps}).encode("utf-8")
        request = urllib.request.Request(
            f"{self.origin}/__control/script", data=body, headers={"Content-Type": "application/json"}
        )
        with _direct.open(request, timeout=30) as response:
            assert response.status == 200, response.read()

    def requests(self) -> list[dict[str, Any]]:
        """The requests to /v1/ since the last script: method, path and lower-case headers."""
        with _direct.open(f"{self.origin}/__control/requests", timeout=30) as response:
            return [r for r in json.load(response) if r["path"].startswith("/v1/")]


# The control routes are on loopback: never through a proxy from the environment.
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="session")
def local_server() -> Iterator[LocalServer]:
    tsx = REPO_ROOT / "node_modules" / ".bin" / "tsx"
    source = REPO_ROOT / "api" / "local-server.ts"
    if not tsx.exists() or not source.exists():
        needs = f"{tsx.relative_to(REPO_ROOT)} (npm ci) and {source.relative_to(REPO_ROOT)}"
        pytest.fail(f"the local server needs {needs}")
    with tempfile.TemporaryFile() as stderr, pytest.MonkeyPatch.context() as env:
        no_proxy = ",".join(filter(None, [os.environ.get("no_proxy"), "127.0.0.1", "localhost"]))
        env.setenv("no_proxy", no_proxy)
        env.setenv("NO_PROXY", no_proxy)
        process = subprocess.Popen(
            [str(tsx), str(source.relative_to(REPO_ROOT))],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        try:
            yield LocalServer(_read_url(process, stderr))
        finally:
            # Closing stdin is how the server is told to exit.
            assert process.stdin is not None
            process.stdin.close()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


def _read_url(process: subprocess.Popen[bytes], stderr: Any) -> str:
    """The URL the server prints as its first line, or a failure with its stderr."""
    lines: queue.Queue[bytes] = queue.Queue()
    assert process.stdout is not None
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=SERVER_START_SECONDS)
    except queue.Empty:
        line = b""
    if not line:
        process.kill()
        process.wait()
        stderr.seek(0)
        pytest.fail(
            f"the local server did not print its URL:\n{stderr.read().decode('utf-8', 'replace')[-4000:]}"
        )
    return json.loads(line)["url"]
