"""Checks templates: finds their requests, checks each against botocore's model, and reports findings."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tools.api_model import services
from tools.api_model.records import KINDS, Origin, Problem, Request, Skip
from tools.api_model.requests import environment_for, find_requests
from tools.api_model.shapes import ShapeChecker

TEMPLATE_SUFFIX = ".template.json"


@dataclass(frozen=True)
class Finding:
    """A request that would fail (or cannot be proven), located well enough to fix without searching."""

    template: str
    message: str
    origin: Origin | None = None
    operation: str | None = None

    def __str__(self) -> str:
        where = self.template if self.origin is None else f"{self.template}: {self.origin}"
        if self.operation:
            where = f"{where} -> {self.operation}"
        return f"{where}: {self.message}"


@dataclass
class Report:
    templates: int = 0
    checked: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)
    skips: list[tuple[str, Skip]] = field(default_factory=list)
    skipped_patterns: set[str] = field(default_factory=set)

    def summary(self) -> str:
        checked = ", ".join(f"{self.checked[kind]} {kind}s" for kind in KINDS)
        return (
            f"api-model: {self.templates} templates; checked {checked}; {len(self.findings)} findings; "
            f"{len(self.skipped_patterns)} model patterns skipped (not Python regexes); "
            f"{len(self.skips)} resources/states skipped with a reason (--verbose lists them)"
        )


def template_paths(paths: Iterable[Path]) -> list[Path]:
    """The templates named, and those under named directories (``*.template.json``, recursively)."""
    found: list[Path] = []
    for path in paths:
        found.extend(sorted(path.rglob(f"*{TEMPLATE_SUFFIX}")) if path.is_dir() else [path])
    return found


def check_templates(paths: Iterable[Path]) -> Report:
    report = Report()
    checker = ShapeChecker()
    for path in paths:
        report.templates += 1
        _check_template(path, checker, report)
    report.skipped_patterns = checker.skipped_patterns
    return report


def _check_template(path: Path, checker: ShapeChecker, report: Report) -> None:
    name = str(path)
    try:
        template = json.loads(path.read_text())
        if not isinstance(template, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as error:
        report.findings.append(Finding(name, f"cannot read the template: {error}"))
        return
    for item in find_requests(template, environment_for(path, template)):
        if isinstance(item, Skip):
            report.skips.append((name, item))
        elif isinstance(item, Problem):
            report.findings.append(Finding(name, item.message, item.origin))
        else:
            _check_request(name, item, checker, report)


def _check_request(name: str, request: Request, checker: ShapeChecker, report: Report) -> None:
    report.checked[request.kind] += 1
    operation = services.operation_model(request.service, request.operation)
    if operation is None:
        report.findings.append(
            Finding(name, "botocore has no model of this operation", request.origin, request.operation_label)
        )
        return
    for violation in checker.check(request, operation.input_shape):
        report.findings.append(Finding(name, str(violation), request.origin, request.operation_label))
