"""Search spaces as written in params.yaml (checked by the settings schema before any trial runs).

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

from mindshare.settings import SpaceDimension


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


def parse_space(space: dict[str, SpaceDimension]) -> list[Dimension]:
    """The checked search space of params.yaml (`tune.families.<model>.space`) as Optuna dimensions."""
    return [Dimension(name, entry.type, choices=tuple(entry.choices)) if entry.type == "categorical"
            else Dimension(name, entry.type, float(entry.low), float(entry.high), entry.log, entry.step)
            for name, entry in space.items()]


def _storable(choice: Any) -> Any:
    return json.dumps(choice) if isinstance(choice, (list, dict)) else choice


def _decode(value: Any, choices: tuple) -> Any:
    for choice in choices:
        if _storable(choice) == value:
            return choice
    return value
