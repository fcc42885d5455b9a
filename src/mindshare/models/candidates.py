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
    users: np.ndarray  # pair arrays, sorted by user then item
    items: np.ndarray
    ranks: np.ndarray  # (pairs, n_bases): rank in each base's list, n_candidates + 1 where absent


def generate_candidates(bases: list[Recommender], users: np.ndarray, n_candidates: int) -> Candidates:
    """The union of every base family's top-n unseen items for each user."""
    n_items = bases[0].train_.n_items
    lists = [base.recommend(users, k=n_candidates, exclude_seen=True)[0] for base in bases]
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


def pair_features(bases: list[Recommender], train: Interactions, candidates: Candidates,
                  embeddings: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, list[str]]:
    """Feature matrix (pairs x features) and the column names.

    Per base family: its within-user standardised score and its rank. Then what `train`'s matrix
    says (so a re-ranker trained on a part of the data sees no aggregate of the held-out part):
    user activity, item popularity share, the item's popularity against the user's usual taste,
    mean ratings where there are ratings, and the user's share of interactions in the item's
    categories, and how popular the item is among the user's segment (segments come from the
    attached user table, computed on all fit data; the shares from `train`'s matrix). From the
    attached item table only static columns are used: categories, tags, release year, price.
    """
    users, items = candidates.users, candidates.items
    columns, names = [], []
    for b, base in enumerate(bases):
        columns += [standardise_per_user(base.score(users, items), users), candidates.ranks[:, b]]
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
    if train.user_features is not None and "segment" in train.user_features:
        segment = train.user_features["segment"].to_numpy().astype(np.int64)
        segment_share = train.memo(("segment_item_share",), lambda: group_item_share(binary, segment))
        share = np.log(segment_share[segment[users], items] + 1e-6)
        columns += [share, share - log_popularity[items]]
        names += ["pair_segment_item_share", "pair_segment_vs_overall_popularity"]
    if train.item_features is not None:
        static = [c for c in train.item_features.columns if c.startswith(("cat_", "tag_")) or c in ("item_price", "item_year")]
        table = train.item_features[static].to_numpy(dtype=np.float32)
        columns += list(table[items].T)
        names += static
        flags = [i for i, c in enumerate(static) if c.startswith("cat_")]
        if flags:
            shares = np.asarray(binary @ table[:, flags]) / np.maximum(counts, 1)[:, None]
            columns.append(np.einsum("nc,nc->n", shares[users], table[items][:, flags]))
            names.append("pair_category_affinity")
    if embeddings is not None:
        user_vectors, item_vectors = embeddings[0][users], embeddings[1][items]
        columns += list(user_vectors.T) + list(item_vectors.T) + list((user_vectors * item_vectors).T)
        k = user_vectors.shape[1]
        names += [f"emb_user_{j}" for j in range(k)] + [f"emb_item_{j}" for j in range(k)] + [f"emb_dot_{j}" for j in range(k)]
    return np.column_stack(columns).astype(np.float32), names


def standardise_per_user(scores: np.ndarray, users: np.ndarray) -> np.ndarray:
    """(score - user's mean) / user's std over each user's pairs.

    Base scores change scale when a base is refitted on more data; within-user standing does not.
    """
    _, codes, counts = np.unique(users, return_inverse=True, return_counts=True)
    scores = scores.astype(np.float64)
    mean = np.bincount(codes, scores) / counts
    centred = scores - mean[codes]
    std = np.sqrt(np.bincount(codes, centred**2) / counts)
    return (centred / np.where(std > 0, std, 1.0)[codes]).astype(np.float32)


def _mean_ratings(matrix: sp.csr_matrix, prior: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Users' and items' mean ratings, shrunk to the global mean with `prior` pseudo-ratings."""
    total, n = float(matrix.sum()), max(matrix.nnz, 1)
    mean = total / n
    user_n, item_n = np.diff(matrix.indptr), np.bincount(matrix.indices, minlength=matrix.shape[1])
    user_sum = np.asarray(matrix.sum(axis=1)).ravel()
    item_sum = np.asarray(matrix.sum(axis=0)).ravel()
    return ((user_sum + prior * mean) / (user_n + prior)).astype(np.float32), \
        ((item_sum + prior * mean) / (item_n + prior)).astype(np.float32)
