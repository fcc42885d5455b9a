"""Model families behind one contract, and the name -> class registry that stages use."""

from __future__ import annotations

from typing import Any

from mindshare.models.base import Recommender
from mindshare.models.families import BASE_FAMILIES, FAMILY_KEY, build_model
from mindshare.models.lightgbm_ranker import LightGBMRanker
from mindshare.models.mlp import MLPRanker

MODEL_FAMILIES: dict[str, type[Recommender]] = {**BASE_FAMILIES, LightGBMRanker.name: LightGBMRanker,
                                                MLPRanker.name: MLPRanker}

__all__ = ["FAMILY_KEY", "MODEL_FAMILIES", "Recommender", "make_model", "with_data_policy"]


def make_model(name: str, params: dict[str, Any] | None = None) -> Recommender:
    """Instantiate any family (re-rankers included) by name, refusing unknown names and keys."""
    return build_model(MODEL_FAMILIES, name, params)


def with_data_policy(name: str, params: dict[str, Any] | None, holdout_days: int | None,
                     repeats: bool) -> dict[str, Any]:
    """`params` of model `name` with what the evaluation protocol and the repeat policy ask of the families that
    take them (the re-rankers), where `params` leaves `repeats` unset: with `holdout_days` (a split by time)
    they learn on the last windows of that many days of their fit data, the future before the test's future;
    with `repeats` they rank the items people had, with the repeat signals and the buy_again family as their
    first base (it ranks those items)."""
    params = dict(params or {})
    model = make_model(name, params)
    accepted = model.get_params()
    if "repeats" not in accepted or "repeats" in params:
        return params
    if holdout_days:
        params.setdefault("holdout", "last_days")
        params.setdefault("holdout_days", int(holdout_days))
    params["repeats"] = bool(repeats)
    if repeats and "buy_again" not in model.base_models:
        params["base_models"] = ["buy_again", *model.base_models]
    return params
