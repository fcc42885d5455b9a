"""The leaderboard across pipeline runs, read back from the tracking store (`mindshare compare`)."""

from __future__ import annotations

import pandas as pd
from mlflow.tracking import MlflowClient

from mindshare.errors import MindshareError
from mindshare.metrics.names import greater_is_better
from mindshare.tracking.store import DATA_FINGERPRINT_TAG, FAMILY_TAG, GIT_COMMIT_TAG, SPLIT_FINGERPRINT_TAG

PIPELINE_RUN = "pipeline"


def compare_runs(client: MlflowClient, experiment: str, metric: str, last: int) -> pd.DataFrame:
    """One row per model of each of the `last` pipeline runs, best first by `metric`, with its 95% interval."""
    found = client.get_experiment_by_name(experiment)
    if found is None:
        known = ", ".join(e.name for e in client.search_experiments()) or "none"
        raise MindshareError(f"no MLflow experiment '{experiment}' (known: {known}); run `dvc repro` first or "
                             "pass --experiment")
    parents = client.search_runs([found.experiment_id], filter_string=f"attributes.run_name = '{PIPELINE_RUN}'",
                                 order_by=["attributes.start_time DESC"], max_results=last)
    if not parents:
        raise MindshareError(f"experiment '{experiment}' has no pipeline runs yet; run `dvc repro` first")
    rows = []
    for parent in parents:
        children = client.search_runs([found.experiment_id],
                                      filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
        for child in children:
            values = child.data.metrics
            rows.append({
                "pipeline_run": parent.info.run_id[:8],
                "started": pd.Timestamp(parent.info.start_time, unit="ms").strftime("%Y-%m-%d %H:%M"),
                "model": child.data.tags.get(FAMILY_TAG, child.info.run_name),
                metric: values.get(metric),
                "ci_low": values.get(f"{metric}_ci_low"),
                "ci_high": values.get(f"{metric}_ci_high"),
                "fit_seconds": values.get("fit_seconds"),
                "git_commit": (parent.data.tags.get(GIT_COMMIT_TAG) or "")[:12],
                "data": parent.data.tags.get(DATA_FINGERPRINT_TAG, ""),
                "split": parent.data.tags.get(SPLIT_FINGERPRINT_TAG, ""),
                "run_id": child.info.run_id,
            })
    table = pd.DataFrame(rows)
    if table.empty or table[metric].isna().all():
        raise MindshareError(f"no pipeline run of '{experiment}' has metric '{metric}'; try ndcg_at_10 or rmse")
    ascending = not greater_is_better(metric)
    return table.sort_values(metric, ascending=ascending, na_position="last", ignore_index=True)


def format_comparison(table: pd.DataFrame, metric: str) -> str:
    lines = [f"{'model':<16} {metric:>12} {'95% CI':>17} {'fit s':>8}  {'pipeline run':<12} {'started':<16} "
             f"{'git':<12} split"]
    for row in table.itertuples(index=False):
        value = getattr(row, metric)
        shown = "-" if pd.isna(value) else f"{value:.4f}"
        interval = "" if pd.isna(row.ci_low) else f"{row.ci_low:.4f}-{row.ci_high:.4f}"
        fit = "" if pd.isna(row.fit_seconds) else f"{row.fit_seconds:.1f}"
        lines.append(f"{row.model:<16} {shown:>12} {interval:>17} {fit:>8}  {row.pipeline_run:<12} {row.started:<16} "
                     f"{row.git_commit:<12} {row.split}")
    return "\n".join(lines)
