"""``python -m tools.api_model``: what it prints and its exit status, as CI sees them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tools.tests.templates import (
    PIPELINE_PARAMETERS,
    pipeline,
    processing_step,
    state_machine,
    template,
    write,
)

REPO = Path(__file__).resolve().parents[2]
SUMMARY = re.compile(
    r"api-model: (\d+) templates; checked (\d+) pipeline steps, (\d+) state-machine tasks, "
    r"(\d+) custom resources, (\d+) schedules; (\d+) findings; "
    r"(\d+) model patterns skipped \(not Python regexes\); "
    r"(\d+) resources/states skipped with a reason \(--verbose lists them\)"
)


def _run(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.api_model", *map(str, arguments)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _summary(output: str) -> tuple[int, ...]:
    match = SUMMARY.fullmatch(output.strip().splitlines()[-1])
    assert match, output
    return tuple(int(number) for number in match.groups())


def _clean_cdk_out(directory: Path) -> Path:
    directory.mkdir()
    write(
        directory / "a-pipelines.template.json",
        template(P=pipeline([processing_step()], PIPELINE_PARAMETERS)),
    )
    nested = directory / "assembly-Stage"
    nested.mkdir()
    states = {
        "Start": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "fmft-prepare", "Payload": {"input.$": "$"}},
        }
    }
    write(nested / "b-bedrock.template.json", template(M=state_machine(states)))
    write(directory / "manifest.json", {"version": "48.0.0", "artifacts": {}})  # not a template: ignored
    return directory


def test_a_clean_directory_exits_0_with_the_summary(tmp_path: Path) -> None:
    result = _run(_clean_cdk_out(tmp_path / "cdk.out"))

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[:-1] == []
    # One model pattern cannot run in Python: the tag key's \p{L}\p{Z}\p{N} classes.
    assert _summary(result.stdout) == (2, 1, 1, 0, 0, 0, 1, 0)


def test_findings_exit_1_and_are_printed(tmp_path: Path) -> None:
    cdk_out = _clean_cdk_out(tmp_path / "cdk.out")
    step = processing_step("Long", AppSpecification={"ImageUri": "img", "ContainerEntrypoint": ["x" * 257]})
    bad = write(cdk_out / "c-bad.template.json", template(Bad=pipeline([step], PIPELINE_PARAMETERS)))

    result = _run(cdk_out)

    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith(
        f"{bad}: Bad (AWS::SageMaker::Pipeline) step Long -> sagemaker.CreateProcessingJob: "
        "AppSpecification.ContainerEntrypoint[0]: length 257 exceeds the maximum 256"
    )
    assert _summary(result.stdout)[:6] == (3, 2, 1, 0, 0, 1)


def test_a_template_that_cannot_be_read_exits_1(tmp_path: Path) -> None:
    broken = tmp_path / "broken.template.json"
    broken.write_text('{"Resources": ')

    result = _run(broken)

    assert result.returncode == 1
    assert result.stdout.startswith(f"{broken}: cannot read the template: ")


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()

    assert _run().returncode == 2
    missing = _run(tmp_path / "nowhere")
    assert missing.returncode == 2
    assert "no such file or directory" in missing.stderr
    empty = _run(tmp_path / "empty")
    assert empty.returncode == 2
    assert "synthesize first" in empty.stderr


def test_help_exits_0() -> None:
    result = _run("--help")

    assert result.returncode == 0
    assert "botocore" in result.stdout


def test_verbose_lists_skips_with_their_reason(tmp_path: Path) -> None:
    restrict = {"Type": "Custom::VpcRestrictDefaultSG", "Properties": {"DefaultSecurityGroupId": "sg"}}
    path = write(tmp_path / "n.template.json", template(Restrict=restrict))

    result = _run(path, "--verbose")

    assert result.returncode == 0
    assert result.stdout.startswith(
        f"skipped: {path}: Restrict (Custom::VpcRestrictDefaultSG) custom resource: "
    )
