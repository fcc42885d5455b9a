"""Each metric against a value computed by hand on the docstrings' worked examples."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from mindshare import metrics

HITS = np.array([[True, False, True]])  # one user, 4 relevant items, hits at ranks 1 and 3
N_REL = np.array([4])


def test_precision_recall():
    assert metrics.precision_at_k(HITS, 3) == pytest.approx(2 / 3)
    assert metrics.precision_at_k(HITS, 1) == pytest.approx(1.0)
    assert metrics.recall_at_k(HITS, N_REL, 3) == pytest.approx(0.5)
    assert metrics.recall_at_k(HITS, N_REL, 2) == pytest.approx(0.25)


def test_ndcg_by_hand():
    dcg = 1 + 1 / math.log2(4)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert metrics.ndcg_at_k(HITS, N_REL, 3) == pytest.approx(dcg / idcg)
    assert metrics.ndcg_at_k(HITS, N_REL, 3) == pytest.approx(0.7039, abs=1e-4)
    # ideal DCG stops at |rel| when |rel| < k: one relevant item found at rank 1 is perfect
    assert metrics.ndcg_at_k(np.array([[True, False, False]]), np.array([1]), 3) == pytest.approx(1.0)


def test_map_two_normalisers():
    assert metrics.map_at_k(HITS, N_REL, 3) == pytest.approx((1 + 2 / 3) / 3)
    assert metrics.map_at_k_over_relevant(HITS, N_REL, 3) == pytest.approx((1 + 2 / 3) / 4)


def test_hit_rate_and_mrr_average_over_users():
    hits = np.array([[False, True, False], [False, False, False]])
    assert metrics.hit_rate_at_k(hits, 3) == pytest.approx(0.5)
    assert metrics.mrr_at_k(hits, 3) == pytest.approx((1 / 2 + 0) / 2)
    assert metrics.mrr_at_k(hits, 1) == pytest.approx(0.0)


def test_k_out_of_range_is_refused():
    with pytest.raises(ValueError):
        metrics.precision_at_k(HITS, 4)


def test_rating_metrics():
    assert metrics.rmse(np.array([1, 3]), np.array([2, 3])) == pytest.approx(math.sqrt(0.5))
    assert metrics.mae(np.array([1, 3]), np.array([2, 5])) == pytest.approx(1.5)


def test_beyond_accuracy():
    recommended = np.array([[0, 1], [1, 2]])
    assert metrics.catalogue_coverage(recommended, 10) == pytest.approx(0.3)
    assert metrics.novelty(np.array([[0, 1]]), np.array([1, 4]), 4) == pytest.approx(1.0)
    assert metrics.mean_popularity(np.array([[0, 1]]), np.array([1, 4])) == pytest.approx(2.5)
    features = sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    assert metrics.intra_list_diversity(np.array([[0, 1, 2]]), features) == pytest.approx(2 / 3)
    # -1 (no item) is ignored: a list of two identical items has diversity 0
    assert metrics.intra_list_diversity(np.array([[0, 1, -1]]), features) == pytest.approx(0.0)
