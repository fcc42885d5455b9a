"""What a model's run logs as params, the ones a person compares runs on first: `family` (its name in
params.yaml `models`), `algorithm` (what it does, in a few words), then `model.<hyper-parameter>`."""

from __future__ import annotations

from typing import Any

from mindshare.models import FAMILY_KEY
from mindshare.tracking.runs import flatten_params

# family class name -> what it does; the svd family by its `algorithm` hyper-parameter
ALGORITHMS = {
    "popularity": "most popular items",
    "baseline": "global mean + user and item biases",
    "user_knn": "user-based kNN",
    "item_knn": "item-based kNN",
    "item_knn_ease": "EASE item-item regression",
    "lightgbm": "LightGBM LambdaRank re-ranker",
    "mlp": "MLP re-ranker",
}
SVD_ALGORITHMS = {
    "implicit_als": "implicit ALS matrix factorisation",
    "bpr": "BPR matrix factorisation",
    "truncated": "PureSVD (truncated SVD)",
    "biased_als": "biased matrix factorisation (ALS, ratings)",
}


def algorithm_name(family: str, params: dict[str, Any]) -> str | None:
    """A short human name of what family `family` does with these hyper-parameters (None if not known)."""
    if family == "svd":
        return SVD_ALGORITHMS.get(params.get("algorithm") or "implicit_als")
    return ALGORITHMS.get(family)


def family_of(name: str, params: dict[str, Any]) -> str:
    """The family a model name runs: params.yaml may name another (`svd_biased: {family: svd}`)."""
    return params.get(FAMILY_KEY) or name


def model_run_params(name: str, params: dict[str, Any], family: str | None = None) -> dict[str, str]:
    """family, algorithm, then model.<hyper-parameter> for each set one (the family key is `family_of`)."""
    family = family or family_of(name, params)
    hyper = {key: value for key, value in params.items() if key != FAMILY_KEY}
    return flatten_params({"family": name, "algorithm": algorithm_name(family, hyper), "model": hyper})
