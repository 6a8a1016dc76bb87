"""Shared fixtures: small files written inside each test's tmp_path, a tiny local tokenizer."""

from __future__ import annotations

import json
import os
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


# Vocabulary of the tiny causal LM: one token per word.
TINY_LM_WORDS = ["<unk>", "<eos>", "the", "cat", "sat", "on", "mat", "a", "dog", "ran", "pos", "neg"]


@pytest.fixture(scope="session")
def tiny_causal_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised one-layer GPT-2 and its word-level tokenizer, saved like a training job's
    model directory (built from a config: nothing is downloaded)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    path = tmp_path_factory.mktemp("tiny-gpt2")
    vocab = {w: i for i, w in enumerate(TINY_LM_WORDS)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", eos_token="<eos>").save_pretrained(
        path
    )
    torch.manual_seed(0)
    size = {"n_positions": 64, "n_embd": 32, "n_layer": 1, "n_head": 2}
    config = GPT2Config(vocab_size=len(TINY_LM_WORDS), **size, eos_token_id=1, bos_token_id=1)
    GPT2LMHeadModel(config).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_model_archive(tiny_causal_lm: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model as a training job's model.tar.gz: the files at the archive's root, as SageMaker packs
    /opt/ml/model."""
    import tarfile

    path = tmp_path_factory.mktemp("artifacts") / "model.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for file in sorted(tiny_causal_lm.iterdir()):
            tar.add(file, file.name)
    return path


@pytest.fixture
def torch_one_thread():
    """Tiny models train fastest on one thread (as in the torchrun workers); more only contend on 2 cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def moto_endpoint() -> Any:
    """A real moto server on loopback (not in-process mocks): boto3 clients reach it over HTTP, as the
    Lambda handlers would reach AWS. Yields its URL; the environment points every client at it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    saved = {k: os.environ.get(k) for k in _AWS_ENV}
    os.environ.update(
        AWS_ENDPOINT_URL=url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
    )
    try:
        yield url
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_AWS_ENV = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
)
