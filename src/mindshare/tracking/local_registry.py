"""A registered version read straight from a local SQLite store and loaded from its own files, without
MLflow: `mindshare recommend` is a new process each time, and MLflow's imports and store set-up alone
take about 1.6 s of it (measured in docs/benchmarks.md, "Model and store sizes").

MLflow's client stays the source of truth. This reads two tables of its registry schema,
`registered_model_aliases` and `model_versions`, from the database opened read-only, and the version's
MLmodel file for our pyfunc's artifacts and config. Anything else answers None and the caller uses the
client: another kind of store, `MLFLOW_REGISTRY_URI` set, no such alias, a version that is not READY,
files that are not on this machine, a model that is not our pyfunc, or a schema that does not answer
the query (a future MLflow). tests/test_serving.py checks that both paths give the same answers on a
real store, and that `recommend` on a local store does not import MLflow.

The requirement pins a version was logged with are compared with this environment's here too
(MLflow's own check scans every installed distribution, about half a second).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

import yaml

from mindshare.models.served import ServedRecommender, exclude_seen_of, model_key
from mindshare.settings import ColdStartSettings, checked_block
from mindshare.tracking.store import sqlite_file

log = logging.getLogger(__name__)

VERSION_BY_ALIAS = """
SELECT v.version, v.run_id, v.storage_location, v.status
FROM registered_model_aliases AS a
JOIN model_versions AS v ON v.name = a.name AND v.version = a.version
WHERE a.name = ? AND a.alias = ?
"""


@dataclass(frozen=True)
class LocalVersion:
    name: str
    version: str
    run_id: str
    folder: Path  # the logged model's folder: MLmodel, artifacts/, requirements.txt


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


def warn_on_mismatched_requirements(folder: str | Path, what: str) -> None:
    requirements = Path(folder) / "requirements.txt"
    if requirements.exists():
        mismatches = requirement_mismatches(requirements.read_text().splitlines())
        if mismatches:
            log.warning("%s was logged with other package versions: %s", what, ", ".join(mismatches))


def local_version(tracking_uri: str, name: str, alias: str) -> LocalVersion | None:
    """`name@alias` from a local SQLite store whose model files are on this machine, else None."""
    database = sqlite_file(tracking_uri)
    if database is None or os.environ.get("MLFLOW_REGISTRY_URI") or not database.is_file():
        return None
    try:
        with closing(sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)) as db:
            rows = db.execute(VERSION_BY_ALIAS, (name, alias)).fetchall()
    except sqlite3.Error as error:  # locked, or a schema this query does not fit: the client knows
        log.debug("reading %s@%s from %s directly failed (%s); using MLflow's client", name, alias, database, error)
        return None
    if len(rows) != 1:
        return None
    version, run_id, location, status = rows[0]
    if status != "READY" or not isinstance(location, str) or urlparse(location).scheme != "file":
        return None
    folder = Path(unquote(urlparse(location).path))
    if not (folder / "MLmodel").is_file():
        return None
    return LocalVersion(name, str(version), run_id or "", folder)


def load_local(version: LocalVersion) -> ServedRecommender | None:
    """The version's recommender as our pyfunc would load it, from its files; None if the folder does not
    hold our pyfunc (its MLmodel names no `model` and `items` artifacts)."""
    try:
        flavor = yaml.safe_load((version.folder / "MLmodel").read_text())["flavors"]["python_function"]
        artifacts = {key: version.folder / entry["path"] for key, entry in flavor["artifacts"].items()}
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None
    if not {"model", "items"} <= artifacts.keys() or not all(path.is_file() for path in artifacts.values()):
        return None
    warn_on_mismatched_requirements(version.folder, f"models:/{version.name}/{version.version}")
    settings = checked_block(ColdStartSettings, (flavor.get("config") or {}).get("cold_start"),
                             "the model's cold_start settings")
    served = ServedRecommender()
    served.load_files(artifacts["model"], artifacts["items"], artifacts.get("users"), settings,
                      model_key(flavor.get("config")), exclude_seen_of(flavor.get("config")))
    return served

