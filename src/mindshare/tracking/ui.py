"""The MLflow UI on this project's store: the command that starts it, and the address that opens the
project's experiment on its runs table (Model-training view) rather than on the GenAI overview."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import quote

from mlflow.tracking import MlflowClient

from mindshare.errors import MindshareError
from mindshare.tracking.store import store_scheme

# MLflow 3.x's `workflowType` of the runs table (the other: `genai`); the UI reads it from each page's query and
# otherwise from the browser's last choice, GenAI in a fresh one: every address here carries it
VIEW = "workflowType=machine_learning"


def experiment_url(client: MlflowClient, experiment_name: str, base_url: str) -> str:
    """`<base_url>/#/experiments/<id>?workflowType=machine_learning`: the experiment's runs table."""
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        raise MindshareError(f"no MLflow experiment '{experiment_name}' in {client.tracking_uri}; run `make run` "
                             "(or `dvc repro`) first")
    return f"{base_url.rstrip('/')}/#/experiments/{experiment.experiment_id}?{VIEW}"


def compare_runs_url(base_url: str, run_ids: list[str], experiment_ids: list[str]) -> str:
    """The UI's compare page of these runs: `#/compare-runs?runs=[...]&experiments=[...]` (JSON lists)."""
    runs, experiments = (quote(json.dumps([str(i) for i in ids], separators=(",", ":")), safe="")
                         for ids in (run_ids, experiment_ids))
    return f"{base_url.rstrip('/')}/#/compare-runs?runs={runs}&experiments={experiments}&{VIEW}"


def last_pipeline_compare_url(client: MlflowClient, experiment_name: str, base_url: str) -> str | None:
    """The compare page of the latest `pipeline` run's nested model runs, side by side; None before any."""
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return None
    ids = [experiment.experiment_id]
    latest = client.search_runs(ids, "attributes.run_name = 'pipeline'", order_by=["attributes.start_time DESC"],
                                max_results=1)
    if not latest:
        return None
    nested = client.search_runs(ids, f"tags.mlflow.parentRunId = '{latest[0].info.run_id}'", max_results=200)
    return compare_runs_url(base_url, [run.info.run_id for run in nested], ids) if nested else None


def model_url(base_url: str, model_name: str) -> str:
    """The registered model's page: its versions and their aliases."""
    return f"{base_url.rstrip('/')}/#/models/{quote(model_name, safe='')}?{VIEW}"


def ui_command(tracking_uri: str, port: int) -> list[str]:
    """`mlflow ui` of the running environment on this store (the UI reads the registry from the same URI)."""
    mlflow = Path(sys.executable).parent / "mlflow"
    return [str(mlflow) if mlflow.exists() else "mlflow", "ui", "--backend-store-uri", tracking_uri,
            "--port", str(port)]


def is_server(tracking_uri: str) -> bool:
    """A tracking server already serves the UI at its own address; nothing to start."""
    return store_scheme(tracking_uri) in ("http", "https")

