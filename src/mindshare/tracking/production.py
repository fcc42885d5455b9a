"""Registered versions loaded for answering: the one the `production` alias names, or any by number.

MLflow's own check of a model's pinned requirements scans every installed distribution (about half
a second); `load_version` checks the pins of our pyfunc directly instead (tracking/local_registry.py):
a version logged under other package versions than this environment's is named in a warning.
MLflow itself is imported only where the client is used: `production_recommender` on a local store
answers without it (tracking/local_registry.py)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from mindshare.errors import MindshareError
from mindshare.tracking.aliases import PRODUCTION
from mindshare.tracking.local_registry import load_local, local_version, warn_on_mismatched_requirements
from mindshare.tracking.store import tracking_uri

if TYPE_CHECKING:  # the model's own modules load with it, not before
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.pyfunc import PyFuncModel

    from mindshare.models.served import ServedRecommender
    from mindshare.tracking.pyfunc import RecommenderPyfunc

log = logging.getLogger(__name__)


def load_version(uri: str) -> PyFuncModel:
    """The pyfunc at a `models:/` URI, warning about requirement pins this environment does not match."""
    import mlflow

    model = mlflow.pyfunc.load_model(uri, suppress_warnings=True)
    warn_on_mismatched_requirements(model.unwrap_python_model().model_folder_, uri)
    return model


def load_production(client: MlflowClient, name: str) -> tuple[ModelVersion, PyFuncModel]:
    """(registered version, its pyfunc model) behind `name@production`, or one line saying how to get one."""
    from mlflow.exceptions import MlflowException

    try:
        version = client.get_model_version_by_alias(name, PRODUCTION)
    except MlflowException:
        raise MindshareError(f"'{name}' has no production version yet; "
                             "run `mindshare promote --reason TEXT` first") from None
    return version, load_version(f"models:/{name}@{PRODUCTION}")


def load_recommender(name: str, version: str | int) -> RecommenderPyfunc:
    """Version `version` of `name` unwrapped: its recommender, cold-start policy, titles and key."""
    return load_version(f"models:/{name}/{version}").unwrap_python_model()


def production_recommender(name: str) -> tuple[str, ServedRecommender]:
    """(version, recommender) behind `name@production`: from the files of a local store when it can,
    else through MLflow's client (one line if there is no production version)."""
    found = local_version(tracking_uri(), name, PRODUCTION)
    served = load_local(found) if found is not None else None
    if served is not None:
        return found.version, served
    from mindshare.tracking.store import tracking_client

    version, model = load_production(tracking_client(), name)
    return str(version.version), model.unwrap_python_model()
