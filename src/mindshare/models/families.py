"""The name -> class registry: the base families here, the re-rankers (which build base families by
name) added in mindshare.models; one `build_model` checks names and hyper-parameters for both."""

from __future__ import annotations

from typing import Any

from mindshare.data.interactions import Interactions
from mindshare.errors import MindshareError, suggestion
from mindshare.models.base import Recommender
from mindshare.models.baseline import Baseline
from mindshare.models.content import ContentTfidf
from mindshare.models.ease import EASE
from mindshare.models.item_knn import ItemKNN
from mindshare.models.popularity import Popularity
from mindshare.models.rp3beta import RP3Beta
from mindshare.models.slim import SLIM
from mindshare.models.svd import SVD
from mindshare.models.user_knn import UserKNN

BASE_FAMILIES: dict[str, type[Recommender]] = {
    family.name: family for family in (Popularity, Baseline, UserKNN, ItemKNN, EASE, RP3Beta, SLIM, SVD, ContentTfidf)
}
FAMILY_KEY = "family"  # in model_params.<name>: run family X under another name, e.g. a variant


def build_model(families: dict[str, type[Recommender]], name: str, params: dict[str, Any] | None = None
                ) -> Recommender:
    """Instantiate a model by name with its hyper-parameters, refusing unknown names and keys.

    `params` may name the family (`family: svd`) so that variants get names of their own.
    """
    params = dict(params or {})
    family_name = params.pop(FAMILY_KEY, name)
    if family_name not in families:
        raise MindshareError(
            f"params.yaml: unknown model '{family_name}' in models{suggestion(family_name, sorted(families))} "
            f"(or give model_params.{name}.family)"
        )
    family = families[family_name]
    allowed = family().get_params()
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise MindshareError(f"params.yaml: model_params.{name}.{unknown[0]} is not a parameter of {family_name}"
                             f"{suggestion(unknown[0], list(allowed))}")
    return family(**params)


def make_base(spec: str) -> Recommender:
    """A re-ranker's base: 'family' or 'family:algorithm' (e.g. 'svd:biased_als') with the library defaults."""
    family, _, algorithm = spec.partition(":")
    return build_model(BASE_FAMILIES, family, {"algorithm": algorithm} if algorithm else {})


def fitted_base(train: Interactions, spec: str) -> Recommender:
    """`make_base(spec)` fitted on `train`, once per (train, spec): a re-ranker whose base families and
    rating models name the same family holds one fitted model, not two equal ones (and saves one)."""
    return train.memo(("fitted_base", spec), lambda: make_base(spec).fit(train))
