"""A seeded synthetic interaction log: users with latent tastes, power-law item popularity.

Each interaction draws a user (activity is heavy-tailed), a handful of candidate items by
popularity, and keeps the candidate the user likes best (Gumbel-max over taste + noise).
Ratings follow the affinity; categories follow the item's latent factors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class SyntheticSpec:
    n_users: int = 1000
    n_items: int = 400
    n_interactions: int = 20_000
    n_categories: int = 12
    n_factors: int = 8
    candidates_per_draw: int = 32
    taste_strength: float = 3.0  # how much taste beats popularity when a user picks an item
    start_timestamp: int = 1_600_000_000
    span_days: int = 365
    seed: int = 0
    user_prefix: str = ""  # raw user ids are f"{user_prefix}{n}" (a privacy test looks for the prefix)


def generate_synthetic(spec: SyntheticSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (interactions, items) with raw user ids "<user_prefix>1".. and item ids "1"..; duplicate
    (user, item) draws are merged."""
    rng = np.random.default_rng(spec.seed)
    user_taste = rng.normal(size=(spec.n_users, spec.n_factors)).astype(np.float32)
    item_factors = rng.normal(size=(spec.n_items, spec.n_factors)).astype(np.float32)
    item_weight = 1.0 / np.arange(1, spec.n_items + 1) ** 0.9
    item_weight = item_weight[rng.permutation(spec.n_items)]
    item_weight /= item_weight.sum()
    user_weight = rng.pareto(1.5, size=spec.n_users) + 1.0
    user_weight /= user_weight.sum()

    n = spec.n_interactions
    users = rng.choice(spec.n_users, size=n, p=user_weight)
    candidates = rng.choice(spec.n_items, size=(n, spec.candidates_per_draw), p=item_weight)
    affinity = np.einsum("nf,ncf->nc", user_taste[users], item_factors[candidates]) / np.sqrt(spec.n_factors)
    chosen = np.argmax(spec.taste_strength * affinity + rng.gumbel(size=affinity.shape), axis=1)
    items = candidates[np.arange(n), chosen]
    best = affinity[np.arange(n), chosen]
    rating = np.clip(np.round((3.0 + 1.2 * best + rng.normal(scale=0.5, size=n)) * 2) / 2, 0.5, 5.0)
    timestamps = spec.start_timestamp + np.sort(rng.integers(0, spec.span_days * 86_400, size=n))

    interactions = pd.DataFrame(
        {
            "user_id": np.char.add(spec.user_prefix, (users + 1).astype(str)).astype(object),
            "item_id": (items + 1).astype(str),
            "rating": rating.astype(np.float64),
            "timestamp": timestamps.astype(np.int64),
        }
    ).drop_duplicates(["user_id", "item_id"], keep="first", ignore_index=True)

    category_axes = rng.normal(size=(spec.n_factors, spec.n_categories))
    category_scores = item_factors @ category_axes
    top = np.argsort(-category_scores, axis=1)[:, :2]
    names = np.array([f"category_{c + 1:02d}" for c in range(spec.n_categories)], dtype=object)
    items_frame = pd.DataFrame(
        {
            "item_id": np.arange(1, spec.n_items + 1).astype(str),
            "title": [f"Item {i}" for i in range(1, spec.n_items + 1)],
            "categories": [list(names[row]) for row in top],
            "price": np.round(rng.lognormal(mean=3.0, sigma=0.6, size=spec.n_items), 2),
        }
    )
    return interactions, items_frame


def generate_synthetic_users(spec: SyntheticSpec) -> pd.DataFrame:
    """Demographics for the synthetic users, tied to their tastes (gender to the first latent factor, age
    group to the second) so that demographic cold start has something to find; display names for
    messages. Drawn from a second seeded stream: the interactions do not change."""
    user_taste = np.random.default_rng(spec.seed).normal(size=(spec.n_users, spec.n_factors))
    rng = np.random.default_rng([spec.seed, 1])
    gender = np.where(user_taste[:, 0] + rng.normal(scale=0.5, size=spec.n_users) > 0, "F", "M")
    ages = np.clip(38 + 12 * user_taste[:, 1] + rng.normal(scale=4, size=spec.n_users), 14, 80).round()
    return pd.DataFrame(
        {
            "user_id": np.char.add(spec.user_prefix, np.arange(1, spec.n_users + 1).astype(str)).astype(object),
            "gender": gender.astype(object),
            "age": ages,
            "display_name": [f"Customer {n}" for n in range(1, spec.n_users + 1)],
        }
    )
