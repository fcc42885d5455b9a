"""Registered versions loaded for answering: the one the `production` alias names, or any by number."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from mindshare.errors import MindshareError
from mindshare.tracking.registry import PRODUCTION

if TYPE_CHECKING:  # the model's own modules load with it, not before
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.pyfunc import PyFuncModel

    from mindshare.tracking.pyfunc import RecommenderPyfunc


def load_production(client: MlflowClient, name: str) -> tuple[ModelVersion, PyFuncModel]:
    """(registered version, its pyfunc model) behind `name@production`, or one line saying how to get one."""
    try:
        version = client.get_model_version_by_alias(name, PRODUCTION)
    except MlflowException:
        raise MindshareError(f"'{name}' has no production version yet; "
                             "run `mindshare promote --reason TEXT` first") from None
    return version, mlflow.pyfunc.load_model(f"models:/{name}@{PRODUCTION}")


def load_recommender(name: str, version: str | int) -> RecommenderPyfunc:
    """Version `version` of `name` unwrapped: its recommender, cold-start policy, titles and key."""
    return mlflow.pyfunc.load_model(f"models:/{name}/{version}").unwrap_python_model()
