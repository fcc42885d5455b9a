"""The settings of one model's study, from the typed params.yaml (`tune`, `model_params.<model>`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from mindshare.errors import MindshareError, suggestion
from mindshare.metrics.names import greater_is_better
from mindshare.models import make_model
from mindshare.settings import Settings
from mindshare.tuning.space import Dimension, parse_space


@dataclass
class StudySettings:
    model: str
    model_params: dict[str, Any]
    dimensions: list[Dimension]
    space_spec: dict[str, Any]
    n_trials: int
    timeout: float | None
    seed: int
    pruner: str
    metric: str
    storage: str | None
    cold_start: dict[str, Any] = field(default_factory=dict)  # its segment-prior scores are kept per trial

    @property
    def direction(self) -> str:
        return "maximize" if greater_is_better(self.metric) else "minimize"

    def study_name(self, data_fingerprint: str) -> str:
        identity = {"model_params": self.model_params, "space": self.space_spec, "metric": self.metric,
                    "seed": self.seed, "pruner": self.pruner, "data": data_fingerprint, "cold_start": self.cold_start}
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:12]
        return f"{self.model}-{digest}"

    def trial_params(self, suggested: dict[str, Any]) -> dict[str, Any]:
        return {**self.model_params, **suggested}


def tune_settings(settings: Settings, model: str, model_params: dict[str, Any] | None = None) -> StudySettings:
    """One model's study settings; every tuned name must be a parameter of the model's family. `model_params`:
    the model's hyper-parameters where not params.yaml's alone (see project.outputs.model_params)."""
    tune = settings.tune
    family = tune.families.get(model)
    model_params = settings.model_params_of(model) if model_params is None else model_params
    space = family.space if family else {}
    space_spec = {name: dimension.model_dump(exclude_unset=True) for name, dimension in space.items()}
    dimensions = parse_space(space)
    allowed = list(make_model(model, model_params).get_params())
    for dimension in dimensions:
        if dimension.name not in allowed:
            raise MindshareError(f"params.yaml: tune.families.{model}.space.{dimension.name} is not a parameter of "
                                 f"{model}{suggestion(dimension.name, allowed)}")
        sample = dimension.choices[0] if dimension.type == "categorical" else dimension.low
        make_model(model, {**model_params, dimension.name: sample})
    n_trials = (family.n_trials if family and family.n_trials else None) or tune.n_trials
    if not dimensions:
        n_trials = 1  # nothing to search: one trial scores the params.yaml values
    metric = (family.metric if family else None) or tune.metric or settings.register.primary_metric
    return StudySettings(model, model_params, dimensions, space_spec, n_trials, tune.timeout, tune.seed, tune.pruner,
                         metric, tune.storage, settings.cold_start.model_dump(exclude_unset=True))  # as written
