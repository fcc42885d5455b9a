"""Buy again: each person's own items, weighed by how often and how lately they took them, blended with the
histories of the people most like them (TIFU-kNN, Hu et al., SIGIR 2020, with the decay per event rather than
per basket).

p_u(i) = sum over u's events e on item i of w_e * 0.5 ** (age_e / half_life_days), where w_e is the event's
weight (1 where the data has none) and age_e its age in days before the fit data's latest event (no decay where
half_life_days is None); each user's p_u is scaled to sum 1. Then

    score(u, i) = alpha * p_u(i) + (1 - alpha) * sum_{v in N(u)} s(u, v) p_v(i) / sum_{v in N(u)} s(u, v)
                  + 1e-6 * popularity(i) / max popularity

with N(u) the `n_neighbours` users most similar to u (shrunk cosine of who took what, `neighbours.py`) and the
last term, below any personal or neighbour weight, ordering only the items nobody near u took. alpha = 1 is
the personal frequency alone ("each customer's own most-bought items"). Where people re-buy, the items of
p_u are most of what they take next, so this family is meant for `repeat.policy` include; with seen items
excluded only its neighbour term is left.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mindshare.data.interactions import Interactions
from mindshare.errors import MindshareError
from mindshare.models.base import SCORE_BLOCK_FLOATS, Recommender
from mindshare.models.neighbours import most_frequent_rows, top_k_similarities

DAY = 86_400.0
POPULARITY_TIE_BREAK = 1e-6


class BuyAgain(Recommender):
    """Time-decayed personal item frequency blended with the nearest users' (TIFU-kNN; module docstring).

    For re-buying: where people take the same items again, their own recent items are most of what they take
    next, so this family is meant for `repeat.policy` include (with seen items excluded only its neighbour term is
    left). It is the re-rankers' first base where repeats are ranked.

    Parameters
    ----------
    half_life_days : float or None, default 60.0
        Days after which an event counts half; None counts every event alike (plain frequency). Two months: last
        season's purchases still count, last year's hardly; tuning searches it per data set.
    alpha : float, default 0.7
        Weight of the person's own history against their neighbours' (in [0, 1]; 1: own history alone). Mostly
        their own, their own items being most of what people who re-buy take next; the neighbours add the items
        they have not taken yet.
    n_neighbours : int, default 100
        Neighbours per user whose histories are blended in (unused where alpha is 1); as for the kNN families.
    shrinkage : float, default 10.0
        Added to the cosine's denominator, so that users sharing few items count as less alike; as user_knn's.
    max_dense_floats : int, default 32_000_000
        The largest dense block (users x candidate neighbours) built at once: 128 MB of float32. A bound on memory
        only: the neighbours found do not depend on it.
    max_candidates : int or None, default 20_000
        Neighbours are drawn from this many users, the most active, where there are more; None: every user. As
        user_knn's: it bounds the cost at users x candidates.
    """

    name = "buy_again"
    method = "time-decayed own items + neighbours (TIFU-kNN)"

    def __init__(self, half_life_days: float | None = 60.0, alpha: float = 0.7, n_neighbours: int = 100,
                 shrinkage: float = 10.0, max_dense_floats: int = SCORE_BLOCK_FLOATS,
                 max_candidates: int | None = 20_000) -> None:
        self.half_life_days = half_life_days
        self.alpha = alpha
        self.n_neighbours = n_neighbours
        self.shrinkage = shrinkage
        self.max_dense_floats = max_dense_floats
        self.max_candidates = max_candidates

    @classmethod
    def describe(cls, params: dict) -> str:
        if params.get("alpha", 0.7) < 1:
            return cls.method
        return "time-decayed own items" if params.get("half_life_days", 60.0) is not None else "own most-taken items"

    def _fit(self, train: Interactions) -> None:
        if not 0 <= self.alpha <= 1:
            raise MindshareError(f"params.yaml: buy_again alpha is {self.alpha}; it must be in [0, 1]")
        if self.half_life_days is not None and self.half_life_days <= 0:
            raise MindshareError(f"params.yaml: buy_again half_life_days is {self.half_life_days}; give a number of "
                                 f"days above 0, or null for no decay")
        self.personal_ = personal_frequency(train, self.half_life_days)
        self.neighbours_ = sp.csr_matrix((train.n_users, train.n_users), dtype=np.float32)
        if self.alpha < 1 and self.n_neighbours > 0:
            of_rows = None if self.answer_users is None else np.unique(np.asarray(self.answer_users, dtype=np.int64))
            similar = top_k_similarities(self.personal_, "cosine", int(self.n_neighbours), self.shrinkage,
                                         self.max_dense_floats, of_rows=of_rows,
                                         among=most_frequent_rows(self.personal_, self.max_candidates))
            totals = np.asarray(similar.sum(axis=1)).ravel()
            self.neighbours_ = sp.diags(1.0 / np.maximum(totals, 1e-12)).astype(np.float32) @ similar
        popularity = train.item_popularity().astype(np.float32)
        self.tie_break_ = POPULARITY_TIE_BREAK * popularity / max(float(popularity.max(initial=0)), 1.0)

    def _score_block(self, users: np.ndarray) -> np.ndarray:
        scores = self.alpha * self.personal_[users].toarray()
        if self.alpha < 1:
            scores += (1 - self.alpha) * (self.neighbours_[users] @ self.personal_).toarray()
        return (scores + self.tie_break_).astype(np.float32)


def personal_frequency(train: Interactions, half_life_days: float | None) -> sp.csr_matrix:
    """(users x items) float32: each user's time-decayed event weights per item, scaled to sum 1 per user. From
    the event log where the data has times, else from the matrix (counts, or event weights) without decay."""
    events = train.events
    if events is None or len(events.times) == 0:
        weights = train.matrix.astype(np.float64)
    else:
        decay = np.ones(len(events.times))
        if half_life_days is not None:
            age_days = (events.times.max() - events.times) / DAY
            decay = 0.5 ** (age_days / float(half_life_days))
        weights = sp.csr_matrix((events.weights * decay, (events.users, events.items)), shape=train.matrix.shape)
        weights.sum_duplicates()
    totals = np.asarray(weights.sum(axis=1)).ravel()
    scaled = sp.diags(1.0 / np.maximum(totals, 1e-300)) @ weights
    return sp.csr_matrix(scaled, dtype=np.float32)
