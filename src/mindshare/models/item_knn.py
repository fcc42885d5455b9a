"""Item-based k-nearest-neighbour collaborative filtering.

Ranking: score(u, i) = sum_{j in N(i)} x_uj sim(i, j), a sparse product of the user's binarised
row with the pruned item-item similarities (see `neighbours.py` for cosine, Pearson, Jaccard).
Ratings (KNNBaseline, item-based): r_hat(u, i) = b_ui + sum_{j in N(i) & I_u} sim(i, j) (r_uj - b_uj)
/ (sum_{j in N(i) & I_u} |sim(i, j)| + rating_shrinkage), with b the regularised baseline; N(i) are i's k most similar
items overall (Surprise takes the k most similar among the items u rated: close, not identical).
`n_neighbours: auto` sizes N(i) by the data: the mean interactions per item, between 100 and 1000 (neighbours.py).
Where there are more than `max_candidates` items, N(i) is drawn from the `max_candidates` most interacted
items (the similarities cost items x candidates, not items^2); every item is still scored.
"""

from __future__ import annotations

import numpy as np

from mindshare.data.interactions import Interactions
from mindshare.models.base import SCORE_BLOCK_FLOATS, Recommender, score_pairs_in_chunks
from mindshare.models.baseline import Baseline
from mindshare.models.neighbours import (
    most_frequent_rows,
    neighbourhood_size,
    top_k_similarities,
    weighted_residual_average,
)


class ItemKNN(Recommender):
    name = "item_knn"
    method = "item-based kNN"
    supports_ratings = True
    max_candidates: int | None = None  # models saved before the setting: neighbours among every item
    n_neighbours_: int | None = None  # models saved before "auto": n_neighbours

    def __init__(self, n_neighbours: int | str = 100, similarity: str = "cosine", shrinkage: float = 10.0,
                 rating_shrinkage: float = 1.0, max_dense_floats: int = SCORE_BLOCK_FLOATS,
                 max_candidates: int | None = 20_000) -> None:
        self.n_neighbours = n_neighbours
        self.similarity = similarity
        self.shrinkage = shrinkage
        self.rating_shrinkage = rating_shrinkage
        self.max_dense_floats = max_dense_floats
        self.max_candidates = max_candidates

    def _fit(self, train: Interactions) -> None:
        columns = train.matrix.T.tocsr()
        among = most_frequent_rows(columns, self.max_candidates)
        self.n_neighbours_ = neighbourhood_size(self.n_neighbours, columns)
        self.neighbours_ = top_k_similarities(columns, self.similarity, self.n_neighbours_, self.shrinkage,
                                              self.max_dense_floats, among=among)
        self.user_vectors_ = train.binary()
        if train.has_ratings:
            self.baseline_ = Baseline().fit(train)
            self.residuals_ = self.baseline_.residuals(train)

    def fit_facts(self) -> dict:
        """For fit.json: the neighbourhood size used (`n_neighbours: auto` resolved)."""
        return {"n_neighbours_used": self.n_neighbours_ or self.n_neighbours}

    def _score_block(self, users: np.ndarray) -> np.ndarray:
        return (self.user_vectors_[users] @ self.neighbours_.T).toarray()

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        width = max(1, self.user_vectors_.nnz // max(1, self.user_vectors_.shape[0]))  # a user's items, on average
        neighbours = self.n_neighbours_ or self.n_neighbours
        return score_pairs_in_chunks(self._score_pairs, users, items, max(width, neighbours))

    def _score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        left = self.user_vectors_[users]
        right = self.neighbours_[items]
        return np.asarray(left.multiply(right).sum(axis=1), dtype=np.float32).ravel()

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        correction = weighted_residual_average(self.neighbours_[items], self.residuals_[users],
                                               self.user_vectors_[users], self.rating_shrinkage)
        return self.baseline_.predict_ratings(users, items) + correction
