"""Capture monitor: profile and baseline, drift false-alarm and detection rates, answer health, the result,
metrics.json against the contract, the CLI, and memory that does not grow with the window."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from training.bench_monitor import generate_capture, run_monitor, write_baseline
from training.data.io import write_json_atomic
from training.monitor.__main__ import main
from training.monitor.capture import Exchange
from training.monitor.drift import drift, psi, total_variation
from training.monitor.health import Health, is_refusal
from training.monitor.profile import (
    SAMPLE_SIZE,
    Baseline,
    Profile,
    approx_tokens,
    load_baseline,
    record_parts,
    words,
)
from training.monitor.report import CONTRACT, DEFAULT_THRESHOLDS, SOURCES, alarms, metric_values
from training.tests.test_monitor_capture import NOVA_ANSWER, PROVISIONED, bedrock_line, capture_line

CONTRACT_DOC = json.loads(CONTRACT.read_text(encoding="utf-8"))
CONTRACT_NAMES = {m["name"] for m in CONTRACT_DOC["metrics"]}
CANARY_NAMES = {m["name"] for m in CONTRACT_DOC["metrics"] if m["kind"] == "quality"}


# ---------------------------------------------------------------------------------------------------------
# profile


def test_approximate_tokens_and_words() -> None:
    assert approx_tokens("Hello, world! It's 2026.") == 9  # Hello , world ! It ' s 2026 .
    assert approx_tokens("東京は晴れ") == 5 and approx_tokens("") == 0
    assert words("The cat's 3 HATS, Привет!") == ["the", "cat", "s", "hats", "привет"]


@pytest.mark.parametrize(
    ("record", "parts"),
    [
        (
            {
                "messages": [
                    {"role": "system", "content": "S"},
                    {"role": "user", "content": "Q1"},
                    {"role": "assistant", "content": "A1"},
                    {"role": "user", "content": "Q2"},
                    {"role": "assistant", "content": "A2"},
                ]
            },
            ("S\nQ1\nA1\nQ2", "A2", ()),
        ),
        (
            {
                "schemaVersion": "bedrock-conversation-2024",
                "system": [{"text": "S"}],
                "messages": [
                    {"role": "user", "content": [{"text": "Q"}]},
                    {"role": "assistant", "content": [{"text": "A"}]},
                ],
            },
            ("S\nQ", "A", ()),
        ),
        ({"prompt": "P", "completion": "C"}, ("P", "C", ())),
        ({"instruction": "Do", "input": "this", "output": "done"}, ("Do\n\nthis", "done", ())),
        ({"text": "great film", "label": "pos"}, ("great film", "pos", ("pos",))),
        ({"text": "t", "labels": ["b", "a"]}, ("t", "b, a", ("b", "a"))),
        ({"context": "C", "question": "Q", "answers": ["A"]}, ("C\n\nQuestion: Q", "A", ())),
        ({"input": "plain pre-training text"}, ("plain pre-training text", "", ())),
        ({"colour": "blue"}, None),
        ("not a record", None),
    ],
)
def test_record_parts_of_every_format(record: Any, parts: tuple | None) -> None:
    assert (tuple(record_parts(record)) if record_parts(record) else None) == parts


def baseline_of(records: list[tuple[str, str | None, tuple[str, ...]]], tmp_path: Path) -> Baseline:
    profile = Profile()
    for prompt, completion, labels in records:
        profile.add(prompt, completion, labels)
    path = tmp_path / "baseline.json"
    write_json_atomic(path, profile.baseline_document())
    return load_baseline(path)


def test_baseline_has_quantile_bins_exact_counts_and_a_bounded_sample(tmp_path: Path) -> None:
    rng = random.Random(3)
    records = [(" ".join(["w"] * rng.randint(1, 200)), "ok", ()) for _ in range(5000)]
    baseline = baseline_of(records, tmp_path)
    tokens = baseline.lengths("promptTokens")
    assert 8 <= len(tokens["edges"]) <= 9 and tokens["edges"] == sorted(tokens["edges"])
    assert sum(tokens["counts"]) == tokens["count"] == 5000
    assert all(250 <= c <= 750 for c in tokens["counts"]), tokens["counts"]  # about a tenth each
    assert len(tokens["sample"]) == SAMPLE_SIZE and abs(tokens["mean"] - 100.5) < 3
    # one distinct completion length: one bin, no empty bin
    assert baseline.lengths("completionTokens")["counts"] == [5000]
    assert baseline.document["vocabulary"]["words"] == {"w": sum(len(r[0].split()) for r in records)}
    assert baseline.labels is None


def test_labels_only_when_every_record_has_one(tmp_path: Path) -> None:
    labelled = [("review", "pos", ("pos",)), ("review", "neg", ("neg",))]
    assert baseline_of(labelled, tmp_path).document["labels"] == {
        "counts": {"pos": 1, "neg": 1},
        "multiLabel": False,
    }
    assert baseline_of([*labelled, ("free text", "x", ())], tmp_path).labels is None


def test_unseen_labels_in_the_window(tmp_path: Path) -> None:
    baseline = baseline_of(
        [("t", "Positive", ("Positive",)), ("t", "negative", ("negative",))] * 60, tmp_path
    )
    window = Profile(baseline)
    for answer in ["positive", " Negative.", "neutral", "", "POSITIVE"] * 30:
        window.add("t", answer)
    assert window.unseen_labels == 30
    assert drift(baseline, window)["unseenLabelRate"] == pytest.approx(0.2)


def test_a_window_counts_out_of_vocabulary_words_with_bounded_memory(tmp_path: Path) -> None:
    baseline = baseline_of([("the cat sat on the mat", "ok", ())] * 10, tmp_path)
    window = Profile(baseline)
    for i in range(3000):
        window.add(f"the cat saw zz{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}{chr(97 + i // 676)} here", "ok")
    assert window.total_words == 15000 and window.oov_words == 9000  # "saw", a new word, "here"
    assert len(window.word_counts) == 1000  # capped


# ---------------------------------------------------------------------------------------------------------
# drift: false alarms on unshifted windows, detection of shifted ones

_RNG = np.random.default_rng(11)


def _vocabulary(alphabet: str, size: int) -> np.ndarray:
    letters = np.array(list(alphabet))
    return np.array(["".join(_RNG.choice(letters, size=_RNG.integers(2, 10))) for _ in range(size)])


LATIN, CYRILLIC = (
    _vocabulary("abcdefghijklmnopqrstuvwxyz", 3000),
    _vocabulary("абвгдежзиклмнопрстуфхцчшщыэюя", 500),
)
UNSEEN = _vocabulary("bcdfghjklmnpqrstvwxz", 2000)
ZIPF = 1 / np.arange(1, len(LATIN) + 1) ** 1.1
ZIPF /= ZIPF.sum()


def traffic(seed: int, n: int, *, longer: float = 1.0, cyrillic: float = 0.05, unseen: float = 0.0):
    """n (prompt, answer) pairs: log-normal lengths (median 25 and 15 words), Zipf-distributed Latin words,
    ``cyrillic`` of the prompts in Cyrillic, ``unseen`` of the Latin words from a vocabulary training never
    had. Vectorised: hundreds of windows must take seconds."""
    rng = np.random.default_rng(seed)
    lengths = np.maximum(1, np.rint(rng.lognormal(math.log(25 * longer), 0.5, n))).astype(int)
    answer_lengths = np.maximum(1, np.rint(rng.lognormal(math.log(15), 0.5, n))).astype(int)
    prompt_words = LATIN[rng.choice(len(LATIN), size=lengths.sum(), p=ZIPF)]
    new = rng.random(len(prompt_words)) < unseen
    prompt_words[new] = UNSEEN[rng.integers(0, len(UNSEEN), new.sum())]
    answer_words = LATIN[rng.choice(len(LATIN), size=answer_lengths.sum(), p=ZIPF)]
    in_cyrillic = rng.random(n) < cyrillic
    p_end, a_end = np.cumsum(lengths), np.cumsum(answer_lengths)
    for i in range(n):
        chosen = CYRILLIC[rng.integers(0, len(CYRILLIC), lengths[i])] if in_cyrillic[i] else None
        prompt = chosen if chosen is not None else prompt_words[p_end[i] - lengths[i] : p_end[i]]
        yield " ".join(prompt) + "?", " ".join(answer_words[a_end[i] - answer_lengths[i] : a_end[i]]) + "."


def alarm_names(baseline: Baseline, pairs) -> list[str]:
    window = Profile(baseline)
    for prompt, answer in pairs:
        window.add(prompt, answer)
    result = {
        "drift": drift(baseline, window),
        "health": {
            "completionTokensPsi": psi(
                baseline.lengths("completionTokens")["counts"], window.lengths["completionTokens"].counts
            )
        },
    }
    return alarms(metric_values(result), DEFAULT_THRESHOLDS)


def test_false_alarm_and_detection_rates_at_the_default_thresholds(tmp_path: Path) -> None:
    baseline = baseline_of([(p, c, ()) for p, c in traffic(0, 3000)], tmp_path)
    size = 300
    false_alarms = sum(bool(alarm_names(baseline, traffic(1000 + i, size))) for i in range(100))
    shifts = {
        "prompts 1.5x longer": {"longer": 1.5},
        "40% of prompts Cyrillic (5% in training)": {"cyrillic": 0.4},
        "20% of words new": {"unseen": 0.2},
    }
    detected = {
        name: sum(bool(alarm_names(baseline, traffic(5000 + i, size, **shift))) for i in range(50))
        for name, shift in shifts.items()
    }
    print(f"\nfalse alarms: {false_alarms}/100 unshifted windows of {size} records")
    for name, hits in detected.items():
        print(f"detected: {hits}/50 windows with {name}")
    assert false_alarms / 100 <= 0.05
    assert all(hits / 50 >= 0.95 for hits in detected.values()), detected


def test_psi_and_total_variation() -> None:
    assert psi([10, 10], [10, 10]) == 0
    assert psi([50, 50], [90, 10]) == pytest.approx(0.4 * math.log(1.8) - 0.4 * math.log(0.2))
    assert math.isfinite(psi([100, 0], [0, 100]))  # empty bins are floored, not infinite
    assert psi([1, 2], []) is None and psi([], [1]) is None
    assert total_variation({"LATIN": 9, "NONE": 1}, {"LATIN": 5, "CYRILLIC": 5}) == pytest.approx(0.5)


# ---------------------------------------------------------------------------------------------------------
# health


@pytest.mark.parametrize(
    ("answer", "refusal"),
    [
        ("I'm sorry, but I can't help with that request.", True),
        ("I\u2019m sorry, but I cannot do that.", True),
        ("As an AI language model, I don't have opinions.", True),
        ("I CANNOT ASSIST WITH THAT.", True),
        ("Paris is the capital of France.", False),
        ("Sure! " + "x " * 200 + "and I'm unable to say more.", False),  # past the first 300 characters
    ],
)
def test_refusals(answer: str, refusal: bool) -> None:
    assert is_refusal(answer) is refusal


def test_health_counts_empty_truncated_refusals_and_invalid_json() -> None:
    health = Health(expect_json=True)
    for exchange in [
        Exchange("p", '{"a": 1}'),
        Exchange("p", "  \n", "stop"),
        Exchange("p", '{"a": ', "length"),
        Exchange("p", "```json\n{}\n```"),
        Exchange("p", "I'm unable to comply.", "max_tokens"),
        Exchange("p", None),  # no response captured: in no rate
    ]:
        health.add(exchange)
    result = health.result(None, Profile(), 100)
    assert (result["answers"], result["empty"], result["truncated"], result["refusals"]) == (5, 1, 2, 1)
    assert result["invalidJson"] == 4 and result["invalidJsonRate"] == 0.8
    assert result["completionTokensPsi"] is None
    assert Health().result(None, Profile(), 100)["emptyAnswerRate"] is None


# ---------------------------------------------------------------------------------------------------------
# result, metrics.json and the CLI


def test_the_monitor_emits_exactly_the_contract_metrics_and_thresholds_every_alarm() -> None:
    assert set(SOURCES) == CONTRACT_NAMES
    assert set(DEFAULT_THRESHOLDS) == {m["config"] for m in CONTRACT_DOC["metrics"] if "config" in m}
    assert CONTRACT_DOC["dimensions"] == ["EndpointName", "VariantName"]


def monitor(
    tmp_path: Path, lines: list[str], *flags: str, baseline: Path | None = None
) -> tuple[int, dict, dict]:
    capture = tmp_path / "capture"
    capture.mkdir(exist_ok=True)
    (capture / "part.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    argv = ["run", "--capture", str(capture), "--output-dir", str(out), "--endpoint-name", "chat-prod"]
    argv += ["--variant-name", "AllTraffic", *flags]
    if baseline is not None:
        argv += ["--baseline", str(baseline)]
    code = main(argv)
    if code:
        return code, {}, {}
    result = json.loads((out / "result.json").read_text(encoding="utf-8"))
    return code, result, json.loads((out / "metrics.json").read_text(encoding="utf-8"))


def check_metric_data(data: dict) -> dict[str, float]:
    values = {}
    for datum in data["MetricData"]:
        assert set(datum) == {"MetricName", "Dimensions", "Value", "Unit"}  # no Timestamp
        assert datum["MetricName"] in CONTRACT_NAMES
        assert datum["Dimensions"] == [
            {"Name": "EndpointName", "Value": "chat-prod"},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ]
        assert isinstance(datum["Value"], float) and math.isfinite(datum["Value"])
        values[datum["MetricName"]] = datum["Value"]
    return values


def chat(prompt: str, answer: str, finish: str = "stop") -> str:
    request = {"messages": [{"role": "user", "content": prompt}]}
    response = {"choices": [{"message": {"content": answer}, "finish_reason": finish}]}
    return capture_line(request, response, encoding="BASE64" if len(prompt) % 2 else "JSON")


def test_run_with_a_baseline_reports_every_statistic_and_a_safe_html(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    write_baseline(baseline, records=500)
    pairs = list(traffic(7, 150))
    lines = [chat(p, a) for p, a in pairs] + ["<script>alert(1)</script>"]
    code, result, data = monitor(tmp_path, lines, "--window-start", "2026-11-29T10:00:00Z", baseline=baseline)
    assert code == 0
    values = check_metric_data(data)
    assert (
        set(values) == CONTRACT_NAMES - {"UnseenLabelRate", "InvalidJsonRate"} - CANARY_NAMES
    )  # no --canary
    assert values["MonitorRun"] == 1 and values["CapturedRecords"] == 150 and values["MalformedRecords"] == 1
    assert (
        values["BaselineMissing"] == 0 and values["OutOfVocabularyRate"] > 0.9
    )  # other words than the bench's
    assert "OutOfVocabularyRate" in result["alarms"] and result["baseline"]["records"] == 500
    assert result["capture"]["malformed"] == {"total": 1, "byReason": {"bad_json": 1}}
    assert result["window"]["start"] == "2026-11-29T10:00:00Z"
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    for forbidden in ("<script", "src=", "href=", "<link", "@import", "url("):
        assert forbidden not in page.lower()
    assert page.count("<svg") >= 4  # three length histograms and the writing systems


def test_missing_or_invalid_baseline_reports_health_only(tmp_path: Path) -> None:
    lines = [chat("hello there", "I'm sorry, but I can't.", "length"), chat("hi", "")]
    for baseline, status in ((tmp_path / "none.json", "missing"), (tmp_path / "bad.json", "invalid")):
        (tmp_path / "bad.json").write_text('{"schemaVersion": 99}', encoding="utf-8")
        code, result, data = monitor(tmp_path, lines, "--min-health-answers", "2", baseline=baseline)
        assert code == 0 and result["baseline"]["status"] == status and result["baseline"]["problem"]
        assert check_metric_data(data) == {
            "MonitorRun": 1.0,
            "CapturedRecords": 2.0,
            "MalformedRecords": 0.0,
            "BaselineMissing": 1.0,
            "EmptyAnswerRate": 0.5,
            "TruncatedAnswerRate": 0.5,
            "RefusalRate": 0.5,
        }
        assert result["drift"] == {"skipped": "no baseline"}


def test_an_empty_window_still_reports_the_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["run", "--capture", str(tmp_path / "missing"), "--output-dir", str(out)]
    assert main([*argv, "--endpoint-name", "chat-prod", "--variant-name", "AllTraffic", "--expect-json"]) == 0
    values = check_metric_data(json.loads((out / "metrics.json").read_text(encoding="utf-8")))
    assert values == {
        "MonitorRun": 1.0,
        "CapturedRecords": 0.0,
        "MalformedRecords": 0.0,
        "BaselineMissing": 1.0,
    }
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "report.html", "result.json"]


def test_expect_json_and_labels_add_their_metrics(tmp_path: Path) -> None:
    records = tmp_path / "train.jsonl"
    rows = [{"text": f"review {i}", "label": "pos" if i % 3 else "neg"} for i in range(300)]
    records.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["baseline", "--data", str(records), "--output", str(tmp_path / "b.json")]) == 0
    lines = [chat(f"review {i}", ["pos", "neg", '"maybe"'][i % 3]) for i in range(120)]
    _, _, data = monitor(tmp_path, lines, "--expect-json", baseline=tmp_path / "b.json")
    values = check_metric_data(data)
    assert values["UnseenLabelRate"] == pytest.approx(1 / 3)
    assert values["InvalidJsonRate"] == pytest.approx(2 / 3)  # "maybe" in quotes is JSON; pos and neg are not


def test_too_few_records_for_drift_statistics(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    write_baseline(baseline, records=200)
    _, result, data = monitor(tmp_path, [chat("a b c", "d")] * 99, baseline=baseline)
    assert result["drift"] == {"skipped": "99 records in the window, fewer than 100"}
    assert "PromptTokensPsi" not in check_metric_data(data)


def test_exit_status_only_for_unwritable_output_or_bad_flags(tmp_path: Path, capsys) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("x", encoding="utf-8")
    argv = ["run", "--capture", str(tmp_path), "--endpoint-name", "e", "--variant-name", "v"]
    assert main([*argv, "--output-dir", str(blocked / "out")]) == 1
    assert "cannot write to" in capsys.readouterr().err
    assert main([*argv, "--output-dir", str(tmp_path / "o"), "--window-start", "yesterday"]) == 2
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_cli_memory_does_not_grow_with_the_window(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    write_baseline(baseline)
    peaks = {}
    for size in (5, 25):
        capture = tmp_path / f"capture-{size}"
        records = generate_capture(capture, size << 20)
        _, rss_kb, stdout = run_monitor(capture, baseline, tmp_path / f"out-{size}")
        assert stdout.startswith(f"{records} records, 0 malformed, baseline present")
        peaks[size] = rss_kb / 1024
    metrics = json.loads((tmp_path / "out-25" / "metrics.json").read_text(encoding="utf-8"))
    assert {d["MetricName"] for d in metrics["MetricData"]} >= {
        "MonitorRun",
        "PromptTokensPsi",
        "RefusalRate",
    }
    assert abs(peaks[25] - peaks[5]) < 15, peaks


def test_too_few_answers_report_no_health_rates_to_alarm_on(tmp_path: Path) -> None:
    lines = [chat("hello there", "I'm sorry, but I can't.")] * 19
    _, result, data = monitor(tmp_path, lines)
    assert result["health"]["answers"] == 19 and result["health"]["refusals"] == 19
    assert not {"EmptyAnswerRate", "TruncatedAnswerRate", "RefusalRate"} & set(check_metric_data(data))
    _, result, data = monitor(tmp_path, lines + lines[:1])
    assert check_metric_data(data)["RefusalRate"] == 1.0 and "RefusalRate" in result["alarms"]


def test_the_environments_thresholds_replace_the_defaults_in_the_report(tmp_path: Path) -> None:
    lines = [chat("hello there", "I'm sorry, but I can't.")] * 2 + [chat("hi", "fine")] * 18
    _, result, _ = monitor(tmp_path, lines, "--thresholds", "refusalRate=0.2")
    assert result["thresholds"]["refusalRate"] == 0.2 and result["alarms"] == []
    assert result["thresholds"]["scriptShift"] == DEFAULT_THRESHOLDS["scriptShift"]
    _, result, _ = monitor(tmp_path, lines)
    assert result["alarms"] == ["RefusalRate"]  # 0.1 > the default 0.05


@pytest.mark.parametrize("item", ["refusalRate=0", "refusalRate=x", "latency=1", "refusalRate"])
def test_a_bad_threshold_is_refused_before_anything_is_written(tmp_path: Path, item: str, capsys) -> None:
    code, _, _ = monitor(tmp_path, [chat("hi", "fine")], "--thresholds", item)
    assert code == 2 and not (tmp_path / "out").exists()
    assert f"--thresholds: got {item!r}" in capsys.readouterr().err


@pytest.mark.parametrize(("model_id", "records", "others"), [(PROVISIONED, 3, 2), ("", 5, 0)])
def test_model_id_reads_one_provisioned_models_invocation_logs(
    tmp_path: Path, capsys, model_id: str, records: int, others: int
) -> None:
    mine, other = PROVISIONED, "arn:aws:bedrock:us-east-1:111122223333:provisioned-model/zzz"
    lines = [
        bedrock_line(
            {"messages": [{"role": "user", "content": [{"text": f"Total of invoice {i}?"}]}]},
            NOVA_ANSWER,
            model_id=m,
        )
        for i, m in enumerate([mine, other, mine, other, mine])
    ]
    code, result, data = monitor(tmp_path, lines, "--model-id", model_id)
    assert code == 0
    assert result["capture"]["records"] == records and result["capture"]["otherModels"] == others
    assert result["capture"]["modelId"] == (model_id or None) and result["capture"]["malformed"]["total"] == 0
    assert check_metric_data(data)["CapturedRecords"] == records
    summary = capsys.readouterr().out
    assert summary.startswith(
        f"{records} records, 2 of other models, " if others else f"{records} records, 0 malformed"
    )
