"""evaluate: every trained model on the same test split with the same code; log it all to MLflow.

Writes reports/metrics.json (dvc metrics), reports/plots/{precision,recall}_at_k.csv (dvc plots),
reports/leaderboard.{csv,md} and reports/evaluation.json (run ids and model URIs for register).
Opens one parent MLflow run for this pipeline run with a nested run per model.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import pandas as pd  # noqa: E402

from mindshare.atomic_files import atomic_path, write_json, write_text  # noqa: E402
from mindshare.evaluation import Evaluation, build_test_set, evaluate_model, item_feature_matrix  # noqa: E402
from mindshare.models.base import Recommender  # noqa: E402
from mindshare.stages.ingest import ITEMS  # noqa: E402
from mindshare.stages.params import experiment_name, load_params  # noqa: E402
from mindshare.stages.prepare import REPORT as PREPARE_REPORT  # noqa: E402
from mindshare.stages.prepare import split_path  # noqa: E402
from mindshare.stages.runner import run_stage  # noqa: E402
from mindshare.stages.train import model_dir  # noqa: E402
from mindshare.tracking.pyfunc import log_recommender  # noqa: E402
from mindshare.tracking.registry import greater_is_better  # noqa: E402
from mindshare.tracking.runs import flatten_params  # noqa: E402
from mindshare.tracking.store import (  # noqa: E402
    DATA_FINGERPRINT_TAG, FAMILY_TAG, GIT_COMMIT_TAG, SPLIT_FINGERPRINT_TAG, STAGE_TAG, configure_tracking,
    git_commit, use_experiment,
)

log = logging.getLogger(__name__)
REPORTS = Path("reports")
METRICS = REPORTS / "metrics.json"
PLOTS = REPORTS / "plots"
LEADERBOARD_CSV = REPORTS / "leaderboard.csv"
LEADERBOARD_MD = REPORTS / "leaderboard.md"
EVALUATION = REPORTS / "evaluation.json"
IMPORTANCES = REPORTS / "importances"


def evaluate_on_test(model: Recommender, params: dict, test: pd.DataFrame, items: pd.DataFrame) -> Evaluation:
    """The one evaluation path: used by this stage and by the promotion gate's re-evaluation."""
    test_set = build_test_set(model.train_, test)
    features = item_feature_matrix(model.train_, items)
    evaluation = evaluate_model(model, test_set, params["evaluate"]["ks"], params["evaluate"]["curve_max_k"],
                                features, test)
    evaluation.metrics.update({k: float(v) for k, v in test_set.counts.items()})
    return evaluation


def primary_metric_on_current_test(model: Recommender, metric: str, split_fingerprint: str) -> float | None:
    """Score `model` on the workspace's test split if it is the split named by `split_fingerprint`."""
    if not PREPARE_REPORT.exists() or json.loads(PREPARE_REPORT.read_text())["split_fingerprint"] != split_fingerprint:
        return None
    params = load_params()
    evaluation = evaluate_on_test(model, params, pd.read_parquet(split_path("test")), pd.read_parquet(ITEMS))
    return evaluation.metrics.get(metric)


def leaderboard(results: dict[str, dict], primary: str) -> pd.DataFrame:
    table = pd.DataFrame.from_dict(results, orient="index")
    table.index.name = "model"
    ascending = not greater_is_better(primary)
    ordered = [primary] + [c for c in table.columns if c != primary and not c.startswith(("test_", "users_"))]
    return table[ordered].sort_values(primary, ascending=ascending).reset_index()


def plot_curves(curves: dict[str, pd.DataFrame], path: Path) -> None:
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name, frame in curves.items():
        axes[0].plot(frame["k"], frame["precision"], label=name)
        axes[1].plot(frame["k"], frame["recall"], label=name)
    for axis, label in zip(axes, ("precision@k", "recall@k")):
        axis.set_xlabel("k")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    plt.close(figure)


