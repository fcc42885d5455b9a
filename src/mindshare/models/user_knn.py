"""User-based k-nearest-neighbour collaborative filtering.

Ranking: score(u, i) = sum_{v in N(u)} sim(u, v) x_vi, a sparse product of u's pruned neighbour
row with the binarised interaction matrix (similarities as in `neighbours.py`).
Ratings (KNNBaseline, user-based): r_hat(u, i) = b_ui + sum_{v in N(u) & U_i} sim(u, v) (r_vi - b_vi)
/ (sum_{v in N(u) & U_i} |sim(u, v)| + rating_shrinkage), N(u) being u's k most similar users overall.
Where there are more than `max_candidates` users, N(u) is drawn from the `max_candidates` most active
users (the similarities cost users x candidates, not users^2; drawn by activity they lose less than drawn at
random: docs/benchmarks.md, "Bounds: what each costs in quality"). With `answer_users` set (a tuning trial, a
re-ranker's holdout fold) only those users' neighbourhoods are computed.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mindshare.data.interactions import Interactions
from mindshare.errors import MindshareError
from mindshare.models.base import SCORE_BLOCK_FLOATS, Recommender, score_pairs_in_chunks
from mindshare.models.baseline import Baseline
from mindshare.models.neighbours import most_frequent_rows, top_k_similarities, weighted_residual_average


class UserKNN(Recommender):
    """User-based k-nearest-neighbour collaborative filtering (module docstring: the formulas).

    Recommends what the people most like u took. A simple, explainable base whose neighbours see whole
    histories rather than single items; its fit costs users x candidate neighbours (`max_candidates`). On
    ratings it predicts as Surprise's KNNBaseline (user-based).

    Parameters
    ----------
    n_neighbours : int, default 50
        Most similar users kept per user. Tens of neighbours average out any one neighbour's quirks without
        drowning u's taste in the crowd's; the best number is the data's, which tuning searches.
    similarity : str, default 'cosine'
        'cosine', 'pearson' or 'jaccard' (neighbours.py). Cosine of the binarised rows needs no ratings and is
        the usual choice for implicit feedback.
    shrinkage : float, default 10.0
        Added to the similarity's denominator, so that users who share few items count as less alike. Ten
        matters only where |a| |b| is small (short histories) and leaves long ones as they are.
    rating_shrinkage : float, default 1.0
        Added to the sum of |similarities| when predicting a rating: where few, weak neighbours rated the item,
        the prediction stays near the baseline (a lone neighbour of similarity 1 moves it half-way).
    max_dense_floats : int, default 32_000_000
        The largest dense block of similarities (users x candidates) built at once: 128 MB of float32. A bound on
        memory only: the neighbours found do not depend on it.
    max_candidates : int or None, default 20_000
        Neighbours are drawn from this many users, the most active, where there are more; None: every user. It
        bounds the fit's cost at users x candidates instead of users squared; the most active users are the
        likeliest neighbours, so little is lost (docs/benchmarks.md, "Bounds: what each costs in quality").
    """

    name = "user_knn"
    method = "user-based kNN"
    supports_ratings = True
    max_candidates: int | None = None  # models saved before the setting: neighbours among every user

    def __init__(self, n_neighbours: int = 50, similarity: str = "cosine", shrinkage: float = 10.0,
                 rating_shrinkage: float = 1.0, max_dense_floats: int = SCORE_BLOCK_FLOATS,
                 max_candidates: int | None = 20_000) -> None:
        self.n_neighbours = n_neighbours
        self.similarity = similarity
        self.shrinkage = shrinkage
        self.rating_shrinkage = rating_shrinkage
        self.max_dense_floats = max_dense_floats
        self.max_candidates = max_candidates

    def _fit(self, train: Interactions) -> None:
        rows = train.matrix.tocsr()
        among = most_frequent_rows(rows, self.max_candidates)
        of_rows = None
        self.answerable_ = None
        if self.answer_users is not None:
            of_rows = np.unique(np.asarray(self.answer_users, dtype=np.int64))
            self.answerable_ = np.zeros(train.n_users, dtype=bool)
            self.answerable_[of_rows] = True
        self.neighbours_ = top_k_similarities(rows, self.similarity, self.n_neighbours,
                                              self.shrinkage, self.max_dense_floats, of_rows=of_rows, among=among)
        binary = train.binary()
        self.item_vectors_ = binary.T.tocsr()  # row i: the users who interacted with i
        self.binary_ = binary
        if train.has_ratings:
            self.baseline_ = Baseline().fit(train)
            self.residuals_t_ = self.baseline_.residuals(train).T.tocsr()

    def _answerable(self, users: np.ndarray) -> np.ndarray:
        """The users, refused where the model was fitted for others alone (`answer_users`)."""
        answerable = getattr(self, "answerable_", None)
        if answerable is not None and not answerable[users].all():
            outsider = users[~answerable[users]][0]
            raise MindshareError(f"user_knn was fitted for {int(answerable.sum())} users (answer_users) only; "
                                 f"user index {outsider} is not one of them")
        return users

    def _score_block(self, users: np.ndarray) -> np.ndarray:
        return (self.neighbours_[self._answerable(users)] @ self.binary_).toarray()

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        self._answerable(np.asarray(users, dtype=np.int64))
        width = max(1, self.neighbours_.nnz // max(1, self.neighbours_.shape[0]))
        return score_pairs_in_chunks(self._score_pairs, users, items, width)

    def _score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """sum over u's neighbours v of sim(u, v) x_vi, gathering x_vi for each neighbour: the memory of a pair
        is its user's neighbours, never its item's users (a popular candidate has thousands). The products
        are summed as a CSR row without its zeros, bit for bit as the row product of the two matrices."""
        left = self.neighbours_[users]  # row p: pair p's user's neighbours
        if left.nnz == 0:
            return np.zeros(len(users), dtype=np.float32)
        rows = np.repeat(np.arange(len(users)), np.diff(left.indptr))
        hit = np.asarray(self.binary_[left.indices, items[rows]], dtype=left.dtype).ravel()
        products = sp.csr_matrix((left.data * hit, left.indices, left.indptr), shape=left.shape)
        products.eliminate_zeros()
        return np.asarray(products.sum(axis=1), dtype=np.float32).ravel()

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        correction = weighted_residual_average(self.neighbours_[self._answerable(users)], self.residuals_t_[items],
                                               self.item_vectors_[items], self.rating_shrinkage)
        return self.baseline_.predict_ratings(users, items) + correction
