"""Baseline: global mean plus regularised user and item biases, the floor for rating prediction.

r_hat(u, i) = mu + b_u + b_i, fitted by alternating least squares as Surprise's BaselineOnly
states it: b_i = sum_u (r_ui - mu - b_u) / (reg_item + |U_i|), b_u = sum_i (r_ui - mu - b_i) /
(reg_user + |I_u|), `iterations` times. Unknown users or items get bias 0. For ranking it
scores items by b_i (shrunk mean rating), the same for every user.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mindshare.data.interactions import Interactions
from mindshare.models.base import Recommender


class Baseline(Recommender):
    """Global mean plus regularised user and item biases, Surprise's BaselineOnly fitted by ALS (module docstring).

    The floor for rating prediction, and the b_ui that the kNN families' rating predictions correct. For ranking it
    orders items by their shrunk mean rating, the same list for everyone. It learns from ratings only: on implicit
    data it is skipped, a mean event weight being no preference.

    Parameters
    ----------
    reg_user : float, default 15.0
        Shrinks each user's bias towards 0 as if they had this many more ratings at the mean. Surprise's default
        for BaselineOnly's ALS, so that the rating benchmark compares like with like (docs/benchmarks.md,
        "Rating: Surprise's protocol").
    reg_item : float, default 10.0
        The same for each item's bias; Surprise's default, for the same reason.
    iterations : int, default 10
        Alternating sweeps (item biases, then user biases); Surprise's default.
    """

    name = "baseline"
    method = "global mean + user and item biases"
    supports_ratings = True
    needs_ratings = True  # on implicit data b_i is a mean event weight, not a preference

    def __init__(self, reg_user: float = 15.0, reg_item: float = 10.0, iterations: int = 10) -> None:
        self.reg_user = reg_user
        self.reg_item = reg_item
        self.iterations = iterations

    def _fit(self, train: Interactions) -> None:
        coo = train.matrix.tocoo()
        users, items, ratings = coo.row, coo.col, coo.data.astype(np.float64)
        self.mean_ = float(ratings.mean()) if len(ratings) else 0.0
        n_user = np.bincount(users, minlength=train.n_users)
        n_item = np.bincount(items, minlength=train.n_items)
        self.user_bias_ = np.zeros(train.n_users)
        self.item_bias_ = np.zeros(train.n_items)
        for _ in range(self.iterations):
            residual = ratings - self.mean_ - self.user_bias_[users]
            self.item_bias_ = np.bincount(items, residual, train.n_items) / (self.reg_item + n_item)
            residual = ratings - self.mean_ - self.item_bias_[items]
            self.user_bias_ = np.bincount(users, residual, train.n_users) / (self.reg_user + n_user)
        self.baseline_ = self

    def predict_ratings(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
        user_bias = np.where(users >= 0, self.user_bias_[np.maximum(users, 0)], 0.0)
        item_bias = np.where(items >= 0, self.item_bias_[np.maximum(items, 0)], 0.0)
        return self.mean_ + user_bias + item_bias

    def residuals(self, train: Interactions):
        """The train matrix with each stored rating replaced by r_ui - (mu + b_u + b_i)."""
        coo = train.matrix.tocoo()
        residual = coo.data - self.predict_ratings(coo.row, coo.col)
        return sp.csr_matrix((residual, (coo.row, coo.col)), shape=train.matrix.shape)

    def _score_block(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.item_bias_.astype(np.float32), (len(users), len(self.item_bias_))).copy()

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.item_bias_[np.asarray(items, dtype=np.int64)].astype(np.float32)
