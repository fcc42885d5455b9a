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

from mindshare import layout
from mindshare.atomic_files import write_json
from mindshare.errors import MindshareError
from mindshare.metrics import RATING_METRICS
from mindshare.project import outputs
from mindshare.project.params import load_settings
from mindshare.stages.runner import run_stage
from mindshare.tracking.datasets import split_datasets
from mindshare.tuning.mlflow_runs import log_study_summary, study_run, trial_logger
from mindshare.tuning.settings import tune_settings
from mindshare.tuning.study import finished, load_study, prepare_study, run_trials, study_summary

log = logging.getLogger(__name__)


def tune(model: str, worker: bool = False, progress: bool = True) -> dict:
    settings = load_settings()
    if model not in settings.models:
        raise MindshareError(f"params.yaml: model '{model}' is not in 'models'; add it there first")
    skipped = outputs.not_applicable(settings, model)
    if skipped:
        log.warning("tune@%s skipped: %s", model, skipped)
        write_json({"skipped": skipped, "best_params": {}}, layout.tuned_params_path(model))
        write_json({"skipped": skipped}, layout.tuning_report_path(model))
        return {"skipped": skipped}
    study_settings = tune_settings(settings, model, outputs.model_params(settings, model))
    users = outputs.driver_users(settings, model)  # a seeded sample of users where the driver fits a sample
    data = outputs.validation_data(settings, users)
    if study_settings.metric in RATING_METRICS and not data.train.has_ratings:
        primary = settings.register.primary_metric
        log.warning("%s: the data has no ratings, so '%s' cannot be measured; tuning on %s instead", model,
                    study_settings.metric, primary)
        study_settings = dataclasses.replace(study_settings, metric=primary)
    lineage = outputs.split_fingerprints()
    fingerprint = outputs.with_users(lineage["split_fingerprint"], users)
    datasets = split_datasets(lineage.get("splits"), ("train", "valid"))
    if len(data.valid) < lineage.get("counts", {}).get("valid_rows", 0):  # scored on a sample: another study
        fingerprint += f"-valid-users-{settings.tune.sample_users}"
    name = study_settings.study_name(fingerprint)
    # workers draw from their own seeded stream so that they do not propose the same points
    study = load_study(study_settings, name, seed_offset=os.getpid() if worker else 0)
    prepare_study(study, study_settings)
    experiment_id, run_id = study_run(settings.experiment_name, name, study_settings, fingerprint, datasets)
    log.info("study %s: %d of %d trials finished", name, finished(study), study_settings.n_trials)
    run_trials(study, study_settings, data, trial_logger(experiment_id, run_id, study_settings, datasets), progress)
    summary = study_summary(study, study_settings, name, run_id)
    if not worker:
        log_study_summary(run_id, study, study_settings)
        write_json(summary, layout.tuned_params_path(model))
        write_json({k: v for k, v in summary.items() if k != "best_params"}, layout.tuning_report_path(model))
    log.info("study %s: best %s = %s with %s", name, study_settings.metric, summary["best_value"],
             summary["best_params"])
    return summary


def main() -> None:
    args = sys.argv[1:]
    names = [a for a in args if a != "--worker"]
    if len(names) != 1:
        raise MindshareError("usage: python -m mindshare.stages.tune <model> [--worker]")
    summary = tune(names[0], worker="--worker" in args)
    if "--worker" in args:  # a worker writes no file: what its study holds now
        print(json.dumps({k: summary.get(k) for k in ("study", "metric", "best_value", "best_params", "trials")},
                         indent=2))


if __name__ == "__main__":
    run_stage("tune", main)
