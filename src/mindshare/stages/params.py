"""Read and check params.yaml; every stage calls `load_params` first, so a bad config fails early."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mindshare.errors import MindshareError
from mindshare.models import make_model

PARAMS_FILE = Path("params.yaml")
SOURCES = ("movielens", "events", "synthetic")


def load_params(path: str | Path = PARAMS_FILE) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise MindshareError(f"{path}: not found; run from the project folder")
    try:
        params = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise MindshareError(f"{path}{where}: not valid YAML; fix the syntax") from None
    check_params(params)
    return params


def _get(params: dict, dotted: str) -> Any:
    node: Any = params
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise MindshareError(f"params.yaml: '{dotted}' is missing; add it (see the README's params section)")
        node = node[part]
    return node


KNOWN_KEYS = {
    "": {"ingest", "prepare", "features", "models", "model_params", "train", "tune", "evaluate", "cold_start",
         "register", "promotion", "audience", "campaigns", "mlflow"},
    "ingest": {"source", "path", "release", "items_path", "users_path", "item_columns", "user_columns", "columns",
               "timestamp_format", "event_weights", "cleaning", "rating_scale", "dataset_name", "synthetic"},
    "prepare": {"min_user_interactions", "min_item_interactions", "relevant_min_rating", "split"},
    "prepare.split": {"protocol", "holdout_given", "test_ratio", "valid_ratio", "leave_last_n", "valid_last_n", "seed"},
    "train": {"include_valid"},
    "evaluate": {"ks", "curve_max_k", "activity_buckets", "sample_users", "sample_seed"},
    "register": {"model_name", "primary_metric"},
}
WHOLE_NUMBERS = ("prepare.split.seed", "prepare.split.leave_last_n", "prepare.split.valid_last_n",
                 "prepare.min_user_interactions", "prepare.min_item_interactions", "evaluate.curve_max_k",
                 "evaluate.sample_seed")
TEXT = ("ingest.path", "register.model_name", "register.primary_metric")


def _check_keys(params: dict) -> None:
    """Unknown keys (a typo silently ignored is a wrong experiment): one line with the likely meant key."""
    import difflib

    if not isinstance(params, dict):
        raise MindshareError("params.yaml: the file must be a mapping of sections (ingest:, prepare:, ...)")
    for section, known in KNOWN_KEYS.items():
        node = params if not section else _get(params, section) if _has(params, section) else {}
        if not isinstance(node, dict):
            raise MindshareError(f"params.yaml: '{section}' must be a mapping, not {type(node).__name__}")
        for key in node:
            if key not in known:
                close = difflib.get_close_matches(str(key), sorted(known), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else f"; known: {', '.join(sorted(known))}"
                raise MindshareError(f"params.yaml: unknown key '{f'{section}.' if section else ''}{key}'{hint}")
    for dotted in WHOLE_NUMBERS:
        if _has(params, dotted):
            value = _get(params, dotted)
            if isinstance(value, bool) or not isinstance(value, int):
                raise MindshareError(f"params.yaml: {dotted} is {value!r}; give a whole number")
    for dotted in TEXT:
        if _has(params, dotted) and not isinstance(_get(params, dotted), str):
            raise MindshareError(f"params.yaml: {dotted} is {_get(params, dotted)!r}; give text")


def _has(params: dict, dotted: str) -> bool:
    node: Any = params
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def check_params(params: dict) -> None:
    _check_keys(params)
    source = _get(params, "ingest.source")
    if source not in SOURCES:
        raise MindshareError(f"params.yaml: ingest.source is '{source}'; use one of {', '.join(SOURCES)}")
    from mindshare.data.cleaning import CleaningRules
    from mindshare.data.events import event_weights

    CleaningRules.from_params(params["ingest"].get("cleaning"))
    if params["ingest"].get("event_weights"):
        event_weights(params["ingest"]["event_weights"])
    if source == "movielens" and params["ingest"].get("release"):
        from mindshare.data.download import release_file

        release_file(str(params["ingest"]["release"]))
    split = _get(params, "prepare.split")
    for key in ("test_ratio", "valid_ratio"):
        value = split.get(key)
        if not isinstance(value, (int, float)) or not 0 <= value < 1 or (key == "test_ratio" and value == 0):
            raise MindshareError(f"params.yaml: prepare.split.{key} is {value!r}; it must be inside (0, 1)")
    models = _get(params, "models")
    if not isinstance(models, list) or not models:
        raise MindshareError("params.yaml: 'models' must be a non-empty list of model families")
    for name in models:
        make_model(name, (params.get("model_params") or {}).get(name))
    ks = _get(params, "evaluate.ks")
    if not ks or any(not isinstance(k, int) or k < 1 for k in ks):
        raise MindshareError(f"params.yaml: evaluate.ks is {ks!r}; give positive whole numbers, e.g. [10]")
    sample = (params.get("evaluate") or {}).get("sample_users")
    if sample is not None and (isinstance(sample, bool) or not isinstance(sample, int) or sample < 1):
        raise MindshareError(f"params.yaml: evaluate.sample_users is {sample!r}; give a whole number of users "
                             "(at least 1) or null for every test user")
    from mindshare.models.cold_start import ColdStartSettings

    ColdStartSettings.from_params(params.get("cold_start"))
    _get(params, "register.model_name")
    _get(params, "register.primary_metric")


def dataset_name(params: dict) -> str:
    ingest = params["ingest"]
    if ingest.get("dataset_name"):
        return str(ingest["dataset_name"])
    if ingest["source"] == "synthetic":
        return f"synthetic-{ingest['synthetic']['n_interactions']}"
    stem = Path(str(ingest["path"])).name
    for suffix in (".zip", ".csv", ".parquet", ".tsv"):
        stem = stem.removesuffix(suffix)
    return stem


def experiment_name(params: dict) -> str:
    return (params.get("mlflow") or {}).get("experiment") or f"mindshare-{dataset_name(params)}"
