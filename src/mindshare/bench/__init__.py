"""Benchmarks on the field's published protocols: `mindshare bench ranking` and `bench rating`.

Each bench key maps to a family and the parameters that pick a variant; everything else is the
family's library default (the same values params.yaml ships).
"""

from __future__ import annotations

from pathlib import Path

RANKING_MODELS: dict[str, dict] = {
    "popularity": {"family": "popularity"},
    "user_knn": {"family": "user_knn"},
    "item_knn": {"family": "item_knn"},
    "item_knn_ease": {"family": "item_knn_ease"},
    # a shop's baselines and the buy-again family: own items by plain frequency, then with time decay and the
    # nearest users' histories (TIFU-kNN); they earn their place where repeats count (--protocol temporal)
    "own_items": {"family": "buy_again", "alpha": 1.0, "half_life_days": None},
    "buy_again": {"family": "buy_again"},
    "rp3beta": {"family": "rp3beta"},
    "slim": {"family": "slim"},
    "content": {"family": "content"},  # needs item text: the data's catalogue
    "svd": {"family": "svd"},  # implicit ALS: the family's ranking default
    "svd_ials": {"family": "svd", "algorithm": "ials"},  # the same solver, Rendle et al. 2022 settings
    "svd_spark": {"family": "svd", "algorithm": "spark_als"},  # implicit ALS on Spark MLlib: asked for by name only
    "lightgbm": {"family": "lightgbm", "learn": "ranking"},
    "mlp": {"family": "mlp", "learn": "ranking"},
}
RATING_MODELS: dict[str, dict] = {
    "baseline": {"family": "baseline"},
    "user_knn": {"family": "user_knn"},
    "item_knn": {"family": "item_knn"},
    "svd": {"family": "svd", "algorithm": "biased_als"},  # the family's rating algorithm
    "lightgbm": {"family": "lightgbm", "learn": "rating"},
    "mlp": {"family": "mlp", "learn": "rating"},
}


def bench_keys(known: dict[str, dict], path: str | None, protocol: str) -> dict[str, dict]:
    """The package's keys plus a bench file's (YAML, `{ranking: {key: {family: ..., param: value}}, rating: ...}`):
    variants measured once live in such a file, not in the package (docs/bench-variants.yaml)."""
    if not path:
        return known
    import yaml

    from mindshare.errors import MindshareError
    from mindshare.models import MODEL_FAMILIES

    try:
        entries = (yaml.safe_load(Path(path).read_text()) or {}).get(protocol, {})
    except (OSError, yaml.YAMLError, AttributeError) as error:
        raise MindshareError(f"{path}: not a bench file ({error.__class__.__name__}: {error})") from None
    for key, spec in entries.items():
        if key in known:
            raise MindshareError(f"{path}: {protocol}.{key} is a key of the package already; give it another name")
        if not isinstance(spec, dict) or spec.get("family") not in MODEL_FAMILIES:
            raise MindshareError(f"{path}: {protocol}.{key} needs a family, one of {', '.join(MODEL_FAMILIES)}")
    return {**known, **entries}
