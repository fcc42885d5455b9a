"""Model families behind one contract, and the name -> class registry that stages use."""

from __future__ import annotations

from typing import Any

from mindshare.models.base import Recommender
from mindshare.models.families import BASE_FAMILIES, FAMILY_KEY, build_model
from mindshare.models.lightgbm_ranker import LightGBMRanker
from mindshare.models.mlp import MLPRanker

MODEL_FAMILIES: dict[str, type[Recommender]] = {**BASE_FAMILIES, LightGBMRanker.name: LightGBMRanker,
                                                MLPRanker.name: MLPRanker}

__all__ = ["FAMILY_KEY", "MODEL_FAMILIES", "Recommender", "make_model"]


def make_model(name: str, params: dict[str, Any] | None = None) -> Recommender:
    """Instantiate any family (re-rankers included) by name, refusing unknown names and keys."""
    return build_model(MODEL_FAMILIES, name, params)
