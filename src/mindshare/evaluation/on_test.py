"""A model on the test split as it would be served: the path of the evaluate stage and of the promotion
gate's re-evaluation, so that both measure alike."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mindshare.evaluation.protocol import (
    Evaluation,
    build_test_set,
    evaluate_model,
    item_feature_matrix,
    new_item_metrics,
    new_user_metrics,
)
from mindshare.models.base import Recommender
from mindshare.models.cold_start import ColdStartPolicy
from mindshare.settings import ColdStartSettings, EvaluateSettings


def evaluate_on_test(model: Recommender, evaluate: EvaluateSettings, test: pd.DataFrame, items: pd.DataFrame,
                     cold_start: ColdStartSettings, users: pd.DataFrame | None = None,
                     exclude_seen: bool = True) -> Evaluation:
    """Every metric of `model` on `test`, answering with the cold-start policy (resolved per model) and the
    repeat policy (`exclude_seen`: lists and relevant items leave out what each user had)."""
    policy = ColdStartPolicy(model.train_, cold_start.resolved(), users, items, exclude_seen)
    test_set = build_test_set(model.train_, test, exclude_seen)
    features = item_feature_matrix(model.train_, items)
    evaluation = evaluate_model(model, test_set, evaluate.ks, evaluate.curve_max_k, features, test, policy)
    evaluation.metrics.update({name: float(v) for name, v in test_set.counts.items()})
    evaluation.metrics.update(new_user_metrics(policy, test, evaluate.main_k))
    evaluation.metrics.update(new_item_metrics(policy, test, evaluate.main_k))
    return evaluation


def sample_test_users(test: pd.DataFrame, n_users: int | None, seed: int = 0) -> pd.DataFrame:
    """The test rows of a seeded sample of `n_users` test users (all rows where null or at least as many
    as there are): large data is evaluated on a sample, and every model on the same one. The sample
    depends on the row order and the seed, never on the pseudonymised id values."""
    users = pd.unique(test["user_id"])
    if not n_users or n_users >= len(users):
        return test
    chosen = users[np.sort(np.random.default_rng(seed).choice(len(users), size=n_users, replace=False))]
    return test[test["user_id"].isin(chosen)].reset_index(drop=True)
