"""Model families behind one contract, and the name -> class registry that stages use."""

from __future__ import annotations

from typing import Any

from mindshare.errors import MindshareError
from mindshare.models.base import Recommender
from mindshare.models.item_knn import ItemKNN
from mindshare.models.popularity import Popularity

MODEL_FAMILIES: dict[str, type[Recommender]] = {
    Popularity.name: Popularity,
    ItemKNN.name: ItemKNN,
}


def make_model(name: str, params: dict[str, Any] | None = None) -> Recommender:
    """Instantiate a family by name with its hyper-parameters, refusing unknown names and keys."""
    if name not in MODEL_FAMILIES:
        raise MindshareError(
            f"params.yaml: unknown model '{name}' in models; known: {', '.join(sorted(MODEL_FAMILIES))}"
        )
    family = MODEL_FAMILIES[name]
    params = dict(params or {})
    try:
        return family(**params)
    except TypeError:
        allowed = ", ".join(family().get_params()) or "none"
        raise MindshareError(
            f"params.yaml: model_params.{name} has a key the model does not take; allowed: {allowed}"
        ) from None
