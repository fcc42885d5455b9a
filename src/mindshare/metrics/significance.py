"""How sure is a metric: bootstrap confidence intervals over users, and paired comparisons of two
models on the same users. Pure functions over per-user values (see `ranking.per_user`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

N_RESAMPLES = 1000


def bootstrap_ci(values: np.ndarray, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean over users (scipy.stats.bootstrap)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2 or np.all(values == values[0]):
        mean = float(values.mean()) if len(values) else float("nan")
        return mean, mean
    result = stats.bootstrap((values,), np.mean, confidence_level=level, n_resamples=N_RESAMPLES,
                             method="percentile", random_state=seed, vectorized=True)
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


@dataclass(frozen=True)
class PairedComparison:
    difference: float  # mean over users of a - b
    low: float  # bootstrap interval of that mean
    high: float
    p_value: float  # paired t-test
    n_users: int

    @property
    def significant(self) -> bool:
        """a is better than b: the whole interval of the difference is above zero."""
        return self.low > 0

    def describe(self, metric: str, a: str, b: str) -> str:
        verdict = "significant" if self.significant else "not significant"
        return (f"{a} - {b} on {metric}: {self.difference:+.4f} (95% CI {self.low:+.4f} to {self.high:+.4f}, "
                f"paired over {self.n_users} users, p={self.p_value:.3g}): {verdict}")


def paired_comparison(a: np.ndarray, b: np.ndarray, level: float = 0.95, seed: int = 0) -> PairedComparison:
    """Compare two models' per-user values on the same users (same order); positive favours a."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired values need the same users: {a.shape} vs {b.shape}")
    difference = a - b
    low, high = bootstrap_ci(difference, level, seed)
    p_value = float(stats.ttest_rel(a, b).pvalue) if len(a) > 1 and np.any(difference != difference[0]) else 1.0
    return PairedComparison(float(difference.mean()) if len(a) else float("nan"), low, high, p_value, len(a))
