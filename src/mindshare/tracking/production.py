"""Registered versions loaded for answering: the one the `production` alias names, or any by number.

MLflow's own check of a model's pinned requirements scans every installed distribution (about half
a second of a `mindshare recommend`); `load_version` checks the pins of our pyfunc directly instead:
a version logged under other package versions than this environment's is named in a warning."""

from __future__ import annotations

import logging
from importlib import metadata
from pathlib import Path
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

log = logging.getLogger(__name__)


def requirement_mismatches(requirements: list[str]) -> list[str]:
    """The `name==version` pins that the installed packages do not match, as 'name==pinned (installed x)'."""
    out = []
    for line in requirements:
        name, _, pinned = line.strip().partition("==")
        if not pinned or name.startswith(("-", "#")):
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "none"
        if installed != pinned:
            out.append(f"{name}=={pinned} (installed {installed})")
    return out


def load_version(uri: str) -> PyFuncModel:
    """The pyfunc at a `models:/` URI, warning about requirement pins this environment does not match."""
    model = mlflow.pyfunc.load_model(uri, suppress_warnings=True)
    source = Path(model.unwrap_python_model().model_folder_)
    if (source / "requirements.txt").exists():
        mismatches = requirement_mismatches((source / "requirements.txt").read_text().splitlines())
        if mismatches:
            log.warning("%s was logged with other package versions: %s", uri, ", ".join(mismatches))
    return model


def load_production(client: MlflowClient, name: str) -> tuple[ModelVersion, PyFuncModel]:
    """(registered version, its pyfunc model) behind `name@production`, or one line saying how to get one."""
    try:
        version = client.get_model_version_by_alias(name, PRODUCTION)
    except MlflowException:
        raise MindshareError(f"'{name}' has no production version yet; "
                             "run `mindshare promote --reason TEXT` first") from None
    return version, load_version(f"models:/{name}@{PRODUCTION}")


def load_recommender(name: str, version: str | int) -> RecommenderPyfunc:
    """Version `version` of `name` unwrapped: its recommender, cold-start policy, titles and key."""
    return load_version(f"models:/{name}/{version}").unwrap_python_model()
