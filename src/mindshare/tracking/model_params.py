"""What a model's run logs as params, the ones a person compares runs on first: `family` (its name in
params.yaml `models`), `algorithm` (what it does, in a few words), then `model.<hyper-parameter>`."""

from __future__ import annotations

from typing import Any

from mindshare.models import FAMILY_KEY, MODEL_FAMILIES
from mindshare.tracking.runs import flatten_params


def algorithm_name(family: str, params: dict[str, Any]) -> str | None:
    """A short human name of what family `family` does with these hyper-parameters (None if not known)."""
    family_class = MODEL_FAMILIES.get(family)
    return (family_class.describe(params) or None) if family_class is not None else None


def family_of(name: str, params: dict[str, Any]) -> str:
    """The family a model name runs: params.yaml may name another (`svd_biased: {family: svd}`)."""
    return params.get(FAMILY_KEY) or name


def model_run_params(name: str, params: dict[str, Any], family: str | None = None) -> dict[str, str]:
    """family, algorithm, then model.<hyper-parameter> for each set one (the family key is `family_of`)."""
    family = family or family_of(name, params)
    hyper = {key: value for key, value in params.items() if key != FAMILY_KEY}
    return flatten_params({"family": name, "algorithm": algorithm_name(family, hyper), "model": hyper})
