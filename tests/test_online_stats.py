"""The online experiment's statistics: hand-computed values from the docstrings, and seeded simulations of whole
monitoring paths (A/A false verdicts however often one looks, power, coverage of the confidence sequences)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats

from mindshare.metrics.online import (
    ArmTotals,
    always_valid_p_value,
    confidence_sequence,
    mean_interval,
    preference_confidence_sequence,
    preference_p_value,
    preference_verdict,
    verdict,
    wilson_interval,
)

ALPHA = 0.05
MONTE_CARLO_ALLOWANCE = 0.02  # 400 paths: the standard error of a 0.05 rate is 0.011
PATHS, USERS, EVERY = 400, 2000, 50


def totals_at_looks(values: np.ndarray, every: int) -> ArmTotals:
    """Cumulative totals of (paths x users) per-user values after every `every` users."""
    looks = np.arange(every, values.shape[1] + 1, every)
    return ArmTotals(looks, np.cumsum(values, axis=1)[:, looks - 1], np.cumsum(values**2, axis=1)[:, looks - 1])


def one_path(arm: ArmTotals, path: int) -> ArmTotals:
    return ArmTotals(arm.users[path], arm.total[path], arm.total_of_squares[path])


def conversions(rng: np.random.Generator, rate: float, paths: int = PATHS, users: int = USERS) -> np.ndarray:
    return (rng.random((paths, users)) < rate).astype(np.float64)


def click_rates(rng: np.random.Generator, rate: float) -> np.ndarray:
    """Per-user CTR: clicks / exposures, 1 + Poisson(4) exposures each."""
    exposures = 1 + rng.poisson(4, (PATHS, USERS))
    return rng.binomial(exposures, rate) / exposures


def values(rng: np.random.Generator, scale: float) -> np.ndarray:
    """A skewed per-user value (lognormal), the kind of revenue per user."""
    return scale * rng.lognormal(0.0, 1.0, (PATHS, USERS))


def test_ab_statistic_by_hand():
    production, challenger = ArmTotals(100, 10, 10), ArmTotals(100, 20, 20)  # 10 and 20 of 100 converted
    v = (10 - 100 * 0.1**2) / 99 / 100 + (20 - 100 * 0.2**2) / 99 / 100
    tau2 = 0.01
    likelihood_ratio = math.sqrt(v / (v + tau2)) * math.exp(tau2 * 0.1**2 / (2 * v * (v + tau2)))
    assert likelihood_ratio == pytest.approx(2.1817, abs=1e-4)
    assert always_valid_p_value(production, challenger, tau2)[0] == pytest.approx(1 / likelihood_ratio)
    half = math.sqrt(2 * v * (v + tau2) / tau2 * (math.log(1 / ALPHA) + 0.5 * math.log((v + tau2) / v)))
    low, high = confidence_sequence(production, challenger, ALPHA, tau2)
    assert (low[0], high[0]) == pytest.approx((0.1 - half, 0.1 + half))
    # the default tau^2 = 0.05^2 x pooled variance: the same test in any unit of the metric
    rng = np.random.default_rng(1)
    a, b = rng.lognormal(size=300), rng.lognormal(0.2, size=300)
    p = always_valid_p_value(ArmTotals.of(a), ArmTotals.of(b))
    assert always_valid_p_value(ArmTotals.of(100 * a), ArmTotals.of(100 * b)) == pytest.approx(p)


def test_preference_statistic_by_hand():
    a = (1 / (4 * 0.05**2) - 1) / 2
    log_beta = lambda x, y: special.gammaln(x) + special.gammaln(y) - special.gammaln(x + y)  # noqa: E731
    likelihood_ratio = math.exp(log_beta(a + 60, a + 40) - log_beta(a, a) + 100 * math.log(2))
    assert likelihood_ratio == pytest.approx(1.9376, abs=1e-4)
    assert preference_p_value(60, 40)[0] == pytest.approx(1 / likelihood_ratio)
    low, high = preference_confidence_sequence(60, 40)
    for end in (low[0], high[0]):  # the ends are where the mixture likelihood ratio against that share is 1/alpha
        log_ratio = log_beta(a + 60, a + 40) - log_beta(a, a) - 60 * math.log(end) - 40 * math.log(1 - end)
        assert log_ratio == pytest.approx(math.log(1 / ALPHA), abs=1e-9)
    assert low[0] < 0.6 < high[0]


def test_fixed_horizon_intervals_by_hand():
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0
    assert mean_interval([1, 2, 3, 4, 5]) == pytest.approx((3 - 1.959964 * 0.707107, 3 + 1.959964 * 0.707107))
    assert mean_interval([2.0, 2.0, 2.0]) == (2.0, 2.0)
    with pytest.raises(ValueError, match="trials >= 1"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="at least 2"):
        mean_interval([1.0])


@pytest.mark.parametrize("metric", ["conversion", "ctr", "value"])
def test_aa_false_verdicts_stay_below_alpha_however_often_one_looks(metric):
    rng = np.random.default_rng({"conversion": 0, "ctr": 1, "value": 2}[metric])
    draw = {"conversion": lambda: conversions(rng, 0.1), "ctr": lambda: click_rates(rng, 0.1),
            "value": lambda: values(rng, 30.0)}[metric]
    production, challenger = totals_at_looks(draw(), EVERY), totals_at_looks(draw(), EVERY)
    p_values = always_valid_p_value(production, challenger)
    assert np.all(np.isfinite(p_values)) and np.all(np.diff(p_values, axis=1) <= 0)  # a running minimum
    false_verdict_rate = np.mean((p_values < ALPHA).any(axis=1))
    assert false_verdict_rate <= ALPHA + MONTE_CARLO_ALLOWANCE
    if metric != "conversion":
        return
    # the verdict of each path at its last look agrees: once left, "keep going" never comes back
    decisions = [verdict(one_path(production, i), one_path(challenger, i)).decision for i in range(PATHS)]
    assert np.mean([d != "keep going" for d in decisions]) == false_verdict_rate
    # the naive fixed-horizon z-test read at every look says "significant" far more often than alpha
    rate_a, rate_b = production.total / production.users, challenger.total / challenger.users
    pooled = (rate_a + rate_b) / 2
    z = (rate_b - rate_a) / np.sqrt(pooled * (1 - pooled) * 2 / production.users)
    naive_rate = np.mean((np.abs(z) > stats.norm.ppf(1 - ALPHA / 2)).any(axis=1))
    assert naive_rate > 2 * ALPHA
    assert naive_rate > 2 * false_verdict_rate


def test_power_better_and_worse_within_bounded_users():
    rng = np.random.default_rng(3)
    paths, users, every = 200, 12_000, 200
    low_rate, high_rate = totals_at_looks(conversions(rng, 0.10, paths, users), every), totals_at_looks(
        conversions(rng, 0.12, paths, users), every)
    for production, challenger, right, wrong in ((low_rate, high_rate, "better", "worse"),
                                                 (high_rate, low_rate, "worse", "better")):
        decisions = [verdict(one_path(production, i), one_path(challenger, i)).decision for i in range(paths)]
        assert decisions.count(right) >= 0.9 * paths
        assert decisions.count(wrong) == 0
    # the confidence sequence holds the true difference at every look on at least 1 - alpha of the paths
    low, high = confidence_sequence(low_rate, high_rate)
    covered = ((low <= 0.02) & (0.02 <= high)).all(axis=1)
    assert covered.mean() >= 1 - ALPHA
    # and excludes 0 exactly when the always-valid p-value is below alpha
    outside = (low > 0) | (high < 0)
    assert np.array_equal(outside, always_valid_p_value(low_rate, high_rate) < ALPHA)


def test_confidence_sequence_covers_zero_on_aa_paths():
    rng = np.random.default_rng(4)
    low, high = confidence_sequence(totals_at_looks(conversions(rng, 0.1), EVERY),
                                    totals_at_looks(conversions(rng, 0.1), EVERY))
    assert ((low <= 0) & (0 <= high)).all(axis=1).mean() >= 1 - ALPHA
    assert np.all(high - low > 0)
    assert np.all(np.diff(low, axis=1) >= 0) and np.all(np.diff(high, axis=1) <= 0)  # each look narrows the last


def bernoulli_totals(users: int, rate: float, variance: float) -> ArmTotals:
    """Totals of an arm whose mean and sample variance are given (the projection's 'estimate stays put')."""
    return ArmTotals(users, rate * users, (users - 1) * variance + users * rate**2)


def test_users_still_needed_is_where_the_boundary_is_crossed_and_falls_as_the_effect_grows():
    users, base = 1000, 0.10
    needed = []
    for effect in (0.005, 0.01, 0.02):
        production, challenger = bernoulli_totals(users, base, base * (1 - base)), bernoulli_totals(
            users, base + effect, (base + effect) * (1 - base - effect))
        result = verdict(production, challenger)
        assert result.decision == "keep going"
        assert isinstance(result.users_still_needed, int) and 0 < result.users_still_needed < 10**7
        needed.append(result.users_still_needed)
        # with m more users per arm and the same means and variances the test just crosses, with m - 1 it does not
        for extra, crossed in ((result.users_still_needed, True), (result.users_still_needed - 1, False)):
            p_then = verdict(bernoulli_totals(users + extra, base, base * (1 - base)),
                             bernoulli_totals(users + extra, base + effect, (base + effect) * (1 - base - effect)),
                             tau_squared=_tau_squared_at(production, challenger)).p_value
            assert (p_then <= ALPHA) == crossed
    assert needed[0] > needed[1] > needed[2]
    decided = verdict(bernoulli_totals(users, 0.10, 0.09), bernoulli_totals(users, 0.20, 0.16))
    assert decided.decision == "better" and decided.users_still_needed is None
    assert verdict(bernoulli_totals(users, 0.1, 0.09), bernoulli_totals(users, 0.1, 0.09)).users_still_needed is None


def _tau_squared_at(production: ArmTotals, challenger: ArmTotals) -> float:
    """The default mixing variance at these totals (fixed by the projection): 0.05^2 x pooled variance."""
    n_a, n_b = production.users[-1], challenger.users[-1]
    pooled = ((n_a - 1) * production.variance[-1] + (n_b - 1) * challenger.variance[-1]) / (n_a + n_b - 2)
    return 0.05**2 * float(pooled)


def test_interleaving_aa_stays_keep_going_and_a_60_40_preference_is_better():
    rng = np.random.default_rng(5)
    looks = np.arange(EVERY, USERS + 1, EVERY)
    wins = np.cumsum(rng.random((PATHS, USERS)) < 0.5, axis=1)[:, looks - 1]
    p_values = preference_p_value(wins, looks - wins)
    assert np.mean((p_values < ALPHA).any(axis=1)) <= ALPHA + MONTE_CARLO_ALLOWANCE
    low, high = preference_confidence_sequence(wins, looks - wins)
    assert ((low <= 0.5) & (0.5 <= high)).all(axis=1).mean() >= 1 - ALPHA
    assert np.all(np.diff(low, axis=1) >= 0) and np.all(np.diff(high, axis=1) <= 0)  # each look narrows the last
    for share, right in ((0.6, "better"), (0.4, "worse")):
        wins = np.cumsum(rng.random((200, USERS)) < share, axis=1)[:, looks - 1]
        decisions = [preference_verdict(wins[i], looks - wins[i]).decision for i in range(200)]
        assert decisions.count(right) >= 0.95 * 200
        low, high = preference_confidence_sequence(wins, looks - wins)
        assert ((low <= share) & (share <= high)).all(axis=1).mean() >= 1 - ALPHA
        outside = (low > 0.5) | (high < 0.5)  # 1/2 leaves the interval exactly when the p-value falls below alpha
        assert np.array_equal(outside, preference_p_value(wins, looks - wins) < ALPHA)
    undecided = preference_verdict([30, 55], [25, 45])
    assert undecided.decision == "keep going" and undecided.users_still_needed > 0
    assert preference_verdict([30, 60], [25, 40]).users_still_needed < undecided.users_still_needed


def finite_or_none(result) -> bool:
    numbers = [result.estimate, result.p_value, result.low, result.high, result.users_still_needed]
    return all(x is None or math.isfinite(x) for x in numbers)


@pytest.mark.parametrize("production, challenger", [
    (ArmTotals(5, 0, 0), ArmTotals(5, 0, 0)),  # nobody clicked
    (ArmTotals(5, 5, 5), ArmTotals(5, 5, 5)),  # everybody clicked
    (ArmTotals(5, 0, 0), ArmTotals(5, 5, 5)),  # no spread in either arm, though the means differ
    (ArmTotals(1, 1, 1), ArmTotals(1, 0, 0)),  # one user each: no variance yet
])
def test_no_spread_means_keep_going_without_nan(production, challenger):
    result = verdict(production, challenger)
    assert result.decision == "keep going" and result.p_value == 1.0
    assert result.low is None and result.high is None and result.users_still_needed is None
    assert finite_or_none(result)


def test_edge_paths_stay_finite():
    # a path that starts with no users and no clicks, then gets spread; all clicks in the challenger
    production = ArmTotals([0, 50, 100], [0, 0, 10], [0, 0, 10])
    challenger = ArmTotals([0, 50, 100], [0, 50, 100], [0, 50, 100])
    p_values = always_valid_p_value(production, challenger)
    assert np.all(np.isfinite(p_values)) and p_values[0] == p_values[1] == 1.0 and p_values[2] < ALPHA
    result = verdict(production, challenger)
    assert result.decision == "better" and finite_or_none(result)
    only_wins = preference_verdict([0, 3], [0, 0])
    assert only_wins.decision == "keep going" and only_wins.high == 1.0 and finite_or_none(only_wins)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="no users yet"):
        verdict(ArmTotals(0, 0, 0), ArmTotals(10, 3, 3))
    with pytest.raises(ValueError, match="no user has preferred"):
        preference_verdict([0], [0])
    with pytest.raises(ValueError, match="users must be >= 0"):
        ArmTotals(-1, 0, 0)
    with pytest.raises(ValueError, match="one shape per look"):
        ArmTotals([1, 2], [1, 2, 3], [1, 2, 3])
    with pytest.raises(ValueError, match="sums of squared"):
        ArmTotals(10, 5, 1)
    with pytest.raises(ValueError, match="alpha"):
        verdict(ArmTotals(10, 3, 3), ArmTotals(10, 4, 4), alpha=1.5)
    with pytest.raises(ValueError, match="tau_squared"):
        always_valid_p_value(ArmTotals(10, 3, 3), ArmTotals(10, 4, 4), tau_squared=0.0)
    with pytest.raises(ValueError, match="tau_squared"):
        preference_p_value(3, 4, tau_squared=0.3)
    with pytest.raises(ValueError, match="one monitoring path"):
        verdict(ArmTotals(np.ones((2, 3)) * 10, 3, 3), ArmTotals(10, 4, 4))
