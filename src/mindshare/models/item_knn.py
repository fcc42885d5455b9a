"""Item-based k-nearest-neighbour collaborative filtering (cosine, shrunk, top-k pruned).

sim(i, j) = (x_i . x_j) / (||x_i|| ||x_j|| + shrinkage) over the users' binarised interaction
columns; each item keeps its `n_neighbours` most similar items. score(u, i) = sum_j x_uj sim(j, i).
Similarities are built block-wise, so no dense items x items matrix is ever held.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mindshare.data.interactions import Interactions
from mindshare.models.base import SCORE_BLOCK_FLOATS, Recommender


class ItemKNN(Recommender):
    name = "item_knn"

    def __init__(self, n_neighbours: int = 100, shrinkage: float = 10.0, binary: bool = True) -> None:
        self.n_neighbours = n_neighbours
        self.shrinkage = shrinkage
        self.binary = binary

    def _user_vectors(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        if not self.binary:
            return matrix.astype(np.float32)
        out = matrix.copy().astype(np.float32)
        out.data[:] = 1.0
        return out

    def _fit(self, train: Interactions) -> None:
        x = self._user_vectors(train.matrix).tocsc()
        n_items = x.shape[1]
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel()).astype(np.float32)
        keep = max(1, min(self.n_neighbours, n_items - 1)) if n_items > 1 else 0
        xt = x.T.tocsr()
        block = max(1, SCORE_BLOCK_FLOATS // max(1, n_items))
        rows, cols, vals = [], [], []
        for start in range(0, n_items, block):
            stop = min(start + block, n_items)
            co = (xt[start:stop] @ x).toarray()  # (block, n_items) co-occurrence
            sim = co / (norms[start:stop, None] * norms[None, :] + self.shrinkage + 1e-12)
            sim[np.arange(stop - start), np.arange(start, stop)] = 0.0
            if keep == 0:
                continue
            top = np.argpartition(-sim, keep - 1, axis=1)[:, :keep]
            top_sim = np.take_along_axis(sim, top, axis=1)
            nonzero = top_sim > 0
            rows.append(np.repeat(np.arange(start, stop), keep)[nonzero.ravel()])
            cols.append(top[nonzero])
            vals.append(top_sim[nonzero])
        # neighbours_[i, j] = sim(i, j) for the items j in i's top-k neighbours
        self.neighbours_ = sp.csr_matrix(
            (np.concatenate(vals) if vals else np.array([], np.float32),
             (np.concatenate(rows) if rows else np.array([], int), np.concatenate(cols) if cols else np.array([], int))),
            shape=(n_items, n_items),
            dtype=np.float32,
        )
        self.user_vectors_ = self._user_vectors(train.matrix)

    def _score_block(self, users: np.ndarray) -> np.ndarray:
        return (self.user_vectors_[users] @ self.neighbours_.T).toarray()

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
        left = self.user_vectors_[users]
        right = self.neighbours_[items]
        return np.asarray(left.multiply(right).sum(axis=1), dtype=np.float32).ravel()
