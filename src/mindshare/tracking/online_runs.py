"""The running online experiment as the registry and MLflow see it: its two versions (the `production`
and `challenger` aliases), its figures from the logs, and an MLflow run `online@v<challenger>` that
holds them over time (one metric step per look) with a plot.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient

from mindshare import layout
from mindshare.errors import MindshareError
from mindshare.marketing.online_log import EVENT_SCHEMA, read_exposures, read_log
from mindshare.marketing.online_outcomes import ExperimentStatus, experiment_status
from mindshare.marketing.traffic import CHALLENGER_ARM, INTERLEAVED_ARM, PRODUCTION_ARM
from mindshare.settings import OnlineSettings
from mindshare.tracking.aliases import CHALLENGER, PRODUCTION
from mindshare.tracking.store import STAGE_TAG

ONLINE_STAGE = "online"


@dataclass(frozen=True)
class OnlineExperiment:
    production: str  # version numbers
    challenger: str
    status: ExperimentStatus


def _alias(client: MlflowClient, name: str, alias: str) -> str:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        raise MindshareError(f"'{name}' has no version with alias '{alias}': an online experiment needs both "
                             f"'{PRODUCTION}' and '{CHALLENGER}'") from None


def experiment_exposures(exposures: pd.DataFrame, production: str, challenger: str) -> pd.DataFrame:
    """The answers of the experiment between these two versions (not earlier pairs, not answers without one)."""
    ab = ((exposures["arm"] == PRODUCTION_ARM) & (exposures["version"] == production)) | \
         ((exposures["arm"] == CHALLENGER_ARM) & (exposures["version"] == challenger))
    interleaved = exposures["arm"] == INTERLEAVED_ARM
    foreign = exposures.loc[interleaved & ~exposures["version"].isin([production, challenger]), "request_id"]
    interleaved &= ~exposures["request_id"].isin(set(foreign))  # an answer with another version's items is not ours
    return exposures[(exposures["method"] != "off") & (ab | interleaved)]


def current_experiment(client: MlflowClient, name: str, online: OnlineSettings,
                       root: str | Path = ".") -> OnlineExperiment:
    """The experiment between today's `production` and `challenger` versions, read from the logs."""
    production, challenger = _alias(client, name, PRODUCTION), _alias(client, name, CHALLENGER)
    if production == challenger:
        raise MindshareError(f"'{name}': production and challenger are the same version ({production}); "
                             "nothing to compare (an A/A test: promote another version to challenger)")
    root = Path(root)
    exposures = experiment_exposures(read_exposures(root / layout.EXPOSURES), production, challenger)
    events = read_log(root / layout.ONLINE_EVENTS, EVENT_SCHEMA)
    status = experiment_status(exposures, events, online.method, online.metric, online.alpha,
                               online.attribution_hours, challenger_share=online.challenger_share)
    return OnlineExperiment(production, challenger, status)


def evidence(experiment: OnlineExperiment) -> dict:
    """What a promotion records of the experiment (short: it goes into the history tag)."""
    v = experiment.status.verdict
    return {"method": experiment.status.method, "metric": experiment.status.metric, "decision": v.decision,
            "estimate": round(v.estimate, 6), "interval": [None if x is None else round(x, 6) for x in (v.low, v.high)],
            "p_value": round(v.p_value, 6), "users_per_arm": list(v.users_per_arm),
            "production": experiment.production, "challenger": experiment.challenger,
            "srm_p_value": round(experiment.status.srm.p_value, 6) if experiment.status.srm else None}


def log_online_run(experiment: OnlineExperiment, experiment_name: str, alpha: float) -> str:
    """Record the figures over time in the MLflow run `online@v<challenger>` (one per challenger version,
    reused across calls); returns its run id."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mlflow
    from mlflow.entities import Metric

    from mindshare.tracking.store import use_experiment

    use_experiment(experiment_name)
    client = mlflow.tracking.MlflowClient()
    run_name = f"online@v{experiment.challenger}"
    found = mlflow.search_runs(filter_string=f"tags.mlflow.runName = '{run_name}'", output_format="list",
                               max_results=1)
    run_id = found[0].info.run_id if found else client.create_run(
        mlflow.get_experiment_by_name(experiment_name).experiment_id, run_name=run_name,
        tags={STAGE_TAG: ONLINE_STAGE}).info.run_id
    status = experiment.status
    looks = status.looks
    columns = [c for c in looks.columns if c != "time"]  # estimate, p_value, users and means (or wins, losses)
    metrics = [Metric(f"online_{column}", float(value), int(stamp * 1000), step)
               for step, (stamp, row) in enumerate(zip(looks["time"], looks[columns].itertuples(index=False)))
               for column, value in zip(columns, row)]
    for start in range(0, len(metrics), 1000):  # MLflow takes at most 1,000 metrics a batch
        client.log_batch(run_id, metrics=metrics[start:start + 1000])
    v = status.verdict
    client.set_tag(run_id, "mindshare.online_decision", v.decision)
    for key, value in {"method": status.method, "metric": status.metric, "production_version": experiment.production,
                       "challenger_version": experiment.challenger}.items():
        client.set_tag(run_id, f"mindshare.online_{key}", value)
    with tempfile.TemporaryDirectory() as folder:
        figure, axes = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
        hours = (looks["time"] - looks["time"].iloc[0]) / 3600
        axes[0].plot(hours, looks["estimate"])
        axes[0].set_ylabel("challenger - production" if status.method == "ab" else "preference share")
        axes[1].plot(hours, looks["p_value"])
        axes[1].axhline(alpha, linestyle="--", color="grey")
        axes[1].set_ylabel("always-valid p-value")
        axes[1].set_xlabel("hours since the first answer")
        figure.suptitle(f"{run_name}: {status.metric}, {status.method}: {v.decision}")
        figure.tight_layout()
        figure.savefig(Path(folder) / "online_path.png")
        plt.close(figure)
        status.arms.to_csv(Path(folder) / "online_arms.csv", index=False)
        looks.to_csv(Path(folder) / "online_looks.csv", index=False)
        client.log_artifacts(run_id, folder)
    return run_id
