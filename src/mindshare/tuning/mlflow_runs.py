"""Studies in MLflow: one run per study (found again on resume and by other workers), one nested
run per trial with its tuned parameters, value, state and duration, and Optuna's plots on the study run.
Both have the train and valid splits as dataset inputs."""

from __future__ import annotations

import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mlflow  # noqa: E402
import optuna  # noqa: E402
from mlflow.entities import RunStatus  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from mindshare.tracking.datasets import SplitDataset, log_split_inputs  # noqa: E402
from mindshare.tracking.model_params import model_run_params  # noqa: E402
from mindshare.tracking.runs import flatten_params  # noqa: E402
from mindshare.tracking.store import (  # noqa: E402
    DATA_FINGERPRINT_TAG,
    FAMILY_TAG,
    GIT_COMMIT_TAG,
    STAGE_TAG,
    configure_tracking,
    git_commit,
    process_tags,
    use_experiment,
)
from mindshare.tuning.settings import StudySettings
from mindshare.tuning.study import best_params, seconds, state_counts  # noqa: E402

STUDY_TAG = "mindshare.study"  # on the study's run only
TRIAL_OF_TAG = "mindshare.trial_of"  # on trial runs: the study they belong to
TRIAL_TAG = "mindshare.trial"
TRIAL_STATE_TAG = "mindshare.trial_state"
RUN_STATUS = {"COMPLETE": RunStatus.FINISHED, "PRUNED": RunStatus.KILLED, "FAIL": RunStatus.FAILED}


def study_run(experiment: str, study_name: str, settings: StudySettings, fingerprint: str,
              datasets: list[SplitDataset]) -> tuple[str, str]:
    """(experiment id, run id) of the study's run, created on first use with the splits as its inputs."""
    configure_tracking()
    experiment_id = use_experiment(experiment)
    client = MlflowClient()
    found = client.search_runs([experiment_id], filter_string=f"tags.`{STUDY_TAG}` = '{study_name}'", max_results=1)
    if found:
        return experiment_id, found[0].info.run_id
    run = client.create_run(experiment_id, run_name=f"tune@{settings.model}", tags={
        STAGE_TAG: f"tune@{settings.model}", STUDY_TAG: study_name, FAMILY_TAG: settings.model,
        DATA_FINGERPRINT_TAG: fingerprint, GIT_COMMIT_TAG: git_commit(), **process_tags()})
    params = {**model_run_params(settings.model, settings.model_params), **flatten_params({"tune": {
        "metric": settings.metric, "seed": settings.seed, "pruner": settings.pruner, "space": settings.space_spec}})}
    client.log_batch(run.info.run_id, params=[mlflow.entities.Param(k, v) for k, v in params.items()])
    log_split_inputs(run.info.run_id, datasets)
    return experiment_id, run.info.run_id


def trial_logger(experiment_id: str, parent_run_id: str, settings: StudySettings, datasets: list[SplitDataset]):
    """An Optuna callback: each finished trial becomes a run nested under the study run, with the
    parameters it tuned (the others are the study run's) and the splits as its inputs."""
    client = MlflowClient()
    metric = f"valid_{settings.metric}"

    def log_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        state = trial.state.name
        run = client.create_run(experiment_id, run_name=f"trial {trial.number}", tags={
            "mlflow.parentRunId": parent_run_id, STAGE_TAG: f"tune@{settings.model}", FAMILY_TAG: settings.model,
            TRIAL_OF_TAG: study.study_name, TRIAL_TAG: str(trial.number), TRIAL_STATE_TAG: state.lower()})
        run_id = run.info.run_id
        model_params = settings.trial_params(trial.params)
        params = {key: value for key, value in model_run_params(settings.model, model_params).items()
                  if key in ("family", "algorithm") or key.removeprefix("model.") in trial.params}
        client.log_batch(run_id, params=[mlflow.entities.Param(k, v) for k, v in params.items()])
        log_split_inputs(run_id, datasets)
        metrics = [mlflow.entities.Metric("duration_seconds", seconds(trial), 0, 0)]
        if trial.value is not None:
            metrics.append(mlflow.entities.Metric(metric, float(trial.value), 0, 0))
        metrics += [mlflow.entities.Metric(f"intermediate_{settings.metric}", float(v), 0, int(step))
                    for step, v in sorted(trial.intermediate_values.items())]
        client.log_batch(run_id, metrics=metrics)
        client.set_terminated(run_id, RunStatus.to_string(RUN_STATUS.get(state, RunStatus.FAILED)))

    return log_trial


def log_study_summary(run_id: str, study: optuna.Study, settings: StudySettings) -> None:
    """Best params and value, trial counts and Optuna's plots on the study run."""
    client = MlflowClient()
    counts = state_counts(study)
    metrics = {f"trials_{k}": float(v) for k, v in counts.items()}
    best = best_params(study, settings)
    if counts["complete"]:
        metrics[f"best_valid_{settings.metric}"] = float(study.best_value)
    for key, value in metrics.items():
        client.log_metric(run_id, key, value)
    for key, value in flatten_params({"best": best}).items():
        client.set_tag(run_id, f"mindshare.{key}", value)  # tags: a resumed study may change its best
    with tempfile.TemporaryDirectory() as folder:
        for path in save_study_plots(study, Path(folder)):
            client.log_artifact(run_id, str(path), artifact_path="optuna")
    client.set_terminated(run_id)


def save_study_plots(study: optuna.Study, folder: Path) -> list[Path]:
    """Optimisation history, parameter importances and parallel coordinates as PNGs (those that apply)."""
    from optuna.visualization import matplotlib as plots

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    wanted = [("optimisation_history", plots.plot_optimization_history, 1)]
    if complete and len(complete[0].params) >= 1:
        wanted += [("param_importances", plots.plot_param_importances, 3),
                   ("parallel_coordinate", plots.plot_parallel_coordinate, 2)]
    written = []
    for name, plot, needed in wanted:
        if len(complete) < needed:
            continue
        try:
            axes = plot(study)
        except (ValueError, RuntimeError, ZeroDivisionError):  # e.g. importances of a constant objective
            plt.close("all")
            continue
        figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
        path = folder / f"{name}.png"
        figure.tight_layout()
        figure.savefig(path, dpi=90)
        plt.close("all")
        written.append(path)
    return written
