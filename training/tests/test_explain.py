"""``python -m training.explain``: token attributions checked against brute force, completeness, and a model
trained so that one prompt token decides its answer; seeded samples, HTML escaping, bad input."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from training.common import sagemaker  # noqa: E402
from training.evaluate.causal_lm import load_model  # noqa: E402
from training.explain.__main__ import main  # noqa: E402
from training.explain.attribution import (  # noqa: E402
    baseline_token_id,
    greedy_answer,
    integrated_gradients,
    normalized,
    occlusion,
)
from training.explain.report import quarter_masses  # noqa: E402
from training.tests.conftest import TINY_LM_WORDS, write_jsonl  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FILLER = ["the", "sat", "on", "a", "ran"]
# The answer of the key model: 'pos' for a prompt with 'cat', 'neg' with 'dog', 'mat' with neither.
ANSWERS = {"cat": "pos", "dog": "neg", None: "mat"}


def chat(user: str, assistant: str | None = None) -> dict:
    messages = [{"role": "user", "content": user}]
    if assistant is not None:
        messages.append({"role": "assistant", "content": assistant})
    return {"messages": messages}


def key_prompt(rng: random.Random, unknown: float = 0.0, keyless: float = 0.0) -> tuple[str, str | None]:
    """Five words: four filler words (each '<unk>' with probability ``unknown``) and, at a random place, a
    key word ('cat' or 'dog'; with probability ``keyless`` a fifth filler word). Only the key decides."""
    words = [rng.choice(FILLER) if rng.random() >= unknown else "<unk>" for _ in range(4)]
    key = None if rng.random() < keyless else rng.choice(["cat", "dog"])
    words.insert(rng.randrange(5), key or rng.choice(FILLER))
    return " ".join(words), key


@pytest.fixture(scope="module")
def key_model(tiny_causal_lm: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny GPT-2 trained (under 1 s) to answer ANSWERS[key word of the prompt], then end.

    A third of the training prompts have no key word, so the model needs the key to answer 'pos' or 'neg'
    (with only cat and dog it learns "cat: pos, else neg" and rightly ignores 'dog'); '<unk>', the baseline
    token, appears among the filler words, so replacing a filler word by it tells the model nothing."""
    from transformers import GPT2Config, GPT2LMHeadModel

    path = tmp_path_factory.mktemp("key-model")
    for file in tiny_causal_lm.iterdir():
        if "token" in file.name:
            shutil.copy(file, path / file.name)
    vocab = {w: i for i, w in enumerate(TINY_LM_WORDS)}
    rng = random.Random(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(vocab), n_positions=64, n_embd=32, n_layer=1, n_head=2, eos_token_id=1, bos_token_id=1
    )
    model = GPT2LMHeadModel(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        rows = []
        for _ in range(32):
            prompt, key = key_prompt(rng, unknown=0.1, keyless=1 / 3)
            rows.append([vocab[w] for w in prompt.split()] + [vocab[ANSWERS[key]], vocab["<eos>"]])
        ids = torch.tensor(rows)
        labels = ids.clone()
        labels[:, :5] = -100  # only the answer and its end are learned
        loss = model(input_ids=ids, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    torch.set_num_threads(threads)
    assert loss.item() < 0.05
    model.save_pretrained(path)
    return path


def explain(model: Path, data: Path, out: Path, *options: str) -> int:
    return main(["--model", str(model), "--data", str(data), "--output-dir", str(out), *options])


def load(out: Path) -> dict:
    return json.loads((out / "explanations.json").read_text(encoding="utf-8"))


def brute_force_log_prob(model, ids: list[int], prompt_len: int) -> float:
    """log p(answer | prompt), one unbatched forward pass per answer token over its prefix."""
    total = 0.0
    with torch.no_grad():
        for t in range(prompt_len, len(ids)):
            logits = model(input_ids=torch.tensor([ids[:t]])).logits[0, -1]
            total += float(torch.log_softmax(logits.double(), -1)[ids[t]])
    return total


def test_occlusion_equals_a_brute_force_recomputation(tiny_causal_lm: Path, torch_one_thread) -> None:
    model, tokenizer = load_model(tiny_causal_lm)
    prompt = tokenizer("the cat sat on a mat the dog", add_special_tokens=False)["input_ids"]
    answer = greedy_answer(model, tokenizer, prompt, 3)
    unk = baseline_token_id(tokenizer)
    assert unk == TINY_LM_WORDS.index("<unk>")
    # batch_size 3: the 8 occluded copies go in three batches, the last one short.
    result = occlusion(model, prompt, answer, unk, batch_size=3)
    assert len(result.attributions) == len(prompt)
    full = brute_force_log_prob(model, [*prompt, *answer], len(prompt))
    assert result.answer_log_prob == pytest.approx(full, abs=1e-4)
    for i in range(len(prompt)):
        occluded = [*prompt[:i], unk, *prompt[i + 1 :], *answer]
        expected = full - brute_force_log_prob(model, occluded, len(prompt))
        assert result.attributions[i] == pytest.approx(expected, abs=1e-4), i
    assert max(abs(a) for a in result.attributions) > 1e-3  # the check above is not 0 == 0


def test_integrated_gradients_sum_to_the_change_of_the_log_prob(key_model: Path, torch_one_thread) -> None:
    model, tokenizer = load_model(key_model)
    prompt = tokenizer("a dog ran on the", add_special_tokens=False)["input_ids"]
    answer = tokenizer("neg <eos>", add_special_tokens=False)["input_ids"]
    unk = baseline_token_id(tokenizer)
    result = integrated_gradients(model, prompt, answer, unk, steps=64, batch_size=16)
    assert len(result.attributions) == len(prompt)
    assert result.answer_log_prob == pytest.approx(
        brute_force_log_prob(model, [*prompt, *answer], len(prompt)), abs=1e-4
    )
    everything_occluded = [unk] * len(prompt) + answer
    empty = brute_force_log_prob(model, everything_occluded, len(prompt))
    assert result.baseline_log_prob == pytest.approx(empty, abs=1e-4)
    change = result.answer_log_prob - empty
    assert change > 3.0  # 'dog' makes 'neg' likely; without it the model answers 'mat'
    # Completeness: the attributions share out exactly the change from the baseline to the prompt.
    assert sum(result.attributions) == pytest.approx(change, abs=0.02 * abs(change))
    assert result.convergence_delta == pytest.approx(sum(result.attributions) - change, abs=1e-6)


@pytest.mark.parametrize("method", ["occlusion", "integrated-gradients"])
def test_the_token_that_decides_the_answer_gets_the_attribution(
    key_model: Path, tmp_path: Path, method: str, torch_one_thread
) -> None:
    rng = random.Random(5)
    prompts = [key_prompt(rng) for _ in range(6)]
    data = write_jsonl(tmp_path / "test.jsonl", [chat(p, ANSWERS[k]) for p, k in prompts])
    out = tmp_path / "out"
    assert explain(key_model, data, out, "--method", method, "--samples", "6", "--max-new-tokens", "4") == 0
    report = load(out)
    assert report["summary"]["samples"] == 6
    for item, (prompt, key) in zip(report["explanations"], prompts, strict=True):
        assert item["method"] == method
        assert item["answer"] == ANSWERS[key]  # the model learned the rule, and stops after the answer
        tokens = [t.strip() for t in item["tokens"]]
        assert tokens == prompt.split()
        assert len(item["attributions"]) == len(item["scores"]) == 5
        decisive = tokens.index(key)
        assert item["scores"][decisive] == 1.0
        others = [abs(s) for i, s in enumerate(item["scores"]) if i != decisive]
        assert max(others) < 0.2, (method, prompt, item["scores"])
        # Without the key word the answer is far less likely.
        assert item["attributions"][decisive] > 3.0
    top = [t["token"] for t in report["summary"]["topTokens"][:2]]
    assert sorted(top) == ["cat", "dog"]


def test_the_same_seed_gives_the_same_sample_and_numbers(
    tiny_causal_lm: Path, tmp_path: Path, torch_one_thread
) -> None:
    words = TINY_LM_WORDS[2:]
    records = [{"prompt": " ".join(words[i : i + 3]), "id": i} for i in range(len(words) - 2)]
    data = write_jsonl(tmp_path / "test.jsonl", records)

    def run(name: str, seed: str) -> dict:
        out = tmp_path / name
        options = ["--samples", "3", "--seed", seed, "--max-new-tokens", "2"]
        assert explain(tiny_causal_lm, data, out, *options) == 0
        report = load(out)
        for key in ("runtimeSeconds", "attributionSeconds", "createdAt"):
            report["summary"].pop(key)
        return report

    first, again, other = run("a", "3"), run("b", "3"), run("c", "4")
    assert first == again
    lines = [int(e["record"].rsplit(":", 1)[1].split()[0]) for e in first["explanations"]]
    assert len(lines) == 3 and lines == sorted(lines)  # in file order
    assert [e["record"] for e in other["explanations"]] != [e["record"] for e in first["explanations"]]
    for item in first["explanations"]:
        assert len(item["attributions"]) == len(item["tokens"]) == len(item["tokenIds"]) == 3
        assert item["scores"] == normalized(item["attributions"])


def test_html_escapes_the_prompt_and_loads_nothing(
    tiny_causal_lm: Path, tmp_path: Path, torch_one_thread
) -> None:
    hostile = 'the <script>alert("x")</script> cat & <img src=x onerror=alert(1)>'
    data = write_jsonl(tmp_path / "test.jsonl", [chat(hostile, "pos"), chat("a dog ran", "neg")])
    out = tmp_path / "out"
    assert explain(tiny_causal_lm, data, out, "--max-new-tokens", "2") == 0
    page = (out / "explanations.html").read_text(encoding="utf-8")
    report = load(out)
    assert report["explanations"][0]["prompt"] == hostile
    assert "<script" not in page.lower() and "<img" not in page.lower()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    for tag in re.findall(r"<[^>]*>", page):  # the prompt's src=x is text, not an attribute
        assert not re.search(r"\b(src|href|on\w+)=", tag), tag
    for external in ("url(", "@import", "http:", "https:"):
        assert external not in page
    # One shaded span per prompt token, its opacity 0.8 x |score|.
    tokens = sum(len(e["tokens"]) for e in report["explanations"])
    assert page.count('<span class="t"') == tokens
    item = report["explanations"][1]
    strongest = item["scores"].index(max(item["scores"], key=abs))
    colour = "214,39,40" if item["scores"][strongest] > 0 else "31,119,180"
    assert f"background:rgba({colour},0.800)" in page


def test_the_command_runs_as_python_m(tiny_causal_lm: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "test.jsonl", [chat("the cat sat", "pos"), {"prompt": "a dog ran"}])
    out = tmp_path / "out"
    command = [sys.executable, "-m", "training.explain", "--model", str(tiny_causal_lm), "--data", str(data),
               "--output-dir", str(out), "--samples", "8", "--seed", "42", "--max-new-tokens", "2",
               "--method", "integrated-gradients", "--steps", "8", "--device", "cpu"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "explained 2 of 2 prompts (integrated-gradients)" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == ["explanations.html", "explanations.json"]
    summary = load(out)["summary"]
    assert summary["samples"] == 2 and summary["steps"] == 8 and summary["runtimeSeconds"] > 0
    assert summary["firstQuarterMass"] + summary["lastQuarterMass"] <= 1.0 + 1e-9


def test_a_model_archive_is_found_at_the_processing_job_defaults(
    tiny_causal_lm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, torch_one_thread
) -> None:
    root = tmp_path / "processing"
    monkeypatch.setenv("SM_PROCESSING_ROOT", str(root))
    monkeypatch.setattr(sagemaker, "PROCESSING_ROOT", root)
    archive = root / "input" / "model" / "model.tar.gz"
    archive.parent.mkdir(parents=True)
    with tarfile.open(archive, "w:gz") as tar:
        for file in sorted(tiny_causal_lm.iterdir()):
            tar.add(file, file.name)
    (root / "input" / "test").mkdir(parents=True)
    write_jsonl(root / "input" / "test" / "test.jsonl", [chat("the cat sat on the mat", "pos")])
    work = tmp_path / "work"
    assert main(["--work-dir", str(work), "--max-new-tokens", "2"]) == 0
    assert (work / "model" / "config.json").is_file()  # --work-dir is kept
    report = load(root / "output" / "explanations")
    assert report["summary"]["model"].endswith("input/model/model.tar.gz")
    assert report["explanations"][0]["tokens"] == ["the", " cat", " sat", " on", " the", " mat"]


def test_records_without_a_prompt_are_skipped_and_counted(
    tiny_causal_lm: Path, tmp_path: Path, torch_one_thread
) -> None:
    long_prompt = " ".join(["the"] * 70)  # more than the model's 64 positions
    records = [chat("the cat sat", "pos"), {"prompt": ""}, {"messages": []}, {"prompt": long_prompt}, [1]]
    data = write_jsonl(tmp_path / "test.jsonl", records)
    out = tmp_path / "out"
    assert explain(tiny_causal_lm, data, out, "--max-new-tokens", "2") == 0
    summary = load(out)["summary"]
    assert summary["records"] == 5 and summary["samples"] == 1 and summary["skippedRecords"] == 4
    reasons = {s["line"]: (s["field"], s["reason"]) for s in summary["skipped"]}
    assert reasons[2] == ("prompt", "is empty: ''")
    assert reasons[3][0] == "messages"
    assert "70 prompt tokens + 2 answer tokens exceed the model's 64 positions" in reasons[4][1]
    assert reasons[5] == (None, "a record must be a JSON object")


def test_the_reference_answer_can_be_explained(key_model: Path, tmp_path: Path, torch_one_thread) -> None:
    data = write_jsonl(tmp_path / "test.jsonl", [chat("the cat sat on a", "mat"), {"prompt": "a dog"}])
    out = tmp_path / "out"
    assert explain(key_model, data, out, "--answer", "reference") == 0
    report = load(out)
    (item,) = report["explanations"]
    assert item["answer"] == "mat" and item["answerSource"] == "reference"
    # 'cat' makes the reference answer 'mat' unlikely: it works against it.
    assert item["scores"][1] == -1.0
    # {"prompt": ...} has no answer to explain.
    assert report["summary"]["skipped"][0]["reason"].startswith("no reference answer to explain: ")


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing model", "--model {tmp}/nowhere: no such file or directory"),
        ("missing data", "--data {tmp}/nowhere.jsonl: no such file"),
        ("empty data", "--data {tmp}/empty.jsonl: no records"),
        ("no prompts", "none of its 2 records has a prompt (field 'prompt'"),
        ("not a model", "not a model directory (it has no config.json or adapter_config.json)"),
        ("zero samples", "--samples 0: must be at least 1"),
    ],
)
def test_bad_input_is_exit_2_and_writes_nothing(
    tiny_causal_lm: Path, tmp_path: Path, capsys, case: str, message: str
) -> None:
    good = write_jsonl(tmp_path / "test.jsonl", [chat("the cat", "pos")])
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    no_prompts = write_jsonl(tmp_path / "bad.jsonl", [{"text": "no label"}, {"messages": "hi"}])
    args = {
        "missing model": ["--model", tmp_path / "nowhere", "--data", good],
        "missing data": ["--model", tiny_causal_lm, "--data", tmp_path / "nowhere.jsonl"],
        "empty data": ["--model", tiny_causal_lm, "--data", empty],
        "no prompts": ["--model", tiny_causal_lm, "--data", no_prompts],
        "not a model": ["--model", tmp_path, "--data", good],
        "zero samples": ["--model", tiny_causal_lm, "--data", good, "--samples", "0"],
    }[case]
    out = tmp_path / "out"
    assert main([*map(str, args), "--output-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert message.format(tmp=tmp_path) in err
    if case == "no prompts":
        assert "bad.jsonl:2 (record 2): field 'messages': must be a non-empty list" in err
    assert not out.exists()


def test_help_prints_usage(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "--method {occlusion,integrated-gradients}" in capsys.readouterr().out


def test_quarter_masses_and_normalized_scores() -> None:
    # 8 tokens: two in each quarter.
    assert quarter_masses([1, -1, 0, 0, 0, 0, 0, 2]) == (0.5, 0.5)
    assert quarter_masses([0, 0, 3, 0, 0]) == (0.0, 0.0)
    assert quarter_masses([0.0, 0.0]) is None
    assert normalized([0.5, -2.0, 1.0]) == [0.25, -1.0, 0.5]
    assert normalized([0.0, 0.0]) == [0.0, 0.0]
