"""The ranking protocols of the bench.

`ms`: Microsoft Recommenders' movielens benchmark, exactly. Duplicate (user, item) pairs merged; every
rating a positive; per user, interactions shuffled with the seed and round(0.75 n) (numpy rounding) put in
train, the rest in test; every catalogue item the user has not interacted with in train is scored (ties by
item index); all the user's test items count in |rel|, also items never seen in train; k = 10; mean over
users with a test item, then over seeds.

`temporal`: what each customer does next. Every event kept (repeats too); the last `test_days` days of the
log are the test window, everything before it the fit data; the people scored are those with history
before the cut; relevant = the distinct items each took in the window. Items a person already had are
ranked and count as relevant where the repeat policy includes them (`auto`: by the fit data's repeat share,
data/repeats.py). One split, no seeds.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import pandas as pd

from mindshare import metrics
from mindshare.bench import RANKING_MODELS
from mindshare.data.interactions import Interactions
from mindshare.data.repeats import decide_repeats, repeat_share, window_repeat_share
from mindshare.data.split import split_random_per_user, split_temporal
from mindshare.evaluation import build_test_set, hit_matrix
from mindshare.evaluation.protocol import TestSet, had_before
from mindshare.features.item_text import item_documents
from mindshare.features.tables import build_feature_tables
from mindshare.models import make_model, with_data_policy
from mindshare.models.candidates import generate_candidates
from mindshare.settings import RepeatSettings

TRAIN_SHARE = 0.75
K = 10
POOL = 50  # the re-rankers' default n_candidates
METRICS = ("ndcg_at_10", "precision_at_10", "recall_at_10", "map", "recall_at_50", "fit_seconds")


def ranking_metrics(model, test: pd.DataFrame, k: int = K, exclude_seen: bool = True) -> dict[str, float]:
    """The protocol's figures at k, repeat and explore hits told apart, and what a candidate pool of this
    family would hold: `recall_at_50` (of its own top 50, what a re-ranker takes from it as a base) and, for a
    re-ranker, `pool_recall` (of the union of its bases' top `n_candidates`: what its learner could at best put
    first). Seen items are ranked and relevant where `exclude_seen` is False."""
    test_set = build_test_set(model.train_, test, exclude_seen)
    started = time.perf_counter()
    recommended, _ = model.recommend(test_set.users, k=k, exclude_seen=exclude_seen)
    recommend_seconds = time.perf_counter() - started
    hits = hit_matrix(recommended, test_set.relevant)
    n_rel = test_set.n_relevant
    longer, _ = model.recommend(test_set.users, k=POOL, exclude_seen=exclude_seen)
    repeat = had_before(model.train_, test_set.users, recommended)
    explore = {f"new_item_recall_at_{k}": metrics.new_item_recall_at_k(hits, repeat, test_set.n_relevant_new, k)} \
        if test_set.n_relevant_new.any() else {}
    return {
        f"repeat_hit_share_at_{k}": metrics.repeat_hit_share_at_k(hits, repeat, k),
        **explore,
        f"ndcg_at_{k}": metrics.ndcg_at_k(hits, n_rel, k),
        f"precision_at_{k}": metrics.precision_at_k(hits, k),
        f"recall_at_{k}": metrics.recall_at_k(hits, n_rel, k),
        "map": metrics.map_at_k_over_relevant(hits, n_rel, k),
        f"recall_at_{POOL}": metrics.recall_at_k(hit_matrix(longer, test_set.relevant), n_rel, POOL),
        **({"pool_recall": pool_recall(model, test_set)} if hasattr(model, "bases_") else {}),
        "recommend_seconds": recommend_seconds,
        "users": float(len(test_set.users)),
    }


def pool_recall(reranker, test_set: TestSet) -> float:
    """Mean over users of the share of their relevant test items in the re-ranker's candidate pool."""
    pool = generate_candidates(reranker.bases_, test_set.users, reranker.n_candidates, test_set.exclude_seen)
    n_items = reranker.train_.n_items
    relevant = test_set.relevant.tocoo()
    keys = test_set.users[relevant.row].astype(np.int64) * n_items + relevant.col
    found = np.isin(keys, pool.keys(n_items))
    per_user = np.bincount(relevant.row, found, minlength=len(test_set.users))
    return float(np.mean(per_user / test_set.n_relevant))


