"""The names of the metrics that evaluation reports, for checking names people write (params.yaml)."""

from __future__ import annotations

AT_EACH_K = ("precision", "recall", "ndcg", "map", "hit_rate", "mrr")  # at every k of evaluate.ks
AT_LARGEST_K = ("coverage", "novelty", "diversity", "mean_popularity")  # beyond accuracy, at the largest k
WHOLE_LIST = ("map", "rmse", "mae")
LOWER_IS_BETTER = ("rmse", "mae")


def metric_names(ks: list[int]) -> list[str]:
    """Every metric name evaluation reports for these k, e.g. [10] -> ndcg_at_10, coverage_at_10, rmse, ..."""
    names = [f"{name}_at_{k}" for k in ks for name in AT_EACH_K]
    names += [f"{name}_at_{max(ks)}" for name in AT_LARGEST_K]
    return names + list(WHOLE_LIST)


def greater_is_better(metric: str) -> bool:
    return not metric.startswith(LOWER_IS_BETTER)