def log_importances(name: str, model: Recommender) -> None:
    """Feature importances (table and plot) of a feature-based family, into reports/ and the active run."""
    if not hasattr(model, "feature_importances"):
        return
    table = model.feature_importances()
    IMPORTANCES.mkdir(parents=True, exist_ok=True)
    with atomic_path(IMPORTANCES / f"{name}.csv") as tmp:
        table.to_csv(tmp, index=False)
    parts = list(table["model"].unique())
    figure, axes = plt.subplots(1, max(1, len(parts)), figsize=(6 * max(1, len(parts)), 6), squeeze=False)
    for axis, part in zip(axes[0], parts):
        top = table[table["model"] == part].head(20)[::-1]
        axis.barh(top["feature"], top["gain"])
        axis.set_title(f"{name}: {part} (gain)")
    figure.tight_layout()
    with atomic_path(IMPORTANCES / f"{name}.png") as tmp:
        figure.savefig(tmp, format="png", dpi=90)
    plt.close(figure)
    mlflow.log_artifact(str(IMPORTANCES / f"{name}.csv"), "importances")
    mlflow.log_artifact(str(IMPORTANCES / f"{name}.png"), "importances")


def main() -> None:
    params = load_params()
    primary = params["register"]["primary_metric"]
    lineage = json.loads(PREPARE_REPORT.read_text())
    test = pd.read_parquet(split_path("test"))
    items = pd.read_parquet(ITEMS)
    configure_tracking()
    use_experiment(experiment_name(params))
    tags = {DATA_FINGERPRINT_TAG: lineage["data_fingerprint"], SPLIT_FINGERPRINT_TAG: lineage["split_fingerprint"],
            GIT_COMMIT_TAG: git_commit()}
    results, curves, entries = {}, {}, {}
    with mlflow.start_run(run_name="pipeline", tags={**tags, STAGE_TAG: "evaluate"}) as parent:
        mlflow.log_params(flatten_params({"prepare": params["prepare"], "evaluate": params["evaluate"],
                                          "models": params["models"]}))
        for name in params["models"]:
            fit = json.loads((model_dir(name) / "fit.json").read_text())
            model = Recommender.load(model_dir(name) / "model.pkl")
            evaluation = evaluate_on_test(model, params, test, items)
            results[name] = {**evaluation.metrics, "fit_seconds": fit["fit_seconds"]}
            curves[name] = evaluation.curves
            with mlflow.start_run(run_name=name, nested=True, tags={**tags, STAGE_TAG: "evaluate", FAMILY_TAG: name}) as run:
                mlflow.log_params(flatten_params(fit["params"]) or {"family": name})
                mlflow.log_metrics(results[name])
                for row in evaluation.curves.itertuples():
                    mlflow.log_metrics({"precision_at_k": row.precision, "recall_at_k": row.recall}, step=int(row.k))
                log_importances(name, model)
                model_uri = log_recommender(model_dir(name) / "model.pkl", ITEMS)
            entries[name] = {"run_id": run.info.run_id, "model_uri": model_uri, "metrics": results[name],
                             "params": fit["params"]}
            log.info("%s: %s=%.4f", name, primary, results[name].get(primary, float("nan")))
        table = leaderboard(results, primary)
        PLOTS.mkdir(parents=True, exist_ok=True)
        for metric in ("precision", "recall"):
            wide = pd.DataFrame({"k": next(iter(curves.values()))["k"]})
            for name, frame in curves.items():
                wide[name] = frame[metric].round(6).to_numpy()
            with atomic_path(PLOTS / f"{metric}_at_k.csv") as tmp:
                wide.to_csv(tmp, index=False)
        plot_curves(curves, PLOTS / "precision_recall_at_k.png")
        with atomic_path(LEADERBOARD_CSV) as tmp:
            table.to_csv(tmp, index=False, float_format="%.6g")
        cells = table.astype(object).where(table.notna(), None)  # blank, not "nan", where a metric does not apply
        markdown = cells.to_markdown(index=False, floatfmt=".4f", missingval="")
        write_text(f"# Leaderboard (test split, sorted by {primary})\n\n{markdown}\n", LEADERBOARD_MD)
        write_json(results, METRICS)
        for path in (LEADERBOARD_CSV, LEADERBOARD_MD, METRICS, PLOTS / "precision_recall_at_k.png"):
            mlflow.log_artifact(str(path))
        best = table.iloc[0]
        mlflow.log_metric(f"best_{primary}", float(best[primary]))
        mlflow.set_tag("mindshare.best_model", best["model"])
    write_json({"pipeline_run_id": parent.info.run_id, "primary_metric": primary, **tags, "models": entries}, EVALUATION)


if __name__ == "__main__":
    run_stage("evaluate", main)
