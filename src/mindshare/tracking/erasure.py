"""Erasure in the MLflow store: a forgotten person's rows out of the runs' table artifacts, and every registered
version trained before the erasure flagged until the next training replaces it.

Table artifacts (CSV, JSON lines, Parquet: audiences, per-user metrics) of every run in the project's experiment are
downloaded, rewritten without the person's pseudonym and logged again at the same path (which replaces them, on a
local store and on a tracking server alike); so are the tables logged with each model (the pyfunc's users table).
A pickled model cannot be edited: its version gets the tag
`mindshare.erasure_pending` (the date; never the pseudonym): `dvc repro` trains and registers versions without
the person; promote one, then `mindshare prune` deletes the flagged versions that no alias needs (retention.py).
"""

from __future__ import annotations

import json
import tempfile
from datetime import date
from pathlib import Path
from typing import Callable

import pandas as pd
from mlflow import MlflowClient

ERASURE_TAG = "mindshare.erasure_pending"
TABLE_SUFFIXES = (".csv", ".jsonl", ".parquet")


def _tables(listing: Callable[[str | None], list], path: str | None = None) -> list[str]:
    """The table files under `path` of an artifact tree that `listing(path)` lists one level at a time."""
    found = []
    for entry in listing(path):
        if entry.is_dir:
            found.extend(_tables(listing, entry.path))
        elif entry.path.lower().endswith(TABLE_SUFFIXES):
            found.append(entry.path)
    return found


def _without(file: Path, pseudonym: str) -> int:
    """Rewrite `file` without the person's rows; rows removed."""
    if file.suffix.lower() == ".parquet":
        rows = pd.read_parquet(file)
        if "user_id" not in rows.columns:
            return 0
        mine = rows["user_id"].astype(str) == pseudonym
        if mine.any():
            rows[~mine].to_parquet(file, index=False)
        return int(mine.sum())
    if pseudonym.encode() not in file.read_bytes():
        return 0
    if file.suffix.lower() == ".csv":
        rows = pd.read_csv(file, dtype=str, keep_default_na=False)
        mine = rows["user_id"] == pseudonym if "user_id" in rows.columns else pd.Series(False, index=rows.index)
        rows[~mine].to_csv(file, index=False)
        return int(mine.sum())
    lines = file.read_text().splitlines(keepends=True)
    kept = [line for line in lines if json.loads(line).get("user_id") != pseudonym]
    file.write_text("".join(kept))
    return len(lines) - len(kept)


def purge_run_artifacts(client: MlflowClient, experiment_ids: list[str], pseudonym: str) -> dict[str, int]:
    """Rows removed per `run_id/artifact path` from the table artifacts of every run of the experiments."""
    removed: dict[str, int] = {}
    for run in client.search_runs(experiment_ids, max_results=50_000):
        paths = _tables(lambda path, run_id=run.info.run_id: client.list_artifacts(run_id, path))
        if not paths:
            continue
        with tempfile.TemporaryDirectory() as folder:
            for path in paths:
                local = Path(client.download_artifacts(run.info.run_id, path, folder))
                count = _without(local, pseudonym)
                if count:
                    parent = str(Path(path).parent)
                    client.log_artifact(run.info.run_id, str(local), None if parent == "." else parent)
                    removed[f"{run.info.run_id}/{path}"] = count
    return removed


def purge_logged_model_tables(client: MlflowClient, experiment_ids: list[str], pseudonym: str) -> dict[str, int]:
    """Rows removed per `model_id/artifact path` from the tables logged with each model (the pyfunc's users table:
    pseudonym, gender, age group), rewritten at the same path. The pickled model itself is flagged instead."""
    from mlflow.artifacts import download_artifacts

    removed: dict[str, int] = {}
    token = None
    while True:
        page = client.search_logged_models(experiment_ids, max_results=100, page_token=token)
        for model in page:
            paths = _tables(lambda path, model_id=model.model_id: client.list_logged_model_artifacts(model_id, path))
            if not paths:
                continue
            with tempfile.TemporaryDirectory() as folder:
                for path in paths:
                    local = Path(download_artifacts(artifact_uri=f"{model.artifact_location}/{path}",
                                                    dst_path=folder))
                    count = _without(local, pseudonym)
                    if count:
                        parent = str(Path(path).parent)
                        client.log_model_artifact(model.model_id, str(local), None if parent == "." else parent)
                        removed[f"{model.model_id}/{path}"] = count
        token = page.token
        if not token:
            return removed


def flag_versions(client: MlflowClient, name: str) -> int:
    """Tag every version of `name` as trained on data that held a forgotten person; versions flagged."""
    flagged = 0
    for version in client.search_model_versions(f"name = '{name}'"):
        client.set_model_version_tag(name, version.version, ERASURE_TAG, date.today().isoformat())
        flagged += 1
    return flagged
