"""`mindshare bench cold-start`: how the cold-start policy (models/cold_start.py) does, per seed, on
three splits of the same data:

- little history: 20% of users held out, each keeping their `given` earliest interactions in train;
  nDCG@10 on the rest of their interactions, by the model alone and with the segment blend;
- new users: 20% of users held out whole; the demographic answer (where the release has
  demographics) against recent popularity;
- new items: the 75/25 per-user split with 25% of items held out whole; new items ranked by each
  user's affinity (words where the catalogue has text, and then categories alone for comparison)
  against the unpersonalised one.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from mindshare import metrics
from mindshare.bench import RANKING_MODELS
from mindshare.data.interactions import Interactions
from mindshare.data.split import split_holdout_items, split_holdout_users
from mindshare.evaluation import build_test_set, hit_matrix, new_item_metrics, new_user_metrics
from mindshare.features.item_text import item_documents
from mindshare.features.tables import build_feature_tables
from mindshare.models import make_model
from mindshare.models.cold_start import ColdStartPolicy, ColdStartSettings
from mindshare.models.new_items import CATEGORIES, WORDS, new_items_of

K = 10
HELD_SHARE = 0.2


def _train(frame: pd.DataFrame, items: pd.DataFrame | None, users: pd.DataFrame | None) -> Interactions:
    train = Interactions.from_frame(frame).with_features(*build_feature_tables(frame, items, demographics=users))
    return train.with_item_text(item_documents(items))


def little_history(frame, items, users, models: list[str], seed: int, given: int,
                   settings: ColdStartSettings, progress: Callable[[str], None]) -> dict[str, dict]:
    split = split_holdout_users(frame, HELD_SHARE, 0.0, seed, given)
    train = _train(split.train, items, users)
    test_set = build_test_set(train, split.test)  # only the held-out users: each has `given` interactions
    policy = ColdStartPolicy(train, settings)
    out = {}
    for name in models:
        model = make_model(name, RANKING_MODELS[name]).fit(train)
        alone, _ = model.recommend(test_set.users, k=K)
        blended, _, _ = policy.recommend(model, test_set.users, k=K)
        out[name] = {
            "users": float(len(test_set.users)),
            "model_only_ndcg_at_10": metrics.ndcg_at_k(hit_matrix(alone, test_set.relevant), test_set.n_relevant, K),
            "segment_blend_ndcg_at_10": metrics.ndcg_at_k(
                hit_matrix(blended, test_set.relevant), test_set.n_relevant, K
            ),
        }
        progress(f"seed {seed}: little history, {name}")
    return out


def run_cold_start_bench(
    frame: pd.DataFrame,
    items: pd.DataFrame | None,
    users: pd.DataFrame | None,
    models: list[str],
    seeds: list[int],
    given: int = 3,
    settings: ColdStartSettings = ColdStartSettings(),
    progress: Callable[[str], None] = lambda _: None,
) -> dict:
    positives = frame[["user_id", "item_id", "timestamp"]].drop_duplicates(["user_id", "item_id"], ignore_index=True)
    runs: dict[str, list[dict]] = {"new_users": [], "new_items": [], "new_items_by_categories": [],
                                   **{m: [] for m in models}}
    for seed in seeds:
        for name, row in little_history(positives, items, users, models, seed, given, settings, progress).items():
            runs[name].append({"seed": seed, **row})
        split = split_holdout_users(positives, HELD_SHARE, 0.0, seed)
        runs["new_users"].append(
            {
                "seed": seed,
                **new_user_metrics(ColdStartPolicy(_train(split.train, items, users), settings, users), split.test, K),
            }
        )
        progress(f"seed {seed}: new users")
        split = split_holdout_items(positives, 0.25, 0.0, seed)
        policy = ColdStartPolicy(_train(split.train, items, users), settings, catalogue=items)
        runs["new_items"].append({"seed": seed, **new_item_metrics(policy, split.test, K)})
        if policy.new_items_ is not None and policy.new_items_.basis == WORDS:  # what categories alone give
            policy.new_items_ = new_items_of(policy.train, items, (CATEGORIES,))
            runs["new_items_by_categories"].append({"seed": seed, **new_item_metrics(policy, split.test, K)})
        progress(f"seed {seed}: new items")
    return {
        name: {**{m: float(np.mean([r[m] for r in rows])) for m in rows[0] if m != "seed"}, "per_seed": rows}
        for name, rows in runs.items() if rows
    }


def format_cold_start(results: dict, models: list[str], given: int) -> str:
    lines = [
        f"little history ({given} training interactions each), nDCG@10:",
        f"{'model':<16}{'model alone':>14}{'segment blend':>16}{'users':>8}",
    ]
    for name in models:
        row = results[name]
        lines.append(
            f"{name:<16}{row['model_only_ndcg_at_10']:>14.4f}{row['segment_blend_ndcg_at_10']:>16.4f}"
            f"{row['users']:>8.0f}"
        )
    new_users = results["new_users"]
    if new_users.get("new_users_users"):
        lines.append(
            f"new users ({new_users['new_users_users']:.0f}, with demographics "
            f"{new_users.get('new_users_with_demographics', 0):.0f}), nDCG@10: recent popularity "
            f"{new_users['new_users_popular_ndcg_at_10']:.4f}, policy {new_users['new_users_ndcg_at_10']:.4f}"
        )
    found = False
    for name, basis in (("new_items", "words where the catalogue has text, else categories"),
                        ("new_items_by_categories", "categories alone")):
        new_items = results.get(name, {})
        if new_items.get("new_items_users"):
            found = True
            lines.append(
                f"new items matched on {basis} ({new_items['new_items']:.0f}; {new_items['new_items_users']:.0f} "
                f"users), nDCG@10 among new items: unpersonalised "
                f"{new_items['new_items_unpersonalised_ndcg_at_10']:.4f}, "
                f"the user's {new_items['new_items_ndcg_at_10']:.4f}"
            )
    if not found:
        lines.append("new items: the data has neither item text nor categories to match")
    return "\n".join(lines)
