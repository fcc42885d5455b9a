"""Stage runs: each stage execution logs its params, counts and lineage tags as one MLflow run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import mlflow

from mindshare.tracking.store import (
    GIT_COMMIT_TAG,
    STAGE_TAG,
    configure_tracking,
    git_commit,
    process_tags,
    use_experiment,
)

MAX_PARAM_CHARS = 6000


def flatten_params(params: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """{'a': {'b': 1}} -> {'a.b': '1'}; lists become JSON. A placeholder (None, '', 'unknown', an empty list
    or mapping) logs nothing: a param's value is always a setting a person can compare on."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_params(value, f"{name}."))
        elif not is_placeholder(value):
            text = json.dumps(value) if isinstance(value, (list, tuple)) else str(value)
            flat[name] = text[:MAX_PARAM_CHARS]
    return flat


def is_placeholder(value: Any) -> bool:
    """None, '', 'unknown' or an empty list: a value that says nothing about the run."""
    if isinstance(value, str):
        return value.strip().lower() in ("", "unknown")
    return value is None or (isinstance(value, (list, tuple, dict)) and not value)


def log_stage_run(stage: str, experiment: str, params: dict[str, Any], metrics: dict[str, float],
                  tags: dict[str, str], artifacts: Iterable[Path] = ()) -> str:
    """One run for one stage execution; returns its run id."""
    configure_tracking()
    use_experiment(experiment)
    all_tags = {STAGE_TAG: stage, GIT_COMMIT_TAG: git_commit(), **process_tags(), **tags}
    with mlflow.start_run(run_name=stage, tags=all_tags) as run:
        mlflow.log_params(flatten_params(params))
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
        for path in artifacts:
            mlflow.log_artifact(str(path))
    return run.info.run_id
