"""Fairness over protected attributes: each record's group per attribute, and the report's fairness section.

The attributes are ``--protected-attributes`` (e.g. ``gender age_band``), read as the data tools read them:
``record["metadata"][name]`` (where ``prepare`` writes them), else ``record[name]``. Every record must carry
each one as a group label (a non-empty string, an integer or a boolean) and each must have at least two
groups; anything else is an input error naming the record and the field, and nothing is written: a quality
gate must not pass on a disparity that was never measured. Without ``--protected-attributes`` the legacy
``--group-field`` (default ``group``) is the one attribute, measured only when the records carry it, and
the report keeps its earlier layout (plus the keys below).

``fairness_metrics`` is always in the report, so that a pipeline condition step can always read

    fairness_metrics.max_disparity.value

the largest disparity over every attribute (``metrics.MAX_DISPARITY_CONVENTION``), 0.0 with
``measured: false`` when no attribute was measured. Per attribute: ``fairness_metrics.attributes.<name>``
(the task's disparities, their ``max_disparity``, the groups and details); per group:
``per_group_metrics["<attribute>=<group>"]`` (the bare group for the legacy ``--group-field``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from training.common.args import UsageError
from training.data.formats import attribute_of, group_label_problem, is_missing
from training.data.io import Location, Problem
from training.evaluate import metric_names as names
from training.evaluate import metrics
from training.evaluate.report import entry


@dataclass(frozen=True)
class AttributeSpec:
    """Which attributes to measure; ``required``: named by --protected-attributes (every record must carry
    each, with at least two groups), rather than the legacy --group-field, measured when present."""

    names: tuple[str, ...]
    required: bool


NO_ATTRIBUTES = AttributeSpec((), False)


def attribute_spec(protected_attributes: Sequence[str] | None, group_field: str) -> AttributeSpec:
    if protected_attributes:
        if len(set(protected_attributes)) != len(protected_attributes):
            raise UsageError(
                f"--protected-attributes names an attribute twice: {' '.join(protected_attributes)}"
            )
        return AttributeSpec(tuple(protected_attributes), True)
    return AttributeSpec((group_field,), False)


MISSING_REQUIRED = (
    "is missing; --protected-attributes needs it in every record (in 'metadata' or at the top level)"
)


@dataclass
class GroupCollector:
    """Each record's group per attribute, collected while a file is read (``add`` once per record, in
    order); ``groups`` then holds one list of group labels per measured attribute."""

    spec: AttributeSpec
    problems: list[Problem] = field(default_factory=list)
    _values: dict[str, list[str | None]] = field(default_factory=dict)
    _first_missing: dict[str, Location] = field(default_factory=dict)

    def add(self, location: Location, record: dict[str, Any]) -> None:
        for name in self.spec.names:
            value = attribute_of(record, name)
            label: str | None = None
            if self.spec.required:
                problem = MISSING_REQUIRED if is_missing(value) else group_label_problem(value)
                if problem:
                    self.problems.append(Problem(location, name, problem))
                else:
                    label = str(value)
            elif not is_missing(value) and value is not None:
                label = str(value)
            if label is None:
                self._first_missing.setdefault(name, location)
            self._values.setdefault(name, []).append(label)

    def finish(self, source: str) -> dict[str, list[str]]:
        """The groups of every measured attribute; adds to ``problems`` what keeps one from being measured."""
        groups: dict[str, list[str]] = {}
        for name in self.spec.names:
            values = self._values.get(name, [])
            present: list[str] = [v for v in values if v is not None]
            if not present:
                continue  # required: every record already has its problem; legacy: not measured
            if len(present) < len(values):
                if not self.spec.required:
                    where = self._first_missing[name]
                    self.problems.append(Problem(where, name, "is missing but other records have it"))
                continue
            distinct = sorted(set(present))
            if self.spec.required and len(distinct) < 2:
                self.problems.append(
                    Problem(
                        None,
                        name,
                        f"every record of {source} is in group {distinct[0]!r}; a disparity needs at least "
                        "two groups (is the attribute right, and does the test split hold every group?)",
                    )
                )
                continue
            groups[name] = present
        return groups


def group_key(spec: AttributeSpec, attribute: str, group: str) -> str:
    """A group's key in ``per_group_metrics`` and ``metadata.groups``: ``<attribute>=<group>`` (e.g.
    ``gender=f``) for --protected-attributes; the bare group for the legacy --group-field, as before."""
    return f"{attribute}={group}" if spec.required else group


def group_indices(groups: Sequence[str]) -> dict[str, list[int]]:
    """Record indices per group, groups sorted."""
    out: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        out.setdefault(g, []).append(i)
    return dict(sorted(out.items()))


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def fairness_section(
    spec: AttributeSpec,
    groups: dict[str, list[str]],
    disparities: dict[str, dict[str, float]],
    details: dict[str, dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``fairness_metrics`` section from each attribute's disparities (``{attribute: {metric: value}}``,
    NaN where undefined): per attribute under ``attributes``; at the top, each metric's worst value over the
    attributes and ``max_disparity``, the largest of them all. ``details`` go into each attribute's entry,
    ``extra`` into the section. A required attribute without any defined disparity is an input error.
    The legacy --group-field keeps its earlier layout: its details are at the top of the section too."""
    from training.evaluate.tasks import InputError  # tasks builds its reports with this module

    details = details or {}
    extra = {"conventions": {names.MAX_DISPARITY: metrics.MAX_DISPARITY_CONVENTION}, **(extra or {})}
    if not disparities:
        return {
            names.MAX_DISPARITY: entry(0.0),
            names.MEASURED: False,
            names.MAX_DISPARITY_FROM: None,
            names.ATTRIBUTES: {},
            **extra,
        }
    problems = [
        Problem(None, name, "no disparity can be measured: fewer than two of its groups have a value")
        for name, values in disparities.items()
        if spec.required and not any(_finite(v) for v in values.values())
    ]
    if problems:
        raise InputError(problems)
    metric_keys = list(dict.fromkeys(k for values in disparities.values() for k in values))
    section: dict[str, Any] = {}
    for key in metric_keys:
        defined = [v[key] for v in disparities.values() if _finite(v.get(key))]
        section[key] = entry(max(defined) if defined else float("nan"))
    # (value, attribute, metric) of every defined disparity; the first of equal values wins.
    candidates = [(v, a, m) for a, values in disparities.items() for m, v in values.items() if _finite(v)]
    largest = max(candidates, key=lambda c: c[0]) if candidates else None
    section[names.MAX_DISPARITY] = entry(largest[0] if largest else float("nan"))
    section[names.MEASURED] = True
    section[names.MAX_DISPARITY_FROM] = {"attribute": largest[1], "metric": largest[2]} if largest else None
    section[names.ATTRIBUTES] = {}
    for name, values in disparities.items():
        defined = [v for v in values.values() if _finite(v)]
        section[names.ATTRIBUTES][name] = {
            **{k: entry(v) for k, v in values.items()},
            names.MAX_DISPARITY: entry(max(defined) if defined else float("nan")),
            "groups": sorted(set(groups[name])),
            **details.get(name, {}),
        }
    if not spec.required:
        for name in disparities:
            section.update(details.get(name, {}))
    section.update(extra)
    return section
