"""Shared fixtures: small files written inside each test's tmp_path, a tiny local tokenizer."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture
def jsonl(tmp_path: Path) -> Callable[..., Path]:
    def make(records: list[Any], name: str = "data.jsonl") -> Path:
        return write_jsonl(tmp_path / name, records)

    return make


@pytest.fixture
def word_tokenizer(tmp_path: Path) -> Path:
    """A word-level tokenizer.json: one token per whitespace-separated word (unknown words -> [UNK])."""
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers import models, pre_tokenizers

    vocab = {"[UNK]": 0, "hello": 1, "world": 2}
    tokenizer = tokenizers.Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    return path


@pytest.fixture
def torch_one_thread():
    """Tiny models train fastest on one thread (as in the torchrun workers); more only contend on 2 cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
