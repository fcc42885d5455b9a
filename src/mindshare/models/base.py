"""The one model contract every family honours (scikit-learn / implicit style).

Hyper-parameters go in `__init__` and nothing else happens there; `fit(train)` returns self;
learned state ends in `_`. `recommend(users, k, exclude_seen=True)` takes a batch of user
indices and returns `(items, scores)` arrays of shape (len(users), k); with exclude_seen=False seen
items compete too (a family that cannot rank them refuses with a MindshareError its docstring
states); `score(users, items)` scores pairs, each pair's score independent of the others asked for.
A family implements `_fit` and `_score_block` (dense scores of a block of users
over the whole catalogue) and may override `score` with something cheaper.

Families that train in steps (factorisation iterations, boosting rounds, epochs) call
`_report_step(step, value, kind)` after each step; a tuner sets `step_callback` to watch them
(and may stop a hopeless fit by raising from it). `value` is the family's own validation figure
(higher is better) or None, which asks the callback to evaluate the model as it stands.

A tuner, or a re-ranker fitting bases on a holdout fold, may set `answer_users` before `fit`: the only
users the fitted model will be asked about. A family may then precompute for them alone (user_knn's
neighbourhoods: a trial scored on 20,000 sampled users of 200,000 needs 20,000 rows, not 200,000) and
refuses any other user; a model that is saved never has it set.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import scipy.sparse as sp

from mindshare.data.interactions import Interactions
from mindshare.models.storage import load_model_file, save_compact

if TYPE_CHECKING:
    import pandas as pd

# Dense score blocks are at most this many floats (users x items): 32 M floats = 128 MB.
SCORE_BLOCK_FLOATS = 32_000_000
# Pair scoring by sparse rows (kNN) gathers at most this many stored entries at once (about 250 MB).
PAIR_CHUNK_ENTRIES = 20_000_000


def score_pairs_in_chunks(score: Callable[[np.ndarray, np.ndarray], np.ndarray], users: np.ndarray,
                          items: np.ndarray, entries_per_pair: int) -> np.ndarray:
    """`score(users, items)` over slices of the pairs, so that gathering each pair's sparse row (about
    `entries_per_pair` entries) never holds more than PAIR_CHUNK_ENTRIES at once; a pair's score is its own."""
    users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
    chunk = max(1, PAIR_CHUNK_ENTRIES // max(1, entries_per_pair))
    if len(users) <= chunk:
        return score(users, items)
    return np.concatenate([score(users[s : s + chunk], items[s : s + chunk]) for s in range(0, len(users), chunk)])


def top_k_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top-k of a dense (rows x items) array, best first, ties by the smaller index, -inf as
    item -1. Deterministic at the cut-off too, so the top k is always the first k of a longer top."""
    n_rows, n_items = scores.shape
    k = min(int(k), n_items)
    if k == 0 or n_rows == 0:
        return np.full((n_rows, k), -1, dtype=np.int64), np.full((n_rows, k), -np.inf, dtype=scores.dtype)
    threshold = -np.partition(-scores, k - 1, axis=1)[:, k - 1 : k]  # the k-th best value of each row
    above = scores > threshold
    ties = scores == threshold
    room = k - above.sum(axis=1, keepdims=True)
    chosen = above | (ties & (np.cumsum(ties, axis=1) <= room))  # at the cut-off: the smallest indices
    top = np.nonzero(chosen)[1].reshape(n_rows, k)
    top_scores = np.take_along_axis(scores, top, axis=1)
    order = np.lexsort((top, -top_scores), axis=1)  # best first, ties by item index
    top, top_scores = np.take_along_axis(top, order, axis=1), np.take_along_axis(top_scores, order, axis=1)
    top[~np.isfinite(top_scores)] = -1
    return top, top_scores


class Recommender:
    """Base class: batched top-k with `argpartition`, seen-item exclusion, save / load."""

    name = "base"
    method = ""  # what the family does, in a few words (logged as the `algorithm` param of its runs)
    supports_ratings = False  # a family that can predict ratings sets this and implements _predict_known
    needs_ratings = False  # a family that learns from ratings alone (skipped on implicit data)
    fits_on_spark = False  # the fit runs on Spark's executors (engine: spark fits the others on the driver)
    step_callback: Callable[["Recommender", int, float | None, str], None] | None = None
    answer_users: np.ndarray | None = None  # see the module's text; None: every user

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        """What the family does with these hyper-parameters, in a few words (`method` unless it varies)."""
        return cls.method

    def _report_step(self, step: int, value: float | None = None, kind: str = "ranking") -> None:
        """Tell the watcher (if any) that step `step` is done; kind is 'ranking' or 'rating'."""
        if self.step_callback is not None:
            self.step_callback(self, step, value, kind)

    def not_applicable(self, has_ratings: bool) -> str | None:
        """Why this model cannot learn from the data (None: it can); the pipeline skips it with this reason."""
        if self.needs_ratings and not has_ratings:
            return f"{self.name} learns from ratings and the data has none (implicit feedback)"
        return None

    @property
    def predicts_ratings(self) -> bool:
        return self.supports_ratings and getattr(self, "train_", None) is not None and self.train_.has_ratings

    def get_params(self) -> dict[str, Any]:
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def fit_facts(self) -> dict[str, Any]:
        """What the fit decided that its parameters do not say, for fit.json (a size `auto` resolved, the prior a
        re-ranker fell back to); nothing for most families."""
        return {}

    def feature_importances(self) -> pd.DataFrame | None:
        """The importance of each input the fitted learner uses, largest first (logged beside its run); None for a
        family without learned inputs."""
        return None

    def effective_params(self) -> dict[str, Any]:
        """`get_params` with each None that the family fills from its own defaults filled (a tuner's first trial)."""
        return self.get_params()

    def fit(self, train: Interactions) -> "Recommender":
        self.train_ = train
        self._fit(train)
        return self

    def _fit(self, train: Interactions) -> None:
        raise NotImplementedError

    def resolved_params(self) -> dict[str, Any]:
        """Settings this fit chose from the data ("auto"), as values another fit on like data can take."""
        return {}

    def _score_block(self, users: np.ndarray) -> np.ndarray:
        """Dense float32 scores (len(users), n_items) for a block of user indices."""
        raise NotImplementedError

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Scores of (user, item) index pairs."""
        users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
        out = np.empty(len(users), dtype=np.float32)
        unique_users, inverse = np.unique(users, return_inverse=True)
        block = self._block_size()
        for start in range(0, len(unique_users), block):
            chunk = unique_users[start : start + block]
            in_chunk = (inverse >= start) & (inverse < start + len(chunk))
            scores = self._score_block(chunk)
            out[in_chunk] = scores[inverse[in_chunk] - start, items[in_chunk]]
        return out

    def _block_size(self) -> int:
        return max(1, SCORE_BLOCK_FLOATS // max(1, self.train_.n_items))

    def recommend(self, users: np.ndarray, k: int = 10, exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-k items per user, best first; seen items too where exclude_seen=False. Where fewer than k
        items are left, item -1, score -inf."""
        users = np.asarray(users, dtype=np.int64)
        n_items = self.train_.n_items
        k = int(k)
        take = min(k, n_items)
        items_out = np.full((len(users), k), -1, dtype=np.int64)
        scores_out = np.full((len(users), k), -np.inf, dtype=np.float32)
        seen = self.train_.matrix
        block = self._block_size()
        for start in range(0, len(users), block):
            chunk = users[start : start + block]
            scores = self._score_block(chunk).astype(np.float32, copy=False)
            if exclude_seen:
                rows, cols = seen[chunk].nonzero()
                scores[rows, cols] = -np.inf
            top, top_scores = top_k_rows(scores, take)
            items_out[start : start + len(chunk), :take] = top
            scores_out[start : start + len(chunk), :take] = top_scores
        return items_out, scores_out

    def predict_ratings(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Predicted ratings of (user, item) index pairs; index -1 (unknown) falls back to the baseline."""
        if not self.predicts_ratings:
            raise TypeError(f"{self.name} does not predict ratings (fitted on ratings: {self.train_.has_ratings})")
        users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
        out = self.baseline_.predict_ratings(users, items).astype(np.float64)
        known = (users >= 0) & (items >= 0)
        if known.any():
            out[known] = self._predict_known(users[known], items[known])
        return out

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def save(self, path: str | Path) -> None:
        """A gzip'd pickle with compact sparse indices (models/storage.py), read by `load`."""
        save_compact(self, path)

    @staticmethod
    def load(path: str | Path) -> "Recommender":
        model = load_model_file(path)
        if not isinstance(model, Recommender):
            raise TypeError(f"{path} does not hold a mindshare model")
        return model


class ItemWeightsRecommender(Recommender):
    """A family that scores s_u = x_u W: `_fit` sets `user_vectors_` (users x items, sparse) and `weights_`
    (items x items, sparse or dense). EASE, RP3beta and SLIM differ only in how they learn W."""

    def _score_block(self, users: np.ndarray) -> np.ndarray:
        scores = self.user_vectors_[users] @ self.weights_
        return scores.toarray() if sp.issparse(scores) else np.asarray(scores)

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        width = max(1, self.user_vectors_.nnz // max(1, self.user_vectors_.shape[0]))  # a user's items, on average
        return score_pairs_in_chunks(self._score_pairs, users, items, width)

    def _score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        left = self.user_vectors_[users].tocoo()  # row p: the items pair p's user interacted with
        if left.nnz == 0:
            return np.zeros(len(users), dtype=np.float32)
        weights = self.weights_[left.col, items[left.row]]
        gathered = left.data * np.asarray(weights, dtype=np.float64).ravel()
        return np.bincount(left.row, gathered, minlength=len(users)).astype(np.float32)
