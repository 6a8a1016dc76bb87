"""Ground truth uploaded later (training/monitor/ground_truth.py): joined with the captured requests by
inference id and scored as training.evaluate scores the matched pairs; unmatched and duplicate ids, bad lines,
missing directories; and the planner's manifests laid out as SageMaker lays them out, read by the job."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest

from training.evaluate.__main__ import main as evaluate_main
from training.monitor import plan as planner
from training.monitor.__main__ import main
from training.monitor.canary_score import EMPTY_LABEL, PRIMARY_METRICS
from training.tests.conftest import write_jsonl
from training.tests.test_monitor_capture import block

REQUEST_HOUR = "2026/11/29/09"


def captured(inference_id: str | None, answer: str | None, prompt: str = "Classify: great service") -> str:
    """One SageMaker data capture line of a TGI request; ``answer`` None: no response was captured."""
    data = {"endpointInput": block({"inputs": prompt}, "INPUT")}
    if answer is not None:
        data["endpointOutput"] = block([{"generated_text": answer}], "OUTPUT")
    meta = {"eventId": f"event-{inference_id}", "inferenceTime": "2026-11-29T09:30:00Z"}
    if inference_id is not None:
        meta["inferenceId"] = inference_id
    return json.dumps({"captureData": data, "eventMetadata": meta, "eventVersion": "0"})


def write_capture(directory: Path, lines: list[str], name: str = "30-00-000-abc.jsonl") -> Path:
    path = directory / REQUEST_HOUR / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return directory


def run_job(tmp_path: Path, truth: Path, capture: Path, task: str, *flags: str) -> tuple[int, dict, dict]:
    out = tmp_path / "out"
    argv = ["run", "--capture", str(tmp_path / "no-window-capture"), "--output-dir", str(out)]
    argv += ["--endpoint-name", "chat-prod", "--variant-name", "AllTraffic"]
    argv += [
        "--ground-truth",
        str(truth),
        "--ground-truth-capture",
        str(capture),
        "--ground-truth-task",
        task,
    ]
    code = main([*argv, *flags])
    if code:
        return code, {}, {}
    result = json.loads((out / "result.json").read_text(encoding="utf-8"))
    data = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    return code, result, {d["MetricName"]: d["Value"] for d in data["MetricData"]}


def evaluate_directly(tmp_path: Path, task: str, pairs: list[dict[str, Any]]) -> tuple[str, dict]:
    """training.evaluate <task> itself on the pairs: (report section, its metrics)."""
    write_jsonl(tmp_path / "pairs.jsonl", pairs)
    argv = [task, "--predictions", str(tmp_path / "pairs.jsonl"), "--output-dir", str(tmp_path / "ev")]
    assert evaluate_main(argv) == 0
    report = json.loads((tmp_path / "ev" / "evaluation.json").read_text(encoding="utf-8"))
    section, values = next((k, v) for k, v in report.items() if k.endswith("_metrics"))
    return section, {k: v["value"] for k, v in values.items() if isinstance(v, dict) and "value" in v}


# (reference, answer) per inference id, in capture order.
PAIRS = {
    "classification": [
        ({"label": "pos"}, "pos"),
        ({"label": "neg"}, "pos"),
        ({"label": "neg"}, " neg\n"),
        ({"label": "neu"}, "neu"),
    ],
    "summarization": [
        ({"summary": "The council approved the budget."}, "Council approves budget."),
        ({"summary": "Rain is expected on Friday."}, "Friday will bring rain."),
        ({"summary": "The team won the final."}, "The team lost the final."),
    ],
    "qa": [
        ({"answers": ["Paris", "paris, France"]}, "Paris"),
        ({"answers": "1969"}, "It was in 1969."),
        ({"answers": {"text": ["blue"]}}, "red"),
    ],
}
# A reference that is wrong for the first answer: a duplicate id whose last line must win.
WRONG = {"classification": {"label": "neu"}, "summarization": {"summary": "Snow."}, "qa": {"answers": ["x"]}}


@pytest.mark.parametrize("task", sorted(PAIRS))
def test_captured_answers_are_joined_by_inference_id_and_scored_as_training_evaluate_does(tmp_path, task):
    pairs = PAIRS[task]
    truth = tmp_path / "ground-truth" / REQUEST_HOUR
    truth.mkdir(parents=True)
    # a.jsonl first: the duplicate of id-0 in b.jsonl.gz (read after it) wins.
    first = [{"inferenceId": "id-0", **WRONG[task]}]
    first += [{"inferenceId": f"id-{i}", **ref} for i, (ref, _) in enumerate(pairs) if i]
    first += [{"inferenceId": "lost", **pairs[0][0]}, {"inferenceId": "silent", **pairs[0][0]}]
    write_jsonl(truth / "a.jsonl", first)
    with gzip.open(truth / "b.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write(json.dumps({"inferenceId": "id-0", **pairs[0][0]}) + "\n")
    lines = [captured(f"id-{i}", answer) for i, (_, answer) in enumerate(pairs)]
    lines.insert(1, captured("someone-else", "pos"))  # no ground truth: not scored
    lines.append(captured("id-0", "a later retry"))  # the same id again: the first record counts
    lines.append(captured("silent", None))  # captured without a response: nothing to score
    lines.append(captured(None, "no id passed"))
    capture = write_capture(tmp_path / "gt-capture", lines)

    code, result, values = run_job(tmp_path, tmp_path / "ground-truth", capture, task)

    expected = [{**ref, "prediction": answer} for ref, answer in pairs]
    section, metrics = evaluate_directly(tmp_path, task, expected)
    truth_out = result["groundTruth"]
    assert code == 0 and truth_out["status"] == "scored" and truth_out["section"] == section
    assert values["GroundTruthScore"] == metrics[PRIMARY_METRICS[task]] == truth_out["score"]
    assert truth_out["metrics"] == metrics
    assert values["GroundTruthRecords"] == len(pairs) == truth_out["matched"]
    assert values["GroundTruthUnmatched"] == 1 and truth_out["unmatchedExamples"] == ["lost"]
    assert (truth_out["files"], truth_out["records"], truth_out["duplicates"]) == (2, len(pairs) + 2, 1)
    assert (truth_out["unanswered"], truth_out["duplicateCaptures"]) == (1, 1)
    assert truth_out["capture"] == {"present": True, "files": 1, "records": len(lines), "malformed": 0}
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "<h2>Ground truth</h2>" in page and "unmatched inferenceId lost" in page


def test_the_scores_of_a_known_case_and_multi_label_references(tmp_path):
    truth = tmp_path / "truth"
    truth.mkdir()
    write_jsonl(
        truth / "t.jsonl",
        [
            {"inferenceId": "a", "label": "pos"},
            {"inferenceId": "b", "label": "neg"},
            {"inferenceId": "c", "label": "neg"},
            {"inferenceId": "d", "label": "pos"},
        ],
    )
    answers = [("a", "pos"), ("b", "neg"), ("c", "  "), ("d", "pos")]
    capture = write_capture(tmp_path / "cap", [captured(i, a) for i, a in answers])
    _, result, values = run_job(tmp_path, truth, capture, "classification")
    assert values["GroundTruthScore"] == 0.75  # the empty answer is the wrong label EMPTY_LABEL
    assert result["groundTruth"]["emptyAnswers"] == 1 and EMPTY_LABEL == "(empty answer)"
    assert result["alarms"] == []

    # One multi-label reference ("labels" read too) makes every reference a list, as training.evaluate
    # decides multi-label from the first record.
    write_jsonl(
        truth / "t.jsonl",
        [
            {"inferenceId": "a", "label": "billing"},
            {"inferenceId": "b", "labels": ["billing", "refund"]},
            {"inferenceId": "c", "label": ["refund"]},
        ],
    )
    answers = [("a", "billing"), ("b", "refund, billing"), ("c", "billing")]
    capture = write_capture(tmp_path / "cap", [captured(i, a) for i, a in answers])
    _, result, values = run_job(tmp_path, truth, capture, "classification")
    expected = [
        {"label": ["billing"], "prediction": "billing"},
        {"label": ["billing", "refund"], "prediction": "refund, billing"},
        {"label": ["refund"], "prediction": "billing"},
    ]
    _, metrics = evaluate_directly(tmp_path, "classification", expected)
    assert values["GroundTruthScore"] == metrics["accuracy"] == pytest.approx(2 / 3)


def test_unreadable_ground_truth_lines_are_counted_by_reason_and_the_rest_is_scored(tmp_path):
    truth = tmp_path / "truth"
    truth.mkdir()
    lines = [
        "not json",
        "[1, 2]",
        json.dumps({"answers": ["Paris"]}),
        json.dumps({"inferenceId": "", "answers": ["Paris"]}),
        json.dumps({"inferenceId": "x", "label": "Paris"}),
        json.dumps({"inferenceId": "y", "answers": []}),
        json.dumps({"inferenceId": "ok", "answers": ["Paris"]}),
    ]
    (truth / "t.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (truth / "notes.txt").write_text("not read", encoding="utf-8")
    capture = write_capture(tmp_path / "cap", [captured("ok", "Paris"), captured("x", "Paris")])

    _, result, values = run_job(tmp_path, truth, capture, "qa")

    truth_out = result["groundTruth"]
    assert truth_out["malformed"] == {
        "total": 6,
        "byReason": {"bad_json": 1, "not_an_object": 1, "no_inference_id": 2, "bad_reference": 2},
    }
    assert truth_out["examples"]["bad_reference"][0].startswith("t.jsonl:5: answers")
    assert (truth_out["files"], truth_out["records"]) == (1, 1)
    assert values["GroundTruthScore"] == 1.0 and values["GroundTruthRecords"] == 1


def test_missing_directories_mean_no_ground_truth_this_run_reported_not_an_error(tmp_path):
    code, result, values = run_job(tmp_path, tmp_path / "none", tmp_path / "none-either", "summarization")
    assert code == 0 and result["groundTruth"]["status"] == "missing"
    assert "none was uploaded" in result["groundTruth"]["problem"]
    assert values == {
        "MonitorRun": 1.0,
        "CapturedRecords": 0.0,
        "MalformedRecords": 0.0,
        "BaselineMissing": 1.0,
        "GroundTruthRecords": 0.0,
        "GroundTruthUnmatched": 0.0,
    }
    # Ground truth without the capture of its hours (none captured, or the planner found none): unmatched.
    truth = tmp_path / "truth"
    truth.mkdir()
    write_jsonl(truth / "t.jsonl", [{"inferenceId": f"r{i}", "summary": "s"} for i in range(3)])
    code, result, values = run_job(tmp_path, truth, tmp_path / "none", "summarization")
    assert code == 0 and result["groundTruth"]["status"] == "unscored"
    assert result["groundTruth"]["capture"]["present"] is False
    assert (values["GroundTruthRecords"], values["GroundTruthUnmatched"]) == (0.0, 3.0)
    assert "GroundTruthScore" not in values and result["alarms"] == []


def test_the_score_alarms_below_its_threshold_and_the_flags_go_together(tmp_path, capsys):
    truth = tmp_path / "truth"
    truth.mkdir()
    write_jsonl(
        truth / "t.jsonl", [{"inferenceId": "a", "label": "pos"}, {"inferenceId": "b", "label": "neg"}]
    )
    capture = write_capture(tmp_path / "cap", [captured("a", "neg"), captured("b", "pos")])
    _, result, values = run_job(tmp_path, truth, capture, "classification")
    assert values["GroundTruthScore"] == 0.0 and result["alarms"] == ["GroundTruthScore"]
    assert result["thresholds"]["groundTruthMinimumScore"] == 0.2
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "below 0.2" in page
    write_capture(tmp_path / "cap", [captured("a", "pos"), captured("b", "pos")])
    flags = ["--thresholds", "groundTruthMinimumScore=0.6"]
    _, result, values = run_job(tmp_path, truth, capture, "classification", *flags)
    assert values["GroundTruthScore"] == 0.5 and result["alarms"] == ["GroundTruthScore"]

    out = tmp_path / "flags"
    base = ["run", "--capture", str(tmp_path), "--output-dir", str(out), "--endpoint-name", "e"]
    base += ["--variant-name", "v"]
    assert main([*base, "--ground-truth", str(truth), "--ground-truth-task", "qa"]) == 2
    assert (
        "--ground-truth, --ground-truth-capture and --ground-truth-task go together"
        in capsys.readouterr().err
    )
    assert main([*base, "--ground-truth-capture", str(capture)]) == 2
    with pytest.raises(SystemExit):
        main([*base, "--ground-truth", "a", "--ground-truth-capture", "b", "--ground-truth-task", "bleu"])
    assert not out.exists()


# ---------------------------------------------------------------------------------------------------------
# from the planner's manifests to the job, against moto


@pytest.fixture
def aws(moto_endpoint):
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).close()
    s3 = boto3.client("s3", region_name="us-east-1")
    for bucket in ("fmft-capture", "fmft-evaluation"):
        s3.create_bucket(Bucket=bucket)
    return s3


def materialize(s3, run: dict, root: Path) -> None:
    """Copy each ManifestFile input as SageMaker does: every entry to <LocalPath>/<its key relative to the
    manifest's prefix> (LocalPath moved under ``root``)."""
    for item in run["inputs"]:
        source = item["S3Input"]
        if source["S3DataType"] != "ManifestFile":
            continue
        bucket, key = planner.split_s3_uri(source["S3Uri"])
        head, *relative = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        data_bucket, prefix = planner.split_s3_uri(head["prefix"])
        for name in relative:
            target = root / source["LocalPath"].lstrip("/") / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=data_bucket, Key=prefix + name)["Body"].read())


