"""Beyond-accuracy metrics of recommendation lists (users x k item indices; -1 marks no item)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def _valid(recommended: np.ndarray) -> np.ndarray:
    recommended = np.asarray(recommended)
    return recommended[recommended >= 0]


def catalogue_coverage(recommended: np.ndarray, n_items: int) -> float:
    """|distinct items recommended| / |catalogue|. Example: lists [[0, 1], [1, 2]], 10 items -> 0.3."""
    return float(np.unique(_valid(recommended)).size / n_items)


def novelty(recommended: np.ndarray, item_popularity: np.ndarray, n_users: int) -> float:
    """Mean self-information -log2(pop_i / n_users) of recommended items.

    Example: items seen by 1 and 4 of 4 users -> (2 + 0) / 2 = 1.0.
    """
    share = np.maximum(np.asarray(item_popularity, dtype=np.float64)[_valid(recommended)], 1.0) / n_users
    return float(np.mean(-np.log2(share)))


def mean_popularity(recommended: np.ndarray, item_popularity: np.ndarray) -> float:
    """Mean popularity (users who interacted) of recommended items: the popularity bias of the lists.

    Example: popularities [1, 4] -> 2.5.
    """
    return float(np.mean(np.asarray(item_popularity, dtype=np.float64)[_valid(recommended)]))


def intra_list_diversity(recommended: np.ndarray, item_features: sp.spmatrix) -> float:
    """mean_u of mean over pairs (i<j) in u's list of 1 - cos(f_i, f_j).

    Uses sum_{i<j} cos = (||sum_i v_i||^2 - sum_i ||v_i||^2) / 2 with unit rows v_i, so no pair
    loop. Items without features count as orthogonal to all. Example: features [1,0], [1,0],
    [0,1] in one list -> pairs (1-1, 1-0, 1-0) / 3 = 0.6667.
    """
    recommended = np.asarray(recommended)
    n_users, k = recommended.shape
    if k < 2:
        return 0.0
    features = sp.csr_matrix(item_features, dtype=np.float64)
    norms = np.sqrt(np.asarray(features.multiply(features).sum(axis=1)).ravel())
    unit = sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)) @ features
    rows = np.repeat(np.arange(n_users), k)
    cols = recommended.ravel()
    keep = cols >= 0
    picks = sp.csr_matrix((np.ones(keep.sum()), (rows[keep], cols[keep])), shape=(n_users, features.shape[0]))
    sums = picks @ unit
    sum_sq = np.asarray(sums.multiply(sums).sum(axis=1)).ravel()
    self_sq = np.asarray(picks @ (norms > 0).astype(np.float64)).ravel()
    list_len = keep.reshape(n_users, k).sum(axis=1)
    pairs = list_len * (list_len - 1) / 2
    similarity = np.divide((sum_sq - self_sq) / 2, pairs, out=np.zeros_like(sum_sq), where=pairs > 0)
    return float(np.mean(np.where(pairs > 0, 1.0 - similarity, 0.0)))
