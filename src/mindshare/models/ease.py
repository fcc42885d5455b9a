"""EASE (Steck 2019): the closed-form item-item regression, the strongest simple item model.

B = argmin ||X - X B||^2 + l2 ||B||^2 subject to diag(B) = 0, solved in closed form:
P = (X^T X + l2 I)^-1 (Cholesky: LAPACK potrf + potri), B_ij = -P_ij / P_jj, B_jj = 0.
score(u, i) = x_u . B[:, i]. Holds a dense items x items matrix, so it refuses catalogues
above `max_items` with a clear message instead of exhausting memory.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

from mindshare.data.interactions import Interactions
from mindshare.errors import MindshareError
from mindshare.models.base import Recommender


class EASE(Recommender):
    name = "item_knn_ease"

    def __init__(self, l2: float = 200.0, max_items: int = 20_000) -> None:
        self.l2 = l2
        self.max_items = max_items

    def _fit(self, train: Interactions) -> None:
        n = train.n_items
        if n > self.max_items:
            raise MindshareError(
                f"params.yaml: item_knn_ease needs a dense {n} x {n} matrix ({n * n * 4 / 2**30:.1f} GiB); "
                f"the catalogue has {n} items > max_items {self.max_items}: raise max_items or use item_knn"
            )
        x = train.binary()
        gram = (x.T @ x).toarray().astype(np.float32)
        gram[np.diag_indices(n)] += self.l2
        factor, info = lapack.spotrf(gram, lower=True, overwrite_a=True)
        if info != 0:
            raise MindshareError(f"item_knn_ease: X^T X + l2 I is not positive definite (l2={self.l2}); raise l2")
        inverse, info = lapack.spotri(factor, lower=True, overwrite_c=True)
        inverse = np.tril(inverse) + np.tril(inverse, -1).T  # potri fills one triangle
        weights = inverse / (-np.diag(inverse))[None, :]
        weights[np.diag_indices(n)] = 0.0
        self.weights_ = weights.astype(np.float32)
        self.user_vectors_ = x

    def _score_block(self, users: np.ndarray) -> np.ndarray:
        return np.asarray(self.user_vectors_[users] @ self.weights_)

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
        left = self.user_vectors_[users].tocoo()  # row p: the items pair p's user interacted with
        gathered = left.data * self.weights_[left.col, items[left.row]]
        return np.bincount(left.row, gathered, minlength=len(users)).astype(np.float32)
