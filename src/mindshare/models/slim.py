"""SLIM (Ning & Karypis 2011), the ElasticNet variant of Ferrari Dacrema et al. 2019: one sparse
non-negative linear regression per item, predicting its column of the interactions from the others.

With X the user x item binary matrix and n its number of users, column j of W is scikit-learn's
ElasticNet w = argmin_{w >= 0, w_j = 0} ||X_j - X w||^2 / (2 n) + alpha l1_ratio |w|_1
+ alpha (1 - l1_ratio) ||w||^2 / 2 (coordinate descent, `max_iter` sweeps at most, random coordinate
order seeded by `seed`); each item keeps its `n_neighbours` largest weights; score(u, i) = sum_j x_uj W_ji.
Each regression is fitted on the items that share a user with j only: on 0/1 data with w >= 0, any
other item's weight is 0 at the optimum (its gradient at 0 is at least alpha l1_ratio), so the answer
is the full problem's, the diagonal excluded by construction, at a fraction of the work.
The items' regressions run on `n_jobs` threads (scikit-learn's sparse coordinate descent releases the GIL).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed, effective_n_jobs

from mindshare.data.interactions import Interactions
from mindshare.models.base import ItemWeightsRecommender
from mindshare.models.neighbours import csr_from_parts, top_k_of_block

CHUNKS_PER_WORKER = 4  # popular items cost far more than rare ones: small chunks even out the workers


def _fit_items(by_item: sp.csc_matrix, by_user: sp.csr_matrix, targets: np.ndarray, alpha: float, l1_ratio: float,
               keep: int, max_iter: int, tol: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(target items, predicting items, weights) of each target's `keep` largest regression weights."""
    from sklearn.linear_model import ElasticNet  # here: loading a model must not import scikit-learn

    n_users = by_item.shape[0]
    regression = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, positive=True, fit_intercept=False, copy_X=False,
                            precompute=False, selection="random", random_state=seed, max_iter=max_iter, tol=tol)
    parts = [(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32))]
    for item in targets:
        users = by_item.indices[by_item.indptr[item]:by_item.indptr[item + 1]]
        others = np.unique(by_user[users].indices)
        others = others[others != item]
        if len(others) == 0:
            continue
        target = np.zeros(n_users, dtype=np.float32)
        target[users] = 1.0
        regression.fit(by_item[:, others], target, check_input=False)  # CSC float32 already: no copy, no check
        _, cols, values = top_k_of_block(regression.coef_[None, :], 0, min(keep, len(others)))
        parts.append((np.full(len(cols), item), others[cols], values))
    return tuple(np.concatenate([part[i] for part in parts]) for i in range(3))


def slim_weights(binary: sp.csr_matrix, alpha: float, l1_ratio: float, n_neighbours: int, max_iter: int = 100,
                 tol: float = 1e-4, seed: int = 0, n_jobs: int = -1) -> sp.csr_matrix:
    """The items x items SLIM weights W (column j: item j's regression on the other items; row i: from
    item i to the items it predicts), top `n_neighbours` per column, as float32 CSR. `binary`: the user x
    item 0/1 matrix of the fit data. Items no one interacted with predict and are predicted by nothing."""
    binary = binary.astype(np.float32).tocsr()
    n_items = binary.shape[1]
    keep = min(n_neighbours, n_items - 1)
    by_item = binary.tocsc()
    targets = np.flatnonzero(np.diff(by_item.indptr))
    if keep < 1 or len(targets) == 0:
        return sp.csr_matrix((n_items, n_items), dtype=np.float32)
    workers = max(1, min(effective_n_jobs(n_jobs), len(targets)))
    chunks = [targets[start::workers * CHUNKS_PER_WORKER] for start in range(workers * CHUNKS_PER_WORKER)]
    # threads, not processes: scikit-learn's sparse coordinate descent runs without the GIL, and no worker has to
    # start or be sent the matrix (threads fitted the sample faster than loky's processes).
    # The warning filter is process-wide, so it is set here, not in each thread.
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # expected: max_iter is small on purpose
        parts = Parallel(n_jobs=workers, backend="threading")(
            delayed(_fit_items)(by_item, binary, chunk, alpha, l1_ratio, keep, max_iter, tol, seed)
            for chunk in chunks if len(chunk)
        )
    return csr_from_parts(parts, n_items).T.tocsr()  # rows of the parts: the regressions, i.e. W's columns


class SLIM(ItemWeightsRecommender):
    """SLIM: one sparse non-negative ElasticNet regression per item on the other items (module docstring: the
    problem and how it is cut down).

    An item-item model learned rather than counted, like EASE, but sparse by its L1 penalty and fitted item by
    item, so its memory grows with the weights kept, not with items squared; its fit is the slowest of the item
    families. With the defaults' little L1 it is mostly a non-negative ridge, like EASE: users x alpha x
    (1 - l1_ratio) plays EASE's l2.

    Parameters
    ----------
    alpha : float, default 0.1
        The penalty's overall weight, on scikit-learn's scale (the squared error divided by the number of users).
        0.1 ranked best or level with the best of the values tried on the shipped sample and on
        `mindshare example-data`'s shop log (docs/benchmarks.md, "The defaults of rp3beta, slim and content").
    l1_ratio : float, default 0.01
        The L1 share of the penalty (the rest is L2). A little L1 prunes weights yet ranks as the ridge does; more
        L1 lost ranking quality in the same measurements.
    n_neighbours : int, default 100
        Largest weights kept per item (column of W), as for the other item families.
    max_iter : int, default 100
        Coordinate-descent sweeps per item at most: small on purpose, the fit's cost (scikit-learn's default is
        1_000); the convergence warnings this gives are expected and silenced.
    tol : float, default 1e-4
        Coordinate descent's stopping tolerance; scikit-learn's default.
    seed : int, default 0
        Seeds the random coordinate order, so that a fit is reproducible.
    n_jobs : int, default -1
        Threads the items' regressions run on; -1: one per core. Threads, not processes: scikit-learn's sparse
        coordinate descent releases the GIL, and no worker has to be sent the matrix.
    """

    name = "slim"
    method = "SLIM ElasticNet item-item regression"

    def __init__(self, alpha: float = 0.1, l1_ratio: float = 0.01, n_neighbours: int = 100, max_iter: int = 100,
                 tol: float = 1e-4, seed: int = 0, n_jobs: int = -1) -> None:
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.n_neighbours = n_neighbours
        self.max_iter = max_iter
        self.tol = tol
        self.seed = seed
        self.n_jobs = n_jobs

    def _fit(self, train: Interactions) -> None:
        self.user_vectors_ = train.binary()
        self.weights_ = slim_weights(self.user_vectors_, self.alpha, self.l1_ratio, self.n_neighbours, self.max_iter,
                                     self.tol, self.seed, self.n_jobs)
