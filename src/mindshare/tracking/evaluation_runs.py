"""The evaluate stage's MLflow record: one parent run per pipeline run, a nested run per model with its
params, metrics, curves, per-user values, importances and pyfunc; the leaderboard on the parent. Both
have the train, valid and test splits as dataset inputs."""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import mlflow

from mindshare.evaluation import Evaluation
from mindshare.metrics.significance import PairedComparison
from mindshare.models.base import Recommender
from mindshare.settings import ColdStartSettings
from mindshare.tracking.datasets import SplitDataset, log_split_inputs
from mindshare.tracking.model_params import model_run_params
from mindshare.tracking.pyfunc import log_recommender
from mindshare.tracking.runs import flatten_params
from mindshare.tracking.store import FAMILY_TAG, STAGE_TAG, configure_tracking, process_tags, use_experiment

PER_USER_ARTIFACT = "per_user_metrics.parquet"  # read back by compare and the promotion gate
RANKED_BY_PRIOR_TAG = "mindshare.ranked_by_prior"  # a re-ranker whose learner did not beat its prior base family
DRIVER_SAMPLE_TAG = "mindshare.driver_sample_users"  # fitted on a sample of this many users: knows only them


@dataclass
class ModelFiles:
    """What a model's nested run logs besides its figures."""

    model: Path
    items: Path
    users: Path | None
    artifacts: list[Path]  # e.g. importances


@contextmanager
def pipeline_run(experiment: str, tags: dict[str, str], params: dict,
                 datasets: list[SplitDataset]) -> Iterator[mlflow.ActiveRun]:
    configure_tracking()
    use_experiment(experiment)
    with mlflow.start_run(run_name="pipeline", tags={**tags, STAGE_TAG: "evaluate", **process_tags()}) as run:
        mlflow.log_params(flatten_params(params))
        log_split_inputs(run.info.run_id, datasets)
        yield run


def log_model_run(name: str, model: Recommender, tags: dict[str, str], figures: dict[str, float],
                  evaluation: Evaluation, cold_start: ColdStartSettings, files: ModelFiles,
                  datasets: list[SplitDataset], exclude_seen: bool = True) -> tuple[str, str]:
    """A nested run for one evaluated model; returns (run id, logged model URI)."""
    with mlflow.start_run(run_name=name, nested=True,
                          tags={**tags, STAGE_TAG: "evaluate", FAMILY_TAG: name, **process_tags()}) as run:
        # the cold-start settings come as params `cold_start/*` with the pyfunc's model_config
        mlflow.log_params(model_run_params(name, model.get_params(), family=model.name))
        log_split_inputs(run.info.run_id, datasets)
        mlflow.log_metrics(figures)
        for row in evaluation.curves.itertuples():
            mlflow.log_metrics({"precision_at_k": row.precision, "recall_at_k": row.recall}, step=int(row.k))
        for path in files.artifacts:
            mlflow.log_artifact(str(path), "importances")
        with tempfile.TemporaryDirectory() as folder:  # for intervals and paired tests later (compare, promote)
            path = Path(folder) / PER_USER_ARTIFACT
            evaluation.per_user.to_parquet(path, index=False)
            mlflow.log_artifact(str(path))
        model_uri = log_recommender(files.model, files.items, users_path=files.users, cold_start=cold_start,
                                    exclude_seen=exclude_seen)
    return run.info.run_id, model_uri


def log_leaderboard(primary: str, best_model: str, best_value: float, lead: tuple[str, str, PairedComparison] | None,
                    artifacts: list[Path]) -> None:
    """On the active pipeline run: the best model, its lead over the next (paired), the report files."""
    if lead is not None:
        mlflow.log_metrics({"lead_difference": lead[2].difference, "lead_ci_low": lead[2].low,
                            "lead_ci_high": lead[2].high, "lead_p_value": lead[2].p_value})
        mlflow.set_tags({"mindshare.lead": f"{lead[0]} over {lead[1]}",
                         "mindshare.lead_significant": str(lead[2].significant).lower()})
    for path in artifacts:
        mlflow.log_artifact(str(path))
    mlflow.log_metric(f"best_{primary}", best_value)
    mlflow.set_tag("mindshare.best_model", best_model)
