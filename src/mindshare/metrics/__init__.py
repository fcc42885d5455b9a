"""Metrics: pure functions over arrays, shared by every model, stage and benchmark.

Ranking metrics take `hits`, a (users x k) boolean array (hits[u, j]: the item at rank j+1 of
user u's list is relevant), and `n_relevant`, each user's number of relevant test items (every
row a user with at least one). Names are the ones used in JSON, CLI and MLflow.
"""

from mindshare.metrics.beyond_accuracy import catalogue_coverage, intra_list_diversity, mean_popularity, novelty
from mindshare.metrics.ranking import (
    hit_rate_at_k,
    map_at_k,
    map_at_k_over_relevant,
    mrr_at_k,
    ndcg_at_k,
    per_user,
    precision_at_k,
    recall_at_k,
)
from mindshare.metrics.rating import RATING_METRICS, mae, rmse
from mindshare.metrics.significance import PairedComparison, bootstrap_ci, paired_comparison

__all__ = [
    "PairedComparison", "RATING_METRICS", "bootstrap_ci", "paired_comparison", "per_user",
    "catalogue_coverage", "hit_rate_at_k", "intra_list_diversity", "mae", "map_at_k", "map_at_k_over_relevant",
    "mean_popularity", "mrr_at_k", "ndcg_at_k", "novelty", "precision_at_k", "recall_at_k", "rmse",
]
