"""tune@<model>: an Optuna study of one model's search space (params.yaml `tune`), objective the
tuning metric on the valid split with the model fitted on train.

Usage: python -m mindshare.stages.tune <model> [--worker]. Writes tuning/<model>.json (the best
parameters, a dependency of train@<model>) and reports/tuning/<model>.json (the study's figures).
`--worker` only adds trials to the study (another process or machine sharing `tune.storage`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from pathlib import Path

import pandas as pd

from mindshare.atomic_files import write_json
from mindshare.data.interactions import Interactions
from mindshare.errors import MindshareError
from mindshare.features.tables import build_feature_tables, settings_from_params
from mindshare.metrics import RATING_METRICS
from mindshare.models.cold_start import ColdStartSettings, choose_segment_prior
from mindshare.stages.ingest import ITEMS, USERS
from mindshare.stages.params import experiment_name, load_params
from mindshare.stages.prepare import REPORT as PREPARE_REPORT
from mindshare.stages.prepare import split_path
from mindshare.stages.runner import run_stage
from mindshare.tuning.study import (
    COLD_START_ATTR, ValidationData, best_params, finished, load_study, prepare_study, run_trials, state_counts, tune_settings,
)

log = logging.getLogger(__name__)
TUNING = Path("tuning")
REPORTS = Path("reports/tuning")


def tuned_params_path(model: str) -> Path:
    return TUNING / f"{model}.json"


def tuned_params(model: str) -> dict:
    """The best parameters that tune@<model> found ({} where it has not run)."""
    path = tuned_params_path(model)
    return json.loads(path.read_text())["best_params"] if path.exists() else {}


def cold_start_settings(params: dict, model: str) -> ColdStartSettings:
    """params.yaml `cold_start` with `segment_prior: auto` resolved to what tune@<model> chose."""
    path = tuned_params_path(model)
    chosen = (json.loads(path.read_text()).get("cold_start") or {}).get("segment_prior") if path.exists() else None
    return ColdStartSettings.from_params(params.get("cold_start")).resolved(chosen)


def validation_data(params: dict) -> ValidationData:
    """Train (with feature tables built from train alone) and valid, as every trial sees them."""
    train_frame = pd.read_parquet(split_path("train"))
    items = pd.read_parquet(ITEMS)
    settings, segments = settings_from_params(params.get("features"))
    train = Interactions.from_frame(train_frame).with_features(
        *build_feature_tables(train_frame, items, settings, segments, pd.read_parquet(USERS)))
    return ValidationData(train, pd.read_parquet(split_path("valid")), items,
                          ColdStartSettings.from_params(params.get("cold_start")))


def tune(model: str, worker: bool = False, progress: bool = True) -> dict:
    from mindshare.tracking.tuning import log_study_summary, study_run, trial_logger

    params = load_params()
    if model not in params["models"]:
        raise MindshareError(f"params.yaml: model '{model}' is not in 'models'; add it there first")
    settings = tune_settings(params, model)
    data = validation_data(params)
    if settings.metric in RATING_METRICS and not data.train.has_ratings:
        log.warning("%s: the data has no ratings, so '%s' cannot be measured; tuning on %s instead", model,
                    settings.metric, params["register"]["primary_metric"])
        settings = dataclasses.replace(settings, metric=params["register"]["primary_metric"])
    fingerprint = json.loads(PREPARE_REPORT.read_text())["split_fingerprint"]
    name = settings.study_name(fingerprint)
    # workers draw from their own seeded stream so that they do not propose the same points
    study = load_study(settings, name, seed_offset=os.getpid() if worker else 0)
    prepare_study(study, settings)
    experiment_id, run_id = study_run(experiment_name(params), name, settings, fingerprint)
    log.info("study %s: %d of %d trials finished", name, finished(study), settings.n_trials)
    run_trials(study, settings, data, trial_logger(experiment_id, run_id, settings), progress)
    counts = state_counts(study)
    summary = {"model": model, "study": name, "metric": settings.metric, "direction": settings.direction,
               "best_params": best_params(study, settings),
               "best_value": study.best_value if counts["complete"] else None,
               "first_value": _first_value(study), "trials": counts, "mlflow_run_id": run_id,
               "cold_start": _segment_prior(study)}
    if not worker:
        log_study_summary(run_id, study, settings)
        write_json(summary, tuned_params_path(model))
        write_json({k: v for k, v in summary.items() if k != "best_params"}, REPORTS / f"{model}.json")
    log.info("study %s: best %s = %s with %s", name, settings.metric, summary["best_value"], summary["best_params"])
    return summary


def _segment_prior(study) -> dict:
    """The segment prior for little-history users, chosen with the best trial's model on valid."""
    try:
        scores = study.best_trial.user_attrs.get(COLD_START_ATTR) or {}
    except ValueError:
        scores = {}
    return {"segment_prior": choose_segment_prior(scores), **scores}


def _first_value(study) -> float | None:
    """The value of trial 0: the model's params.yaml values (the untuned default)."""
    trials = [t for t in study.get_trials(deepcopy=False) if t.number == 0 and t.value is not None]
    return trials[0].value if trials else None


def main() -> None:
    args = sys.argv[1:]
    worker = "--worker" in args
    names = [a for a in args if a != "--worker"]
    if len(names) != 1:
        raise MindshareError("usage: python -m mindshare.stages.tune <model> [--worker]")
    tune(names[0], worker=worker)


if __name__ == "__main__":
    run_stage("tune", main)
