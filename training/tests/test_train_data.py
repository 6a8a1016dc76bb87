"""Training job inputs: arguments, SageMaker environment, records -> masked and packed rows, metric lines,
checkpoint selection. A tiny random Llama and a locally trained tokenizer; nothing is downloaded."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from training.tests.conftest import write_jsonl  # noqa: E402
from training.train import checkpoint as ckpt  # noqa: E402
from training.train.args import ArgumentError, normalize_argv, parse_config  # noqa: E402
from training.train.data import (  # noqa: E402
    FALLBACK_CHAT_TEMPLATE,
    IGNORE_INDEX,
    DataError,
    Example,
    chat_segments,
    collate,
    ensure_chat_template,
    load_examples,
    pack,
)
from training.train.environment import read_environment, torchrun_command  # noqa: E402
from training.train.loop import rows_for_step  # noqa: E402
from training.train.metrics import CONTRACT, format_line, metric_names, parse_line  # noqa: E402
from training.train.model import check_method  # noqa: E402
from training.train.tiny import build_tiny_model  # noqa: E402

CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="module")
def tokenizer(tiny: Path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny)
    ensure_chat_template(tok)
    return tok


# --------------------------------------------------------------------------------------------- arguments


def test_sagemaker_hyperparameters_parse_like_flags() -> None:
    argv = [
        "--learning_rate",
        "0.001",
        "--packing",
        "False",
        "--gradient_checkpointing",
        "True",
        "--lora_r=8",
    ]
    assert normalize_argv(argv) == [
        "--learning-rate",
        "0.001",
        "--no-packing",
        "--gradient-checkpointing",
        "--lora-r=8",
    ]
    config = parse_config(["--model-name-or-path", "m", *argv])
    assert config.training.learning_rate == 0.001
    assert config.data.packing is False
    assert config.training.gradient_checkpointing is True
    assert config.method.lora_r == 8


def test_yaml_config_gives_defaults_and_flags_win(tmp_path: Path) -> None:
    cfg = tmp_path / "train.yaml"
    cfg.write_text("method: full\nmax_steps: 7\nlearning-rate: 0.5\npacking: false\n")
    config = parse_config(["--config", str(cfg), "--max-steps", "9"])
    assert (config.method.method, config.training.max_steps, config.training.learning_rate) == (
        "full",
        9,
        0.5,
    )
    assert config.data.packing is False
    assert config.as_dict()["training"]["max_steps"] == 9


def test_bad_arguments_name_every_field() -> None:
    with pytest.raises(ArgumentError) as err:
        parse_config(
            ["--learning-rate", "0", "--lora-r", "0", "--max-seq-length", "1", "--warmup-ratio", "1"]
        )
    message = str(err.value)
    for name in ("learning_rate", "lora_r", "max_seq_length", "warmup_ratio"):
        assert f"argument '{name}'" in message
    with pytest.raises(ArgumentError, match="argument 'packing': must be true or false, got 'maybe'"):
        parse_config(["--packing", "maybe"])
    with pytest.raises(SystemExit):  # argparse names --method and the allowed choices on stderr
        parse_config(["--method", "dora"])


def test_qlora_without_cuda_or_bitsandbytes_names_the_method_field() -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(ArgumentError, match=r"argument 'method': qlora needs a CUDA device"):
        check_method("qlora")
    check_method("lora")


def test_environment_reads_sagemaker_variables_with_local_defaults() -> None:
    local = read_environment({})
    seen = (local.model_dir, local.checkpoint_dir, local.output_data_dir, local.world_size, local.is_main)
    assert seen == (
        Path("model"),
        Path("checkpoints"),
        None,  # outside a job the metric history goes beside the model
        1,
        True,
    )
    job = read_environment(
        {
            "SM_CHANNEL_TRAIN": "/opt/ml/input/data/train",
            "SM_CHANNEL_MODEL": "/opt/ml/input/data/model",
            "SM_MODEL_DIR": "/opt/ml/model",
            "SM_OUTPUT_DATA_DIR": "/opt/ml/output/data",
            "SM_HOSTS": '["algo-1", "algo-2"]',
            "SM_CURRENT_HOST": "algo-2",
            "SM_NUM_GPUS": "8",
            "RANK": "9",
            "WORLD_SIZE": "16",
        }
    )
    assert job.train_channel == Path("/opt/ml/input/data/train")
    assert job.checkpoint_dir == Path("/opt/ml/checkpoints")
    assert (job.node_rank, job.rank, job.is_main) == (1, 9, False)
    assert torchrun_command(job, ["--config", "c.yaml"])[:6] == [
        "torchrun",
        "--nnodes=2",
        "--node_rank=1",
        "--nproc_per_node=8",
        "--master_addr=algo-1",
        "--master_port=29500",
    ]


# --------------------------------------------------------------------------------------------- data


def _decode_labelled(tokenizer, example: Example) -> str:
    return tokenizer.decode([t for t in example.labels if t != IGNORE_INDEX])


def test_chat_loss_only_on_assistant_turns_with_fallback_template(tmp_path: Path, tokenizer) -> None:
    assert tokenizer.chat_template == FALLBACK_CHAT_TEMPLATE
    record = {
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "what is two plus two?"},
            {"role": "assistant", "content": "four"},
            {"role": "user", "content": "the sky?"},
            {"role": "assistant", "content": "blue"},
        ]
    }
    path = write_jsonl(tmp_path / "chat.jsonl", [record])
    (example,), stats = load_examples(path, tokenizer, "chat", 512, True, "train_data")
    assert _decode_labelled(tokenizer, example) == "four</s>\nblue</s>\n"
    prompt_ids = [
        t for t, label in zip(example.input_ids, example.labels, strict=True) if label == IGNORE_INDEX
    ]
    assert tokenizer.decode(prompt_ids) == (
        "<|system|>\nbe brief\n<|user|>\nwhat is two plus two?\n<|assistant|>\n"
        "<|user|>\nthe sky?\n<|assistant|>\n"
    )
    assert stats.target_tokens == len(example.labels) - example.labels.count(IGNORE_INDEX)
    assert stats.files == {str(path): hashlib.sha256(path.read_bytes()).hexdigest()}


def test_tokenizer_chat_template_is_used_when_present(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    model_dir = build_tiny_model(tmp_path / "chatml", chat_template=CHATML, layers=1)
    tok = AutoTokenizer.from_pretrained(model_dir)
    assert ensure_chat_template(tok) is False
    segments = chat_segments(tok, [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}])
    assert segments == [
        ("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", False),
        ("yo<|im_end|>\n", True),
    ]


def test_a_chat_template_error_names_the_record(tmp_path: Path, tokenizer) -> None:
    from transformers import AutoTokenizer

    strict = AutoTokenizer.from_pretrained(tokenizer.name_or_path)
    strict.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('no system role') }}"
        "{% endif %}{{ m['content'] }}{% endfor %}"
    )
    record = {
        "messages": [
            {"role": "system", "content": "s"},
            *[{"role": r, "content": r} for r in ("user", "assistant")],
        ]
    }
    path = write_jsonl(tmp_path / "sys.jsonl", [record])
    with pytest.raises(DataError, match=r"sys.jsonl:1 \(record 1\): field 'messages': .*no system role"):
        load_examples(path, strict, "chat", 512, True, "train_data")


def test_plain_prompt_completion_masks_the_prompt_and_appends_eos(tmp_path: Path, tokenizer) -> None:
    path = write_jsonl(tmp_path / "pc.jsonl", [{"prompt": "the cat sat on", "completion": " the mat"}])
    (example,), _ = load_examples(path, tokenizer, "plain", 512, True, "train_data")
    assert _decode_labelled(tokenizer, example) == " the mat</s>"
    assert tokenizer.decode(example.input_ids) == "the cat sat on the mat</s>"
    (unmasked,), _ = load_examples(path, tokenizer, "plain", 512, False, "train_data")
    assert unmasked.labels[0] == IGNORE_INDEX and unmasked.labels[1:] == unmasked.input_ids[1:]


def test_bad_data_names_file_line_and_field(tmp_path: Path, tokenizer) -> None:
    good = {"prompt": "a", "completion": "b"}
    path = write_jsonl(tmp_path / "bad.jsonl", [good, {"messages": [{"role": "user", "content": ""}]}])
    with pytest.raises(DataError, match=r"bad.jsonl:2 \(record 2\): field 'messages\[0\].content': is empty"):
        load_examples(path, tokenizer, "chat", 512, True, "train_data")
    multi = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}] * 2}
    path = write_jsonl(tmp_path / "multi.jsonl", [multi])
    with pytest.raises(DataError, match=r"field 'messages': has 4 turns"):
        load_examples(path, tokenizer, "plain", 512, True, "train_data")
    (tmp_path / "broken.jsonl").write_text('{"prompt": "a", \n')
    with pytest.raises(DataError, match=r"train_data: .*broken.jsonl:1 \(record 1\): invalid JSON"):
        load_examples(tmp_path / "broken.jsonl", tokenizer, "chat", 512, True, "train_data")
    with pytest.raises(DataError, match=r"argument 'validation_data': .*nowhere.jsonl: no such file"):
        load_examples(tmp_path / "nowhere.jsonl", tokenizer, "chat", 512, True, "validation_data")
    path = write_jsonl(
        tmp_path / "long.jsonl", [{"prompt": "the cat sat on the mat " * 20, "completion": "b"}]
    )
    with pytest.raises(DataError, match=r"no usable example .*1 with no completion token left"):
        load_examples(path, tokenizer, "plain", 16, True, "train_data")


def test_packing_fills_rows_and_restarts_positions() -> None:
    examples = [Example([1] * n, [IGNORE_INDEX] + [1] * (n - 1)) for n in (5, 3, 6, 2)]
    rows = pack(examples, 8, packing=True, seed=0)
    assert sum(len(r.input_ids) for r in rows) == 16 and len(rows) < len(examples)
    for row in rows:
        assert len(row.input_ids) <= 8
        starts = [i for i, p in enumerate(row.position_ids) if p == 0]
        assert all(row.labels[i] == IGNORE_INDEX for i in starts)
    assert len(pack(examples, 8, packing=False, seed=0)) == 4


def test_flash_attention_batches_are_one_flat_row_and_unpacked_batches_are_masked() -> None:
    examples = [Example([7] * n, [IGNORE_INDEX] + [8] * (n - 1)) for n in (3, 2, 4)]
    flat = collate(pack(examples, 5, packing=True, seed=0), pad_token_id=0, packing=True, flatten=True)
    assert flat["input_ids"].shape == (1, 9) and "attention_mask" not in flat
    assert int((flat["position_ids"][0] == 0).sum()) == 3
    assert int((flat["labels"][0] == IGNORE_INDEX).sum()) == 3
    padded = collate(pack(examples, 5, packing=False, seed=0), pad_token_id=0, packing=False, flatten=False)
    assert padded["input_ids"].shape == (3, 4) and "position_ids" not in padded
    assert padded["attention_mask"].sum(dim=1).tolist() == [
        int((row != 0).sum()) for row in padded["input_ids"]
    ]


def test_packed_example_sees_only_itself(tiny: Path) -> None:
    """Logits of each example inside a packed batch (with a padded shorter row) equal its logits alone."""
    from transformers import AutoModelForCausalLM

    gen = torch.Generator().manual_seed(1)
    lengths = (7, 4, 9, 5, 3)
    examples = [Example(torch.randint(5, 200, (n,), generator=gen).tolist(), [0] * n) for n in lengths]
    rows = pack(examples, 20, packing=True, seed=3)
    assert len(rows) == 2 and len(rows[0].input_ids) != len(rows[1].input_ids)
    batch = collate(rows, pad_token_id=3, packing=True, flatten=False)
    assert "attention_mask" not in batch
    for attention in ("sdpa", "eager"):
        model = AutoModelForCausalLM.from_pretrained(tiny, attn_implementation=attention).eval()
        with torch.no_grad():
            # use_cache=False as in training: with a KV cache transformers ignores the packed positions.
            packed = model(
                input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False
            ).logits
            checked = 0
            for r, row in enumerate(rows):
                starts = [i for i, p in enumerate(row.position_ids) if p == 0] + [len(row.input_ids)]
                for lo, hi in itertools.pairwise(starts):
                    alone = model(input_ids=torch.tensor([row.input_ids[lo:hi]])).logits[0]
                    torch.testing.assert_close(packed[r, lo:hi], alone, atol=1e-5, rtol=1e-4)
                    checked += 1
            assert checked == len(lengths)
            # Without restarting positions the same row would mix examples: the check above is not vacuous.
            mixed = model(input_ids=batch["input_ids"][:1]).logits[0]
            second = [i for i, p in enumerate(rows[0].position_ids) if p == 0][1]
            assert not torch.allclose(mixed[second:], packed[0, second : len(rows[0].input_ids)], atol=1e-3)


def test_data_order_depends_only_on_step() -> None:
    seen = [i for step in range(5) for i in rows_for_step(7, seed=1, step=step, global_batch=3)]
    assert sorted(seen[:7]) == list(range(7)) and sorted(seen[7:14]) == list(range(7))
    assert rows_for_step(7, 1, 3, 3) == seen[9:12]


# --------------------------------------------------------------------------------------------- metrics


def test_every_contract_regex_parses_what_the_logger_prints() -> None:
    contract = json.loads(CONTRACT.read_text())
    names = [m["name"] for m in contract["metrics"]]
    assert (
        {"train_loss", "eval_loss", "learning_rate", "tokens_per_second"} <= set(names) == set(metric_names())
    )
    values = {
        "train_loss": 2.345678,
        "eval_loss": 0.000123,
        "learning_rate": 2e-4,
        "tokens_per_second": 1234.5,
    }
    values["epoch"] = 1.5
    line = format_line(12, values)
    assert line.startswith(contract["linePrefix"] + " step=12 ")
    parsed = parse_line(line)
    assert parsed.keys() == values.keys()
    for name, value in values.items():
        assert parsed[name] == pytest.approx(value, rel=1e-5)
    assert "eval_loss" not in parse_line(format_line(3, {"train_loss": 1.0}))
    with pytest.raises(KeyError, match=r"not in training-metrics\.json"):
        format_line(1, {"accuracy": 1.0})


# --------------------------------------------------------------------------------------------- checkpoints


def test_only_complete_checkpoints_are_resumed_from(tmp_path: Path) -> None:
    state = {"model": {"w": torch.ones(2)}, "optimizer": {}}
    ckpt.save_checkpoint(tmp_path, 4, state, {"step": 4}, keep=5)
    good = ckpt.save_checkpoint(tmp_path, 6, state, {"step": 6}, keep=5)
    # A crash mid-write leaves a temporary directory; an interrupted S3 sync leaves a directory with the
    # manifest but a short state file, or no manifest at all.
    (tmp_path / ".tmp-checkpoint-00000010-abc").mkdir()
    (tmp_path / ".tmp-checkpoint-00000010-abc" / "state.pt").write_bytes(b"partial")
    truncated = tmp_path / "checkpoint-00000009"
    truncated.mkdir()
    (truncated / "checkpoint.json").write_text(
        (good / "checkpoint.json").read_text().replace('"step": 6', '"step": 9')
    )
    (truncated / "state.pt").write_bytes((good / "state.pt").read_bytes()[:10])
    (tmp_path / "checkpoint-00000008").mkdir()
    (tmp_path / "checkpoint-00000008" / "state.pt").write_bytes((good / "state.pt").read_bytes())
    assert ckpt.latest_checkpoint(tmp_path) == good
    assert [p.name for p in ckpt.complete_checkpoints(tmp_path)] == [
        "checkpoint-00000004",
        "checkpoint-00000006",
    ]
    ckpt.save_checkpoint(tmp_path, 7, state, {"step": 7}, keep=2)
    assert [p.name for p in ckpt.complete_checkpoints(tmp_path)] == [
        "checkpoint-00000006",
        "checkpoint-00000007",
    ]


def test_help_and_readme_name_the_checkpoint_folders_and_defaults_the_code_uses(capsys) -> None:
    """The help said /opt/ml/checkpoints was always the default and the README said checkpoint-<step>/;
    the code writes checkpoint-00000100/ and defaults to ./checkpoints outside a job."""
    assert ckpt.checkpoint_name(100) == "checkpoint-00000100"
    assert read_environment({}).checkpoint_dir == Path("checkpoints")
    assert read_environment({"SM_MODEL_DIR": "/opt/ml/model"}).checkpoint_dir == Path("/opt/ml/checkpoints")
    with pytest.raises(SystemExit):
        parse_config(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert (
        "--checkpoint-dir CHECKPOINT_DIR Where checkpoint-<step, 8 digits>/ folders (checkpoint-00000100/) "
        "are written and resumed from (default: /opt/ml/checkpoints in a SageMaker job, which SageMaker "
        "syncs to S3; ./checkpoints elsewhere)" in help_text
    )
    assert (
        "--save-steps SAVE_STEPS Checkpoint every N optimizer steps, and always on SIGTERM (0: only on "
        in (help_text)
    )
    readme = " ".join((Path(ckpt.__file__).parent / "README.md").read_text().split())
    assert f"`{ckpt.checkpoint_name(100)}/`" in readme
    assert (
        "`/opt/ml/checkpoints` inside a SageMaker job, which SageMaker syncs to S3; `./checkpoints` elsewhere"
        in (readme)
    )
    assert "Every `save_steps` steps (default 100;" in readme


def test_checkpoint_folders_follow_the_umask(tmp_path: Path) -> None:
    import os

    previous = os.umask(0o022)
    try:
        path = ckpt.save_checkpoint(tmp_path, 3, {"model": {}}, {"step": 3}, keep=2)
    finally:
        os.umask(previous)
    assert path.name == "checkpoint-00000003"
    assert path.stat().st_mode & 0o777 == 0o755  # mkdtemp alone gives 0700
    assert (path / ckpt.MANIFEST).stat().st_mode & 0o777 == 0o644
