"""Uplift: the metrics against scikit-uplift's own functions, the learners on simulated people whose effects are
known, and the bench on a randomised campaign table."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mindshare.metrics import uplift as metrics


def _experiment(seed: int, n: int = 3000, continuous: bool = False, ties: bool = False):
    rng = np.random.default_rng(seed)
    treatment = rng.integers(0, 2, n)
    score = rng.normal(size=n)
    outcome = (rng.random(n) < 0.1 + 0.08 * treatment * (score > 0)).astype(float)
    if continuous:
        outcome *= rng.exponential(30.0, n)
    uplift = score + rng.normal(scale=0.5, size=n)
    return outcome, (uplift.round(1) if ties else uplift), treatment


@pytest.mark.parametrize("seed,ties", [(0, False), (1, True), (2, False)])
def test_the_metrics_give_scikit_uplifts_numbers(seed, ties):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sklift import metrics as sklift

    outcome, uplift, treatment = _experiment(seed, ties=ties)
    for name in ("uplift_curve", "qini_curve"):
        for ours, theirs in zip(getattr(metrics, name)(outcome, uplift, treatment),
                                getattr(sklift, name)(outcome, uplift, treatment)):
            np.testing.assert_allclose(ours, theirs)
    perfect = metrics.perfect_qini_curve(outcome, treatment), sklift.perfect_qini_curve(outcome, treatment)
    for ours, theirs in zip(*perfect):
        np.testing.assert_allclose(ours, theirs)
    assert metrics.qini_auc_score(outcome, uplift, treatment) == pytest.approx(
        sklift.qini_auc_score(outcome, uplift, treatment), rel=1e-12)
    assert metrics.uplift_auc_score(outcome, uplift, treatment) == pytest.approx(
        sklift.uplift_auc_score(outcome, uplift, treatment), rel=1e-12)
    for strategy in ("overall", "by_group"):
        for k in (0.3, 0.1, 250):
            assert metrics.uplift_at_k(outcome, uplift, treatment, k, strategy) == pytest.approx(
                sklift.uplift_at_k(outcome, uplift, treatment, strategy=strategy, k=k), rel=1e-12)


def test_the_qini_auc_is_1_for_the_best_ranking_0_for_random_and_negative_for_the_reverse():
    outcome, _, treatment = _experiment(3, n=20_000)
    best = outcome * treatment - outcome * (1 - treatment)
    assert metrics.qini_auc_score(outcome, best, treatment) == pytest.approx(1.0)
    assert metrics.qini_auc_score(outcome, -best, treatment) < -0.5
    random = np.random.default_rng(0).random(len(outcome))
    assert abs(metrics.qini_auc_score(outcome, random, treatment)) < 0.1
    outcome, uplift, treatment = _experiment(4, n=20_000, continuous=True)  # spend: the same curves, any value
    assert metrics.qini_auc_score(outcome, uplift, treatment) > 0.04  # the perfect ranking sets a high bar here
    x, y = metrics.qini_curve(outcome, uplift, treatment)
    assert metrics.incremental_outcomes(outcome, uplift, treatment, 1.0) == pytest.approx(y[-1])
    assert metrics.incremental_outcomes(outcome, uplift, treatment, 0.0) == 0.0


def test_bad_arrays_are_refused():
    with pytest.raises(ValueError, match="differ in length"):
        metrics.qini_curve([1, 0], [0.1], [1, 0])
    with pytest.raises(ValueError, match="treatment must be 0"):
        metrics.qini_curve([1, 0], [0.1, 0.2], [2, 0])
    with pytest.raises(ValueError, match="strategy"):
        metrics.uplift_at_k([1, 0], [0.1, 0.2], [1, 0], 0.5, "each")
