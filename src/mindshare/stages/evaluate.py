"""evaluate: every trained model on the same test split with the same code; log it all to MLflow.

Writes reports/metrics.json (dvc metrics), reports/plots/{precision,recall}_at_k.csv (dvc plots),
reports/leaderboard.{csv,md} and reports/evaluation.json (run ids and model URIs for register).
Opens one parent MLflow run for this pipeline run with a nested run per model.
"""

from __future__ import annotations

import logging

import pandas as pd

from mindshare import layout
from mindshare.atomic_files import write_json
from mindshare.evaluation.leaderboard import Leaderboard
from mindshare.evaluation.on_test import evaluate_on_test
from mindshare.evaluation.reports import write_importances
from mindshare.models.base import Recommender
from mindshare.project import outputs
from mindshare.project.params import load_settings
from mindshare.stages.runner import run_stage
from mindshare.tracking.datasets import split_datasets
from mindshare.tracking.evaluation_runs import (
    DRIVER_SAMPLE_TAG,
    RANKED_BY_PRIOR_TAG,
    ModelFiles,
    log_leaderboard,
    log_model_run,
    pipeline_run,
)
from mindshare.tracking.store import DATA_FINGERPRINT_TAG, GIT_COMMIT_TAG, SPLIT_FINGERPRINT_TAG, git_commit

log = logging.getLogger(__name__)


def main() -> None:
    settings = load_settings()
    primary, lineage = settings.register.primary_metric, outputs.split_fingerprints()
    repeats = outputs.repeat_decision()
    (test, split_fingerprint), items = outputs.test_split(settings), pd.read_parquet(layout.ITEMS)
    users = outputs.users_table()
    board = Leaderboard(primary, settings.evaluate.main_k, outputs.segments(), settings.evaluate.activity_buckets)
    tags = {DATA_FINGERPRINT_TAG: lineage["data_fingerprint"], SPLIT_FINGERPRINT_TAG: split_fingerprint,
            GIT_COMMIT_TAG: git_commit(), "mindshare.dataset": settings.ingest.name,
            "mindshare.split_protocol": lineage.get("protocol", settings.split_protocol),
            "mindshare.repeats": "included" if repeats.include else "excluded"}
    entries = {}
    logged_params = {"prepare": settings.prepare.model_dump(), "evaluate": settings.evaluate.model_dump(),
                     "models": settings.models}
    datasets = split_datasets(lineage.get("splits"))
    layout.IMPORTANCES.mkdir(parents=True, exist_ok=True)  # a DVC output: empty when no family has importances
    with pipeline_run(settings.experiment_name, tags, logged_params, datasets) as parent:
        for name in settings.models:
            fit = outputs.read_json(layout.fit_report(name))
            if "skipped" in fit:
                board.skip(name, fit["skipped"])
                log.warning("%s: not evaluated: %s", name, fit["skipped"])
                continue
            model = Recommender.load(layout.model_file(name))
            cold_start = outputs.cold_start_settings(settings, name)
            ranking = outputs.ranked_by_engine(settings, model, layout.model_file(name))
            evaluation = evaluate_on_test(ranking, settings.evaluate, test, items, cold_start, users,
                                          repeats.exclude_seen)
            figures = board.add(name, evaluation, fit["fit_seconds"], cold_start.max_interactions)
            table = model.feature_importances()
            importances = write_importances(name, table, layout.IMPORTANCES) if table is not None else []
            files = ModelFiles(layout.model_file(name), layout.ITEMS, layout.USERS, importances)
            run_tags = {**tags, **({RANKED_BY_PRIOR_TAG: str(fit["fallback"]).lower()} if "fallback" in fit else {}),
                        **({DRIVER_SAMPLE_TAG: str(fit["driver_sample_users"])} if "driver_sample_users" in fit
                           else {})}
            run_id, model_uri = log_model_run(name, model, run_tags, figures, evaluation, cold_start, files, datasets,
                                              repeats.exclude_seen)
            entries[name] = {"run_id": run_id, "model_uri": model_uri, "metrics": figures, "params": fit["params"]}
            log.info("%s: %s=%.4f", name, primary, figures.get(primary, float("nan")))
        artifacts = board.write()
        best = board.table_.iloc[0]
        log_leaderboard(primary, best["model"], float(best[primary]), board.lead_, artifacts)
    write_json({"pipeline_run_id": parent.info.run_id, "primary_metric": primary, **tags, "models": entries,
                "skipped": board.skipped, "lead": board.lead_report()}, layout.EVALUATION)


if __name__ == "__main__":
    run_stage("evaluate", main)
