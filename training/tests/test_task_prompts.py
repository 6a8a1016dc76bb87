"""The inference API's task routes send what the model was trained on.

``training/contracts/task-prompts.json`` says how each task request becomes the user turn (lib/api/tasks.ts
fills its templates); ``training.data.formats.to_conversation`` builds the user turn of each training record.
These tests fill the templates the way the API does and require the exact text ``to_conversation`` builds from
the matching training record, so neither side can change alone.

    .venv/bin/python -m pytest training/tests/test_task_prompts.py -q
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from training.data.formats import SOURCE_KINDS, detect_kind, to_conversation

CONTRACT = Path(__file__).resolve().parents[1] / "contracts" / "task-prompts.json"
TASKS: dict[str, dict[str, str]] = json.loads(CONTRACT.read_text(encoding="utf-8"))["tasks"]
PLACEHOLDER = re.compile(r"\{(\w+)\}")

# Text that would expose any reformatting: leading/trailing spaces, inner blank lines, braces that look like
# placeholders, non-ASCII.
AWKWARD = "  Ünïcode {text} line one\n\n\tline two {question}  "


def fill(template: str, fields: dict[str, Any]) -> str:
    """The template with each {name} replaced in one pass, as lib/api/tasks.ts ``taskPrompt`` does."""
    return PLACEHOLDER.sub(lambda m: fields[m.group(1)], template)


# One training record per task, in the record shape to_conversation reads, and the request the API's route
# takes (field names of api/openapi.json's ClassifyRequest, SummarizeRequest and AnswerRequest).
CASES: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "classification": (
        {"text": AWKWARD, "label": "negative"},
        {"text": AWKWARD},
    ),
    "summarization": (
        {"document": AWKWARD, "summary": "A short summary."},
        {"document": AWKWARD},
    ),
    "qa": (
        {
            "context": AWKWARD,
            "question": "When did it {happen}?",
            "answers": {"text": ["1912"], "answer_start": [3]},
        },
        {"context": AWKWARD, "question": "When did it {happen}?"},
    ),
}


def test_every_contract_task_is_a_training_record_kind_with_a_case() -> None:
    assert set(TASKS) == set(CASES)
    assert set(TASKS) <= set(SOURCE_KINDS)
    assert {t["route"] for t in TASKS.values()} == {"classify", "summarize", "answer"}


@pytest.mark.parametrize("task", sorted(CASES))
def test_template_fields_are_request_fields(task: str) -> None:
    _, request = CASES[task]
    assert set(PLACEHOLDER.findall(TASKS[task]["template"])) == set(request)


@pytest.mark.parametrize("task", sorted(CASES))
def test_the_api_prompt_is_the_trained_user_turn(task: str) -> None:
    record, request = CASES[task]
    assert detect_kind(record) == task
    conversation = to_conversation(record)
    assert conversation.system is None
    assert [role for role, _ in conversation.turns] == ["user", "assistant"]
    assert fill(TASKS[task]["template"], request) == conversation.turns[0][1]


def test_qa_prompt_literally() -> None:
    """The one template with text of its own, spelled out: context, a blank line, 'Question: ', question."""
    conversation = to_conversation({"context": "C.", "question": "Q?", "answer": "A"})
    assert conversation.turns[0][1] == "C.\n\nQuestion: Q?"
    assert fill(TASKS["qa"]["template"], {"context": "C.", "question": "Q?"}) == "C.\n\nQuestion: Q?"


def test_a_changed_template_is_caught() -> None:
    """The comparison can fail: a template that differs by one character does not match the training text."""
    record, request = CASES["qa"]
    changed = TASKS["qa"]["template"].replace("\n\n", "\n")
    assert fill(changed, request) != to_conversation(record).turns[0][1]
