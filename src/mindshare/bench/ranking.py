"""The ranking protocol of Microsoft Recommenders' movielens benchmark, exactly.

Duplicate (user, item) pairs merged; every rating a positive; per user, interactions shuffled
with the seed and round(0.75 n) (numpy rounding) put in train, the rest in test; every catalogue
item the user has not interacted with in train is scored (ties by item index); all the user's test
items count in |rel|, also items never seen in train; k = 10; mean over users with a test item,
then over seeds.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import pandas as pd

from mindshare import metrics
from mindshare.bench import RANKING_MODELS
from mindshare.data.interactions import Interactions
from mindshare.data.split import split_random_per_user
from mindshare.evaluation import build_test_set, hit_matrix
from mindshare.features.tables import build_feature_tables
from mindshare.models import make_model

TRAIN_SHARE = 0.75
K = 10
METRICS = ("ndcg_at_10", "precision_at_10", "recall_at_10", "map", "fit_seconds")


def ranking_metrics(model, test: pd.DataFrame, k: int = K) -> dict[str, float]:
    test_set = build_test_set(model.train_, test)
    started = time.perf_counter()
    recommended, _ = model.recommend(test_set.users, k=k, exclude_seen=True)
    recommend_seconds = time.perf_counter() - started
    hits = hit_matrix(recommended, test_set.relevant)
    n_rel = test_set.n_relevant
    return {
        f"ndcg_at_{k}": metrics.ndcg_at_k(hits, n_rel, k),
        f"precision_at_{k}": metrics.precision_at_k(hits, k),
        f"recall_at_{k}": metrics.recall_at_k(hits, n_rel, k),
        "map": metrics.map_at_k_over_relevant(hits, n_rel, k),
        "recommend_seconds": recommend_seconds,
        "users": float(len(test_set.users)),
    }


def run_ranking_bench(frame: pd.DataFrame, models: list[str], seeds: list[int], items: pd.DataFrame | None = None,
                      progress: Callable[[str], None] = lambda _: None) -> dict[str, dict]:
    """Feature tables (for the feature-based families) are built from each seed's train part only."""
    positives = frame[["user_id", "item_id", "timestamp"]].drop_duplicates(["user_id", "item_id"], ignore_index=True)
    per_seed: dict[str, list[dict]] = {name: [] for name in models}
    for seed in seeds:
        split = split_random_per_user(positives, test_ratio=1 - TRAIN_SHARE, valid_ratio=0.0, seed=seed)
        train = Interactions.from_frame(split.train).with_features(*build_feature_tables(split.train, items))
        for name in models:
            model = make_model(name, RANKING_MODELS[name])
            started = time.perf_counter()
            model.fit(train)
            fit_seconds = time.perf_counter() - started
            fallback = {"fallback": bool(model.fallback_)} if hasattr(model, "fallback_") else {}  # re-rankers
            per_seed[name].append({"seed": seed, **ranking_metrics(model, split.test), "fit_seconds": fit_seconds,
                                   **fallback})
            progress(f"seed {seed}: {name}")
    return {name: {**{m: float(np.mean([r[m] for r in runs])) for m in (*METRICS, "recommend_seconds")},
                   **_fallbacks(runs), "per_seed": runs} for name, runs in per_seed.items()}


def _fallbacks(runs: list[dict]) -> dict:
    """A re-ranker's seeds on which it ranked by its prior (its learner did not beat it on its early-stopping users)."""
    seeds = [r["seed"] for r in runs if r.get("fallback")]
    return {"fallback_seeds": seeds} if any("fallback" in r for r in runs) else {}
