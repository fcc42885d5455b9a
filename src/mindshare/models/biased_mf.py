"""Biased matrix factorisation for explicit ratings, by vectorised alternating least squares.

r_hat(u, i) = mu + b_u + b_i + p_u . q_i, minimising sum (r_ui - r_hat)^2 + reg (n_u |[p_u, b_u]|^2
+ n_i |[q_i, b_i]|^2) (weighted-lambda regularisation, Zhou et al. 2008). Each half-step updates
every user (or item) at once with a few conjugate-gradient steps warm-started from the previous
factors (as `implicit` does for implicit feedback): a matrix-vector product is one row-wise dot
over the ratings plus one sparse x dense product, so no (k+1) x (k+1) system is ever formed.
Written here because no well-kept library does explicit biased MF vectorised on CPU: Surprise's
SVD is per-rating SGD in Cython, and `implicit` solves the implicit-feedback objective only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass
class BiasedFactors:
    mean: float
    user_bias: np.ndarray
    item_bias: np.ndarray
    user_factors: np.ndarray
    item_factors: np.ndarray

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        dot = np.einsum("nk,nk->n", self.user_factors[users], self.item_factors[items])
        return self.mean + self.user_bias[users] + self.item_bias[items] + dot


def _rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("nd,nd->n", a, b)


def _half_step(pattern: sp.csr_matrix, other_index: np.ndarray, values: np.ndarray, mean: float,
               own: np.ndarray, other: np.ndarray, reg: float, cg_steps: int) -> np.ndarray:
    """Update rows [f, b] of `own` against `other` rows [g, c] (used as [g, 1]) for target r - mu - c.

    `pattern` is CSR over (own x other) and `other_index`, `values` follow its stored order.
    """
    counts = np.diff(pattern.indptr)
    augmented = other.copy()
    augmented[:, -1] = 1.0
    gathered = augmented[other_index]  # one row per rating, constant during this half-step
    weighted = pattern.copy()
    weighted.data = (values - mean - other[other_index, -1]).astype(own.dtype)
    rhs = weighted @ augmented
    damping = (reg * counts + 1e-6).astype(own.dtype)[:, None]

    def product(v: np.ndarray) -> np.ndarray:  # (sum_i g_i g_i^T + reg n I) v, row by row
        weighted.data = _rowdot(gathered, np.repeat(v, counts, axis=0))
        return weighted @ augmented + damping * v

    x = own
    residual = rhs - product(x)
    direction = residual.copy()
    norm = _rowdot(residual, residual)
    for _ in range(cg_steps):
        step = product(direction)
        curvature = _rowdot(direction, step)
        alpha = np.divide(norm, curvature, out=np.zeros_like(norm), where=curvature > 0)
        x = x + alpha[:, None] * direction
        residual = residual - alpha[:, None] * step
        new_norm = _rowdot(residual, residual)
        beta = np.divide(new_norm, norm, out=np.zeros_like(norm), where=norm > 0)
        direction = residual + beta[:, None] * direction
        norm = new_norm
    return x


def fit_biased_als(ratings: sp.csr_matrix, factors: int, reg: float, iterations: int, seed: int,
                   cg_steps: int = 2) -> BiasedFactors:
    """Fit on a CSR of ratings (users x items); float32 throughout."""
    by_user = sp.csr_matrix(ratings, dtype=np.float32, copy=True)
    by_user.sort_indices()
    by_item = by_user.T.tocsr()
    by_item.sort_indices()
    user_values, item_values = by_user.data.copy(), by_item.data.copy()
    mean = float(user_values.mean()) if len(user_values) else 0.0
    rng = np.random.default_rng(seed)
    users = rng.normal(scale=0.1, size=(ratings.shape[0], factors + 1)).astype(np.float32)
    items = rng.normal(scale=0.1, size=(ratings.shape[1], factors + 1)).astype(np.float32)
    users[:, -1] = 0.0
    items[:, -1] = 0.0
    for _ in range(iterations):
        users = _half_step(by_user, by_user.indices, user_values, mean, users, items, reg, cg_steps)
        items = _half_step(by_item, by_item.indices, item_values, mean, items, users, reg, cg_steps)
    return BiasedFactors(mean, users[:, -1].astype(np.float64), items[:, -1].astype(np.float64),
                         users[:, :-1], items[:, :-1])
