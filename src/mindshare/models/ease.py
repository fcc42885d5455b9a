"""EASE (Steck 2019): the closed-form item-item regression, the strongest simple item model.

B = argmin ||X - X B||^2 + l2 ||B||^2 subject to diag(B) = 0, solved in closed form:
P = (X^T X + l2 I)^-1 (Cholesky: LAPACK potrf + potri), B_ij = -P_ij / P_jj, B_jj = 0.
score(u, i) = x_u . B[:, i]. The dense solve needs an items x items matrix inside `fit` only, so it
refuses catalogues above `max_items`; what is kept is sparse: the `keep` x items weights B_ji with
the largest |B_ji| ||x_j|| over the whole matrix (a weight times the norm of the column of X it
multiplies: its typical part in a score; on average `keep` per item; most of B is tiny), so the
model's size grows with the catalogue, not its square. `keep: 0` keeps B dense (the reference the curve in
docs/benchmarks.md is measured against: `mindshare bench ease-keep`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack

from mindshare.data.interactions import Interactions
from mindshare.errors import MindshareError
from mindshare.models.base import ItemWeightsRecommender


class EASE(ItemWeightsRecommender):
    name = "item_knn_ease"
    method = "EASE item-item regression"

    def __init__(self, l2: float = 200.0, max_items: int = 20_000, keep: int = 256) -> None:
        self.l2 = l2
        self.max_items = max_items
        self.keep = keep

    def _fit(self, train: Interactions) -> None:
        x = train.binary()
        self.weights_ = prune_to_largest(dense_ease_weights(x, self.l2, self.max_items), self.keep, column_norms(x))
        self.user_vectors_ = x


def dense_ease_weights(x: sp.csr_matrix, l2: float, max_items: int) -> np.ndarray:
    """B of EASE for the binary user x item matrix `x`, as a dense float32 items x items array."""
    n = x.shape[1]
    if n > max_items:
        raise MindshareError(
            f"params.yaml: item_knn_ease needs a dense {n} x {n} matrix ({n * n * 4 / 2**30:.1f} GiB) while it "
            f"fits; the catalogue has {n} items > max_items {max_items}: raise max_items or use item_knn"
        )
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
