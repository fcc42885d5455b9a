"""The tracking store: a SQLite file in the project by default, `MLFLOW_TRACKING_URI` to switch."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import warnings
from pathlib import Path

from mindshare.errors import MindshareError

STAGE_TAG = "mindshare.stage"
GIT_COMMIT_TAG = "mindshare.git_commit"
DATA_FINGERPRINT_TAG = "mindshare.data_fingerprint"
SPLIT_FINGERPRINT_TAG = "mindshare.split_fingerprint"
FAMILY_TAG = "mindshare.model_family"
KEY_FINGERPRINT_TAG = "mindshare.key_fingerprint"  # the pseudonymisation key's public fingerprint
OWNER_TAG = "mindshare.owner"  # host:pid of the process that opened a run: finds runs orphaned by a kill
DATABASE_SCHEMES = ("postgresql", "mysql", "mssql", "sqlite")
HOSTED_SCHEMES = ("databricks", "databricks-uc", "uc")
SERVER_SCHEMES = ("http", "https", *HOSTED_SCHEMES)  # stores whose files live on another machine
_checked: set[str] = set()


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def process_tags() -> dict[str, str]:
    """Tags every run gets: who opened it (`owner`) and the pseudonymisation key's fingerprint (where a key is set)."""
    from mindshare.data.pseudonymise import current_fingerprint

    fingerprint = current_fingerprint()
    return {OWNER_TAG: owner(), **({KEY_FINGERPRINT_TAG: fingerprint} if fingerprint else {})}


def quiet_mlflow() -> None:
    """Silence the deprecation chatter that SQLAlchemy 2.1 and friends print on every store start."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # SQLAlchemy's SADeprecationWarning is one
    warnings.filterwarnings("ignore", category=FutureWarning)
    for name in ("mlflow", "alembic", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def default_tracking_uri(project_root: Path) -> str:
    return f"sqlite:///{(project_root / 'mlflow.db').resolve()}"


def database_url(url: str) -> str:
    """A PostgreSQL URL with the driver of the `postgres` extra: SQLAlchemy reads plain `postgresql://`
    as psycopg2, which is not a dependency; psycopg 3 is (`postgresql+psycopg://`). Others unchanged.
    Without the extra installed, a PostgreSQL URL is one line naming it."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            import importlib.util

            if importlib.util.find_spec("psycopg") is None:
                raise MindshareError(f"{url.split('@')[-1]}: a PostgreSQL database needs the postgres extra (psycopg "
                                     "not installed): pip install 'mindshare[postgres]'")
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def tracking_uri(project_root: str | Path = ".") -> str:
    """`MLFLOW_TRACKING_URI`, else `<project>/mlflow.db` (without importing MLflow)."""
    return database_url(os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(Path(project_root)))


def configure_tracking(project_root: str | Path = ".") -> str:
    """Point MLflow at `tracking_uri(project_root)`; return the URI."""
    quiet_mlflow()
    import mlflow

    uri = tracking_uri(project_root)
    if uri not in _checked:
        check_tracking(uri)
        _checked.add(uri)
    mlflow.set_tracking_uri(uri)
    return uri


def tracking_client():
    """An MlflowClient on the store `configure_tracking` chooses (runs and the model registry)."""
    from mlflow import MlflowClient

    configure_tracking()
    return MlflowClient()


def store_scheme(uri: str) -> str:
    """The kind of a tracking URI: 'sqlite', 'postgresql', 'http', … ('file' for a bare path)."""
    return uri.split(":", 1)[0].split("+", 1)[0].lower() if "://" in uri or uri.startswith("sqlite:") else "file"


def sqlite_file(uri: str) -> Path | None:
    """The database file of a `sqlite:///` store, else None."""
    return Path(uri.split(":///", 1)[-1]) if store_scheme(uri) == "sqlite" else None


def check_tracking(uri: str, timeout: float = 5.0) -> None:
    """One clear line (exit 2) if the tracking store cannot be reached, before a stage writes anything."""
    scheme = store_scheme(uri)
    where = f"MLFLOW_TRACKING_URI {uri}"
    if scheme == "sqlite":
        path = sqlite_file(uri)
        if not path.parent.exists():
            raise MindshareError(f"{where}: folder {path.parent} does not exist; create it or fix the variable")
    elif scheme in ("http", "https"):
        import urllib.error
        import urllib.request

        try:
            urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout).close()  # noqa: S310
        except urllib.error.HTTPError:
            pass  # it answered (an auth proxy's 401/403, an old server without /health): reachable
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise MindshareError(f"{where}: the tracking server does not answer ({reason}); start it or fix the "
                                 "variable") from None
    elif scheme in DATABASE_SCHEMES:
        import sqlalchemy

        try:
            with sqlalchemy.create_engine(uri, connect_args=_connect_timeout(scheme, timeout)).connect():
                pass
        except Exception as error:  # every driver has its own errors
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise MindshareError(f"{where}: cannot connect to the database ({first}); fix the variable") from None
    elif scheme not in ("file", *HOSTED_SCHEMES):
        raise MindshareError(f"{where}: unknown kind of store '{scheme}'; use sqlite:///path, http(s)://server or a "
                             "database URL")


def _connect_timeout(scheme: str, seconds: float) -> dict:
    return {"connect_timeout": int(seconds)} if scheme in ("postgresql", "mysql") else {}


def mark_orphaned_runs() -> int:
    """Runs left RUNNING by a process of this machine that no longer exists (killed) become KILLED.
    A store that cannot be searched is said in a warning; the stage goes on."""
    try:
        return _mark_orphaned_runs()
    except Exception as error:  # a locked or out-of-date store must not stop a stage over housekeeping
        logging.getLogger(__name__).warning("could not look for orphaned runs: %s", str(error).splitlines()[0][:200])
        return 0


def _mark_orphaned_runs() -> int:
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    host = socket.gethostname()
    experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return 0
    marked = 0
    for run in client.search_runs(experiments, filter_string="attributes.status = 'RUNNING'", max_results=5000):
        who_host, _, pid = run.data.tags.get(OWNER_TAG, "").partition(":")
        if who_host == host and pid.isdigit() and not process_alive(int(pid)):
            client.set_tag(run.info.run_id, "mindshare.orphaned", "killed with its process")
            client.set_terminated(run.info.run_id, "KILLED")
            marked += 1
    return marked


def process_alive(pid: int) -> bool:
    """Whether a process of this machine exists (a zombie counts until its parent reaps it)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


EXPERIMENT_KIND_TAG = "mlflow.experimentKind"


def use_experiment(name: str, project_root: str | Path = ".") -> str:
    """Set the active experiment, creating it with artifacts under `<project>/mlruns` on a local store."""
    import mlflow

    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None:
        location = None
        if store_scheme(mlflow.get_tracking_uri()) == "sqlite":
            location = (Path(project_root).resolve() / "mlruns").as_uri()
        # a model-development experiment: the UI's runs table, not its GenAI overview
        experiment_id = mlflow.create_experiment(name, artifact_location=location,
                                                 tags={EXPERIMENT_KIND_TAG: "custom_model_development"})
    else:
        experiment_id = experiment.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def git_commit(project_root: str | Path = ".") -> str:
    """The checked-out commit, with '-dirty' if tracked files changed; 'unknown' outside git. What the
    pipeline itself writes while it runs (dvc.lock, the committed metrics under reports/) does not count."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project_root, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)dvc.lock", ":(exclude)reports"], cwd=project_root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}-dirty" if dirty else commit
