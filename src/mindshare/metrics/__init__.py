"""Metrics: pure functions over arrays, shared by every model, stage and benchmark.

Ranking metrics take `hits`, a (users x k) boolean array (hits[u, j]: the item at rank j+1 of
user u's list is relevant), and `n_relevant`, each user's number of relevant test items (every
row a user with at least one). Names are the ones used in JSON, CLI and MLflow.
"""

from importlib import import_module

# name -> submodule, imported on first use: `mindshare.metrics.names` (read by the settings and the CLI)
# must not pull in scipy.stats through `significance`
_WHERE = {
    "beyond_accuracy": ("catalogue_coverage", "intra_list_diversity", "mean_popularity", "novelty"),
    "ranking": ("hit_matrix", "hit_rate_at_k", "map_at_k", "map_at_k_over_relevant", "mrr_at_k", "ndcg_at_k",
                "new_item_recall_at_k", "per_user", "precision_at_k", "recall_at_k", "repeat_hit_share_at_k"),
    "rating": ("RATING_METRICS", "mae", "rmse"),
    "significance": ("PairedComparison", "bootstrap_ci", "paired_comparison"),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
