"""Item-based k-nearest-neighbour collaborative filtering.

Ranking: score(u, i) = sum_{j in N(i)} x_uj sim(i, j), a sparse product of the user's binarised
row with the pruned item-item similarities (see `neighbours.py` for cosine, Pearson, Jaccard).
Ratings (KNNBaseline, item-based): r_hat(u, i) = b_ui + sum_{j in N(i) & I_u} sim(i, j) (r_uj - b_uj)
/ (sum_{j in N(i) & I_u} |sim(i, j)| + rating_shrinkage), with b the regularised baseline; N(i) are i's k most similar
items overall (Surprise takes the k most similar among the items u rated: close, not identical).
`n_neighbours: auto` chooses k from AUTO_SIZES by the data. Fitted on the rest, each size ranks a held-out fifth
of each user's items (nDCG@10 over a seeded sample of users); from the smallest up, the next size is taken while
it is clearly better (by more than two standard errors of the users' paired differences). The best size is the
data's own: small on MovieLens, several times larger on the synthetic shop logs, and neither the data's size nor
its interactions per item predict it (docs/benchmarks.md, "Scale", the re-rankers' item-kNN base sizing itself).
Where there are more than `max_candidates` items, N(i) is drawn from the `max_candidates` most interacted
items (the similarities cost items x candidates, not items^2); every item is still scored.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mindshare.data.interactions import Interactions
from mindshare.metrics import hit_matrix, per_user
from mindshare.models.base import SCORE_BLOCK_FLOATS, Recommender, score_pairs_in_chunks
from mindshare.models.baseline import Baseline
from mindshare.models.candidates import split_holdout
from mindshare.models.neighbours import (
    AUTO,
    check_neighbours,
    keep_top_k_per_row,
    most_frequent_rows,
    top_k_similarities,
    weighted_residual_average,
)

AUTO_SIZES = (100, 200, 400, 800)  # the neighbourhood sizes "auto" chooses from
AUTO_PROBE_USERS = 5_000  # users whose held-out items judge them (a seeded sample where there are more)


class ItemKNN(Recommender):
    """Item-based k-nearest-neighbour collaborative filtering (module docstring: the formulas).

    Recommends the items most like those u took; each score is a sum over u's own items, so every
    recommendation has its reasons. A cheap, strong base for implicit feedback, and the family whose
    neighbourhood size the data can choose (`n_neighbours='auto'`). On ratings it predicts as Surprise's
    KNNBaseline (item-based) nearly does.

    Parameters
    ----------
    n_neighbours : int or str, default 100
        Most similar items kept per item, or 'auto': the size chosen from AUTO_SIZES by a held-out probe of the fit
        data (module docstring). 100 is the smallest size 'auto' considers and the best of them on MovieLens;
        larger logs often want more, which 'auto' or tuning finds.
    similarity : str, default 'cosine'
        'cosine', 'pearson' or 'jaccard' (neighbours.py). Cosine of the binarised columns needs no ratings and is
        the usual choice for implicit feedback.
    shrinkage : float, default 10.0
        Added to the similarity's denominator, so that items sharing few users count as less alike. Ten matters
        only for rare items and leaves popular ones as they are.
    rating_shrinkage : float, default 1.0
        Added to the sum of |similarities| when predicting a rating: where few, weak neighbours were rated by the
        user, the prediction stays near the baseline (a lone neighbour of similarity 1 moves it half-way).
    max_dense_floats : int, default 32_000_000
        The largest dense block of similarities (items x candidates) built at once: 128 MB of float32. A bound on
        memory only: the neighbours found do not depend on it.
    max_candidates : int or None, default 20_000
        Neighbours are drawn from this many items, the most interacted, where there are more (every item is still
        scored); None: every item. It bounds the fit's cost at items x candidates instead of items squared; rare
        items are seldom anyone's nearest neighbours, so little is lost (docs/benchmarks.md, "Bounds: what each
        costs in quality").
    """

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
        check_neighbours(self.n_neighbours)
        self.n_neighbours_ = self._chosen_size(train) if self.n_neighbours == AUTO else int(self.n_neighbours)
        self.neighbours_ = self._similarities(columns, self.n_neighbours_)
        self.user_vectors_ = train.binary()
        if train.has_ratings:
            self.baseline_ = Baseline().fit(train)
            self.residuals_ = self.baseline_.residuals(train)

    def _similarities(self, columns, k: int):
        among = most_frequent_rows(columns, self.max_candidates)
        return top_k_similarities(columns, self.similarity, k, self.shrinkage, self.max_dense_floats, among=among)

    def _chosen_size(self, train: Interactions) -> int:
        """The neighbourhood size for "auto": fitted on the rest of the data, each size of AUTO_SIZES in turn
        ranks a held-out fifth of each user's items (nDCG@10 over at most AUTO_PROBE_USERS seeded users); the
        next size is taken while it is `clearly_better` than the one kept. The first size is cut from the
        second's similarities; where the second is taken, the later ones are cut from the largest's: at most
        two similarity computations."""
        sizes = sorted({min(k, max(1, train.n_items - 1)) for k in AUTO_SIZES})
        rest, held = split_holdout(train, 5, 0, 0)
        users = np.flatnonzero(np.diff(held.indptr) > 0)
        if len(sizes) == 1 or len(users) == 0:
            return sizes[0]
        if len(users) > AUTO_PROBE_USERS:
            users = np.sort(np.random.default_rng(0).choice(users, AUTO_PROBE_USERS, replace=False))
        columns, relevant, k = rest.matrix.T.tocsr(), held[users], min(10, train.n_items)
        probe = ItemKNN()  # ranks `rest` through each size's neighbours, as a fitted model would
        probe.train_, probe.user_vectors_ = rest, rest.binary()

        def quality(neighbours: sp.csr_matrix) -> np.ndarray:  # each probed user's nDCG@10
            probe.neighbours_ = neighbours
            return per_user(hit_matrix(probe.recommend(users, k)[0], relevant), np.diff(relevant.indptr), k)[
                f"ndcg_at_{k}"]

        second = self._similarities(columns, sizes[1])
        kept_quality, step_quality = quality(keep_top_k_per_row(second, sizes[0])), quality(second)
        if not clearly_better(step_quality, kept_quality):
            return sizes[0]
        kept, kept_quality = 1, step_quality
        widest = self._similarities(columns, sizes[-1]) if len(sizes) > 2 else second
        for step in range(2, len(sizes)):
            step_quality = quality(keep_top_k_per_row(widest, sizes[step]))
            if not clearly_better(step_quality, kept_quality):
                break
            kept, kept_quality = step, step_quality
        return sizes[kept]

    def resolved_params(self) -> dict:
        """The values "auto" became in this fit: another fit on like data can take them instead of probing."""
        return {"n_neighbours": self.n_neighbours_} if self.n_neighbours == AUTO else {}

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


def clearly_better(candidate: np.ndarray, kept: np.ndarray, z: float = 2.0) -> bool:
    """Whether the users' figures under `candidate` beat those under `kept` by more than `z` standard errors of
    their paired differences: the noise of a small probe does not move the choice."""
    difference = np.asarray(candidate, dtype=np.float64) - np.asarray(kept, dtype=np.float64)
    if len(difference) < 2:
        return False
    return bool(difference.mean() > z * difference.std(ddof=1) / np.sqrt(len(difference)))