def test_the_planners_manifests_lay_out_what_the_job_joins_and_scores(aws, tmp_path):
    s3 = aws
    hour = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    endpoint, variant = "fmft-prod-llm", "current"
    request = hour - dt.timedelta(hours=3)
    capture_key = f"data-capture/{endpoint}/{variant}/{request:%Y/%m/%d/%H}/12-00-000-abc.jsonl"
    lines = [captured("r1", "pos"), captured("r2", "pos"), captured("r3", "neg")]
    s3.put_object(Bucket="fmft-capture", Key=capture_key, Body="\n".join(lines).encode())
    truth_key = f"evaluation/ground-truth/{endpoint}/{variant}/{request:%Y/%m/%d/%H}/labels.jsonl"
    truth = [{"inferenceId": "r1", "label": "pos"}, {"inferenceId": "r2", "label": "neg"}]
    truth.append({"inferenceId": "r9", "label": "neg"})
    s3.put_object(Bucket="fmft-evaluation", Key=truth_key, Body="\n".join(map(json.dumps, truth)).encode())
    settings = {
        "captureUri": "s3://fmft-capture/data-capture/",
        "outputUri": "s3://fmft-evaluation/evaluation/monitoring/",
        "intervalHours": 1,
        "jobNamePrefix": "fmft-prod",
        "codeInputs": [],
        "groundTruth": {"uri": "s3://fmft-evaluation/evaluation/ground-truth/", "task": "classification"}
        | {"lookbackHours": 6},
    }
    event = {
        "scheduledTime": planner.iso(hour + dt.timedelta(hours=1)),
        "targets": [{"endpointName": endpoint, "variantName": variant}],
    }

    [run] = planner.plan(event, settings, s3, sagemaker=None)["runs"]
    materialize(s3, run, tmp_path)

    processing = tmp_path / "opt" / "ml" / "processing" / "input"
    assert (processing / "ground-truth-capture" / capture_key.split(f"{variant}/", 1)[1]).is_file()
    code, result, values = run_job(
        tmp_path, processing / "ground-truth", processing / "ground-truth-capture", "classification"
    )
    assert code == 0 and run["hasGroundTruth"] and run["hoursWithData"] == 0
    assert result["groundTruth"]["files"] == 1 and result["groundTruth"]["capture"]["records"] == 3
    assert (values["GroundTruthRecords"], values["GroundTruthUnmatched"], values["GroundTruthScore"]) == (
        2.0,
        1.0,
        0.5,
    )
