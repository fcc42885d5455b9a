"""SLIM on matrices small enough to solve by hand, and against the full column-zeroed regression."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet

from mindshare.data.interactions import Interactions
from mindshare.models.slim import SLIM, slim_weights


def _one_feature_weight(dot: float, norm_sq: float, n_users: int, alpha: float, l1_ratio: float) -> float:
    """The ElasticNet weight of a lone non-negative feature: the zero of the objective's derivative."""
    return max(0.0, (dot / n_users - alpha * l1_ratio) / (norm_sq / n_users + alpha * (1 - l1_ratio)))


def _random_binary(seed: int, shape: tuple[int, int], density: float) -> sp.csr_matrix:
    out = sp.random(*shape, density=density, format="csr", random_state=seed, dtype=np.float32)
    out.data[:] = 1.0
    return out


def test_weights_of_two_items_always_together_by_hand():
    # users x items [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0]]: items 0 and 1 predict each other from one feature
    # each (x.y = x.x = 2 of n = 3 users); item 2 shares no user and item 3 has none: they predict nothing and
    # nothing predicts them
    binary = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0]], dtype=np.float32))
    weights = slim_weights(binary, alpha=0.1, l1_ratio=0.5, n_neighbours=5).toarray()
    w = _one_feature_weight(2, 2, 3, 0.1, 0.5)  # (2/3 - 0.05) / (2/3 + 0.05) = 0.8605
    assert weights == pytest.approx(np.array([[0, w, 0, 0], [w, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]), abs=1e-6)
    assert slim_weights(binary, alpha=2.0, l1_ratio=0.5, n_neighbours=5).nnz == 0  # the L1 term wins: 1 > 2/3


def test_weights_equal_the_full_regression_with_the_items_column_zeroed():
    # fitting on the co-occurring items only is exact: the standard way (all items, the target's column zeroed)
    binary = _random_binary(3, (40, 12), 0.3)
    by_item = binary.tocsc()
    weights = slim_weights(binary, alpha=0.01, l1_ratio=0.1, n_neighbours=20, max_iter=10_000, tol=1e-8).toarray()
    for item in range(12):
        x = by_item.toarray().astype(np.float64)
        x[:, item] = 0.0
        full = ElasticNet(alpha=0.01, l1_ratio=0.1, positive=True, fit_intercept=False, max_iter=10_000, tol=1e-8)
        assert weights[:, item] == pytest.approx(full.fit(x, by_item[:, item].toarray().ravel()).coef_, abs=1e-4)
    assert (np.diag(weights) == 0).all() and (weights >= 0).all() and (weights > 0).sum() > 12


def test_each_item_keeps_its_largest_weights():
    binary = _random_binary(4, (50, 15), 0.35)
    every = slim_weights(binary, alpha=0.001, l1_ratio=0.1, n_neighbours=14).toarray()
    top_two = slim_weights(binary, alpha=0.001, l1_ratio=0.1, n_neighbours=2).toarray()
    assert ((top_two > 0).sum(axis=0) <= 2).all() and ((every > 0).sum(axis=0) > 2).any()
    assert np.sort(top_two, axis=0)[-2:] == pytest.approx(np.sort(every, axis=0)[-2:])


def test_threads_give_the_weights_of_one_thread():
    binary = _random_binary(5, (60, 30), 0.2)
    alone = slim_weights(binary, alpha=0.001, l1_ratio=0.1, n_neighbours=10, max_iter=5, n_jobs=1)
    shared = slim_weights(binary, alpha=0.001, l1_ratio=0.1, n_neighbours=10, max_iter=5, n_jobs=2)
    assert (alone != shared).nnz == 0


def test_convergence_warnings_are_silenced_and_others_are_not():
    binary = _random_binary(6, (60, 30), 0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        slim_weights(binary, alpha=1e-6, l1_ratio=0.1, n_neighbours=10, max_iter=1, tol=1e-12, n_jobs=1)
    with pytest.warns(UserWarning, match="alpha=0"):
        slim_weights(binary, alpha=0.0, l1_ratio=0.1, n_neighbours=10, max_iter=1, n_jobs=1)
    with pytest.warns(ConvergenceWarning):  # silenced during the fit only
        ElasticNet(alpha=1e-6, max_iter=1, tol=1e-12).fit(binary.toarray()[:, 1:], binary.toarray()[:, 0])


def test_scores_sum_the_weights_from_a_users_items():
    # x: users a, b, d; y: a, b; z: c. d holds x only, so its score for y is the weight of x in y's regression
    frame = pd.DataFrame({"user_id": ["a", "a", "b", "b", "c", "d"], "item_id": ["x", "y", "x", "y", "z", "x"]})
    data = Interactions.from_frame(frame)
    model = SLIM(alpha=0.1, l1_ratio=0.5, n_neighbours=5).fit(data)
    d, y, z = data.user_index(["d"])[0], data.item_index(["y"])[0], data.item_index(["z"])[0]
    expected = _one_feature_weight(2, 3, 4, 0.1, 0.5)  # (2/4 - 0.05) / (3/4 + 0.05) = 0.5625
    assert model.score(np.array([d, d]), np.array([y, z])) == pytest.approx([expected, 0.0], abs=1e-6)
    items, scores = model.recommend(np.array([d]), k=1)
    assert items[0, 0] == y and scores[0, 0] == pytest.approx(expected, abs=1e-6)
