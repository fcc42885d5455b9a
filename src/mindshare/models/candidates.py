"""What the re-rankers learn from: a held-out part of train, candidates from base families, and
the features of each (user, candidate item) pair. Vectorised over all users at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from mindshare.data.interactions import Interactions
from mindshare.models.base import Recommender


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

    Per base family: its score and rank. Then user and item feature tables (where attached),
    matrix-derived activity and popularity, the user's category share of the item's categories,
    the item's popularity relative to the user's usual taste, and optionally embeddings.
    """
    users, items = candidates.users, candidates.items
    columns, names = [], []
    for b, base in enumerate(bases):
        columns += [standardise_per_user(base.score(users, items), users), candidates.ranks[:, b]]
        names += [f"score_{b}_{base.name}", f"rank_{b}_{base.name}"]
    binary = train.binary()
    # shares, not counts: the learner is trained on a part of the data and applied to all of it
    log_popularity = np.log(train.item_popularity() / max(train.n_users, 1) + 1e-6).astype(np.float32)
    activity = np.log1p(np.diff(binary.indptr)).astype(np.float32)
    usual = np.asarray(binary @ log_popularity).ravel() / np.maximum(np.diff(binary.indptr), 1)
    columns += [activity[users], log_popularity[items], log_popularity[items] - usual[users]]
    names += ["pair_user_log_activity", "pair_item_log_popularity_share", "pair_popularity_vs_usual"]
    if train.user_features is not None:
        columns += list(train.user_features.to_numpy()[users].T)
        names += list(train.user_features.columns)
    if train.item_features is not None:
        columns += list(train.item_features.to_numpy()[items].T)
        names += list(train.item_features.columns)
    if train.user_features is not None and train.item_features is not None:
        shares = [c for c in train.user_features.columns if c.startswith("user_share_cat_")]
        flags = [c.removeprefix("user_share_") for c in shares]
        if shares and all(f in train.item_features.columns for f in flags):
            user_share = train.user_features[shares].to_numpy()[users]
            item_flag = train.item_features[flags].to_numpy()[items]
            columns.append(np.einsum("nc,nc->n", user_share, item_flag))
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
