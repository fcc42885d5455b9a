"""Item features: popularity (overall and recent), shrunk mean rating, age, release year, categories,
tags, price."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mindshare.features.categories import category_indicators

DAY = 86_400


def build_item_features(train: pd.DataFrame, items: pd.DataFrame | None, categories: list[str],
                        recent_days: int, rating_prior: float, tags: list[str] | None = None) -> pd.DataFrame:
    """One row per item_id seen in `train`.

    The mean rating is shrunk towards the global mean with `rating_prior` pseudo-ratings.
    """
    now = int(train["timestamp"].max())
    by_item = train.groupby("item_id", sort=False)
    recent = train[train["timestamp"] >= now - recent_days * DAY].groupby("item_id", sort=False).size()
    out = pd.DataFrame({
        "item_popularity": by_item["user_id"].nunique().astype("float32"),
        "item_age_days": ((now - by_item["timestamp"].min()) / DAY).astype("float32"),
    })
    out["item_recent_popularity"] = recent.reindex(out.index).fillna(0).astype("float32")
    if "rating" in train:
        sums, counts = by_item["rating"].sum(), by_item["rating"].size()
        out = out.join(pd.DataFrame({"rating_sum": sums, "rating_rows": counts}))
    return with_catalogue_features(out, float(train["rating"].mean()) if "rating" in train else None, items,
                                   categories, rating_prior, tags)


def with_catalogue_features(out: pd.DataFrame, mean_rating: float | None, items: pd.DataFrame | None,
                            categories: list[str], rating_prior: float, tags: list[str] | None) -> pd.DataFrame:
    """Item features from the per-item aggregates of the events (popularity, age, recent popularity and, with
    ratings, `rating_sum` and `rating_rows`), either engine's, and the catalogue: the finished table."""
    out = out.copy()
    out["item_log_popularity"] = np.log1p(out["item_popularity"])
    if mean_rating is not None:
        sums, counts = out.pop("rating_sum"), out.pop("rating_rows")
        out["item_rating_mean"] = ((sums + rating_prior * mean_rating) / (counts + rating_prior)).astype("float32")
    if items is not None and "price" in items:
        out["item_price"] = items.set_index("item_id")["price"].reindex(out.index).astype("float32")
    indicators = category_indicators(items, categories)
    if len(indicators.columns):
        out = out.join(indicators.reindex(out.index).fillna(0.0))
    if items is not None and "title" in items:  # "Heat (1995)" -> 1995; 0 where the title has no year
        years = items.set_index("item_id")["title"].astype(str).str.extract(r"\((\d{4})\)\s*$")[0]
        if years.notna().any():
            out["item_year"] = pd.to_numeric(years, errors="coerce").reindex(out.index).fillna(0.0)
    if tags:
        out = out.join(category_indicators(items, tags, "tags", "tag_").reindex(out.index).fillna(0.0))
    out.index.name = "item_id"
    return out.astype(np.float32)
