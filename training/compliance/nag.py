"""The platform's compliance-pack results: cdk-nag's policy-validation reports, summarized per pack.

cdk-nag 3 packs are CDK policy-validation plugins; synth writes their findings to
``cdk.out/validation-report.json`` (the ``ValidationReport`` of test/support/app.ts):

    {"version": "...", "title": "Validation Report", "pluginReports": [
      {"pluginName": "AwsSolutions", "conclusion": "success" | "failure",
       "violations": [{"ruleName", "description", "severity", "violatingConstructs": [{"constructPath"}]}],
       "suppressedViolations": [{... as above, "acknowledgedId", "acknowledgedAt", "reason"}]}]}

Older CDK versions wrote ``"summary": {"pluginName", "status"}`` instead of ``pluginName``/``conclusion``;
both are read. The report names only rules with findings, so the number of rules a pack checked without
finding anything is not in it (``rulesChecked`` is then null).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPORT_FILE = "validation-report.json"
_MAX_LISTED_CONSTRUCTS = 20


def report_files(paths: list[str]) -> tuple[list[Path], list[str]]:
    """The report files the given paths name (a directory: every ``*.json`` in it that is a validation
    report), and the problems met."""
    files: list[Path] = []
    problems: list[str] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = [p for p in sorted(path.glob("*.json")) if _is_report(p)]
            if not found:
                problems.append(f"{path}: holds no policy-validation report ({REPORT_FILE})")
            files += found
        else:
            files.append(path)
    return files, problems


def _is_report(path: Path) -> bool:
    if path.name == REPORT_FILE:
        return True
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return b'"pluginReports"' in head


def _pack(report: dict[str, Any]) -> tuple[str, str]:
    summary = report.get("summary") if isinstance(report.get("summary"), dict) else {}
    name = report.get("pluginName") or summary.get("pluginName") or "unnamed plugin"
    conclusion = report.get("conclusion") or summary.get("status") or "unknown"
    return str(name), str(conclusion)


def _constructs(violation: dict[str, Any]) -> list[str]:
    found = violation.get("violatingConstructs") or violation.get("violatingResources") or []
    return [
        str(c.get("constructPath") or c.get("resourceLogicalId") or "?") for c in found if isinstance(c, dict)
    ]


def summarize(paths: list[str]) -> dict[str, Any]:
    """Per pack: conclusion, rules with findings, violations and acknowledged findings, with the constructs
    of every unacknowledged finding and the reason of every acknowledgement."""
    files, problems = report_files(paths)
    packs: dict[str, dict[str, Any]] = {}
    read: list[str] = []
    for file in files:
        try:
            document = json.loads(file.read_text(encoding="utf-8"))
            reports = document["pluginReports"]
            if not isinstance(reports, list):
                raise TypeError("pluginReports is not a list")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
            problems.append(f"{file}: not a policy-validation report ({type(exc).__name__}: {exc})")
            continue
        read.append(str(file))
        for report in reports:
            if not isinstance(report, dict):
                problems.append(f"{file}: a plugin report is not an object")
                continue
            name, conclusion = _pack(report)
            pack = packs.setdefault(
                name,
                {
                    "pack": name,
                    "conclusion": "success",
                    "rulesChecked": None,
                    "rules": set(),
                    "violatingRules": set(),
                    "acknowledgedRules": set(),
                    "violations": 0,
                    "acknowledged": 0,
                    "unacknowledged": [],
                    "acknowledgements": [],
                },
            )
            if conclusion != "success":
                pack["conclusion"] = conclusion
            for violation in report.get("violations") or []:
                constructs = _constructs(violation)
                rule = str(violation.get("ruleName"))
                pack["rules"].add(rule)
                pack["violatingRules"].add(rule)
                pack["violations"] += len(constructs) or 1
                pack["unacknowledged"].append(
                    {
                        "rule": rule,
                        "severity": violation.get("severity"),
                        "description": violation.get("description"),
                        "constructs": constructs[:_MAX_LISTED_CONSTRUCTS],
                        "constructCount": len(constructs),
                    }
                )
            for violation in report.get("suppressedViolations") or []:
                constructs = _constructs(violation)
                rule = str(violation.get("ruleName"))
                pack["rules"].add(rule)
                pack["acknowledgedRules"].add(rule)
                pack["acknowledged"] += len(constructs) or 1
                pack["acknowledgements"].append(
                    {
                        "rule": rule,
                        "at": violation.get("acknowledgedAt"),
                        "reason": violation.get("reason"),
                        "constructCount": len(constructs),
                    }
                )
    summary = [
        {
            "pack": p["pack"],
            "conclusion": p["conclusion"],
            "rulesChecked": p["rulesChecked"],
            "rulesWithFindings": len(p["rules"]),
            "violations": {"rules": len(p["violatingRules"]), "constructs": p["violations"]},
            "acknowledged": {"rules": len(p["acknowledgedRules"]), "constructs": p["acknowledged"]},
            "unacknowledged": p["unacknowledged"],
            "acknowledgements": p["acknowledgements"],
        }
        for p in sorted(packs.values(), key=lambda p: p["pack"])
    ]
    return {
        "status": "read" if read else "invalid",
        "files": read,
        "packs": summary,
        "problems": problems,
        "note": "A policy-validation report lists only rules with findings; rules a pack checked without a "
        "finding are not in it.",
    }
