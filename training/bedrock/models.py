"""The base models of the Bedrock path and the run-time check of a run's input against them.

The table is training/contracts/bedrock-models.json, shared with the CDK app, which checks the environment
config against the same ranges at synth time."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONTRACT = Path(__file__).resolve().parents[1] / "contracts" / "bedrock-models.json"
CUSTOMIZATION_TYPES = ("FINE_TUNING", "CONTINUED_PRE_TRAINING")


class InputError(ValueError):
    """A run input that cannot start a job; the message lists every problem, one per line."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class HyperParameter:
    name: str
    kind: str  # "integer" | "float"
    minimum: float
    maximum: float
    default: float

    def check(self, value: Any, model_id: str) -> tuple[str | None, str]:
        """(problem or None, the value as the API string)."""
        where = f"hyperParameters.{self.name}: got {value!r}"
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            return f"{where}; allowed: a number from {self.minimum:g} to {self.maximum:g}", ""
        if self.kind == "integer" and not number.is_integer():
            return f"{where}; allowed: an integer from {self.minimum:g} to {self.maximum:g}", ""
        if not self.minimum <= number <= self.maximum:
            return f"{where}; allowed for {model_id}: {self.minimum:g} to {self.maximum:g}", ""
        return None, str(int(number)) if self.kind == "integer" else repr(number)


@dataclass(frozen=True)
class BaseModel:
    id: str
    family: str
    customization_types: tuple[str, ...]
    hyper_parameters: dict[str, HyperParameter]


def _parse_model(model_id: str, spec: dict[str, Any], sets: dict[str, Any]) -> BaseModel:
    hp = spec["hyperParameters"]
    ranges = sets[hp] if isinstance(hp, str) else hp
    return BaseModel(
        model_id,
        spec["family"],
        tuple(spec["customizationTypes"]),
        {
            name: HyperParameter(name, r["type"], r["min"], r["max"], r["default"])
            for name, r in ranges.items()
        },
    )


def load_models(extra: dict[str, Any] | None = None) -> dict[str, BaseModel]:
    """The contract's models plus ``extra`` (same shape, hyperParameters inline or a set name)."""
    table = json.loads(CONTRACT.read_text(encoding="utf-8"))
    sets = table["hyperParameterSets"]
    specs = {**table["models"], **(extra or {})}
    return {model_id: _parse_model(model_id, spec, sets) for model_id, spec in specs.items()}


def check_hyperparameters(model: BaseModel, values: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """Problems, and every hyperparameter of the model as an API string (defaults filled in)."""
    problems: list[str] = []
    out: dict[str, str] = {}
    unknown = sorted(set(values) - set(model.hyper_parameters))
    for name in unknown:
        problems.append(
            f"hyperParameters.{name}: got {values[name]!r}; not a hyperparameter of {model.id}. "
            f"Allowed: {', '.join(sorted(model.hyper_parameters))}"
        )
    for name, spec in model.hyper_parameters.items():
        problem, text = spec.check(values.get(name, spec.default), model.id)
        if problem:
            problems.append(problem)
        else:
            out[name] = text
    return problems, out
