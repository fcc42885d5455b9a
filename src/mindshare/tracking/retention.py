"""Keeping the tracking store small (`mindshare prune`): delete pipeline runs older than the newest N, with
their nested runs, logged models and the registered versions made from them, unless the registry still
needs them; then MLflow's garbage collection removes their artifacts from disk for good.

A run is needed when a registered version made from it (or from one of its nested runs or logged models)
holds an alias or appears in a model's promotion history: rollback and serving must still find it.

A version flagged `mindshare.erasure_pending` (`mindshare forget`: its pickled model holds a forgotten person)
is deleted with its logged model by every prune, however new its run, unless an alias still needs it: the
promotion history alone does not keep a forgotten person's data (a rollback to it is refused instead).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator
from urllib.parse import urlparse
from urllib.request import url2pathname

from mlflow import MlflowClient
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

from mindshare.errors import MindshareError, suggestion
from mindshare.tracking.compare import PIPELINE_RUN
from mindshare.tracking.erasure import ERASURE_TAG
from mindshare.tracking.registry import history
from mindshare.tracking.store import FAMILY_TAG, SERVER_SCHEMES, STAGE_TAG, sqlite_file, store_scheme

GC_BATCH = 500  # ids per `mlflow gc` call: keeps the command line far below the system's limit


@dataclass
class PipelineRun:
    """One pipeline run with everything that goes when it goes."""

    run_id: str
    name: str
    experiment: str
    started: int  # ms since the epoch
    run_ids: list[str]  # itself and its nested runs
    families: int
    model_ids: list[str]  # logged models of those runs
    folders: list[Path]  # their artifact folders on this disk
    why_kept: str = ""  # set when an older run is kept: what still needs it

    @property
    def started_text(self) -> str:
        return datetime.fromtimestamp(self.started / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M")


@dataclass
class Hold:
    """A registered version, and why the registry needs it ('' when nothing does)."""

    name: str
    version: str
    run_id: str | None
    model_id: str | None
    why: str
    erasure_pending: bool = False  # holds a forgotten person (tracking/erasure.py): only an alias keeps it


@dataclass
class PrunePlan:
    keep: int
    runs: int  # pipeline runs considered
    protected: list[PipelineRun]  # older than the newest `keep`, kept for the registry
    remove: list[PipelineRun]
    versions: list[Hold]  # registered versions made from removed runs, none with alias or history
    purged_experiments: list[str]  # deleted earlier; `mlflow gc` removes them for good as well
    erased: list[Hold] = field(default_factory=list)  # flagged for erasure, no alias: deleted with their models
    erasure_blocked: list[Hold] = field(default_factory=list)  # flagged for erasure but an alias holds them

    @property
    def deletes(self) -> bool:
        return bool(self.remove or self.erased)

    @property
    def size(self) -> int:
        """Bytes in the artifact folders of the runs and logged models to remove."""
        return sum(folder_size(folder) for run in self.remove for folder in run.folders)


@dataclass
class PruneResult:
    before: int  # bytes of the store's artifact folders and database file
    after: int
    collected: bool  # False: the store cannot be garbage-collected from here (a tracking server)
    measured: list[Path] = field(default_factory=list)

    @property
    def freed(self) -> int:
        return self.before - self.after


def pages(search: Callable, *args, **kwargs) -> Iterator:
    """Every result of a paged MLflow search."""
    token = None
    while True:
        page = search(*args, page_token=token, **kwargs)
        yield from page
        token = page.token
        if not token:
            return


def find_experiments(client: MlflowClient, names: list[str] | None) -> list:
    """The named experiments (None: every active one in the store)."""
    known = list(pages(client.search_experiments))
    if names is None:
        return known
    by_name = {e.name: e for e in known}
    missing = [name for name in names if name not in by_name]
    if missing:
        raise MindshareError(f"no MLflow experiment '{missing[0]}' in this store{suggestion(missing[0], list(by_name))}"
                             "; pass --experiment or --all-experiments")
    return [by_name[name] for name in names]


def registry_holds(client: MlflowClient) -> list[Hold]:
    """Every registered version of every registered model, with the aliases and history that need it."""
    holds = []
    for model in pages(client.search_registered_models, max_results=100):
        aliases: dict[str, list[str]] = {}
        for alias, version in (model.aliases or {}).items():
            aliases.setdefault(str(version), []).append(alias)
        in_history = {str(event.get(key)) for event in history(client, model.name) for key in ("from", "to")
                      if event.get(key) is not None}
        for version in pages(client.search_model_versions, f"name = '{model.name}'", max_results=1000):
            number = str(version.version)
            pending = ERASURE_TAG in (version.tags or {})
            why = [f"alias {', '.join(sorted(aliases[number]))}"] if number in aliases else []
            why += ["in the promotion history"] if number in in_history and not pending else []
            holds.append(Hold(model.name, number, version.run_id, logged_model_id(version),
                              f"{model.name} version {number}: {' and '.join(why)}" if why else "", pending))
    return holds


def logged_model_id(version) -> str | None:
    """The logged model a registered version was made from (its `model_id`, or its source `models:/m-<id>`)."""
    source = str(getattr(version, "source", "") or "")
    return getattr(version, "model_id", None) or (source.removeprefix("models:/") if source.startswith("models:/m-")
                                                  else None)


def pipeline_runs(client: MlflowClient, experiment) -> list[PipelineRun]:
    """The experiment's pipeline runs, newest first, each with its nested runs and logged models."""
    found = pages(client.search_runs, [experiment.experiment_id], max_results=1000,
                  filter_string=f"attributes.run_name = '{PIPELINE_RUN}' AND tags.`{STAGE_TAG}` = 'evaluate'",
                  order_by=["attributes.start_time DESC"])
    runs = []
    for parent in found:
        family, families = [parent], 0
        for run in family:  # grows as it goes: nested runs of nested runs too
            children = list(pages(client.search_runs, [experiment.experiment_id], max_results=1000,
                                  filter_string=f"tags.`mlflow.parentRunId` = '{run.info.run_id}'"))
            families += sum(FAMILY_TAG in child.data.tags for child in children)
            family += children
        models = [model for run in family for model in pages(
            client.search_logged_models, [experiment.experiment_id], max_results=100,
            filter_string=f"source_run_id = '{run.info.run_id}'")]
        folders = [local_folder(run.info.artifact_uri) for run in family]
        folders += [local_folder(model.artifact_location) for model in models]
        is_running = parent.info.status == "RUNNING"
        runs.append(PipelineRun(parent.info.run_id, parent.info.run_name, experiment.name, parent.info.start_time,
                                [run.info.run_id for run in family], families, [m.model_id for m in models],
                                [folder for folder in folders if folder is not None],
                                "still running" if is_running else ""))
    return runs


