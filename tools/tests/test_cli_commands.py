"""The AWS CLI commands of our documents are commands the CLI accepts (tools/api_model/cli_commands.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.api_model.cli_commands import find_commands, main, problems

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = [REPO / "README.md", REPO / "training" / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def check(tmp_path: Path, block: str) -> list[str]:
    doc = tmp_path / "doc.md"
    doc.write_text(f"# t\n\n```bash\n{block}\n```\n", encoding="utf-8")
    return [text for c in find_commands(doc) for text in problems(c)]


def test_every_aws_command_in_our_documents_is_one_the_cli_accepts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    commands = [c for doc in DOCUMENTS for c in find_commands(doc)]
    assert len(commands) >= 25  # the runbook alone has more than 20
    assert {(c.service, c.command) for c in commands} >= {
        ("sagemaker", "start-pipeline-execution"),
        ("sagemaker", "update-model-package"),
        ("lambda", "invoke"),
        ("bedrock", "delete-provisioned-model-throughput"),
    }
    assert [text for c in commands for text in problems(c)] == []


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (
            "aws sagemaker update-model-package --model-package-arn x --approval Approved",
            "doc.md:4: aws sagemaker update-model-package: unknown option --approval; allowed: ",
        ),
        (
            "aws sagemaker update-model-package --model-package-arn x --model-approval-status Aproved",
            "--model-approval-status Aproved is not one of Approved, Rejected, PendingManualApproval",
        ),
        ("aws sagemaker describe-endpoint", "missing --endpoint-name (required by DescribeEndpoint)"),
        ("aws sagemaker start-pipeline-executions --pipeline-name p", "'sagemaker' has no command"),
        ("aws sagemakr list-models", "no such service 'sagemakr'"),
        ("aws sns subscribe --topic-arn t --protocol email --endpoint a@b.c", "unknown option --endpoint"),
        ("aws sagemaker list-models extra", "unexpected arguments ['extra']"),
    ],
)
def test_each_kind_of_mistake_is_named(tmp_path: Path, block: str, expected: str) -> None:
    found = check(tmp_path, block)
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize(
    "block",
    [
        # CLI renames, idempotency tokens filled by the CLI, list options, substitutions, output files.
        "aws sns subscribe --topic-arn t --protocol email --notification-endpoint a@b.c",
        "aws sagemaker start-pipeline-execution --pipeline-name p \\\n"
        "  --pipeline-parameters Name=A,Value=1 Name=B,Value=2",
        "X=$(aws stepfunctions start-execution --state-machine-arn arn --name run-$(date +%s) "
        "--input '{\"a\":\n 1}')",
        "aws lambda invoke --function-name f --payload '{}' out.json && cat out.json",
        "for m in $(aws sagemaker list-models --name-contains s --query 'Models[].ModelName' --output text); "
        "do echo; done",
        "aws s3 cp a.jsonl s3://bucket/key",
    ],
)
def test_what_the_cli_accepts_passes(tmp_path: Path, block: str) -> None:
    assert check(tmp_path, block) == []


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.md"
    good.write_text("```bash\naws sagemaker list-models\n```\n", encoding="utf-8")
    bad = tmp_path / "bad.md"
    bad.write_text("```bash\naws sagemaker list-models --nope 1\n```\n", encoding="utf-8")
    assert main([str(good)]) == 0
    assert main([str(bad)]) == 1
    assert "1 commands in 1 documents; 1 problems" in capsys.readouterr().out
    assert main([]) == 2
