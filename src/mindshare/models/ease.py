"""EASE (Steck 2019): the closed-form item-item regression, the strongest simple item model.

B = argmin ||X - X B||^2 + l2 ||B||^2 subject to diag(B) = 0, solved in closed form:
P = (X^T X + l2 I)^-1 (Cholesky: LAPACK potrf + potri), B_ij = -P_ij / P_jj, B_jj = 0.
score(u, i) = x_u . B[:, i]. The dense solve needs an items x items matrix inside `fit` only (memory
items^2, time items^3), so it is solved on the `max_items` most interacted items at most; on a
larger catalogue the rest (the long tail) is scored by a cheaper family, item-kNN: the
`tail_neighbours` cosine neighbours of a tail item, times one scale fitted by least squares to the
EASE scores of a sample of users and head items, so that tail and head scores are on one scale (the
neighbours drawn from the `max_candidates` most interacted items: cost tail x candidates). What
is kept is sparse: the `keep` x items weights B_ji with the largest |B_ji| ||x_j|| over the whole
matrix (a weight times the norm of the column of X it multiplies: its typical part in a score; on
average `keep` per item; most of B is tiny), so the model's size grows with the catalogue, not its
square. `keep: 0` keeps B dense (the reference the curve in docs/benchmarks.md is measured against:
`mindshare bench ease-keep`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack

from mindshare.data.interactions import Interactions
from mindshare.errors import MindshareError
from mindshare.models.base import SCORE_BLOCK_FLOATS, ItemWeightsRecommender
from mindshare.models.neighbours import most_frequent_rows, top_k_similarities

CALIBRATION_ITEMS = 500  # head items and users whose kNN scores are matched to their EASE scores
CALIBRATION_USERS = 2000


class EASE(ItemWeightsRecommender):
    """EASE, Steck's closed-form item-item regression with a zero diagonal (module docstring: the solve, the long
    tail and the pruning).

    Often the strongest single family on implicit feedback, with no iterations to tune: one regularised solve.
    Its price is an items x items solve in `fit`, so it is exact up to `max_items` items and scores the long tail
    beyond them by calibrated item-kNN.

    Parameters
    ----------
    l2 : float, default 200.0
        The ridge weight on B. Larger values pull B towards scaled co-occurrence counts (popular items gain);
        smaller ones fit each item's regression more closely and need more data. Steck's paper takes a few hundred
        to a thousand on its data sets; 200, the low end, suits the smaller logs this project ships. Tuning
        searches it per data set.
    max_items : int, default 10_000
        The most interacted items solved exactly (memory items^2, time items^3, inside `fit` only); the rest are
        scored by item-kNN on EASE's scale. At 10,000 the dense float32 solve needs 400 MB, which an ordinary
        machine holds, and most interactions fall on the head of a catalogue.
    keep : int, default 256
        Weights kept per item on average (the largest |B_ji| ||x_j|| over the whole matrix); 0 keeps B dense. Most
        of B is tiny: a few hundred weights per item rank as the dense matrix does at a fraction of its size
        (docs/benchmarks.md, "EASE: how many weights to keep"; `mindshare bench ease-keep`).
    tail_neighbours : int, default 100
        Cosine neighbours of each tail item (beyond `max_items`), as item_knn's default; 0 leaves the tail unscored.
    max_candidates : int or None, default 20_000
        The tail's neighbours are drawn from this many items, the most interacted, where there are more; None:
        every item. As item_knn's: it bounds the cost at tail x candidates.
    """

    name = "item_knn_ease"
    method = "EASE item-item regression"
    tail_neighbours = 100  # models saved before the setting (they have no tail)
    max_candidates: int | None = None  # models saved before the setting: tail neighbours among every item

    def __init__(self, l2: float = 200.0, max_items: int = 10_000, keep: int = 256, tail_neighbours: int = 100,
                 max_candidates: int | None = 20_000) -> None:
        self.l2 = l2
        self.max_items = max_items
        self.keep = keep
        self.tail_neighbours = tail_neighbours
        self.max_candidates = max_candidates

    def _fit(self, train: Interactions) -> None:
        x = train.binary()
        norms = column_norms(x)
        if x.shape[1] <= self.max_items:
            self.weights_ = prune_to_largest(dense_ease_weights(x, self.l2, self.max_items), self.keep, norms)
            self.tail_items_ = np.zeros(0, dtype=np.int64)
        else:
            self.weights_, self.tail_items_, self.tail_scale_ = head_and_tail_weights(
                x, self.l2, self.max_items, self.keep, self.tail_neighbours, norms, self.max_candidates)
        self.user_vectors_ = x


def head_and_tail_weights(x: sp.csr_matrix, l2: float, max_items: int, keep: int, tail_neighbours: int,
                          norms: np.ndarray, max_candidates: int | None) -> tuple[sp.csr_matrix, np.ndarray, float]:
    """(items x items weights, tail item indices, tail scale): EASE among the `max_items` most interacted items
    (ties: the smaller index), calibrated item-kNN columns for the others."""
    n = x.shape[1]
    columns = x.T.tocsr()
    head = np.sort(most_frequent_rows(columns, max_items))  # called where n > max_items: never None
    tail = np.setdiff1d(np.arange(n), head)
    head_weights = dense_ease_weights(x[:, head], l2, max_items)
    sample = head[np.linspace(0, len(head) - 1, min(CALIBRATION_ITEMS, len(head))).astype(np.int64)]
    neighbours = top_k_similarities(columns, "cosine", tail_neighbours, 10.0, SCORE_BLOCK_FLOATS,
                                    of_rows=np.concatenate([sample, tail]),
                                    among=most_frequent_rows(columns, max_candidates))
    # least squares c: c x (kNN score) ~ (EASE score) of sampled users and head items: one scale for the tail
    local = np.full(n, -1, dtype=np.int64)
    local[head] = np.arange(len(head))
    users = np.random.default_rng(0).choice(x.shape[0], min(CALIBRATION_USERS, x.shape[0]), replace=False)
    rows = x[np.sort(users)]
    ease_scores = np.asarray(rows[:, head] @ head_weights[:, local[sample]], dtype=np.float64).ravel()
    knn_scores = np.asarray((rows @ neighbours[sample].T).toarray(), dtype=np.float64).ravel()
    scale = float(knn_scores @ ease_scores / max(knn_scores @ knn_scores, 1e-12))
    head_part = sp.coo_matrix(prune_to_largest(head_weights, keep, norms[head]))
    tail_part = neighbours[tail].T.tocoo()  # column j: the neighbours of tail item j
    weights = sp.csr_matrix(
        (np.concatenate([head_part.data, max(scale, 0.0) * tail_part.data]).astype(np.float32),
         (np.concatenate([head[head_part.row], tail_part.row]), np.concatenate([head[head_part.col],
                                                                                 tail[tail_part.col]]))),
        shape=(n, n), dtype=np.float32)
    return weights, tail, scale


def dense_ease_weights(x: sp.csr_matrix, l2: float, max_items: int) -> np.ndarray:
    """B of EASE for the binary user x item matrix `x`, as a dense float32 items x items array."""
    n = x.shape[1]
    if n > max_items:  # callers solve at most max_items; a guard for direct use
        raise MindshareError(f"item_knn_ease: a dense {n} x {n} solve exceeds max_items {max_items}")
    gram = (x.T @ x).toarray().astype(np.float32)
    gram[np.diag_indices(n)] += l2
    factor, info = lapack.spotrf(gram, lower=True, overwrite_a=True)
    if info != 0:
        raise MindshareError(f"item_knn_ease: X^T X + l2 I is not positive definite (l2={l2}); raise l2")
    inverse, info = lapack.spotri(factor, lower=True, overwrite_c=True)
    inverse = np.tril(inverse) + np.tril(inverse, -1).T  # potri fills one triangle
    weights = inverse / (-np.diag(inverse))[None, :]
    weights[np.diag_indices(n)] = 0.0
    return weights.astype(np.float32)


def column_norms(x: sp.csr_matrix) -> np.ndarray:
    """||x_j|| for every item j of a binary user x item matrix: the square root of its popularity."""
    return np.sqrt(np.asarray(x.sum(axis=0), dtype=np.float64).ravel()).astype(np.float32)


def prune_to_largest(weights: np.ndarray, keep: int, row_scale: np.ndarray) -> np.ndarray | sp.csr_matrix:
    """The `keep` x items entries of `weights` with the largest |w_ji| row_scale_j, as a CSR float32 matrix
    (ties at the threshold kept); `weights` itself where keep is 0 or would keep every entry."""
    n_kept = keep * weights.shape[1]
    if keep <= 0 or n_kept >= weights.size:
        return weights
    importance = np.abs(weights)
    importance *= row_scale[:, None]
    flat = importance.ravel()
    threshold = np.partition(flat, flat.size - n_kept)[flat.size - n_kept]
    rows, cols = np.nonzero(importance >= threshold)
    return sp.csr_matrix((weights[rows, cols], (rows, cols)), shape=weights.shape, dtype=np.float32)
