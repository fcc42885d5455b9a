"""Statistics of an online champion / challenger experiment: always-valid tests that may be read after every
batch of users without inflating false verdicts, and fixed-horizon intervals for the per-arm report.

A/B: the two-sample mixture sequential probability ratio test (mSPRT) of the difference of means, challenger
minus production, with a normal mixture N(0, tau^2) over the difference and plug-in per-arm variances
(Johari, Koomen, Pekelis & Walsh, "Always Valid Inference: Continuous Monitoring of A/B Tests", Operations
Research 70(3), 2022; arXiv:1512.04922). The per-user metric is clicks per exposure (CTR, a per-user rate),
0/1 conversion or value. Interleaving: the exact beta-binomial mixture test of the challenger's preference
share against 1/2 (Robbins 1970), no normal approximation. A monitoring path is arrays of cumulative totals
whose last axis is the look; leading axes (simulated paths, say) are carried along.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, special, stats

# A/B mixing sd, in pooled per-user standard deviations: tau^2 = STANDARDISED_EFFECT^2 * pooled variance
STANDARDISED_EFFECT = 0.05
PREFERENCE_TAU_SQUARED = 0.05**2  # interleaving: variance of the Beta(a, a) mixing over the preference share
_BISECTIONS = 60


@dataclass(frozen=True, eq=False)
class ArmTotals:
    """One arm's cumulative totals at each look (last axis): users, and sum and sum of squares of the
    per-user metric. Arrays of any shape that broadcast together."""

    users: np.ndarray
    total: np.ndarray
    total_of_squares: np.ndarray

    def __post_init__(self) -> None:
        names = ("users", "total", "total_of_squares")
        try:
            arrays = np.broadcast_arrays(*(np.atleast_1d(np.asarray(getattr(self, n), dtype=np.float64))
                                           for n in names))
        except ValueError:
            shapes = [np.shape(getattr(self, n)) for n in names]
            raise ValueError(f"arm totals: users, total and total_of_squares need one shape per look, got {shapes}") \
                from None
        for name, array in zip(names, arrays):
            if not np.all(np.isfinite(array)):
                raise ValueError(f"arm totals: {name} has NaN or infinite values; pass finite cumulative totals")
            object.__setattr__(self, name, array.copy())
        if np.any(self.users < 0):
            raise ValueError(f"arm totals: users must be >= 0, got {self.users.min():g}")
        if np.any((self.users == 0) & ((self.total != 0) | (self.total_of_squares != 0))):
            raise ValueError("arm totals: a look with 0 users has a non-zero total; pass cumulative totals per look")
        if np.any(self.total_of_squares - self.total * self.mean < -1e-9 * np.maximum(self.total_of_squares, 1.0)):
            raise ValueError("arm totals: total_of_squares < total**2 / users; pass sums of squared per-user values")

    @classmethod
    def of(cls, values: ArrayLike) -> ArmTotals:
        """One look's totals from per-user values (e.g. clicks / exposures, 0/1 conversions)."""
        values = np.asarray(values, dtype=np.float64)
        return cls(np.float64(values.size), values.sum(), np.square(values).sum())

    @property
    def mean(self) -> np.ndarray:
        """total / users; 0 where the arm has no users."""
        return np.divide(self.total, self.users, out=np.zeros_like(self.total), where=self.users > 0)

    @property
    def variance(self) -> np.ndarray:
        """Sample variance (sum x^2 - n mean^2) / (n - 1); 0 below 2 users or at rounding level of sum x^2 / n."""
        spread = self.total_of_squares - self.total * self.mean
        variance = np.divide(spread, self.users - 1, out=np.zeros_like(spread), where=self.users > 1)
        second_moment = np.divide(self.total_of_squares, self.users, out=np.zeros_like(spread), where=self.users > 0)
        return np.where(variance > 1e-12 * second_moment, variance, 0.0)


@dataclass(frozen=True)
class Verdict:
    """Where a champion / challenger experiment stands at its last look."""

    decision: str  # "better", "worse" or "keep going" for the challenger, at level alpha
    estimate: float  # A/B: challenger minus production mean; interleaving: the challenger's preference share
    low: float | None  # always-valid (1 - alpha) interval of the estimate; None while the data have no spread
    high: float | None
    p_value: float  # always-valid p-value of "no difference" (A/B: 0; interleaving: share 1/2)
    users_per_arm: tuple[int, int]  # (production, challenger); interleaving: users with a preference, twice
    users_still_needed: int | None  # more users per arm to the boundary if the estimate held; None once decided,
    # at no effect or without spread


def _decision(p_value: float, effect: float, alpha: float) -> str:
    if p_value < alpha and effect != 0:
        return "better" if effect > 0 else "worse"
    return "keep going"


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha} must be between 0 and 1 (e.g. online.alpha: 0.05 in params.yaml)")


