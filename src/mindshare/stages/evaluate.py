"""evaluate: every trained model on the same test split with the same code; log it all to MLflow.

Writes reports/metrics.json (dvc metrics), reports/plots/{precision,recall}_at_k.csv (dvc plots),
reports/leaderboard.{csv,md} and reports/evaluation.json (run ids and model URIs for register).
Opens one parent MLflow run for this pipeline run with a nested run per model.
"""

from __future__ import annotations

import logging

import pandas as pd

from mindshare import layout
from mindshare.atomic_files import atomic_path, write_json, write_parquet, write_text
from mindshare.evaluation import breakdown, breakdown_metrics
from mindshare.evaluation.on_test import evaluate_on_test
from mindshare.evaluation.reports import (
    curve_table, lead_of_best, leaderboard, leaderboard_document, plot_curves, write_importances,
)
from mindshare.models.base import Recommender
from mindshare.stages import inputs
from mindshare.stages.params import load_settings
from mindshare.stages.runner import run_stage
from mindshare.tracking.evaluation_runs import ModelFiles, log_leaderboard, log_model_run, pipeline_run
from mindshare.tracking.store import DATA_FINGERPRINT_TAG, GIT_COMMIT_TAG, SPLIT_FINGERPRINT_TAG, git_commit

log = logging.getLogger(__name__)


def main() -> None:
    settings = load_settings()
    primary, k = settings.register.primary_metric, settings.evaluate.main_k
    lineage = inputs.split_fingerprints()
    test, items, users, segments = (inputs.test_split(settings.evaluate), pd.read_parquet(layout.ITEMS),
                                    inputs.users_table(), inputs.segments())
    tags = {DATA_FINGERPRINT_TAG: lineage["data_fingerprint"], SPLIT_FINGERPRINT_TAG: lineage["split_fingerprint"],
            GIT_COMMIT_TAG: git_commit(), "mindshare.dataset": settings.ingest.name,
            "mindshare.split_protocol": settings.prepare.split.protocol}
    results, curves, entries, per_user, breakdowns = {}, {}, {}, {}, []
    with pipeline_run(settings.experiment_name, tags, {"prepare": settings.prepare.model_dump(),
                      "evaluate": settings.evaluate.model_dump(), "models": settings.models}) as parent:
        for name in settings.models:
            fit = inputs.read_json(layout.fit_report(name))
            model = Recommender.load(layout.model_file(name))
            cold_start = inputs.cold_start_settings(settings, name)
            evaluation = evaluate_on_test(model, settings.evaluate, test, items, cold_start, users)
            groups = breakdown(evaluation.per_user, segments, settings.evaluate.activity_buckets,
                               cold_start.max_interactions)
            breakdowns.append(groups.assign(model=name))
            shown = list(dict.fromkeys([primary, f"ndcg_at_{k}", f"precision_at_{k}", f"recall_at_{k}"]))
            results[name] = {**evaluation.metrics, "fit_seconds": fit["fit_seconds"],
                             **breakdown_metrics(groups, [m for m in shown if m in groups.columns])}
            curves[name], per_user[name] = evaluation.curves, evaluation.per_user
            importances = write_importances(name, model.feature_importances(), layout.IMPORTANCES) \
                if hasattr(model, "feature_importances") else []
            run_id, model_uri = log_model_run(name, tags, fit["params"], results[name], evaluation, cold_start,
                                              ModelFiles(layout.model_file(name), layout.ITEMS, layout.USERS, importances))
            entries[name] = {"run_id": run_id, "model_uri": model_uri, "metrics": results[name], "params": fit["params"]}
            log.info("%s: %s=%.4f", name, primary, results[name].get(primary, float("nan")))
        table = leaderboard(results, primary)
        for metric, path in layout.CURVE_TABLES.items():
            with atomic_path(path) as tmp:
                curve_table(curves, metric).to_csv(tmp, index=False)
        plot_curves(curves, layout.CURVES_PLOT)
        with atomic_path(layout.LEADERBOARD_CSV) as tmp:
            table.to_csv(tmp, index=False, float_format="%.6g")
        lead = lead_of_best(table, per_user, primary)
        groups = pd.concat(breakdowns, ignore_index=True)
        write_text(leaderboard_document(table, results, groups, lead, primary, k), layout.LEADERBOARD_MD)
        write_parquet(pd.concat([f.assign(model=name) for name, f in per_user.items()], ignore_index=True),
                      layout.PER_USER)
        with atomic_path(layout.BREAKDOWN) as tmp:
            groups.to_csv(tmp, index=False, float_format="%.6g")
        write_json({name: {m: v for m, v in values.items() if "_ci_" not in m} for name, values in results.items()},
                   layout.METRICS)
        log_leaderboard(primary, table["model"].iloc[0], float(table[primary].iloc[0]), lead,
                        [layout.BREAKDOWN, layout.LEADERBOARD_CSV, layout.LEADERBOARD_MD, layout.METRICS,
                         layout.CURVES_PLOT])
    lead_report = None if lead is None else {"best": lead[0], "next": lead[1], **lead[2].__dict__,
                                             "significant": lead[2].significant}
    write_json({"pipeline_run_id": parent.info.run_id, "primary_metric": primary, **tags, "models": entries,
                "lead": lead_report}, layout.EVALUATION)


if __name__ == "__main__":
    run_stage("evaluate", main)
