"""Which categories become feature columns, and each item's category indicators."""

from __future__ import annotations

import pandas as pd


def top_categories(train: pd.DataFrame, items: pd.DataFrame | None, max_categories: int) -> list[str]:
    """The `max_categories` categories with the most training interactions (ties by name)."""
    if items is None or "categories" not in items or max_categories <= 0:
        return []
    exploded = item_categories(items)
    counts = train[["item_id"]].merge(exploded, on="item_id")["category"].value_counts()
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [name for name, _ in ordered[:max_categories]]


def item_categories(items: pd.DataFrame) -> pd.DataFrame:
    """One row per (item_id, category)."""
    frame = items[["item_id", "categories"]].explode("categories").dropna()
    return frame.rename(columns={"categories": "category"}).astype({"category": str})


def category_indicators(items: pd.DataFrame | None, categories: list[str]) -> pd.DataFrame:
    """item_id-indexed 0/1 columns `cat_<name>` for the chosen categories."""
    if items is None or not categories:
        return pd.DataFrame(index=pd.Index([], name="item_id"))
    exploded = item_categories(items)
    exploded = exploded[exploded["category"].isin(categories)]
    table = pd.crosstab(exploded["item_id"], exploded["category"]).clip(upper=1)
    table = table.reindex(columns=categories, fill_value=0)
    table.columns = [f"cat_{c}" for c in categories]
    return table.astype("float32")
