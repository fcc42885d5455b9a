"""Popularity: the baseline every family must beat. Scores an item by how many users took it."""

from __future__ import annotations

import numpy as np

from mindshare.data.interactions import Interactions
from mindshare.models.base import Recommender


class Popularity(Recommender):
    """Most popular items: score(u, i) = |{users who interacted with i}|, the same list for every user.

    The floor every personalised family must beat: a family that does not rank above it has learned nothing
    about the person. It takes no hyper-parameters.
    """

    name = "popularity"
    method = "most popular items"

    def __init__(self) -> None:
        pass

    def _fit(self, train: Interactions) -> None:
        self.item_scores_ = train.item_popularity().astype(np.float32)

    def _score_block(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.item_scores_, (len(users), len(self.item_scores_))).copy()

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.item_scores_[np.asarray(items, dtype=np.int64)]
