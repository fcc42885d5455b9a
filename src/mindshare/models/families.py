"""The name -> class registry: the base families here, the re-rankers (which build base families by
name) added in mindshare.models; one `build_model` checks names and hyper-parameters for both."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from mindshare.data.interactions import Interactions
from mindshare.errors import MindshareError, suggestion
from mindshare.models.base import Recommender
from mindshare.models.baseline import Baseline
from mindshare.models.buy_again import BuyAgain
from mindshare.models.content import ContentTfidf
from mindshare.models.ease import EASE
from mindshare.models.item_knn import ItemKNN
from mindshare.models.popularity import Popularity
from mindshare.models.rp3beta import RP3Beta
from mindshare.models.slim import SLIM
from mindshare.models.svd import SVD
from mindshare.models.user_knn import UserKNN

BASE_FAMILIES: dict[str, type[Recommender]] = {
    family.name: family for family in (Popularity, Baseline, UserKNN, ItemKNN, EASE, RP3Beta, SLIM, SVD, ContentTfidf,
                                       BuyAgain)
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


def make_base(spec: str, params: dict | None = None) -> Recommender:
    """A re-ranker's base: 'family' or 'family:algorithm' (e.g. 'svd:biased_als') with `params` (a re-ranker's
    `base_params`), else the library defaults."""
    family, _, algorithm = spec.partition(":")
    return build_model(BASE_FAMILIES, family, {**(params or {}), **({"algorithm": algorithm} if algorithm else {})})


def fitted_base(train: Interactions, spec: str, answer_users: np.ndarray | None = None,
                params: dict | None = None) -> Recommender:
    """`make_base(spec, params)` fitted on `train` (for `answer_users` alone where given, see models/base.py), once
    per (train, spec, answer_users, params): a re-ranker whose base families and rating models name the same family
    holds one fitted model, not two equal ones (and saves one)."""
    key = ("fitted_base", spec, users_key(answer_users), params_key(params))
    return train.memo(key, lambda: base_for(spec, answer_users, params).fit(train))


def base_for(spec: str, answer_users: np.ndarray | None, params: dict | None = None) -> Recommender:
    """`make_base(spec, params)`, to be fitted for `answer_users` alone where given."""
    base = make_base(spec, params)
    base.answer_users = answer_users
    return base


def params_key(params: dict | None) -> str:
    """A memo key of hyper-parameters."""
    return json.dumps(params or {}, sort_keys=True, default=str)


def users_key(users: np.ndarray | None) -> str | None:
    """A memo key of a set of user indices (None: every user)."""
    if users is None:
        return None
    return hashlib.sha1(np.unique(np.asarray(users, dtype=np.int64)).tobytes()).hexdigest()
