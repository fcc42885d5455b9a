"""User features (the user profile): activity, recency, tenure, monetary value (RFM), rating habits,
time habits and category affinity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mindshare.features.categories import category_indicators

DAY = 86_400


def build_user_features(train: pd.DataFrame, items: pd.DataFrame | None, categories: list[str]) -> pd.DataFrame:
    """One row per user_id. Category columns are the share of the user's interactions in each category."""
    now = int(train["timestamp"].max())
    by_user = train.groupby("user_id", sort=False)
    stamps = pd.to_datetime(train["timestamp"], unit="s", utc=True)
    habits = pd.DataFrame({"user_id": train["user_id"], "day": train["timestamp"] // DAY,
                           "weekend": (stamps.dt.weekday >= 5).astype("float32"),
                           "evening": (stamps.dt.hour >= 18).astype("float32")})
    by_habit = habits.groupby("user_id", sort=False)
    out = pd.DataFrame({
        "user_n_interactions": by_user.size().astype("float32"),
        "user_active_days": by_habit["day"].nunique().astype("float32"),
        "user_recency_days": ((now - by_user["timestamp"].max()) / DAY).astype("float32"),
        "user_tenure_days": ((by_user["timestamp"].max() - by_user["timestamp"].min()) / DAY).astype("float32"),
        "user_weekend_share": by_habit["weekend"].mean(),
        "user_evening_share": by_habit["evening"].mean(),
    })
    out["user_monetary"] = monetary(train).groupby(train["user_id"].to_numpy(), sort=False).sum().astype("float32")
    if "rating" in train:
        out["user_rating_mean"] = by_user["rating"].mean().astype("float32")
        out["user_rating_std"] = by_user["rating"].std().fillna(0.0).astype("float32")
    indicators = category_indicators(items, categories)
    if len(indicators.columns):
        # users x items counts (sparse) @ items x categories: never a rows x categories block
        user_codes, user_index = pd.factorize(train["user_id"], sort=False)
        item_codes, item_index = pd.factorize(train["item_id"], sort=False)
        counts = sp.csr_matrix((np.ones(len(train), dtype=np.float32), (user_codes, item_codes)),
                               shape=(len(user_index), len(item_index)))
        per_item = indicators.reindex(item_index).fillna(0.0).to_numpy(dtype=np.float32)
        sums = pd.DataFrame(counts @ per_item, index=user_index,
                            columns=[f"user_share_{c}" for c in indicators.columns])
        out = out.join(sums.div(out["user_n_interactions"], axis=0).astype("float32"))
    out.index.name = "user_id"
    return out.astype(np.float32)


def monetary(train: pd.DataFrame) -> pd.Series:
    """Each interaction's money: `value`, else quantity x price, else price, else the rating, else 1."""
    if "value" in train and train["value"].notna().any():
        return train["value"].fillna(0.0)
    if "price" in train and train["price"].notna().any():
        quantity = train["quantity"].fillna(1.0) if "quantity" in train else 1.0
        return (train["price"].fillna(0.0) * quantity).astype(float)
    if "rating" in train:
        return train["rating"].astype(float)
    return pd.Series(1.0, index=train.index)