def plan_prune(client: MlflowClient, experiments: list, keep: int) -> PrunePlan:
    """What `prune --keep` would remove and keep, per experiment, touching nothing."""
    if keep < 1:
        raise MindshareError(f"--keep is {keep}; give a whole number >= 1 (the newest runs to keep)")
    holds = registry_holds(client)
    plan = PrunePlan(keep, 0, [], [], [], [e.name for e in client.search_experiments(view_type=ViewType.DELETED_ONLY)])
    for experiment in experiments:
        runs = pipeline_runs(client, experiment)
        plan.runs += len(runs)
        for run in runs[keep:]:
            mine = [h for h in holds if h.run_id in run.run_ids or h.model_id in run.model_ids]
            run.why_kept = run.why_kept or "; ".join(h.why for h in mine if h.why)
            if run.why_kept:
                plan.protected.append(run)
            else:
                plan.remove.append(run)
                plan.versions += mine
    removed = {(h.name, h.version) for h in plan.versions}
    flagged = [h for h in holds if h.erasure_pending and (h.name, h.version) not in removed]
    plan.erased = [h for h in flagged if not h.why]
    plan.erasure_blocked = [h for h in flagged if h.why]
    return plan


def prune(client: MlflowClient, plan: PrunePlan, tracking_uri: str, experiments: list) -> PruneResult:
    """Delete what the plan removes, then garbage-collect it; the store's size before and after."""
    measured = store_folders(tracking_uri, experiments)
    before = sum(folder_size(path) for path in measured)
    erased_models = [h.model_id for h in plan.erased if h.model_id]
    erased_folders = [folder for model_id in erased_models
                      if (folder := local_folder(client.get_logged_model(model_id).artifact_location))]
    try:
        for hold in plan.versions + plan.erased:
            client.delete_model_version(hold.name, hold.version)
        for hold in plan.erased:  # the pickle that holds the person
            if hold.model_id:
                client.delete_logged_model(hold.model_id)
        for run in plan.remove:
            for model_id in run.model_ids:
                client.delete_logged_model(model_id)
            for run_id in run.run_ids:
                client.delete_run(run_id)
    except MlflowException as error:
        raise MindshareError(f"prune: the store refused a deletion ({str(error).splitlines()[0][:200]}); "
                             "what was deleted stays deleted, run prune again to finish") from None
    collected = collect_garbage(tracking_uri, [i for r in plan.remove for i in r.run_ids],
                                [i for r in plan.remove for i in r.model_ids] + erased_models)
    if collected:
        for run in plan.remove:
            for folder in run.folders:  # gc removes .../<id>/artifacts and leaves the empty <id>/
                remove_empty(folder.parent, run.run_ids + run.model_ids)
        for folder in erased_folders:
            remove_empty(folder.parent, erased_models)
    return PruneResult(before, sum(folder_size(path) for path in measured), collected, measured)


