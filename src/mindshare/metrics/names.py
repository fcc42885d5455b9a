"""The names of the metrics that evaluation reports, for checking names people write (params.yaml)."""

from __future__ import annotations

import re

AT_EACH_K = ("precision", "recall", "ndcg", "map", "hit_rate", "mrr")  # at every k of evaluate.ks
AT_LARGEST_K = ("coverage", "novelty", "diversity", "mean_popularity",  # beyond accuracy, at the largest k
                "repeat_hit_share", "new_item_recall")  # repeat and explore told apart (Li et al. 2023)
WHOLE_LIST = ("map", "rmse", "mae")
LOWER_IS_BETTER = ("rmse", "mae")


def metric_names(ks: list[int]) -> list[str]:
    """Every metric name evaluation reports for these k, e.g. [10] -> ndcg_at_10, coverage_at_10, rmse, ..."""
    names = [f"{name}_at_{k}" for k in ks for name in AT_EACH_K]
    names += [f"{name}_at_{max(ks)}" for name in AT_LARGEST_K]
    return names + list(WHOLE_LIST)


BY_GROUP = re.compile(r"^(cold_start|cold_start_model_only|new_users|new_users_popular|new_items|"
                      r"new_items_unpersonalised|segment_\w+|activity_\w+)_"
                      rf"(?P<metric>(?:{'|'.join(AT_EACH_K)})_at_\d+)$")


def is_reported(name: str, ks: list[int]) -> bool:
    """A metric evaluation reports for these k: one of `metric_names(ks)`, or one of those at k measured on
    a group (cold start, new users, new items, a segment, an activity bucket), e.g. cold_start_ndcg_at_10."""
    known = metric_names(ks)
    match = BY_GROUP.match(name)
    return name in known or (match is not None and match.group("metric") in known)


def greater_is_better(metric: str) -> bool:
    return not metric.startswith(LOWER_IS_BETTER)
