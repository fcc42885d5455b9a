"""Which categories (or tags) become feature columns, and each item's indicators."""

from __future__ import annotations

import re

import pandas as pd


def top_categories(item_counts: pd.Series, items: pd.DataFrame | None, max_categories: int,
                   column: str = "categories") -> list[str]:
    """The `max_categories` categories (or tags: `column`) with the most training interactions (ties by name);
    `item_counts`: interactions per item_id (`train["item_id"].value_counts()`)."""
    if items is None or column not in items or max_categories <= 0:
        return []
    exploded = item_categories(items, column)
    per_item = exploded["item_id"].map(item_counts).fillna(0).astype("int64")
    counts = per_item.groupby(exploded["category"].to_numpy()).sum()
    counts = counts[counts > 0]  # counted per interaction, at the items' level (never rows x categories)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [name for name, _ in ordered[:max_categories]]


def item_categories(items: pd.DataFrame, column: str = "categories") -> pd.DataFrame:
    """One row per (item_id, category)."""
    frame = items[["item_id", column]].explode(column).dropna()
    return frame.rename(columns={column: "category"}).astype({"category": str})


def category_indicators(items: pd.DataFrame | None, categories: list[str], column: str = "categories",
                        prefix: str = "cat_") -> pd.DataFrame:
    """item_id-indexed 0/1 columns `<prefix><name>` for the chosen categories (or tags); tag names are
    reduced to letters, digits and '_' (learners refuse some characters in feature names)."""
    if items is None or not categories:
        return pd.DataFrame(index=pd.Index([], name="item_id"))
    exploded = item_categories(items, column)
    exploded = exploded[exploded["category"].isin(categories)]
    table = pd.crosstab(exploded["item_id"], exploded["category"]).clip(upper=1)
    table = table.reindex(columns=categories, fill_value=0)
    names = categories if prefix == "cat_" else [re.sub(r"\W+", "_", c).strip("_").lower() for c in categories]
    table.columns = [f"{prefix}{c}" for c in names]
    return table.loc[:, ~table.columns.duplicated()].astype("float32")