def run_ranking_bench(frame: pd.DataFrame, models: list[str], seeds: list[int], items: pd.DataFrame | None = None,
                      progress: Callable[[str], None] = lambda _: None,
                      keys: dict[str, dict] = RANKING_MODELS) -> dict[str, dict]:
    """Feature tables (for the feature-based families) are built from each seed's train part only; the
    items' documents (for the content family) from the catalogue."""
    positives = frame[["user_id", "item_id", "timestamp"]].drop_duplicates(["user_id", "item_id"], ignore_index=True)
    per_seed: dict[str, list[dict]] = {name: [] for name in models}
    documents = item_documents(items)
    for seed in seeds:
        split = split_random_per_user(positives, test_ratio=1 - TRAIN_SHARE, valid_ratio=0.0, seed=seed)
        train = Interactions.from_frame(split.train).with_features(*build_feature_tables(split.train, items))
        train = train.with_item_text(documents)
        for name in models:
            model = make_model(name, keys[name])
            started = time.perf_counter()
            model.fit(train)
            fit_seconds = time.perf_counter() - started
            per_seed[name].append({"seed": seed, **ranking_metrics(model, split.test), "fit_seconds": fit_seconds,
                                   **_ranked_by(model)})
            progress(f"seed {seed}: {name}")
    return {name: {**{m: float(np.mean([r[m] for r in runs])) for m in (*METRICS, "recommend_seconds")},
                   **({"pool_recall": float(np.mean([r["pool_recall"] for r in runs]))} if "pool_recall" in runs[0]
                      else {}),
                   **_fallbacks(runs), "per_seed": runs} for name, runs in per_seed.items()}


def _ranked_by(model) -> dict:
    """A re-ranker's `fallback` (it ranks by its prior: its learner did not clearly beat it on its check) and
    `ranks_by` (the learner, or the prior's score column); nothing for a base family."""
    if not hasattr(model, "fallback_"):
        return {}
    return {"fallback": bool(model.fallback_), "ranks_by": model.fit_facts()["ranks_by"]}


def _fallbacks(runs: list[dict]) -> dict:
    """A re-ranker's seeds on which it ranked by its prior (its learner did not clearly beat it on its check)."""
    seeds = [r["seed"] for r in runs if r.get("fallback")]
    return {"fallback_seeds": seeds} if any("fallback" in r for r in runs) else {}


def run_temporal_ranking_bench(frame: pd.DataFrame, models: list[str], test_days: int, repeat: str = "auto",
                               items: pd.DataFrame | None = None,
                               progress: Callable[[str], None] = lambda _: None,
                               keys: dict[str, dict] = RANKING_MODELS) -> tuple[dict[str, dict], dict]:
    """(results per bench key, the split's settings): each family fitted on the events before the last
    `test_days` days and scored on the people with history, with the repeat policy `repeat` (see the module)."""
    split = split_temporal(frame, test_days, 0)
    decision = decide_repeats(RepeatSettings(policy=repeat), repeat_share(split.train))
    train = Interactions.from_frame(split.train).with_features(*build_feature_tables(split.train, items))
    train = train.with_item_text(item_documents(items))
    results: dict[str, dict] = {}
    for name in models:  # as the pipeline runs them: re-rankers learn on the last windows, repeats as decided
        family_params = dict(keys[name])
        family = family_params.pop("family")
        model = make_model(family, with_data_policy(family, family_params, test_days, decision.include))
        started = time.perf_counter()
        model.fit(train)
        fit_seconds = time.perf_counter() - started
        figures = ranking_metrics(model, split.test, exclude_seen=decision.exclude_seen)
        results[name] = {**figures, "fit_seconds": fit_seconds, **_ranked_by(model)}
        progress(name)
    window = {"fit_rows": len(split.train), "test_rows": len(split.test),
              "test_users": int(split.test["user_id"].nunique()),
              "test_repeat_share": window_repeat_share(split.train, split.test)}
    return results, {"test_days": test_days, "k": K, "repeat": decision.as_dict(), "window": window}
