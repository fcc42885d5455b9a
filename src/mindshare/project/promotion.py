"""The promotion gate's `reevaluate` (tracking/registry.py): when the candidate was measured on another
split than production, measure production again on the candidate's split, if that is the workspace's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pandas as pd

from mindshare import layout
from mindshare.evaluation.on_test import evaluate_on_test
from mindshare.evaluation.protocol import Evaluation
from mindshare.models.base import Recommender
from mindshare.project import outputs
from mindshare.project.params import load_settings
from mindshare.settings import ColdStartSettings
from mindshare.tracking.production import load_recommender
from mindshare.tracking.registry import Measured
from mindshare.tracking.store import SPLIT_FINGERPRINT_TAG

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion


def on_current_test(model: Recommender, split_fingerprint: str, cold_start: ColdStartSettings) -> Evaluation | None:
    """`model` (with its own cold-start settings) on the workspace's test split if it is the split named
    by `split_fingerprint`, else None."""
    if not layout.PREPARE_REPORT.exists():
        return None
    split = outputs.split_fingerprints()["split_fingerprint"]
    if split_fingerprint != split and not split_fingerprint.startswith(f"{split}-"):  # a sample of its users
        return None  # other data: nothing to read
    settings = load_settings()
    test, current = outputs.test_split(settings)  # the split, and the sample of users where models fit on one
    if current != split_fingerprint:
        return None
    return evaluate_on_test(model, settings.evaluate, test, pd.read_parquet(layout.ITEMS), cold_start,
                            outputs.users_table(), outputs.repeat_decision().exclude_seen)


def reevaluate_production(name: str) -> Callable[[ModelVersion, ModelVersion], Measured | None]:
    """`reevaluate(production, candidate)` for registered model `name`: production's recommender, with its
    own cold-start policy, on the candidate's test split (None where that is not the workspace's)."""

    def reevaluate(production: ModelVersion, candidate: ModelVersion) -> Measured | None:
        served = load_recommender(name, production.version)
        evaluation = on_current_test(served.recommender, candidate.tags.get(SPLIT_FINGERPRINT_TAG, ""),
                                     served.policy_.settings)
        return None if evaluation is None else Measured(evaluation.metrics, evaluation.per_user)

    return reevaluate