def _running_p_value(log_lr: np.ndarray) -> np.ndarray:
    """p_n = min(1, min_{m <= n} 1 / Lambda_m) along the looks."""
    return np.minimum.accumulate(np.minimum(1.0, np.exp(-log_lr)), axis=-1)


def _running_intersection(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Intersection of the looks' intervals so far; a look's own interval where it is empty (chance <= alpha)."""
    running_low, running_high = np.maximum.accumulate(low, axis=-1), np.minimum.accumulate(high, axis=-1)
    empty = running_low > running_high
    return np.where(empty, low, running_low), np.where(empty, high, running_high)


def _default_tau_squared(production: ArmTotals, challenger: ArmTotals) -> np.ndarray:
    """STANDARDISED_EFFECT^2 times the pooled variance ((n_a - 1) s_a^2 + (n_b - 1) s_b^2) / (n_a + n_b - 2)."""
    spread = (production.users - 1).clip(0) * production.variance + (challenger.users - 1).clip(0) * challenger.variance
    degrees = np.maximum(production.users + challenger.users - 2, 1)
    return STANDARDISED_EFFECT**2 * spread / degrees


@dataclass(frozen=True)
class _DifferencePath:
    estimate: np.ndarray  # theta_n = mean_b - mean_a
    variance: np.ndarray  # V_n = s_a^2 / n_a + s_b^2 / n_b (1 where uninformative)
    tau_squared: np.ndarray  # (1 where uninformative)
    informative: np.ndarray  # both arms have >= 2 users and V_n > 0

    @property
    def log_lr(self) -> np.ndarray:
        """log Lambda_n = 1/2 log(V / (V + tau^2)) + tau^2 theta_n^2 / (2 V (V + tau^2)); 0 where uninformative."""
        v, t = self.variance, self.tau_squared
        return np.where(self.informative, 0.5 * np.log(v / (v + t)) + t * self.estimate**2 / (2 * v * (v + t)), 0.0)


def _difference_path(production: ArmTotals, challenger: ArmTotals, tau_squared: float | None) -> _DifferencePath:
    try:
        n_a, n_b = np.broadcast_arrays(production.users, challenger.users)
    except ValueError:
        raise ValueError(f"production and challenger need the same looks: shapes {production.users.shape} and "
                         f"{challenger.users.shape}") from None
    both = (n_a >= 2) & (n_b >= 2)
    variance = np.divide(production.variance, n_a, out=np.zeros(n_a.shape), where=both) + np.divide(
        challenger.variance, n_b, out=np.zeros(n_b.shape), where=both)
    if tau_squared is None:
        tau2 = np.broadcast_to(_default_tau_squared(production, challenger), variance.shape)
    elif not (math.isfinite(tau_squared) and tau_squared > 0):
        raise ValueError(f"tau_squared={tau_squared} must be a positive number (metric units squared) or None")
    else:
        tau2 = np.full(variance.shape, float(tau_squared))
    informative = both & (variance > 0) & (tau2 > 0)
    return _DifferencePath(np.broadcast_to(challenger.mean - production.mean, variance.shape),
                           np.where(informative, variance, 1.0), np.where(informative, tau2, 1.0), informative)


def always_valid_p_value(production: ArmTotals, challenger: ArmTotals, tau_squared: float | None = None) -> np.ndarray:
    """Always-valid p-value of H0: mean_b = mean_a at each look, p_n = min(1, min_{m<=n} 1 / Lambda_m), with
    Lambda_n = sqrt(V / (V + tau^2)) exp(tau^2 theta_n^2 / (2 V (V + tau^2))) (Johari et al. 2022, normal
    mixture; V = s_a^2 / n_a + s_b^2 / n_b plug-in). tau_squared None: STANDARDISED_EFFECT^2 x pooled variance,
    which makes the test the mSPRT of the standardised effect and free of the metric's units. Looks without
    spread (fewer than 2 users in an arm, zero variance) carry no evidence: Lambda = 1.

    Example: 10 of 100 vs 20 of 100 converted, tau_squared 0.01: V = 0.0909/100 + 0.1616/100 = 0.002525,
    Lambda = sqrt(0.2016) exp(1.5808) = 2.1817, p = 0.4584.
    """
    return _running_p_value(_difference_path(production, challenger, tau_squared).log_lr)


def _difference_interval(path: _DifferencePath, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    _check_alpha(alpha)
    v, t = path.variance, path.tau_squared
    half = np.where(path.informative, np.sqrt(2 * v * (v + t) / t * (math.log(1 / alpha) + 0.5 * np.log1p(t / v))),
                    np.inf)
    return _running_intersection(path.estimate - half, path.estimate + half)


def confidence_sequence(production: ArmTotals, challenger: ArmTotals, alpha: float = 0.05,
                        tau_squared: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Always-valid (1 - alpha) interval of mean_b - mean_a at each look: the running intersection of
    {theta : Lambda_n(theta) < 1 / alpha} = theta_n -/+ sqrt(2 V (V + tau^2) / tau^2 (log(1/alpha)
    + 1/2 log((V + tau^2) / V))), the inverted mSPRT. 0 lies outside exactly when the p-value is below alpha.
    (-inf, inf) until the first look with spread in both arms."""
    return _difference_interval(_difference_path(production, challenger, tau_squared), alpha)


def _users_until(log_lr_after: Callable[[float], float], target: float, start: float) -> int | None:
    """Smallest m > 0 with log_lr_after(m) = target, by bracketing then Brent's method; None if out of reach."""
    high = max(start, 1.0)
    while log_lr_after(high) < target:
        high *= 2
        if high > 1e15:
            return None
    return max(1, math.ceil(optimize.brentq(lambda m: log_lr_after(m) - target, 0.0, high)))


def verdict(production: ArmTotals, challenger: ArmTotals, alpha: float = 0.05,
            tau_squared: float | None = None) -> Verdict:
    """The challenger's verdict at the last look of one monitoring path (pass every look so far: the p-value is
    their running minimum; a single look is valid but slower). "better" / "worse" when p < alpha and the
    difference is > 0 / < 0. users_still_needed: the m more users per arm at which log Lambda reaches
    log(1/alpha) if the estimate theta were true and stayed put, V(m) = s_a^2 / (n_a + m) + s_b^2 / (n_b + m),
    tau^2 fixed (the law-of-large-numbers path, a median-like guess rather than a guarantee)."""
    path = _difference_path(production, challenger, tau_squared)
    if path.estimate.ndim != 1:
        raise ValueError(f"verdict reads one monitoring path (1-D looks), got shape {path.estimate.shape}")
    n_a, n_b = int(production.users[-1]), int(challenger.users[-1])
    if min(n_a, n_b) == 0:
        raise ValueError(f"no users yet in an arm (production {n_a}, challenger {n_b}): no verdict before both have")
    p_value = float(_running_p_value(path.log_lr)[-1])
    low, high = (float(end[-1]) for end in _difference_interval(path, alpha))
    estimate = float(path.estimate[-1])
    decision = _decision(p_value, estimate, alpha)
    needed = None
    if decision == "keep going" and estimate != 0 and path.informative[-1]:
        var_a, var_b, t = float(production.variance[-1]), float(challenger.variance[-1]), float(path.tau_squared[-1])

        def log_lr_after(m: float) -> float:
            v = var_a / (n_a + m) + var_b / (n_b + m)
            return 0.5 * math.log(v / (v + t)) + t * estimate**2 / (2 * v * (v + t))

        needed = _users_until(log_lr_after, math.log(1 / alpha), max(n_a, n_b))
    finite = math.isfinite(low) and math.isfinite(high)
    return Verdict(decision, estimate, low if finite else None, high if finite else None, p_value, (n_a, n_b), needed)


def _preference_counts(wins: ArrayLike, losses: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    wins, losses = np.broadcast_arrays(np.atleast_1d(np.asarray(wins, dtype=np.float64)),
                                       np.atleast_1d(np.asarray(losses, dtype=np.float64)))
    if not (np.all(np.isfinite(wins)) and np.all(np.isfinite(losses))) or np.any(wins < 0) or np.any(losses < 0):
        raise ValueError("wins and losses must be finite cumulative counts >= 0 (users preferring each arm)")
    return wins, losses


def _beta_parameter(tau_squared: float) -> float:
    """a of the Beta(a, a) mixing with variance 1 / (4 (2a + 1)) = tau^2."""
    if not 0 < tau_squared < 0.25:
        raise ValueError(f"tau_squared={tau_squared} must be in (0, 0.25): the variance of a share in [0, 1]")
    return (1 / (4 * tau_squared) - 1) / 2


def _preference_log_lr(wins: np.ndarray, losses: np.ndarray, share: ArrayLike, a: float) -> np.ndarray:
    """log Lambda = log B(a + W, a + L) - log B(a, a) - W log s - L log(1 - s), Beta(a, a) mixture vs share s."""
    return (special.betaln(a + wins, a + losses) - special.betaln(a, a)
            - special.xlogy(wins, share) - special.xlogy(losses, 1 - np.asarray(share)))


def preference_p_value(wins: ArrayLike, losses: ArrayLike, tau_squared: float = PREFERENCE_TAU_SQUARED) -> np.ndarray:
    """Always-valid p-value of H0: preference share = 1/2 from cumulative per-user wins W and losses L of the
    challenger (ties excluded), by the exact beta-binomial mixture martingale (Ville: P(ever p < alpha) <= alpha).

    Example: W = 60, L = 40, tau_squared 0.0025 (a = 49.5): Lambda = B(109.5, 89.5) / B(49.5, 49.5) x 2^100
    = 1.9376, p = 0.5161.
    """
    wins, losses = _preference_counts(wins, losses)
    return _running_p_value(_preference_log_lr(wins, losses, 0.5, _beta_parameter(tau_squared)))


def preference_confidence_sequence(wins: ArrayLike, losses: ArrayLike, alpha: float = 0.05,
                                   tau_squared: float = PREFERENCE_TAU_SQUARED) -> tuple[np.ndarray, np.ndarray]:
    """Always-valid (1 - alpha) interval of the preference share: the running intersection of {s : Lambda_n(s)
    < 1 / alpha}, an interval around W / (W + L) since log Lambda is convex in s; ends by bisection."""
    _check_alpha(alpha)
    wins, losses = _preference_counts(wins, losses)
    a, target = _beta_parameter(tau_squared), math.log(1 / alpha)
    n = wins + losses
    share = np.divide(wins, n, out=np.full(n.shape, 0.5), where=n > 0)
    ends = []
    for outside, inside in ((np.zeros(n.shape), share), (np.ones(n.shape), share)):
        for _ in range(_BISECTIONS):  # outside: Lambda >= 1/alpha (or the edge of [0, 1]); inside: below
            middle = (outside + inside) / 2
            beyond = _preference_log_lr(wins, losses, middle, a) >= target
            outside, inside = np.where(beyond, middle, outside), np.where(beyond, inside, middle)
        ends.append(outside)
    return _running_intersection(*ends)


def preference_verdict(wins: ArrayLike, losses: ArrayLike, alpha: float = 0.05,
                       tau_squared: float = PREFERENCE_TAU_SQUARED) -> Verdict:
    """The challenger's interleaving verdict at the last look: "better" / "worse" when p < alpha and the share
    W / (W + L) is above / below 1/2. users_still_needed: more users with a preference until log Lambda
    reaches log(1/alpha) if the share stayed put (W = share x n, L = (1 - share) x n, n growing)."""
    wins, losses = _preference_counts(wins, losses)
    if wins.ndim != 1:
        raise ValueError(f"preference_verdict reads one monitoring path (1-D looks), got shape {wins.shape}")
    n = int(wins[-1] + losses[-1])
    if n == 0:
        raise ValueError("no user has preferred either ranker yet (all ties or no traffic): no verdict before one has")
    share = float(wins[-1]) / n
    p_value = float(preference_p_value(wins, losses, tau_squared)[-1])
    low, high = (float(end[-1]) for end in preference_confidence_sequence(wins, losses, alpha, tau_squared))
    decision = _decision(p_value, share - 0.5, alpha)
    needed = None
    if decision == "keep going" and share != 0.5:
        a = _beta_parameter(tau_squared)

        def log_lr_after(m: float) -> float:
            total = n + m
            return float(_preference_log_lr(np.float64(share * total), np.float64((1 - share) * total), 0.5, a))

        needed = _users_until(log_lr_after, math.log(1 / alpha), n)
    return Verdict(decision, share, low, high, p_value, (n, n), needed)


def wilson_interval(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Fixed-horizon Wilson score interval of a proportion, scipy's binomtest(...).proportion_ci("wilson").
    Example: 5 of 10 at 95%: (0.2366, 0.7634)."""
    if trials < 1 or not 0 <= successes <= trials or successes != int(successes) or trials != int(trials):
        raise ValueError(f"wilson_interval needs whole counts 0 <= successes <= trials, trials >= 1; "
                         f"got {successes} of {trials}")
    interval = stats.binomtest(int(successes), int(trials)).proportion_ci(confidence_level=level, method="wilson")
    return float(interval.low), float(interval.high)


def mean_interval(values: ArrayLike, level: float = 0.95) -> tuple[float, float]:
    """Fixed-horizon normal interval of a mean, mean -/+ z_{(1+level)/2} s / sqrt(n).
    Example: [1, 2, 3, 4, 5] at 95%: 3 -/+ 1.96 x 0.7071 = (1.6141, 4.3859)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2 or not np.all(np.isfinite(values)):
        raise ValueError(f"mean_interval needs at least 2 finite per-user values, got {values.size}")
    mean, standard_error = float(values.mean()), float(stats.sem(values))
    if standard_error == 0:
        return mean, mean
    low, high = stats.norm.interval(level, loc=mean, scale=standard_error)
    return float(low), float(high)
