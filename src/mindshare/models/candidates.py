"""What the re-rankers learn from: a held-out part of train, candidates from base families, and
the features of each (user, candidate item) pair. Vectorised over all users at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from mindshare.data.interactions import Interactions
from mindshare.models.base import Recommender
from mindshare.models.cold_start import group_item_share
from mindshare.models.content import content_space, cosine_of_pairs
from mindshare.models.recency import time_context, time_features
from mindshare.models.repeat_signals import REPEAT_FEATURES, RepeatContext, repeat_context, repeat_features


def split_holdout(train: Interactions, n_folds: int, fold: int, seed: int) -> tuple[Interactions, sp.csr_matrix]:
    """Per user, fold `fold` of `n_folds` disjoint random folds of their interactions -> (rest, holdout).

    Users with one interaction keep it in the rest.
    """
    coo = train.matrix.tocoo()
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(coo.nnz), coo.row))
    counts = np.bincount(coo.row, minlength=train.n_users)
    starts = np.cumsum(counts) - counts
    rank = np.empty(coo.nnz, dtype=np.int64)
    rank[order] = np.arange(coo.nnz) - starts[coo.row[order]]
    held = (rank % n_folds == fold) & (counts[coo.row] > 1)
    def part(mask):
        return sp.csr_matrix((coo.data[mask], (coo.row[mask], coo.col[mask])), shape=train.matrix.shape)
    return train.with_matrix(part(~held)), part(held)


@dataclass
class Candidates:
    users: np.ndarray  # pair arrays; sorted by user then item where they come from generate_candidates
    items: np.ndarray
    ranks: np.ndarray  # (pairs, n_bases): rank in each base's list, n_candidates + 1 where absent

    def keys(self, n_items: int) -> np.ndarray:
        """One int64 per pair, user * n_items + item: sorted where the pairs are."""
        return self.users * n_items + self.items


def generate_candidates(bases: list[Recommender], users: np.ndarray, n_candidates: int,
                        exclude_seen: bool = True) -> Candidates:
    """The union of every base family's top-n items for each user (unseen items only where exclude_seen)."""
    n_items = bases[0].train_.n_items
    lists = [base.recommend(users, k=n_candidates, exclude_seen=exclude_seen)[0] for base in bases]
    keys_per_base = []
    for items in lists:
        keys = (users[:, None] * n_items + items).ravel()
        ranks = np.tile(np.arange(1, items.shape[1] + 1), len(users))
        valid = items.ravel() >= 0
        keys_per_base.append((keys[valid], ranks[valid]))
    all_keys = np.unique(np.concatenate([k for k, _ in keys_per_base]))
    ranks = np.full((len(all_keys), len(bases)), n_candidates + 1, dtype=np.float32)
    for b, (keys, rank) in enumerate(keys_per_base):
        ranks[np.searchsorted(all_keys, keys), b] = rank
    return Candidates(users=all_keys // n_items, items=all_keys % n_items, ranks=ranks)


@dataclass
class ScoredPool:
    """Users' candidates, the base families' scores of them, and each user's mean and standard deviation
    of each base's scores: the yardstick a pair's base scores are standardised against, so that a pair's
    features never depend on what else is in a batch."""

    candidates: Candidates  # sorted by user then item
    scores: np.ndarray  # (pairs, n_bases): each base's score() of each candidate, float64
    users: np.ndarray  # the users that have candidates, sorted
    mean: np.ndarray  # (users, n_bases)
    std: np.ndarray  # (users, n_bases); 1 where a base scores all of a user's candidates alike


def score_pool(bases: list[Recommender], candidates: Candidates) -> ScoredPool:
    """Score `candidates` (sorted, as generate_candidates makes them) by every base; each user's statistics."""
    users, codes = np.unique(candidates.users, return_inverse=True)
    scores = np.zeros((len(codes), len(bases)))
    mean, std = np.zeros((len(users), len(bases))), np.ones((len(users), len(bases)))
    for b, base in enumerate(bases):
        scores[:, b] = base.score(candidates.users, candidates.items)
        mean[:, b], std[:, b] = per_user_scale(scores[:, b], codes, len(users))
    return ScoredPool(candidates, scores, users, mean, std)


def place_in_pool(pool: ScoredPool, bases: list[Recommender], users: np.ndarray, items: np.ndarray,
                  seen: np.ndarray, n_candidates: int) -> Candidates:
    """(user, item) pairs, in any order, with each base's rank in the user's candidate lists: a candidate's
    own rank; for a seen item, the place its score would take among the listed items (after those scored
    at least as high; n_candidates + 1 beyond the list); n_candidates + 1 for any other pair."""
    n_items = bases[0].train_.n_items
    position, in_pool = _lookup(pool.candidates.keys(n_items), users * n_items + items)
    ranks = np.full((len(users), len(bases)), n_candidates + 1, dtype=np.float32)
    ranks[in_pool] = pool.candidates.ranks[position[in_pool]]
    seen = seen & ~in_pool
    if seen.any():
        seen_scores = base_scores(pool, bases, users[seen], items[seen])
        for b in range(len(bases)):
            ranks[seen, b] = _place_among_listed(pool, b, users[seen], seen_scores[:, b], n_candidates)
    return Candidates(users, items, ranks)


def _place_among_listed(pool: ScoredPool, base: int, users: np.ndarray, scores: np.ndarray,
                        n_candidates: int) -> np.ndarray:
    """1 + how many of each user's listed candidates `base` scores at least as high as `scores`."""
    listed = pool.candidates.ranks[:, base] <= n_candidates
    all_users = np.concatenate([pool.candidates.users[listed], users])
    all_scores = np.concatenate([pool.scores[listed, base], scores])
    is_listed = np.arange(len(all_users)) < listed.sum()
    # by user, best first, a listed score before an equal asked-for one; then count listed scores ahead
    order = np.lexsort((~is_listed, -all_scores, all_users))
    sorted_users, sorted_listed = all_users[order], is_listed[order]
    listed_ahead = np.cumsum(sorted_listed) - sorted_listed
    user_start = np.searchsorted(sorted_users, sorted_users)
    above = np.empty(len(all_users), dtype=np.int64)
    above[order] = listed_ahead - listed_ahead[user_start]
    return 1 + above[~is_listed]


def base_scores(pool: ScoredPool, bases: list[Recommender], users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Each base's score of (user, item) pairs, float64: the pool's for its candidates, score() for the rest."""
    n_items = bases[0].train_.n_items
    position, in_pool = _lookup(pool.candidates.keys(n_items), users * n_items + items)
    scores = np.zeros((len(users), len(bases)))
    scores[in_pool] = pool.scores[position[in_pool]]
    if not in_pool.all():
        scores[~in_pool] = np.column_stack([base.score(users[~in_pool], items[~in_pool]) for base in bases])
    return scores


def with_seen_candidates(bases: list[Recommender], data: Interactions, pool: ScoredPool, users: np.ndarray,
                         n_candidates: int) -> Candidates:
    """The pool's candidates plus the items each user had (in `data`) among the bases' top `n_candidates` of
    all items, each placed among the listed ones (see place_in_pool): the pairs a re-ranker ranks where
    repeats are included, the same at training and when answering."""
    n_items = data.n_items
    wider = generate_candidates(bases, users, n_candidates, exclude_seen=False)
    keys = np.union1d(pool.candidates.keys(n_items), wider.keys(n_items))
    users, items = keys // n_items, keys % n_items
    seen = np.asarray(data.matrix[users, items]).ravel() != 0
    return place_in_pool(pool, bases, users, items, seen, n_candidates)


def standardise_against_pool(pool: ScoredPool, scores: np.ndarray, users: np.ndarray) -> np.ndarray:
    """(score - user's pool mean) / user's pool std for each base's column; 0 for a user without candidates."""
    row, known = _lookup(pool.users, users)
    out = np.zeros(scores.shape, dtype=np.float32)
    out[known] = ((scores[known] - pool.mean[row[known]]) / pool.std[row[known]]).astype(np.float32)
    return out


def _lookup(sorted_keys: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each key in `sorted_keys` and whether it is there."""
    position = np.searchsorted(sorted_keys, keys)
    found = position < len(sorted_keys)
    found[found] = sorted_keys[position[found]] == keys[found]
    return position, found


SIGNALS = ("time", "content", "price", "repeat")  # optional feature groups (the re-rankers' `signals`)


def pair_features(bases: list[Recommender], train: Interactions, candidates: Candidates,
                  embeddings: tuple[np.ndarray, np.ndarray] | None = None,
                  pool: ScoredPool | None = None, signals: tuple[str, ...] = SIGNALS,
                  repeats: RepeatContext | None = None) -> tuple[np.ndarray, list[str]]:
    """Feature matrix (pairs x features) and the column names; each row depends on its pair alone.

    Per base family: its score standardised against the user's candidate pool (`pool`; by default
    the candidates themselves) and its rank (`candidates.ranks`). Then what `train`'s matrix
    says (so a re-ranker trained on a part of the data sees no aggregate of the held-out part):
    user activity, item popularity share, the item's popularity against the user's usual taste,
    mean ratings where there are ratings, what time says where `train` has times (see recency.py), the
    TF-IDF cosine of the item with the user's items where `train` carries item text (see content.py),
    the user's share of interactions in the item's categories, the item's price against the
    user's usual price where there are prices, when the user re-buys and explores (see repeat_signals.py:
    `repeats`, or from `train`'s event log) (time, content, price and repeat only where named in
    `signals`), and how popular the item is among the user's
    segment (segments come from the attached user table, computed on all fit data; the shares
    from `train`'s matrix). From the attached item table only static columns are used:
    categories, tags, release year, price.
    """
    users, items = candidates.users, candidates.items
    columns, names = [], []
    if bases:
        pool = pool if pool is not None else score_pool(bases, candidates)
        standardised = standardise_against_pool(pool, base_scores(pool, bases, users, items), users)
        for b, base in enumerate(bases):
            columns += [standardised[:, b], candidates.ranks[:, b]]
            names += [f"score_{b}_{base.name}", f"rank_{b}_{base.name}"]
    binary = train.binary()
    counts = np.diff(binary.indptr)
    # shares, not counts: the learner is trained on a part of the data and applied to all of it
    log_popularity = np.log(train.item_popularity() / max(train.n_users, 1) + 1e-6).astype(np.float32)
    usual = np.asarray(binary @ log_popularity).ravel() / np.maximum(counts, 1)
    columns += [np.log1p(counts).astype(np.float32)[users], log_popularity[items], log_popularity[items] - usual[users]]
    names += ["pair_user_log_activity", "pair_item_log_popularity_share", "pair_popularity_vs_usual"]
    if train.has_ratings:
        user_mean, item_mean = _mean_ratings(train.matrix)
        columns += [user_mean[users], item_mean[items], item_mean[items] - user_mean[users]]
        names += ["pair_user_mean_rating", "pair_item_mean_rating", "pair_item_vs_user_rating"]
    context = time_context(train) if "time" in signals else None
    if context is not None:
        time_columns, time_names = time_features(context, users, items)
        columns += time_columns
        names += time_names
    repeats = (repeats or repeat_context(train)) if "repeat" in signals else None
    if repeats is not None:
        columns += repeat_features(repeats, users, items)
        names += REPEAT_FEATURES
    space = content_space(train) if "content" in signals else None
    if space is not None:
        columns.append(cosine_of_pairs(space, users, items))
        names.append("pair_content_similarity")
    if train.user_features is not None and "segment" in train.user_features:
        segment = train.user_features["segment"].to_numpy().astype(np.int64)
        segment_share = train.memo(("segment_item_share",), lambda: group_item_share(binary, segment))
        share = np.log(segment_share[segment[users], items] + 1e-6)
        columns += [share, share - log_popularity[items]]
        names += ["pair_segment_item_share", "pair_segment_vs_overall_popularity"]
    if train.item_features is not None:
        static = [c for c in train.item_features.columns
                  if c.startswith(("cat_", "tag_")) or c in ("item_price", "item_year")]
        table = train.item_features[static].to_numpy(dtype=np.float32)
        columns += list(table[items].T)
        names += static
        flags = [i for i, c in enumerate(static) if c.startswith("cat_")]
        if flags:
            shares = np.asarray(binary @ table[:, flags]) / np.maximum(counts, 1)[:, None]
            columns.append(np.einsum("nc,nc->n", shares[users], table[items][:, flags]))
            names.append("pair_category_affinity")
        if "price" in signals and "item_price" in static and table[:, static.index("item_price")].any():
            columns.append(_price_vs_usual(binary, table[:, static.index("item_price")], users, items))
            names.append("pair_price_vs_usual")
    if embeddings is not None:
        user_vectors, item_vectors = embeddings[0][users], embeddings[1][items]
        columns += list(user_vectors.T) + list(item_vectors.T) + list((user_vectors * item_vectors).T)
        k = user_vectors.shape[1]
        names += (
            [f"emb_user_{j}" for j in range(k)]
            + [f"emb_item_{j}" for j in range(k)]
            + [f"emb_dot_{j}" for j in range(k)]
        )
    return np.column_stack(columns).astype(np.float32), names


def _price_vs_usual(binary: sp.csr_matrix, price: np.ndarray, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """log(1 + the item's price) minus the mean of that over the user's priced items (0 where either is unknown)."""
    log_price = np.log1p(np.maximum(price, 0.0)).astype(np.float64)
    priced = (price > 0).astype(np.float64)
    n_priced = np.asarray(binary @ priced).ravel()
    usual = np.divide(np.asarray(binary @ log_price).ravel(), n_priced, out=np.zeros_like(n_priced), where=n_priced > 0)
    known = (priced[items] > 0) & (n_priced[users] > 0)
    return np.where(known, log_price[items] - usual[users], 0.0).astype(np.float32)


def per_user_scale(scores: np.ndarray, codes: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """Each user's mean and standard deviation of `scores` (users coded 0..n_users-1); std 1 where they do not vary."""
    counts = np.bincount(codes, minlength=n_users)
    scores = scores.astype(np.float64)
    mean = np.bincount(codes, scores, minlength=n_users) / counts
    centred = scores - mean[codes]
    std = np.sqrt(np.bincount(codes, centred**2, minlength=n_users) / counts)
    return mean, np.where(std > 0, std, 1.0)


def _mean_ratings(matrix: sp.csr_matrix, prior: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Users' and items' mean ratings, shrunk to the global mean with `prior` pseudo-ratings."""
    total, n = float(matrix.sum()), max(matrix.nnz, 1)
    mean = total / n
    user_n, item_n = np.diff(matrix.indptr), np.bincount(matrix.indices, minlength=matrix.shape[1])
    user_sum = np.asarray(matrix.sum(axis=1)).ravel()
    item_sum = np.asarray(matrix.sum(axis=0)).ravel()
    return ((user_sum + prior * mean) / (user_n + prior)).astype(np.float32), (
        (item_sum + prior * mean) / (item_n + prior)
    ).astype(np.float32)
