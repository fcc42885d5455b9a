"""evaluate: every trained model on the same test split with the same code; log it all to MLflow.

Writes reports/metrics.json (dvc metrics), reports/plots/{precision,recall}_at_k.csv (dvc plots),
reports/leaderboard.{csv,md} and reports/evaluation.json (run ids and model URIs for register).
Opens one parent MLflow run for this pipeline run with a nested run per model.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from mindshare import metrics  # noqa: E402
from mindshare.atomic_files import atomic_path, write_json, write_parquet, write_text  # noqa: E402
from mindshare.evaluation import (  # noqa: E402
    Evaluation, breakdown, breakdown_metrics, build_test_set, evaluate_model, item_feature_matrix, new_item_metrics,
    new_user_metrics,
)
from mindshare.models.cold_start import ColdStartPolicy, ColdStartSettings  # noqa: E402
from mindshare.models.base import Recommender  # noqa: E402
from mindshare.stages.features import load_segments  # noqa: E402
from mindshare.stages.ingest import ITEMS, USERS  # noqa: E402
from mindshare.stages.params import dataset_name, experiment_name, load_params  # noqa: E402
from mindshare.stages.prepare import REPORT as PREPARE_REPORT  # noqa: E402
from mindshare.stages.prepare import split_path  # noqa: E402
from mindshare.stages.runner import run_stage  # noqa: E402
from mindshare.stages.train import model_dir  # noqa: E402
from mindshare.stages.tune import cold_start_settings  # noqa: E402
from mindshare.tracking.pyfunc import log_recommender  # noqa: E402
from mindshare.tracking.registry import greater_is_better  # noqa: E402
from mindshare.tracking.runs import flatten_params  # noqa: E402
from mindshare.tracking.store import (  # noqa: E402
    DATA_FINGERPRINT_TAG, FAMILY_TAG, GIT_COMMIT_TAG, OWNER_TAG, SPLIT_FINGERPRINT_TAG, STAGE_TAG,
    configure_tracking, git_commit, owner, use_experiment,
)

log = logging.getLogger(__name__)
REPORTS = Path("reports")
METRICS = REPORTS / "metrics.json"
PLOTS = REPORTS / "plots"
LEADERBOARD_CSV = REPORTS / "leaderboard.csv"
LEADERBOARD_MD = REPORTS / "leaderboard.md"
EVALUATION = REPORTS / "evaluation.json"
IMPORTANCES = REPORTS / "importances"
PER_USER = REPORTS / "per_user_metrics.parquet"
BREAKDOWN = REPORTS / "breakdown.csv"


def evaluate_on_test(model: Recommender, params: dict, test: pd.DataFrame, items: pd.DataFrame,
                     cold_start: ColdStartSettings | None = None) -> Evaluation:
    """The one evaluation path: used by this stage and by the promotion gate's re-evaluation. The model
    answers with the cold-start policy (params.yaml `cold_start`, resolved per model), as when served."""
    users = pd.read_parquet(USERS) if USERS.exists() else None
    settings = cold_start or ColdStartSettings.from_params(params.get("cold_start")).resolved()
    policy = ColdStartPolicy(model.train_, settings, users, items)
    test_set = build_test_set(model.train_, test)
    features = item_feature_matrix(model.train_, items)
    k = max(params["evaluate"]["ks"])
    evaluation = evaluate_model(model, test_set, params["evaluate"]["ks"], params["evaluate"]["curve_max_k"],
                                features, test, policy)
    evaluation.metrics.update({name: float(v) for name, v in test_set.counts.items()})
    evaluation.metrics.update(new_user_metrics(policy, test, k))
    evaluation.metrics.update(new_item_metrics(policy, test, k))
    return evaluation


def sample_test_users(test: pd.DataFrame, n_users: int | None, seed: int = 0) -> pd.DataFrame:
    """The test rows of a seeded sample of `n_users` test users (all rows where null or at least as many
    as there are): large data is evaluated on a sample, and every model on the same one. The sample
    depends on the row order and the seed, never on the pseudonymised id values."""
    users = pd.unique(test["user_id"])
    if not n_users or n_users >= len(users):
        return test
    chosen = users[np.sort(np.random.default_rng(seed).choice(len(users), size=n_users, replace=False))]
    return test[test["user_id"].isin(chosen)].reset_index(drop=True)


def load_test(params: dict) -> pd.DataFrame:
    """The test split, restricted to `evaluate.sample_users` (the same sample for every model and the gate)."""
    evaluate = params["evaluate"]
    return sample_test_users(pd.read_parquet(split_path("test")), evaluate.get("sample_users"),
                             evaluate.get("sample_seed", 0))


def evaluation_on_current_test(model: Recommender, split_fingerprint: str,
                               cold_start: ColdStartSettings | None = None) -> Evaluation | None:
    """Evaluate `model` (with its own cold-start settings) on the workspace's test split if it is the
    split named by `split_fingerprint`."""
    if not PREPARE_REPORT.exists() or json.loads(PREPARE_REPORT.read_text())["split_fingerprint"] != split_fingerprint:
        return None
    params = load_params()
    return evaluate_on_test(model, params, load_test(params), pd.read_parquet(ITEMS), cold_start)


def leaderboard(results: dict[str, dict], primary: str) -> pd.DataFrame:
    table = pd.DataFrame.from_dict(results, orient="index")
    table.index.name = "model"
    ascending = not greater_is_better(primary)
    ordered = [primary] + [c for c in table.columns
                           if c != primary and not c.startswith(COLD_START_PREFIXES + ("test_", "users_", "segment_",
                                                                                       "activity_"))]
    return table[ordered].sort_values(primary, ascending=ascending).reset_index()


COLD_START_PREFIXES = ("cold_start_", "new_users_", "new_items")


def cold_start_markdown(results: dict[str, dict], order: list[str], k: int) -> str:
    """Per model: little-history users with the policy against the model alone; new users (the
    policy against recent popularity) and new items (categories against category popularity) where
    the split has them."""
    columns = {f"cold_start_ndcg_at_{k}": "little history: policy", f"cold_start_model_only_ndcg_at_{k}": "model alone",
               "cold_start_users": "users", f"new_users_ndcg_at_{k}": "new users: policy",
               "cold_start_segment_prior": "segment prior",
               f"new_users_popular_ndcg_at_{k}": "recent popularity", "new_users_users": "new users",
               f"new_items_ndcg_at_{k}": "new items: user's categories",
               f"new_items_unpersonalised_ndcg_at_{k}": "category popularity", "new_items_users": "users "}
    table = pd.DataFrame.from_dict(results, orient="index").reindex(order)
    present = [c for c in columns if c in table and table[c].fillna(0).any()]
    if not any(c.endswith(f"ndcg_at_{k}") for c in present):
        return ""
    shown = table[present].rename(columns=columns).rename_axis("model").reset_index()
    for column in [c for c in shown.columns if c.strip() in ("users", "new users")]:
        shown[column] = shown[column].fillna(0).astype(int)
    return f"## Cold start (ndcg@{k}; models/cold_start.py)\n\n{shown.to_markdown(index=False, floatfmt='.4f')}\n"


def leaderboard_markdown(table: pd.DataFrame) -> str:
    """Each metric with an interval as 'value (low-high)'; blank where a metric does not apply."""
    cells = table.astype(object).where(table.notna(), None)
    for column in [c for c in table.columns if f"{c}_ci_low" in table.columns]:
        low, high = table[f"{column}_ci_low"], table[f"{column}_ci_high"]
        cells[column] = [None if pd.isna(v) else f"{v:.4f} ({lo:.3f}-{hi:.3f})"
                         for v, lo, hi in zip(table[column], low, high)]
    cells = cells[[c for c in cells.columns if not c.endswith(("_ci_low", "_ci_high"))]]
    return cells.to_markdown(index=False, floatfmt=".4f", missingval="")


def breakdown_markdown(groups: pd.DataFrame, table: pd.DataFrame, primary: str) -> str:
    """The primary metric by segment, activity bucket and cold start: models as rows, best first."""
    if primary not in groups.columns:
        return ""
    groups = groups[~((groups["group_type"] == "cold_start") & (groups["group"] == "no"))]
    labelled = groups.assign(column=groups["group_type"] + " " + groups["group"].astype(str))
    wide = labelled.pivot_table(index="model", columns="column", values=primary, sort=False)
    users = labelled.drop_duplicates("column").set_index("column")["users"]
    wide.columns = [f"{c} ({int(users[c])} users)" for c in wide.columns]
    wide = wide.reindex(table["model"]).reset_index()
    return f"## {primary} by group\n\n{wide.to_markdown(index=False, floatfmt='.4f')}\n"


def lead_of_best(table: pd.DataFrame, per_user: dict[str, pd.DataFrame], primary: str):
    """The best model against the next on `primary`, paired over the same users (None if not a per-user metric)."""
    if len(table) < 2 or primary not in next(iter(per_user.values())).columns:
        return None
    best, runner_up = table["model"].iloc[0], table["model"].iloc[1]
    paired = per_user[best][["user_id", primary]].merge(per_user[runner_up][["user_id", primary]], on="user_id")
    a, b = paired[f"{primary}_x"].to_numpy(), paired[f"{primary}_y"].to_numpy()
    if not greater_is_better(primary):
        a, b = -a, -b
    return best, runner_up, metrics.paired_comparison(a, b)


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
    test = load_test(params)
    items = pd.read_parquet(ITEMS)
    configure_tracking()
    use_experiment(experiment_name(params))
    tags = {DATA_FINGERPRINT_TAG: lineage["data_fingerprint"], SPLIT_FINGERPRINT_TAG: lineage["split_fingerprint"],
            GIT_COMMIT_TAG: git_commit(), "mindshare.dataset": dataset_name(params),
            "mindshare.split_protocol": params["prepare"]["split"]["protocol"]}
    results, curves, entries, per_user, breakdowns = {}, {}, {}, {}, []
    segments = load_segments()
    with mlflow.start_run(run_name="pipeline", tags={**tags, STAGE_TAG: "evaluate", OWNER_TAG: owner()}) as parent:
        mlflow.log_params(flatten_params({"prepare": params["prepare"], "evaluate": params["evaluate"],
                                          "models": params["models"]}))
        for name in params["models"]:
            fit = json.loads((model_dir(name) / "fit.json").read_text())
            model = Recommender.load(model_dir(name) / "model.pkl")
            cold_start = cold_start_settings(params, name)
            evaluation = evaluate_on_test(model, params, test, items, cold_start)
            groups = breakdown(evaluation.per_user, segments, params["evaluate"].get("activity_buckets", [5, 20, 100]),
                               cold_start.max_interactions)
            breakdowns.append(groups.assign(model=name))
            main_k = max(params["evaluate"]["ks"])
            shown = list(dict.fromkeys([primary, f"ndcg_at_{main_k}", f"precision_at_{main_k}", f"recall_at_{main_k}"]))
            results[name] = {**evaluation.metrics, "fit_seconds": fit["fit_seconds"],
                             **breakdown_metrics(groups, [m for m in shown if m in groups.columns])}
            curves[name] = evaluation.curves
            per_user[name] = evaluation.per_user
            with mlflow.start_run(run_name=name, nested=True, tags={**tags, STAGE_TAG: "evaluate", FAMILY_TAG: name,
                                                                   OWNER_TAG: owner()}) as run:
                mlflow.log_params(flatten_params({"model": fit["params"]}) or {"model": name})
                mlflow.log_metrics(results[name])
                for row in evaluation.curves.itertuples():
                    mlflow.log_metrics({"precision_at_k": row.precision, "recall_at_k": row.recall}, step=int(row.k))
                log_importances(name, model)
                with tempfile.TemporaryDirectory() as folder:  # for intervals and paired tests later (compare, promote)
                    path = Path(folder) / PER_USER.name
                    evaluation.per_user.to_parquet(path, index=False)
                    mlflow.log_artifact(str(path))
                mlflow.log_param("cold_start.segment_prior", cold_start.segment_prior)
                model_uri = log_recommender(model_dir(name) / "model.pkl", ITEMS, users_path=USERS,
                                            cold_start=cold_start)
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
        lead = lead_of_best(table, per_user, primary)
        groups = pd.concat(breakdowns, ignore_index=True)
        lead_text = "" if lead is None else f"\nLead of the best model: {lead[2].describe(primary, lead[0], lead[1])}.\n"
        write_text(f"# Leaderboard (test split, sorted by {primary}; 95% bootstrap intervals over users)\n\n"
                   f"{leaderboard_markdown(table)}\n{lead_text}\n{breakdown_markdown(groups, table, primary)}\n"
                   f"{cold_start_markdown(results, list(table['model']), max(params['evaluate']['ks']))}",
                   LEADERBOARD_MD)
        write_parquet(pd.concat([frame.assign(model=name) for name, frame in per_user.items()], ignore_index=True),
                      PER_USER)
        with atomic_path(BREAKDOWN) as tmp:
            groups.to_csv(tmp, index=False, float_format="%.6g")
        mlflow.log_artifact(str(BREAKDOWN))
        write_json({name: {k: v for k, v in values.items() if "_ci_" not in k} for name, values in results.items()},
                   METRICS)
        if lead is not None:
            mlflow.log_metrics({"lead_difference": lead[2].difference, "lead_ci_low": lead[2].low,
                                "lead_ci_high": lead[2].high, "lead_p_value": lead[2].p_value})
            mlflow.set_tags({"mindshare.lead": f"{lead[0]} over {lead[1]}",
                             "mindshare.lead_significant": str(lead[2].significant).lower()})
        for path in (LEADERBOARD_CSV, LEADERBOARD_MD, METRICS, PLOTS / "precision_recall_at_k.png"):
            mlflow.log_artifact(str(path))
        best = table.iloc[0]
        mlflow.log_metric(f"best_{primary}", float(best[primary]))
        mlflow.set_tag("mindshare.best_model", best["model"])
    lead_report = None if lead is None else {"best": lead[0], "next": lead[1], **lead[2].__dict__,
                                             "significant": lead[2].significant}
    write_json({"pipeline_run_id": parent.info.run_id, "primary_metric": primary, **tags, "models": entries,
                "lead": lead_report}, EVALUATION)


if __name__ == "__main__":
    run_stage("evaluate", main)
