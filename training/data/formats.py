"""Record shapes: the source shapes we read, the target formats we write, and the base-model-family table.

Every record is first reduced to what it means (a conversation, or a task example), then written in the
target's shape. A conversion that cannot be done without losing meaning (a three-turn chat as one
prompt/completion pair) is an error naming the field, not a silent truncation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BEDROCK_CONVERSATION = "bedrock-conversation"
BEDROCK_PROMPT_COMPLETION = "bedrock-prompt-completion"
BEDROCK_SCHEMA_VERSION = "bedrock-conversation-2024"
BEDROCK_CONTINUED_PRETRAINING = "bedrock-continued-pretraining"
# Claude 3 Haiku on Bedrock: {"system": str (optional), "messages": [{"role", "content": str}, ...]} and
# nothing else: no schemaVersion, no content blocks (AWS "Prepare data for fine-tuning text-to-text
# models" and Anthropic's Bedrock fine-tuning guide, whose sample data set has exactly this shape).
BEDROCK_CLAUDE_CONVERSATION = "bedrock-claude-conversation"


# Where converted records carry the protected attributes that fairness is measured over
# (``--protected-attributes``): a top-level object of group labels, e.g. {"gender": "f", "age_band": "30-39"}.
# The trainers read a record's conversation and ignore other keys; length limits and duplicate detection
# ignore it too (it is not text the model sees). Bedrock records cannot carry it (see carries_metadata).
METADATA_FIELD = "metadata"


class FieldError(ValueError):
    """A record field that is missing, of the wrong type, or holds a value that is not allowed."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class ModelFamily:
    """What one base-model family accepts for fine-tuning on Amazon Bedrock."""

    name: str
    examples: str
    data_format: str
    min_records: int
    max_records: int
    max_tokens: int
    max_chars: int
    reserved_keywords: tuple[str, ...] = ()


# Limits for Bedrock fine-tuning come from the one table shared with the CDK app and the Bedrock state
# machine: training/contracts/bedrock-models.json (sources cited there). Quotas are adjustable per account;
# every limit can be overridden by a flag (--max-records, --max-tokens...).
BEDROCK_MODELS_CONTRACT = Path(__file__).resolve().parents[1] / "contracts" / "bedrock-models.json"


def _load_model_families() -> dict[str, ModelFamily]:
    table = json.loads(BEDROCK_MODELS_CONTRACT.read_text(encoding="utf-8"))
    chars = table["charsPerToken"]
    return {
        name: ModelFamily(
            name,
            f["examples"],
            f["dataFormat"],
            min_records=f["minRecords"],
            max_records=f["maxRecords"],
            max_tokens=f["maxTokens"],
            max_chars=f["maxTokens"] * chars,
            reserved_keywords=tuple(f.get("reservedKeywords", ())),
        )
        for name, f in table["families"].items()
    }


