"""The README's Python examples, run as written against the local server.

Each ```python block starts with `# Example: <name>`; EXAMPLES gives the script the local server follows for
it and the output it must print. The examples read the URL, key and credentials from the environment, which
the test sets to the local server's.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from conftest import CLIENT_ROOT, VECTORS, LocalServer

README = CLIENT_ROOT / "README.md"
SERVER = VECTORS["server"]


def model(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": {"text": text, "finishReason": "stop", **extra}}


# name: (script, the lines it prints, the requests it makes)
EXAMPLES: dict[str, tuple[list[dict[str, Any]], list[str], int]] = {
    "generate": (
        [model("A claim filed on May 3.", usage={"inputTokens": 12, "outputTokens": 7})],
        [
            "serving sagemaker-endpoint streaming",
            "support-assistant sagemaker-inference-component streaming",
            "claims-nova bedrock streaming",
            "A claim filed on May 3. stop {'inputTokens': 12, 'outputTokens': 7}",
        ],
        2,
    ),
    "stream": (
        [{"model": {"tokens": ["Hel", "lo", "!"], "finishReason": "stop", "usage": {"outputTokens": 3}}}],
        ["Hello!", "stop {'outputTokens': 3}"],
        1,
    ),
    "tasks": (
        [model("Billing."), model("  Water damage is covered.  "), model("May 3")],
        ["billing", "Water damage is covered.", "May 3"],
        3,
    ),
    "sigv4": ([], ["['serving', 'support-assistant', 'claims-nova']"], 1),
    "errors": (
        # The invalid request takes no step (no model call); it comes last, so the gateway steps are not its.
        [{"gateway": "throttled"}, model("hello"), {"gateway": "quota-exceeded"}],
        [
            "hello",
            "quota-exceeded True 3600 after 1 attempt(s)",
            "400 invalid-request False",
            re.compile(r"  /prompt: .+"),
            re.compile(r"  /parameters/maxNewTokens: .+"),
        ],
        4,
    ),
}


def python_examples(path: Path) -> dict[str, str]:
    """The ```python blocks of a Markdown file by the name of their `# Example:` first line."""
    examples = {}
    for block in re.findall(r"^```python\n(.*?)^```$", path.read_text(encoding="utf-8"), re.M | re.S):
        first, _, _ = block.partition("\n")
        match = re.fullmatch(r"# Example: (\S+)", first)
        assert match, f"a python block of {path.name} does not start with '# Example: <name>': {first!r}"
        examples[match.group(1)] = block
    return examples


def test_every_readme_example_is_run() -> None:
    assert set(python_examples(README)) == set(EXAMPLES)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_readme_example(
    name: str,
    local_server: LocalServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path,
) -> None:
    script, expected_lines, expected_requests = EXAMPLES[name]
    monkeypatch.setenv("FMFT_API_URL", local_server.url)
    monkeypatch.setenv("FMFT_API_KEY", SERVER["apiKey"])
    # botocore finds these first and stops there: no profile, no instance metadata, no AWS.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", SERVER["credentials"]["accessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SERVER["credentials"]["secretAccessKey"])
    monkeypatch.setenv("AWS_REGION", SERVER["region"])
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name_ in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name_, raising=False)
    local_server.script(script)

    code = python_examples(README)[name]
    exec(compile(code, f"{README.name}:{name}", "exec"), {"__name__": f"readme_{name}"})

    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == len(expected_lines), printed
    for line, expected in zip(printed, expected_lines):
        assert expected.fullmatch(line) if isinstance(expected, re.Pattern) else line == expected, (
            line,
            expected,
        )
    requests = local_server.requests()
    assert len(requests) == expected_requests
    if name == "sigv4":
        assert all(r["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 ") for r in requests)
        assert not any("x-api-key" in r["headers"] for r in requests)
