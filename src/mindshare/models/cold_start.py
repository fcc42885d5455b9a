"""What a new user (no history at all) is recommended, by every model alike: the items most popular
in the features stage's recent window (`item_recent_popularity` in the attached item table, where
present), ties by all-time popularity, then index."""

from __future__ import annotations

import numpy as np

from mindshare.data.interactions import Interactions


def new_user_ranking(train: Interactions) -> tuple[np.ndarray, np.ndarray]:
    """(item indices best first, their scores)."""
    popularity = train.item_popularity().astype(np.float64)
    recent = np.zeros_like(popularity)
    if train.item_features is not None and "item_recent_popularity" in train.item_features:
        recent = train.item_features["item_recent_popularity"].to_numpy(dtype=np.float64)
    order = np.lexsort((np.arange(len(popularity)), -popularity, -recent))
    scores = recent + popularity / (popularity.max() + 1.0) if recent.any() else popularity
    return order, scores[order]