MODEL_FAMILIES: dict[str, ModelFamily] = _load_model_families()

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot go into training text, or None. Invalid UTF-8 bytes arrive as lone surrogates."""
    match = _LONE_SURROGATE.search(value)
    if match:
        code = ord(match.group())
        if 0xDC80 <= code <= 0xDCFF:
            return f"invalid UTF-8 byte 0x{code - 0xDC00:02x} at character {match.start()}"
        return f"lone surrogate U+{code:04X} at character {match.start()} (not encodable as UTF-8)"
    match = _CONTROL_CHARS.search(value)
    if match:
        return f"control character U+{ord(match.group()):04X} at character {match.start()}"
    return None


def require_text(record: dict[str, Any], field: str, path: str | None = None) -> str:
    """The non-empty string in ``record[field]``; ``path`` names it in errors (``messages[2].content``)."""
    name = path or field
    if field not in record or record[field] is None:
        raise FieldError(name, "is missing")
    value = record[field]
    if not isinstance(value, str):
        raise FieldError(name, f"must be a string, got {type(value).__name__} {_short(value)}")
    if not value.strip():
        raise FieldError(name, "is empty")
    problem = text_problem(value)
    if problem:
        raise FieldError(name, problem)
    return value


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_present(record: dict[str, Any], names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in record), None)


# ---------------------------------------------------------------------------------------------------------
# Meaning of a record: a conversation (system prompt + turns) or a task example.


@dataclass
class Conversation:
    system: str | None
    turns: list[tuple[str, str]]


def _text_blocks(value: Any, path: str) -> str:
    """Text of a Bedrock/OpenAI content list ``[{"text": ...}]`` or a plain string."""
    if isinstance(value, str):
        return require_text({"v": value}, "v", path)
    if not isinstance(value, list) or not value:
        raise FieldError(
            path, f"must be a non-empty string or list of {{'text': ...}} blocks, got {_short(value)}"
        )
    parts = []
    for i, block in enumerate(value):
        if not isinstance(block, dict):
            raise FieldError(f"{path}[{i}]", f"must be an object with 'text', got {_short(block)}")
        parts.append(require_text(block, "text", f"{path}[{i}].text"))
    return "\n".join(parts)


SOURCE_KINDS = ("chat", "prompt_completion", "instruction", "classification", "summarization", "qa")


def detect_kind(record: dict[str, Any]) -> str:
    """Which source shape ``record`` has; a FieldError lists the shapes we know when none fits."""
    if "messages" in record:
        return "chat"
    if "prompt" in record and "completion" in record:
        return "prompt_completion"
    if "instruction" in record:
        return "instruction"
    if "question" in record and "context" in record:
        return "qa"
    if _first_present(record, ("summary", "highlights")) and _first_present(record, ("document", "article")):
        return "summarization"
    if _first_present(record, ("label", "labels")) and _first_present(record, ("text", "sentence")):
        return "classification"
    raise FieldError(
        None,
        f"unknown record shape with fields {sorted(record)}; expected one of: messages (chat); prompt + "
        "completion; instruction [+ input] + output; text + label|labels; document + summary; "
        "context + question + answers",
    )


def to_conversation(record: dict[str, Any]) -> Conversation:
    kind = detect_kind(record)
    if kind == "chat":
        return _chat_conversation(record)
    if kind == "prompt_completion":
        return Conversation(
            None,
            [("user", require_text(record, "prompt")), ("assistant", require_text(record, "completion"))],
        )
    if kind == "instruction":
        prompt = require_text(record, "instruction")
        if isinstance(record.get("input"), str) and record["input"].strip():
            prompt = f"{prompt}\n\n{require_text(record, 'input')}"
        system = require_text(record, "system") if record.get("system") else None
        return Conversation(system, [("user", prompt), ("assistant", require_text(record, "output"))])
    if kind == "classification":
        example = to_classification(record)
        label = example.get("label", None)
        answer = str(label) if "label" in example else ", ".join(str(v) for v in example["labels"])
        return Conversation(None, [("user", example["text"]), ("assistant", answer)])
    if kind == "summarization":
        example = to_summarization(record)
        return Conversation(None, [("user", example["document"]), ("assistant", example["summary"])])
    example = to_qa(record)
    prompt = f"{example['context']}\n\nQuestion: {example['question']}"
    return Conversation(None, [("user", prompt), ("assistant", example["answers"][0])])


def _chat_conversation(record: dict[str, Any]) -> Conversation:
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        raise FieldError("messages", f"must be a non-empty list of messages, got {_short(messages)}")
    system = None
    if record.get("system") not in (None, "", []):
        system = _text_blocks(record["system"], "system")
    turns: list[tuple[str, str]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise FieldError(
                f"messages[{i}]", f"must be an object with role and content, got {_short(message)}"
            )
        role = message.get("role")
        if role not in ("system", "user", "assistant"):
            raise FieldError(
                f"messages[{i}].role", f"{_short(role)} is not allowed; expected user, assistant or system"
            )
        text = _text_blocks(message.get("content"), f"messages[{i}].content")
        if role == "system":
            if turns or system is not None:
                raise FieldError(f"messages[{i}].role", "a system message is only allowed first")
            system = text
        else:
            turns.append((role, text))
    _check_turns(turns, "messages")
    return Conversation(system, turns)


def _check_turns(turns: list[tuple[str, str]], field: str) -> None:
    if not turns:
        raise FieldError(field, "has no user or assistant message")
    if turns[0][0] != "user":
        raise FieldError(f"{field}[0].role", f"the first turn must be 'user', got '{turns[0][0]}'")
    if turns[-1][0] != "assistant":
        raise FieldError(
            f"{field}[{len(turns) - 1}].role", f"the last turn must be 'assistant', got '{turns[-1][0]}'"
        )
    for i in range(1, len(turns)):
        if turns[i][0] == turns[i - 1][0]:
            raise FieldError(
                f"{field}[{i}].role",
                f"roles must alternate user/assistant; two '{turns[i][0]}' turns in a row",
            )


def to_classification(record: dict[str, Any]) -> dict[str, Any]:
    text_field = _first_present(record, ("text", "sentence")) or "text"
    out: dict[str, Any] = {"text": require_text(record, text_field)}
    has_label, has_labels = "label" in record, "labels" in record
    if has_label == has_labels:
        raise FieldError(
            "label", "exactly one of 'label' (one class) or 'labels' (a list, multi-label) is required"
        )
    if has_label:
        label = record["label"]
        if (
            isinstance(label, bool)
            or not isinstance(label, str | int)
            or (isinstance(label, str) and not label.strip())
        ):
            raise FieldError("label", f"must be a non-empty string or an integer, got {_short(label)}")
        out["label"] = label
    else:
        labels = record["labels"]
        if not isinstance(labels, list) or not labels:
            raise FieldError("labels", f"must be a non-empty list of labels, got {_short(labels)}")
        for i, label in enumerate(labels):
            if (
                isinstance(label, bool)
                or not isinstance(label, str | int)
                or (isinstance(label, str) and not label.strip())
            ):
                raise FieldError(
                    f"labels[{i}]", f"must be a non-empty string or an integer, got {_short(label)}"
                )
        if len(set(labels)) != len(labels):
            raise FieldError("labels", f"lists a label twice: {_short(labels)}")
        out["labels"] = labels
    return out


def to_summarization(record: dict[str, Any]) -> dict[str, Any]:
    doc_field = _first_present(record, ("document", "article")) or "document"
    summary_field = _first_present(record, ("summary", "highlights")) or "summary"
    return {"document": require_text(record, doc_field), "summary": require_text(record, summary_field)}


def to_qa(record: dict[str, Any]) -> dict[str, Any]:
    out = {"context": require_text(record, "context"), "question": require_text(record, "question")}
    if "answers" in record:
        answers = record["answers"]
        if isinstance(answers, dict):  # SQuAD: {"text": [...], "answer_start": [...]}
            answers = answers.get("text")
    elif "answer" in record:
        answers = [record["answer"]]
    else:
        raise FieldError("answers", "is missing")
    if not isinstance(answers, list) or not answers:
        raise FieldError("answers", f"must be a non-empty list of answer strings, got {_short(answers)}")
    for i, answer in enumerate(answers):
        require_text({"a": answer}, "a", f"answers[{i}]")
    out["answers"] = answers
    return out


# ---------------------------------------------------------------------------------------------------------
# Target formats: how each is written from a source record and how a record already in it is checked.


def _single_exchange(conv: Conversation) -> tuple[str, str]:
    if len(conv.turns) != 2:
        raise FieldError(
            "messages",
            f"has {len(conv.turns)} turns; prompt/completion holds exactly one user and one assistant turn",
        )
    prompt = conv.turns[0][1] if conv.system is None else f"{conv.system}\n\n{conv.turns[0][1]}"
    return prompt, conv.turns[1][1]


def write_prompt_completion(record: dict[str, Any]) -> dict[str, Any]:
    prompt, completion = _single_exchange(to_conversation(record))
    return {"prompt": prompt, "completion": completion}


def write_chat(record: dict[str, Any]) -> dict[str, Any]:
    conv = to_conversation(record)
    messages = [{"role": "system", "content": conv.system}] if conv.system else []
    messages += [{"role": role, "content": text} for role, text in conv.turns]
    return {"messages": messages}


def write_bedrock_conversation(record: dict[str, Any]) -> dict[str, Any]:
    conv = to_conversation(record)
    out: dict[str, Any] = {"schemaVersion": BEDROCK_SCHEMA_VERSION}
    if conv.system:
        out["system"] = [{"text": conv.system}]
    out["messages"] = [{"role": role, "content": [{"text": text}]} for role, text in conv.turns]
    return out


def write_claude_conversation(record: dict[str, Any]) -> dict[str, Any]:
    conv = to_conversation(record)
    out: dict[str, Any] = {"system": conv.system} if conv.system else {}
    out["messages"] = [{"role": role, "content": text} for role, text in conv.turns]
    return out


def check_claude_conversation(record: dict[str, Any]) -> None:
    """Claude 3 Haiku's fine-tuning record: optional ``system`` string, ``messages`` of at least two
    plain-string turns, user first, assistant last, alternating; no other keys anywhere."""
    extra = sorted(set(record) - {"system", "messages"})
    if extra:
        raise FieldError(
            extra[0], "is not allowed; Claude 3 Haiku records hold only 'system' (optional) and 'messages'"
        )
    if "system" in record:
        require_text(record, "system")
    messages = record.get("messages")
    if not isinstance(messages, list) or len(messages) < 2:
        raise FieldError(
            "messages",
            f"must be a list of at least two messages (user, then assistant), got {_short(messages)}",
        )
    turns = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise FieldError(
                f"messages[{i}]", f"must be an object with role and content, got {_short(message)}"
            )
        extra = sorted(set(message) - {"role", "content"})
        if extra:
            raise FieldError(
                f"messages[{i}].{extra[0]}", "is not allowed; a message holds only role and content"
            )
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise FieldError(
                f"messages[{i}].role", f"{_short(role)} is not allowed; expected 'user' or 'assistant'"
            )
        if isinstance(message.get("content"), list):
            raise FieldError(
                f"messages[{i}].content",
                "must be a string; Claude 3 Haiku fine-tuning takes plain text, not [{'text': ...}] blocks",
            )
        turns.append((role, require_text(message, "content", f"messages[{i}].content")))
    _check_turns(turns, "messages")


def check_prompt_completion(record: dict[str, Any]) -> None:
    require_text(record, "prompt")
    require_text(record, "completion")


def check_bedrock_prompt_completion(record: dict[str, Any]) -> None:
    check_prompt_completion(record)
    extra = sorted(set(record) - {"prompt", "completion"})
    if extra:
        raise FieldError(
            extra[0], "is not allowed; Bedrock prompt/completion records hold only prompt and completion"
        )


def write_continued_pretraining(record: dict[str, Any]) -> dict[str, Any]:
    """Unlabeled text for Bedrock continued pre-training: ``{"input": ...}`` from ``input`` or ``text``."""
    field = _first_present(record, ("input", "text"))
    if field is None:
        raise FieldError("input", "is missing; continued pre-training needs the text in 'input' or 'text'")
    return {"input": require_text(record, field, field)}


def check_continued_pretraining(record: dict[str, Any]) -> None:
    require_text(record, "input", "input")
    extra = sorted(set(record) - {"input"})
    if extra:
        raise FieldError(extra[0], "is not allowed; continued pre-training records hold only input")


def check_chat(record: dict[str, Any]) -> None:
    _chat_conversation(record)


def check_bedrock_conversation(record: dict[str, Any]) -> None:
    # Nova's data guide: "schemaVersion can be any string value"; we write bedrock-conversation-2024.
    version = record.get("schemaVersion")
    if not isinstance(version, str) or not version.strip():
        raise FieldError(
            "schemaVersion", f"must be a string such as '{BEDROCK_SCHEMA_VERSION}', got {_short(version)}"
        )
    system = record.get("system")
    if system is not None:
        if not isinstance(system, list):
            raise FieldError("system", f"must be a list of {{'text': ...}} blocks, got {_short(system)}")
        if system:
            _text_blocks(system, "system")
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        raise FieldError("messages", f"must be a non-empty list of messages, got {_short(messages)}")
    turns = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise FieldError(
                f"messages[{i}]", f"must be an object with role and content, got {_short(message)}"
            )
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise FieldError(
                f"messages[{i}].role", f"{_short(role)} is not allowed; expected 'user' or 'assistant'"
            )
        content = message.get("content")
        if not isinstance(content, list):
            raise FieldError(
                f"messages[{i}].content", f"must be a list of {{'text': ...}} blocks, got {_short(content)}"
            )
        turns.append((role, _text_blocks(content, f"messages[{i}].content")))
    _check_turns(turns, "messages")


def check_reserved_keywords(record: dict[str, Any], keywords: tuple[str, ...]) -> None:
    """Nova fails a training job whose prompts contain its own turn markers."""
    if not keywords:
        return
    texts: list[tuple[str, str]] = []
    for i, block in enumerate(record.get("system") or []):
        texts.append((f"system[{i}].text", block.get("text", "")))
    for i, message in enumerate(record.get("messages") or []):
        for j, block in enumerate(message.get("content") or []):
            texts.append((f"messages[{i}].content[{j}].text", block.get("text", "")))
    for field, text in texts:
        for keyword in keywords:
            if keyword in text:
                raise FieldError(
                    field, f"contains the reserved keyword '{keyword}'; reserved: {', '.join(keywords)}"
                )


@dataclass(frozen=True)
class TargetFormat:
    """One output format: how to write it from any source record and how to check a record already in it."""

    name: str
    description: str
    write: Callable[[dict[str, Any]], dict[str, Any]]
    check: Callable[[dict[str, Any]], Any]
    task_fields: tuple[str, ...] = ()
    # Whether records may carry protected attributes in METADATA_FIELD. Bedrock's fine-tuning formats are
    # fixed (Claude 3 Haiku, prompt/completion and continued pre-training records allow no other key, and
    # no Bedrock guide lists one for Nova), so those records carry none.
    carries_metadata: bool = True


def _checker(
    write: Callable[[dict[str, Any]], dict[str, Any]], fields: tuple[str, ...]
) -> Callable[[dict[str, Any]], Any]:
    def check(record: dict[str, Any]) -> None:
        missing = [f for f in fields if f not in record]
        if missing:
            raise FieldError(missing[0], "is missing")
        write(record)

    return check


TARGETS: dict[str, TargetFormat] = {
    target.name: target
    for target in (
        TargetFormat(
            "prompt-completion", "{prompt, completion}", write_prompt_completion, check_prompt_completion
        ),
        TargetFormat("chat", "{messages: [{role, content}]} (system/user/assistant)", write_chat, check_chat),
        TargetFormat(
            BEDROCK_CONVERSATION,
            "Bedrock: {schemaVersion, system: [{text}], messages: [{role, content: [{text}]}]}",
            write_bedrock_conversation,
            check_bedrock_conversation,
            carries_metadata=False,
        ),
        TargetFormat(
            BEDROCK_CLAUDE_CONVERSATION,
            "Bedrock Claude 3 Haiku: {system: str (optional), messages: [{role, content: str}]}",
            write_claude_conversation,
            check_claude_conversation,
            carries_metadata=False,
        ),
        TargetFormat(
            BEDROCK_PROMPT_COMPLETION,
            "Bedrock prompt/completion: {prompt, completion} and nothing else",
            write_prompt_completion,
            check_bedrock_prompt_completion,
            carries_metadata=False,
        ),
        TargetFormat(
            BEDROCK_CONTINUED_PRETRAINING,
            "Bedrock continued pre-training: {input} and nothing else",
            write_continued_pretraining,
            check_continued_pretraining,
            carries_metadata=False,
        ),
        TargetFormat(
            "classification",
            "{text, label} or {text, labels: [...]}",
            to_classification,
            _checker(to_classification, ("text",)),
            ("text", "label", "labels"),
        ),
        TargetFormat(
            "summarization",
            "{document, summary}",
            to_summarization,
            _checker(to_summarization, ("document", "summary")),
            ("document", "summary"),
        ),
        TargetFormat(
            "qa",
            "{context, question, answers: [...]}",
            to_qa,
            _checker(to_qa, ("context", "question", "answers")),
            ("context", "question", "answers"),
        ),
    )
}
TARGET_CHOICES = (*TARGETS, "bedrock")


def resolve_target(target: str, model_family: str | None) -> TargetFormat:
    """``bedrock`` means the format the chosen model family is fine-tuned on."""
    if target == "bedrock":
        if not model_family:
            raise ValueError(
                "--target bedrock needs --model-family to choose between conversation and prompt/completion"
            )
        return TARGETS[MODEL_FAMILIES[model_family].data_format]
    if target not in TARGETS:
        raise ValueError(f"unknown target '{target}'; expected one of: {', '.join(TARGET_CHOICES)}")
    return TARGETS[target]


def record_text(record: dict[str, Any]) -> str:
    """All human text of a record, for length limits: string values and ``text`` blocks, nested; not the
    protected attributes in ``metadata``."""
    parts: list[str] = []

    def walk(value: Any, key: str | None) -> None:
        if isinstance(value, str):
            if key not in ("schemaVersion", "role", "id", "group"):
                parts.append(value)
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)

    walk({k: v for k, v in record.items() if k != METADATA_FIELD}, None)
    return "\n".join(parts)


def _first_text_problem(value: Any, path: str) -> tuple[str, str] | None:
    """(field path, reason) of the first string under ``value`` that cannot be training text."""
    if isinstance(value, str):
        problem = text_problem(value)
        return (path, problem) if problem else None
    items: Any = ()
    if isinstance(value, dict):
        items = ((f"{path}.{k}" if path else str(k), v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    for sub_path, sub in items:
        found = _first_text_problem(sub, sub_path)
        if found:
            return found
    return None


def check_source_record(record: Any) -> None:
    """Raise FieldError unless ``record`` is a record the toolkit can use: a JSON object whose text is valid
    UTF-8 without control characters, in one of the source shapes (``detect_kind``) or plain text
    (``text`` or ``input`` alone, as continued pre-training and perplexity data are)."""
    if not isinstance(record, dict):
        raise FieldError(None, f"a record must be a JSON object, got {type(record).__name__}")
    found = _first_text_problem(record, "")
    if found:
        raise FieldError(*found)
    try:
        to_conversation(record)
    except FieldError as exc:
        plain = _first_present(record, ("text", "input"))
        if exc.field is not None or plain is None:
            raise
        require_text(record, plain)


_MISSING = object()


def attribute_of(record: dict[str, Any], name: str) -> Any:
    """The value of protected attribute ``name``: ``record["metadata"][name]`` (where ``format`` and
    ``prepare`` write it), else ``record[name]`` (raw data, hand-made predictions files); ``_MISSING`` when
    neither exists. Test with ``is_missing``."""
    metadata = record.get(METADATA_FIELD)
    if isinstance(metadata, dict) and name in metadata:
        return metadata[name]
    return record.get(name, _MISSING)


def is_missing(value: Any) -> bool:
    return value is _MISSING


def group_label_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a protected attribute's group, or None. A group is a category: a non-empty
    string, an integer or a boolean. Null is not a group (encode "not disclosed" as a value of its own);
    a float or a list would make groups of single records or hide which group a record is in."""
    if value is None:
        return "is null; a record needs a group for every protected attribute (use a value such as 'unknown')"
    if isinstance(value, str):
        if not value.strip():
            return "is empty"
        return text_problem(value)
    if isinstance(value, bool | int):
        return None
    return f"must be a group label (a string, integer or boolean), got {type(value).__name__} {_short(value)}"


def check_protected_attributes(record: dict[str, Any], names: tuple[str, ...]) -> None:
    """Raise a FieldError naming the first protected attribute that ``record`` lacks (``attribute_of``) or
    whose value is not a group label, or a ``metadata`` that is not an object."""
    metadata = record.get(METADATA_FIELD)
    if metadata is not None and not isinstance(metadata, dict):
        raise FieldError(METADATA_FIELD, f"must be an object of protected attributes, got {_short(metadata)}")
    for name in names:
        value = attribute_of(record, name)
        if is_missing(value):
            raise FieldError(
                name,
                f"is missing; --protected-attributes needs it in every record (in '{METADATA_FIELD}' or at "
                "the top level)",
            )
        problem = group_label_problem(value)
        if problem:
            raise FieldError(name, problem)


def label_of(record: dict[str, Any]) -> Any:
    """The stratification key: ``label``, or the sorted tuple of ``labels``; None when unlabelled."""
    if "label" in record:
        return record["label"]
    if isinstance(record.get("labels"), list):
        return tuple(sorted(map(str, record["labels"])))
    return None
