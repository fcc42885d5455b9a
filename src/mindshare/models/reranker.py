"""Re-rankers: learn to order the candidates that the base families propose.

How the training data is made (no test label reaches it): each user's interactions in the fit
data are shuffled and dealt into round(1 / holdout_share) disjoint folds (users with one
interaction keep it out of every fold). For each of the first `holdout_folds` folds, the base
families are fitted on the rest; each user's candidates are the union of their top
`n_candidates` unseen items; a candidate's label is 1 if it is in that fold. Users are then split (`early_stopping_share`) into those the learner trains on and
those it is early-stopped on. For ratings, the rating families' predictions for the held-out
ratings of every fold (made by models that never saw them: out-of-fold stacking) plus the pair
features are the inputs and the held-out rating the target. Finally the base families are refitted on all the fit data
and the learner re-ranks their candidates. Feature tables attached to the data (the features
stage) are computed on all fit data, so user and item aggregates include the held-out part.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mindshare.data.interactions import Interactions
from mindshare.errors import MindshareError
from mindshare.models.base import Recommender
from mindshare.models.candidates import Candidates, generate_candidates, pair_features, split_holdout

LEARN = ("both", "ranking", "rating")


def make_base(spec: str) -> Recommender:
    """'family' or 'family:algorithm' (e.g. 'svd:biased_als') with the library defaults."""
    from mindshare.models import make_model

    family, _, algorithm = spec.partition(":")
    return make_model(family, {"algorithm": algorithm} if algorithm else {})


class CandidateReranker(Recommender):
    """Shared fit / recommend / score / predict_ratings; subclasses supply the learners."""

    supports_ratings = True
    uses_embeddings = False

    def _init_reranker(self, base_models, rating_models, n_candidates, holdout_share, holdout_folds,
                       early_stopping_share, learn, seed) -> None:
        self.base_models = list(base_models)
        self.rating_models = list(rating_models)
        self.n_candidates = n_candidates
        self.holdout_share = holdout_share
        self.holdout_folds = holdout_folds
        self.early_stopping_share = early_stopping_share
        self.learn = learn
        self.seed = seed

    # --- learners (subclasses) ---
    def _fit_ranker(self, x, y, groups, x_stop, y_stop, groups_stop, names) -> None:
        raise NotImplementedError

    def _rank_scores(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _fit_regressor(self, x, y, x_stop, y_stop, names) -> None:
        raise NotImplementedError

    def _regress(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # --- shared flow ---
    def _embeddings(self, bases: list[Recommender]):
        for base in bases:
            if self.uses_embeddings and hasattr(base, "user_factors_"):
                return base.user_factors_, base.item_factors_
        return None

    def _fit(self, train: Interactions) -> None:
        if self.learn not in LEARN:
            raise MindshareError(f"params.yaml: learn '{self.learn}' is unknown; use one of {', '.join(LEARN)}")
        if not self.base_models:
            raise MindshareError("params.yaml: base_models must name at least one family")
        n_folds = max(2, round(1 / self.holdout_share))
        n_used = max(1, min(self.holdout_folds, n_folds))
        rng = np.random.default_rng(self.seed)
        stop_users = rng.random(train.n_users) < self.early_stopping_share
        self.feature_names_: list[str] = []
        if self.learn in ("both", "ranking"):
            # the candidates and their features depend on these settings only, not on the learner's
            key = ("ranking", tuple(self.base_models), self.n_candidates, n_folds, n_used, self.seed,
                   self.uses_embeddings)
            parts, self.bases_ = train.memo(key, lambda: (
                [self._ranking_pairs(*split_holdout(train, n_folds, f, self.seed)) for f in range(n_used)],
                [make_base(spec).fit(train) for spec in self.base_models]))
            self.learned_ = sum(len(p[1]) for p in parts) > 1
            if not self.learned_:  # too little data to learn from: rank by the first base family
                return self._fit_ratings(train, n_folds, stop_users)
            x, y = np.vstack([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
            pair_users, names = np.concatenate([p[2] for p in parts]), parts[0][3]
            group_ids = np.concatenate([p[2] + f * train.n_users for f, p in enumerate(parts)])
            stop = stop_users[pair_users]
            if stop.all() or not stop.any():
                stop = np.zeros_like(stop)
                stop[pair_users == pair_users[-1]] = True
            self._fit_ranker(x[~stop], y[~stop], _group_sizes(group_ids[~stop]), x[stop], y[stop],
                             _group_sizes(group_ids[stop]), names)
            self.feature_names_ = names
        self._fit_ratings(train, n_folds, stop_users)

    def _fit_ratings(self, train: Interactions, n_folds: int, stop_users: np.ndarray) -> None:
        if self.learn in ("both", "rating") and train.has_ratings:
            # out-of-fold stacking: every fold's held-out ratings, predicted by raters that never saw them
            def out_of_fold():
                rows = [self._rating_rows(*split_holdout(train, n_folds, f, self.seed)) for f in range(n_folds)]
                raters = [make_base(spec).fit(train) for spec in self.rating_models]
                return rows, raters, self.rating_feature_names_

            key = ("rating", tuple(self.rating_models), n_folds, self.seed)
            rows, self.raters_, self.rating_feature_names_ = train.memo(key, out_of_fold)
            x = np.vstack([r[0] for r in rows])
            y, users = np.concatenate([r[1] for r in rows]), np.concatenate([r[2] for r in rows])
            stop = stop_users[users]
            self._fit_regressor(x[~stop], y[~stop], x[stop], y[stop], self.rating_feature_names_)
            self.baseline_ = next((r for r in self.raters_ if r.name == "baseline"), None) or make_base("baseline").fit(train)

    def _rating_rows(self, fit_part: Interactions, held: sp.csr_matrix):
        raters = [make_base(spec).fit(fit_part) for spec in self.rating_models]
        coo = held.tocoo()
        return self._rating_features(raters, fit_part, coo.row, coo.col), coo.data, coo.row

    def _ranking_pairs(self, fit_part: Interactions, held: sp.csr_matrix):
        """Features, labels and users of the candidate pairs of one holdout fold (users with a positive)."""
        bases = [make_base(spec).fit(fit_part) for spec in self.base_models]
        users = np.flatnonzero(np.diff(held.indptr) > 0)
        candidates = generate_candidates(bases, users, self.n_candidates)
        x, names = pair_features(bases, fit_part, candidates, self._embeddings(bases))
        n_items = fit_part.n_items
        held_pairs = held.tocoo()
        y = np.isin(candidates.users * n_items + candidates.items, held_pairs.row.astype(np.int64) * n_items + held_pairs.col)
        keep = np.isin(candidates.users, np.unique(candidates.users[y]))  # groups with a positive
        return x[keep], y[keep].astype(np.float32), candidates.users[keep], names

    def _rating_features(self, raters, data: Interactions, users, items) -> np.ndarray:
        candidates = Candidates(users=users, items=items, ranks=np.zeros((len(users), 0), dtype=np.float32))
        context, names = pair_features([], data, candidates)
        predictions = np.column_stack([r.predict_ratings(users, items) for r in raters]).astype(np.float32)
        self.rating_feature_names_ = [f"rating_{r.name}_{i}" for i, r in enumerate(raters)] + names
        return np.hstack([predictions, context])

    @property
    def predicts_ratings(self) -> bool:  # type: ignore[override]
        return hasattr(self, "raters_")

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self._regress(self._rating_features(self.raters_, self.train_, users, items))

    def _require_ranker(self) -> None:
        if not hasattr(self, "bases_"):
            raise MindshareError(f"{self.name} was fitted with learn='{self.learn}'; it cannot rank")

    def recommend(self, users: np.ndarray, k: int = 10, exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-k of the re-ranked candidates (seen items are never candidates). The pool is the same
        for every k, so a top k is the first k of a longer top; a k above the pool gives the pool."""
        self._require_ranker()
        users = np.asarray(users, dtype=np.int64)
        items_out = np.full((len(users), k), -1, dtype=np.int64)
        scores_out = np.full((len(users), k), -np.inf, dtype=np.float32)
        if len(users) == 0:
            return items_out, scores_out
        unique_users, inverse = np.unique(users, return_inverse=True)
        candidates = generate_candidates(self.bases_, unique_users, self.n_candidates)
        x, _ = pair_features(self.bases_, self.train_, candidates, self._embeddings(self.bases_))
        scores = self._scores(x)
        row = np.searchsorted(unique_users, candidates.users)
        # per user: best first; ties (trees score in steps) by the first base family's rank, then item
        order = np.lexsort((candidates.items, candidates.ranks[:, 0], -scores, row))
        row, items, scores = row[order], candidates.items[order], scores[order]
        starts = np.searchsorted(row, np.arange(len(unique_users)))
        position = np.arange(len(row)) - starts[row]
        top = position < k
        table_items = np.full((len(unique_users), k), -1, dtype=np.int64)
        table_scores = np.full((len(unique_users), k), -np.inf, dtype=np.float32)
        table_items[row[top], position[top]] = items[top]
        table_scores[row[top], position[top]] = scores[top]
        return table_items[inverse], table_scores[inverse]

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """The learner's score of (user, item) pairs, computed among the user's candidates as in `recommend`.

        A pair outside the candidates joins its user's pool (its ranks count as absent).
        """
        self._require_ranker()
        users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
        pool = generate_candidates(self.bases_, np.unique(users), self.n_candidates)
        n_items = self.train_.n_items
        pool_keys = pool.users * n_items + pool.items
        keys = users * n_items + items
        all_keys = np.union1d(pool_keys, keys)
        ranks = np.full((len(all_keys), len(self.bases_)), self.n_candidates + 1, dtype=np.float32)
        ranks[np.searchsorted(all_keys, pool_keys)] = pool.ranks
        everything = Candidates(all_keys // n_items, all_keys % n_items, ranks)
        x, _ = pair_features(self.bases_, self.train_, everything, self._embeddings(self.bases_))
        return self._scores(x)[np.searchsorted(all_keys, keys)]

    def _scores(self, x: np.ndarray) -> np.ndarray:
        """The learner's scores, or the first base family's standardised score where nothing was learned."""
        return (self._rank_scores(x) if self.learned_ else x[:, 0]).astype(np.float32)


def _group_sizes(sorted_users: np.ndarray) -> np.ndarray:
    """Sizes of the runs of equal users (pairs are sorted by user)."""
    _, sizes = np.unique(sorted_users, return_counts=True)
    return sizes


def grouped_ndcg(scores: np.ndarray, labels: np.ndarray, group_ids: np.ndarray, k: int) -> float:
    """Mean NDCG@k over groups (binary labels), vectorised; groups without a positive count as 0."""
    order = np.lexsort((-scores, group_ids))
    groups, labels = group_ids[order], labels[order].astype(np.float64)
    starts = np.searchsorted(groups, groups, side="left")
    position = np.arange(len(groups)) - starts
    discount = np.where(position < k, 1.0 / np.log2(position + 2), 0.0)
    unique, codes = np.unique(groups, return_inverse=True)
    dcg = np.bincount(codes, labels * discount, minlength=len(unique))
    positives = np.bincount(codes, labels, minlength=len(unique)).astype(int)
    ideal = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))])[np.minimum(positives, k)]
    return float(np.mean(np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0)))
