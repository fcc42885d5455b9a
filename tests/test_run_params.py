"""What runs log as params: no placeholder values; a model's family, algorithm and hyper-parameters."""

from __future__ import annotations

from mindshare.tracking.model_params import model_run_params
from mindshare.tracking.runs import flatten_params


def test_placeholders_log_nothing():
    params = {"prepare": {"relevant_min_rating": None, "seed": 42, "split": {"protocol": "random_per_user"}},
              "ingest": {"columns": {}, "event_weights": None, "name": "unknown", "items_path": ""},
              "evaluate": {"ks": [10], "sample_users": None, "empty": []}, "flag": False, "zero": 0}
    assert flatten_params(params) == {"prepare.seed": "42", "prepare.split.protocol": "random_per_user",
                                      "evaluate.ks": "[10]", "flag": "False", "zero": "0"}


def test_a_model_run_names_its_family_and_algorithm():
    assert model_run_params("svd_biased", {"family": "svd", "algorithm": "biased_als", "factors": 20,
                                           "iterations": None, "seed": 0}) == {
        "family": "svd_biased", "algorithm": "biased matrix factorisation (ALS, ratings)",
        "model.algorithm": "biased_als", "model.factors": "20", "model.seed": "0"}
    lightgbm = model_run_params("lightgbm", {"base_models": ("item_knn_ease", "svd"), "rating_models": []},
                                family="lightgbm")
    assert lightgbm == {"family": "lightgbm", "algorithm": "LightGBM LambdaRank re-ranker",
                        "model.base_models": '["item_knn_ease", "svd"]'}
    assert list(model_run_params("popularity", {})) == ["family", "algorithm"]
    assert "algorithm" not in model_run_params("novel", {"k": 1})  # unknown family: no placeholder
