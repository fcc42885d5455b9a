"""The tracking store: a SQLite file in the project by default, `MLFLOW_TRACKING_URI` to switch."""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from pathlib import Path

STAGE_TAG = "mindshare.stage"
GIT_COMMIT_TAG = "mindshare.git_commit"
DATA_FINGERPRINT_TAG = "mindshare.data_fingerprint"
SPLIT_FINGERPRINT_TAG = "mindshare.split_fingerprint"
FAMILY_TAG = "mindshare.model_family"


def quiet_mlflow() -> None:
    """Silence the deprecation chatter that SQLAlchemy 2.1 and friends print on every store start."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*SADeprecationWarning.*")
    try:
        from sqlalchemy.exc import SADeprecationWarning

        warnings.filterwarnings("ignore", category=SADeprecationWarning)
    except ImportError:  # pragma: no cover
        pass
    for name in ("mlflow", "alembic", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def default_tracking_uri(project_root: Path) -> str:
    return f"sqlite:///{(project_root / 'mlflow.db').resolve()}"


def configure_tracking(project_root: str | Path = ".") -> str:
    """Point MLflow at `MLFLOW_TRACKING_URI`, else at `<project>/mlflow.db`; return the URI."""
    quiet_mlflow()
    import mlflow

    uri = os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(Path(project_root))
    mlflow.set_tracking_uri(uri)
    return uri


def use_experiment(name: str, project_root: str | Path = ".") -> str:
    """Set the active experiment, creating it with artifacts under `<project>/mlruns` on a local store."""
    import mlflow

    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None:
        location = None
        if mlflow.get_tracking_uri().startswith("sqlite:"):
            location = (Path(project_root).resolve() / "mlruns").as_uri()
        experiment_id = mlflow.create_experiment(name, artifact_location=location)
    else:
        experiment_id = experiment.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def git_commit(project_root: str | Path = ".") -> str:
    """The checked-out commit, with '-dirty' if tracked files changed; 'unknown' outside git."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project_root, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=project_root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit
