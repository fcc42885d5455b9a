"""The model registry: versions with lineage, the `challenger` alias, promotion and rollback.

A version's tags are short (family, primary metric and value, lineage); its other figures are the
metrics of its source run, where the promotion gate reads them.

Promotion moves the `production` alias (MLflow's replacement for the deprecated stages). Every
promotion and rollback is an event stored as a registered-model tag `mindshare.history.NNNNNN`
(who, when, why, from, to), so the history lives in the registry itself. Rollback replays the
events as a stack: each promotion pushes the version it replaced, each rollback pops one.
"""

from __future__ import annotations

import getpass
import json
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from mindshare.errors import MindshareError, PolicyRefusal
from mindshare.metrics.names import greater_is_better
from mindshare.settings import PromotionSettings
from mindshare.tracking.aliases import CHALLENGER, PRODUCTION
from mindshare.tracking.store import DATA_FINGERPRINT_TAG, FAMILY_TAG, GIT_COMMIT_TAG, SPLIT_FINGERPRINT_TAG

HISTORY_PREFIX = "mindshare.history."
PRIMARY_METRIC_TAG = "mindshare.primary_metric"
PRIMARY_VALUE_TAG = "mindshare.primary_metric_value"


@dataclass
class Candidate:
    """One evaluated model to register."""

    family: str
    model_uri: str
    run_id: str
    metrics: dict[str, float]
    tags: dict[str, str] = field(default_factory=dict)  # lineage: short values only


def register_candidates(client: MlflowClient, name: str, candidates: list[Candidate], primary_metric: str) -> dict:
    """Register every candidate as a new version; the best by `primary_metric` gets `challenger`."""
    if not candidates:
        raise MindshareError("register: no evaluated models to register; run the evaluate stage first")
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description="mindshare recommender (one version per evaluated model)")
    versions = {}
    for candidate in candidates:
        if primary_metric not in candidate.metrics:
            raise MindshareError(
                f"params.yaml: register.primary_metric '{primary_metric}' is not among the evaluated metrics; "
                f"use one of {', '.join(sorted(candidate.metrics))}"
            )
        tags = {
            FAMILY_TAG: candidate.family,
            PRIMARY_METRIC_TAG: primary_metric,
            PRIMARY_VALUE_TAG: repr(float(candidate.metrics[primary_metric])),
            **candidate.tags,
        }
        # a logged model's URI (models:/m-<id>) names its model id: a tracking server checks the two agree
        model_id = (
            candidate.model_uri.removeprefix("models:/") if candidate.model_uri.startswith("models:/m-") else None
        )
        version = client.create_model_version(name, candidate.model_uri, run_id=candidate.run_id, tags=tags,
                                              model_id=model_id,
                                              description=describe_candidate(candidate, primary_metric))
        versions[candidate.family] = str(version.version)
    sign = 1.0 if greater_is_better(primary_metric) else -1.0
    best = max(candidates, key=lambda c: sign * c.metrics[primary_metric])
    client.set_registered_model_alias(name, CHALLENGER, versions[best.family])
    return {
        "registered_model": name,
        "versions": versions,
        "challenger": versions[best.family],
        "challenger_family": best.family,
        "primary_metric": primary_metric,
    }


def describe_candidate(candidate: Candidate, primary_metric: str) -> str:
    """A registered version's description, as the registry UI shows it: family, the primary metric with its
    95% interval over users, the data set and split it was measured on (the test digest is the one of the
    source run's `test` dataset input)."""
    metrics = candidate.metrics
    interval = (f" (95% CI {metrics[f'{primary_metric}_ci_low']:.4f}-{metrics[f'{primary_metric}_ci_high']:.4f})"
                if f"{primary_metric}_ci_low" in metrics else "")
    labels = (("data set", "mindshare.dataset"), ("split", "mindshare.split_protocol"),
              ("test digest", SPLIT_FINGERPRINT_TAG))
    where = ", ".join(f"{label} {candidate.tags[tag]}" for label, tag in labels if tag in candidate.tags)
    return f"{candidate.family}: {primary_metric} {metrics[primary_metric]:.4f}{interval} on the test split" + \
        (f" ({where})" if where else "")


def _version_by_alias(client: MlflowClient, name: str, alias: str):
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _get_version(client: MlflowClient, name: str, version: str):
    try:
        return client.get_model_version(name, str(version))
    except MlflowException:
        raise MindshareError(f"registered model '{name}' has no version {version}; see `mindshare models`") from None


def _require_model(client: MlflowClient, name: str) -> None:
    try:
        client.get_registered_model(name)
    except MlflowException:
        raise MindshareError(f"no registered model '{name}' in this store; run `dvc repro` first") from None


def history(client: MlflowClient, name: str) -> list[dict]:
    """Promotion and rollback events, oldest first."""
    _require_model(client, name)
    tags = client.get_registered_model(name).tags
    return [json.loads(tags[key]) for key in sorted(k for k in tags if k.startswith(HISTORY_PREFIX))]


LOCK_FOLDER = Path(".mindshare") / "locks"


@contextmanager
def registry_lock(name: str, seconds: float = 60.0):
    """Promotions and rollbacks of `name` one at a time (an exclusive lock on a file in .mindshare/locks/, shared
    by every process on this machine); a refusal (exit 1) if another holds it longer than `seconds`."""
    import fcntl

    LOCK_FOLDER.mkdir(parents=True, exist_ok=True)
    with open(LOCK_FOLDER / f"registry-{name}.lock", "a") as handle:
        deadline = time.monotonic() + seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise PolicyRefusal(f"another promotion or rollback of '{name}' has held the lock for "
                                        f"{seconds:.0f} s; try again when it is done") from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _move_production(client: MlflowClient, name: str, version: str, event: dict) -> dict:
    """Record `event` in the history, then move the alias: both or neither (the record is removed if the move
    fails). Call under `registry_lock`."""
    seq = len(history(client, name)) + 1
    event = {
        "seq": seq,
        "who": os.environ.get("MINDSHARE_USER") or getpass.getuser(),
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **event,
    }
    tag = f"{HISTORY_PREFIX}{seq:06d}"
    client.set_registered_model_tag(name, tag, json.dumps(event))
    try:
        client.set_registered_model_alias(name, PRODUCTION, version)
    except Exception:
        client.delete_registered_model_tag(name, tag)
        raise
    return event


def _primary(version) -> tuple[str | None, float | None]:
    metric = version.tags.get(PRIMARY_METRIC_TAG)
    value = version.tags.get(PRIMARY_VALUE_TAG)
    return metric, (float(value) if value is not None else None)


def run_metrics(client: MlflowClient, version) -> dict[str, float]:
    """The figures evaluate logged on the version's source run ({} where the run is gone)."""
    if not version.run_id:
        return {}
    try:
        return {k: float(v) for k, v in client.get_run(version.run_id).data.metrics.items()}
    except MlflowException:
        return {}


@dataclass
class Measured:
    """A version's metrics on one test split, and its per-user values there (None if unknown)."""

    metrics: dict[str, float]
    per_user: pd.DataFrame | None = None


@dataclass
class GateResult:
    allowed: bool
    message: str
    checks: list[str] = field(default_factory=list)  # one line per check, 'ok ...' or 'FAIL ...'


def quality_gate(
    candidate,
    production,
    settings: PromotionSettings,
    reevaluate: Callable[[object, object], Measured | None] | None,
    per_user: Callable[[object], pd.DataFrame | None] = lambda version: None,
    metrics: Callable[[object], dict[str, float]] = lambda version: {},
    online: tuple[bool, str] | None = None,
) -> GateResult:
    """May `candidate` replace `production`? Every check is reported; any failure refuses.

    With `online` (the sequential test's verdict: passed?, its line) the live evidence takes the place of
    the offline primary-metric check; the guardrails (and a required significant lead) still apply.

    Both must be measured on the same data and split; if they were not, `reevaluate(production,
    candidate)` measures production on the candidate's test split (None: it cannot). `metrics(version)`
    gives a version's figures besides the primary one (for the guardrails).
    """
    metric, candidate_value = _primary(candidate)
    prod_metric, prod_primary = _primary(production)
    if metric is None or candidate_value is None:
        return GateResult(
            False, f"version {candidate.version} has no primary metric tag; register it through the pipeline"
        )
    same_split = (
        prod_metric == metric
        and prod_primary is not None
        and candidate.tags.get(DATA_FINGERPRINT_TAG) == production.tags.get(DATA_FINGERPRINT_TAG)
        and candidate.tags.get(SPLIT_FINGERPRINT_TAG) == production.tags.get(SPLIT_FINGERPRINT_TAG)
    )
    if same_split:
        measured = Measured(
            {**metrics(production), metric: prod_primary},
            per_user(production) if settings.require_significant_lead else None,
        )
    else:
        measured = reevaluate(production, candidate) if reevaluate else None
        if measured is None or measured.metrics.get(metric) is None:
            return GateResult(
                False,
                f"versions {candidate.version} and {production.version} were measured on different data or splits and "
                "production cannot be re-evaluated on the candidate's test split here; run `dvc repro` on the "
                "candidate's data, or use --force",
            )
    candidate_metrics = {**metrics(candidate), metric: candidate_value}
    checks, failures = [], []

    def check(ok: bool, text: str) -> None:
        checks.append(f"{'ok  ' if ok else 'FAIL'} {text}")
        if not ok:
            failures.append(text)

    prod_value = float(measured.metrics[metric])
    shortfall = _drop(metric, candidate_value, prod_value)
    versus = (
        f"worse than production {prod_value:.4f} by {shortfall:.4f}"
        if shortfall > 0
        else f"vs production {prod_value:.4f}"
    )
    if online is not None:
        check(*online)
    else:
        check(
            shortfall <= settings.tolerance,
            f"{metric}: candidate {candidate_value:.4f} {versus} (tolerance {settings.tolerance})",
        )
    for name, allowed in (settings.guardrails or {}).items():
        if name not in candidate_metrics or name not in measured.metrics:
            check(False, f"guardrail {name}: not measured for both versions")
            continue
        drop = _drop(name, candidate_metrics[name], measured.metrics[name])
        check(
            drop <= allowed,
            f"guardrail {name}: candidate {candidate_metrics[name]:.4f} vs production "
            f"{measured.metrics[name]:.4f} (drop {max(drop, 0):.4f}, allowed {allowed})",
        )
    if settings.require_significant_lead:
        candidate_users, production_users = per_user(candidate), measured.per_user
        if candidate_users is None or production_users is None or metric not in candidate_users:
            check(False, f"significant lead on {metric}: per-user values are missing for a version")
        else:
            paired = candidate_users[["user_id", metric]].merge(production_users[["user_id", metric]], on="user_id")
            a, b = paired[f"{metric}_x"].to_numpy(), paired[f"{metric}_y"].to_numpy()
            sign = 1.0 if greater_is_better(metric) else -1.0
            from mindshare.metrics.significance import paired_comparison  # scipy.stats: only when gating

            comparison = paired_comparison(sign * a, sign * b)
            check(comparison.significant, "significant lead: " + comparison.describe(metric, "candidate", "production"))
    if failures:
        return GateResult(False, "; ".join(failures) + "; use --force to override", checks)
    return GateResult(True, checks[0][5:], checks)


def _drop(metric: str, candidate: float, production: float) -> float:
    """How much worse the candidate is (negative: better), in the metric's better direction."""
    return (production - candidate) if greater_is_better(metric) else (candidate - production)


def per_user_values(version) -> pd.DataFrame | None:
    """The per-user metrics that evaluate logged with the version's run (None if absent)."""
    import mlflow

    try:
        path = mlflow.artifacts.download_artifacts(run_id=version.run_id, artifact_path="per_user_metrics.parquet")
    except (MlflowException, OSError):
        return None
    return pd.read_parquet(path)


def promote(
    client: MlflowClient,
    name: str,
    reason: str,
    version: str | None = None,
    force: bool = False,
    reevaluate: Callable | None = None,
    settings: PromotionSettings | None = None,
    per_user: Callable[[object], pd.DataFrame | None] = per_user_values,
    online: tuple[bool, str, dict] | None = None,
) -> dict:
    """Move `production` to `version` (default: the challenger) if the gate allows; record the event.

    The gate's checks (one line each) are in the event's `checks`; a refusal carries them too. `online`
    (passed?, the line, the evidence) puts the online experiment's verdict in place of the offline
    primary-metric check; the evidence is kept in the event."""
    _require_model(client, name)
    if not reason.strip():
        raise MindshareError("promote: --reason must say why")
    with registry_lock(name):
        return _promote(client, name, reason, version, force, reevaluate, settings, per_user, online)


def _promote(client, name, reason, version, force, reevaluate, settings, per_user, online) -> dict:
    if version is None:
        candidate = _version_by_alias(client, name, CHALLENGER)
        if candidate is None:
            raise MindshareError(f"registered model '{name}' has no challenger; run `dvc repro` or pass --version")
    else:
        candidate = _get_version(client, name, version)
    production = _version_by_alias(client, name, PRODUCTION)
    if production is not None and str(production.version) == str(candidate.version):
        raise PolicyRefusal(f"version {candidate.version} is already in production; nothing to promote")
    gate = GateResult(True, "no production version yet")
    if production is not None:
        gate = quality_gate(
            candidate, production, settings or PromotionSettings(), reevaluate, per_user,
            lambda v: run_metrics(client, v), online[:2] if online is not None else None,
        )
        if not gate.allowed and not force:
            raise GateRefusal(f"promotion refused: {gate.message}", gate.checks)
    return _move_production(
        client,
        name,
        str(candidate.version),
        {
            "action": "promote",
            "from": str(production.version) if production else None,
            "to": str(candidate.version),
            "why": reason,
            "forced": bool(force and not gate.allowed),
            "gate": gate.message,
            "checks": gate.checks,
            **({"online": online[2]} if online is not None else {}),
        },
    )


class GateRefusal(PolicyRefusal):
    """A refused promotion, with the gate's checks (one line each) for the CLI to print."""

    def __init__(self, message: str, checks: list[str]) -> None:
        super().__init__(message)
        self.checks = checks


def rollback_target(events: list[dict]) -> str | None:
    """Replay events as a stack; the version a rollback would restore, or None."""
    stack: list[str] = []
    for event in events:
        if event["action"] == "promote" and event.get("from") is not None:
            stack.append(event["from"])
        elif event["action"] == "rollback" and stack:
            stack.pop()
    return stack[-1] if stack else None


def rollback(client: MlflowClient, name: str, reason: str) -> dict:
    """Move `production` back to the version the last unreverted promotion replaced."""
    if not reason.strip():
        raise MindshareError("rollback: --reason must say why")
    with registry_lock(name):
        target = rollback_target(history(client, name))
        production = _version_by_alias(client, name, PRODUCTION)
        if target is None or production is None:
            raise PolicyRefusal("nothing to roll back to: production has no earlier version in the promotion history")
        try:
            client.get_model_version(name, target)
        except MlflowException:
            raise PolicyRefusal(f"rollback: version {target}, the one production replaced, was deleted (prune "
                                "deletes a version that holds a forgotten person); promote a version instead") from None
        return _move_production(client, name, target,
                                {"action": "rollback", "from": str(production.version), "to": target, "why": reason})


def describe_versions(client: MlflowClient, name: str) -> list[dict]:
    """Each version with its aliases, primary metric and lineage, newest first."""
    _require_model(client, name)
    model = client.get_registered_model(name)
    aliases: dict[str, list[str]] = {}
    for alias, version in (model.aliases or {}).items():
        aliases.setdefault(str(version), []).append(alias)
    rows = []
    for version in client.search_model_versions(f"name='{name}'"):
        metric, value = _primary(version)
        rows.append(
            {
                "version": int(version.version),
                "aliases": ",".join(sorted(aliases.get(str(version.version), []))),
                "family": version.tags.get(FAMILY_TAG, ""),
                "primary_metric": metric or "",
                "value": value,
                "created": datetime.fromtimestamp(version.creation_timestamp / 1000, timezone.utc).strftime(
                    "%Y-%m-%d %H:%M"
                ),
                "git_commit": version.tags.get(GIT_COMMIT_TAG, "")[:12],
                "data_fingerprint": version.tags.get(DATA_FINGERPRINT_TAG, ""),
                "run_id": version.run_id,
            }
        )
    return sorted(rows, key=lambda r: -r["version"])
