"""Search spaces as written in params.yaml, checked before any trial runs.

    tune:
      families:
        item_knn:
          n_trials: 8                # optional, else tune.n_trials
          metric: ndcg_at_10         # optional, else tune.metric / register.primary_metric
          space:
            n_neighbours: {type: int, low: 10, high: 400, log: true}
            shrinkage: {type: float, low: 0.0, high: 100.0}
            similarity: {type: categorical, choices: [cosine, pearson, jaccard]}

Categorical choices may be lists (for example hidden layer sizes); Optuna stores them as JSON text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import optuna

from mindshare.errors import MindshareError

TYPES = ("int", "float", "categorical")


@dataclass(frozen=True)
class Dimension:
    name: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple = ()

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.type == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        if self.type == "float":
            return trial.suggest_float(self.name, self.low, self.high, log=self.log, step=self.step)
        value = trial.suggest_categorical(self.name, [_storable(c) for c in self.choices])
        return _decode(value, self.choices)

    def storable(self, value: Any) -> Any:
        """A model parameter value as Optuna stores it (for enqueuing the defaults)."""
        return _storable(list(value) if isinstance(value, tuple) else value) if self.type == "categorical" else value


def parse_space(model: str, spec: Any) -> list[Dimension]:
    where = f"params.yaml: tune.families.{model}.space"
    if spec is None:
        return []
    if not isinstance(spec, dict):
        raise MindshareError(f"{where} must be a mapping of parameter name to range")
    dimensions = []
    for name, entry in spec.items():
        here = f"{where}.{name}"
        if not isinstance(entry, dict) or entry.get("type") not in TYPES:
            raise MindshareError(f"{here}: give type: one of {', '.join(TYPES)}")
        unknown = set(entry) - {"type", "low", "high", "log", "step", "choices"}
        if unknown:
            raise MindshareError(f"{here}: unknown key(s) {', '.join(sorted(unknown))}; use low, high, log, step or choices")
        if entry["type"] == "categorical":
            choices = entry.get("choices")
            if not isinstance(choices, list) or not choices:
                raise MindshareError(f"{here}: a categorical range needs a non-empty 'choices' list")
            dimensions.append(Dimension(name, "categorical", choices=tuple(choices)))
            continue
        low, high = entry.get("low"), entry.get("high")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)) or low >= high:
            raise MindshareError(f"{here}: give numbers low < high (got low={low!r}, high={high!r})")
        log = bool(entry.get("log", False))
        if log and low <= 0:
            raise MindshareError(f"{here}: a log range needs low > 0 (got {low!r})")
        if entry["type"] == "int" and (int(low) != low or int(high) != high):
            raise MindshareError(f"{here}: an int range needs whole numbers (got {low!r}, {high!r})")
        dimensions.append(Dimension(name, entry["type"], float(low), float(high), log, entry.get("step")))
    return dimensions


def _storable(choice: Any) -> Any:
    return json.dumps(choice) if isinstance(choice, (list, dict)) else choice


def _decode(value: Any, choices: tuple) -> Any:
    for choice in choices:
        if _storable(choice) == value:
            return choice
    return value