def collect_garbage(tracking_uri: str, run_ids: list[str], model_ids: list[str]) -> bool:
    """`mlflow gc` on these deleted runs and logged models; False if the store is a tracking server
    (its backend store is on the server: run `mlflow gc` there). Each call names runs and models both
    where it can: gc given no ids of a kind takes every deleted one of that kind."""
    if store_scheme(tracking_uri) in SERVER_SCHEMES:
        return False
    calls = max(1, -(-max(len(run_ids), len(model_ids)) // GC_BATCH))
    for call in range(calls):
        runs, models = run_ids[call::calls], model_ids[call::calls]
        command = [sys.executable, "-m", "mlflow", "gc"]  # the store from the environment: no password in `ps`
        command += ["--run-ids", ",".join(runs)] if runs else []
        command += ["--logged-model-ids", ",".join(models)] if models else []
        done = subprocess.run(command, capture_output=True, text=True,
                              env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri})
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1][:300]
            raise MindshareError(f"mlflow gc failed ({last}); the runs are deleted but their artifacts remain: "
                                 "run `MLFLOW_TRACKING_URI=<this store> mlflow gc` to finish")
    return True


def store_folders(tracking_uri: str, experiments: Iterable) -> list[Path]:
    """The local artifact roots of these experiments (nested ones once) and a SQLite store's file."""
    roots = sorted({folder.resolve() for e in experiments if (folder := local_folder(e.artifact_location))})
    paths = [root for root in roots if not any(other in root.parents for other in roots)]
    database = sqlite_file(tracking_uri)
    return paths + ([database] if database is not None else [])


def local_folder(uri: str | None) -> Path | None:
    """The path of a `file:` artifact URI (or a bare path); None for a remote one."""
    if not uri:
        return None
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(url2pathname(parsed.path))
    return Path(uri) if parsed.scheme == "" else None


def folder_size(path: Path) -> int:
    """Bytes in the files under `path` (or of the file); 0 if it does not exist."""
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def remove_empty(folder: Path, ids: list[str]) -> None:
    """Remove a run's or model's own folder (named by its id) if gc left it empty."""
    if folder.name in ids and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def human_size(size: int) -> str:
    """'812 bytes', '41.2 KB', '3.0 MB', '1.2 GB'."""
    if abs(size) < 1024:
        return f"{size} bytes"
    scaled, unit = size / 1024, "KB"
    for larger in ("MB", "GB"):
        if abs(scaled) < 1024:
            break
        scaled, unit = scaled / 1024, larger
    return f"{scaled:.1f} {unit}"
