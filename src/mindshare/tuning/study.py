"""One resumable Optuna study per model, every trial an MLflow run nested under the study's run.

The objective fits the model on the train split with the trial's parameters (over the model's
params.yaml values) and returns the tuning metric on the valid split. Studies live in a journal
file in the project (`.optuna/studies.journal`, git-ignored) or, with `tune.storage`, in a
database that several workers share. A study's name carries a hash of everything that makes its
trials comparable (search space, the model's params, metric, sampler seed, pruner, data
fingerprint); a changed configuration starts a new study. A killed run resumes: finished trials
stay finished, and a trial whose process died is failed and run again.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import numpy as np
import optuna
import pandas as pd

from mindshare.data.interactions import Interactions
from mindshare.errors import MindshareError
from mindshare.evaluation import build_test_set, evaluate_model, hit_matrix, item_feature_matrix
from mindshare.evaluation.on_test import sample_test_users
from mindshare.layout import OPTUNA_JOURNAL
from mindshare.metrics import RATING_METRICS, ndcg_at_k
from mindshare.models import make_model
from mindshare.models.base import Recommender
from mindshare.models.cold_start import (
    MIN_USERS_TO_CHOOSE,
    SEGMENT_PRIOR_GRID,
    ColdStartPolicy,
    ColdStartSettings,
    choose_segment_prior,
)
from mindshare.tracking.store import process_alive
from mindshare.tuning.settings import StudySettings

log = logging.getLogger(__name__)
STEP_USERS = 5_000  # valid users a step of a fitting model is scored on (a pruning decision; all where fewer)
WARMUP_STEPS = 5  # no pruning before a model's 5th step (iteration, epoch; boosting rounds report every 10)
WORKER_ATTR = "mindshare.worker"
COLD_START_ATTR = "mindshare.segment_prior_scores"  # valid ndcg of little-history users by segment prior
RETRIED_ATTR = "mindshare.retried_from"
UNCLAIMED_GRACE_S = 300  # a running trial with no worker named on it this long after its start was orphaned


def open_storage(url: str | None) -> optuna.storages.BaseStorage:
    """The journal file in the project by default; a database URL (several workers) or a journal path."""
    if url and "://" in url:
        from sqlalchemy.exc import IntegrityError, OperationalError

        from mindshare.tracking.store import database_url

        url = database_url(url)

        # a trial whose worker has sent no heartbeat for grace_period seconds is retried elsewhere; a fit that
        # holds the GIL on a loaded machine can starve the heartbeat thread for tens of seconds (30 s made a
        # live trial stale in CI, and its worker then failed telling its result), so the grace is generous
        for attempt in range(6):  # workers starting together race to create the schema: the loser retries
            try:
                return optuna.storages.RDBStorage(
                    url, heartbeat_interval=10, grace_period=180,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2))
            except (IntegrityError, OperationalError):
                if attempt == 5:
                    raise
                time.sleep(0.5 * (attempt + 1))
    path = Path(url) if url else OPTUNA_JOURNAL
    path.parent.mkdir(parents=True, exist_ok=True)
    from optuna.storages.journal import JournalFileBackend

    # absolute: the journal's lock is a symlink to it, and a relative target in a subfolder dangles, so a lock left
    # by a killed process could never be seen as stale (a resumed study then waits for it forever)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path.resolve())))


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=WARMUP_STEPS)
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=WARMUP_STEPS)
    return optuna.pruners.NopPruner()


@dataclass
class ValidationData:
    """What every trial is fitted on (train) and scored on (valid); built once per study."""

    train: Interactions
    valid: pd.DataFrame
    items: pd.DataFrame | None
    cold_start: ColdStartSettings = field(default_factory=ColdStartSettings)
    exclude_seen: bool = True  # the repeat policy (data/repeats.py)
    _sets: dict = field(default_factory=dict)

    def segment_prior_scores(self, model: Recommender, k: int = 10) -> dict:
        """ndcg@k of valid users with little training history under each segment prior of the grid
        (for `cold_start.segment_prior: auto`); {} where there are too few such users."""
        test_set = self._sets.get("valid")
        if test_set is None or self.cold_start.segment_prior != "auto":
            return {}
        little = np.diff(self.train.matrix.indptr)[test_set.users] <= self.cold_start.max_interactions
        if little.sum() < MIN_USERS_TO_CHOOSE:
            return {}
        users, relevant, n_relevant = test_set.users[little], test_set.relevant[little], test_set.n_relevant[little]
        out = {}
        for prior in SEGMENT_PRIOR_GRID:
            policy = ColdStartPolicy(self.train, self.cold_start.model_copy(update={"segment_prior": prior}),
                                     exclude_seen=self.exclude_seen)
            items, _, _ = policy.recommend(model, users, k)
            out[str(prior)] = ndcg_at_k(hit_matrix(items, relevant), n_relevant, k)
        return {"users": int(little.sum()), "ndcg": out}

    def answer_users(self) -> np.ndarray:
        """The users a trial's model is asked about (valid's users known to train): a family may fit for them alone."""
        if "answer_users" not in self._sets:
            users = self.train.user_index(self.valid["user_id"]) if not self.valid.empty else np.empty(0, np.int64)
            self._sets["answer_users"] = np.unique(users[users >= 0])
        return self._sets["answer_users"]

    def score(self, model: Recommender, metric: str, step: bool = False) -> float:
        """The trial's figure on valid; for a step of a fitting model (`step`: a pruning decision only) on a
        seeded sample of at most STEP_USERS of valid's users, so that watching a fit costs little at scale."""
        if "valid" not in self._sets:
            if self.valid.empty:
                raise MindshareError("tuning needs a validation split: set prepare.split.valid_ratio (or "
                                     "valid_last_n) above 0 in params.yaml")
            self._sets["valid"] = build_test_set(self.train, self.valid, self.exclude_seen)
            self._sets["features"] = item_feature_matrix(self.train, self.items)
            step_valid = sample_test_users(self.valid, STEP_USERS, 0)
            self._sets["step"] = (self._sets["valid"], self.valid) if len(step_valid) == len(self.valid) else (
                build_test_set(self.train, step_valid, self.exclude_seen), step_valid)
        test_set, frame = self._sets["step"] if step else (self._sets["valid"], self.valid)
        k = int(metric.rsplit("_at_", 1)[1]) if "_at_" in metric else 10
        evaluation = evaluate_model(model, test_set, [k], 1, self._sets["features"], frame,
                                    intervals=False)  # a trial needs the figure, not its interval
        if metric not in evaluation.metrics:
            raise MindshareError(f"params.yaml: tuning metric '{metric}' is not measured for {model.name}; "
                                 f"use one of {', '.join(sorted(m for m in evaluation.metrics if '_ci_' not in m))}")
        return float(evaluation.metrics[metric])


def load_study(settings: StudySettings, name: str, seed_offset: int = 0) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the progress bar says it
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    sampler = optuna.samplers.TPESampler(seed=settings.seed + seed_offset)
    return optuna.create_study(study_name=name, storage=open_storage(settings.storage), sampler=sampler,
                               pruner=make_pruner(settings.pruner), direction=settings.direction,
                               load_if_exists=True)


def prepare_study(study: optuna.Study, settings: StudySettings) -> None:
    """A new study gets the model's params.yaml values as its first trial; a resumed one gets the
    trials of dead local workers failed and queued again."""
    trials = study.get_trials(deepcopy=False)
    if not trials and settings.dimensions:
        defaults = make_model(settings.model, settings.model_params).effective_params()
        study.enqueue_trial({d.name: d.storable(defaults[d.name]) for d in settings.dimensions
                             if defaults[d.name] is not None})  # None: left for the family to resolve, so sampled
    host = socket.gethostname()
    for trial in trials:
        if trial.state == optuna.trial.TrialState.RUNNING and _orphaned(trial, host):
            study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
            study.enqueue_trial(trial.params, user_attrs={RETRIED_ATTR: trial.number})
            log.info("trial %d of %s died with its process; queued again", trial.number, study.study_name)


def _orphaned(trial: optuna.trial.FrozenTrial, host: str) -> bool:
    """Whether a running trial's worker is a dead process of this machine. A trial exists a moment before its
    worker names itself on it: one without a name is another worker's fresh trial, unless it is old."""
    worker = trial.user_attrs.get(WORKER_ATTR)
    if worker is None:
        started = trial.datetime_start or datetime.now()
        return (datetime.now() - started).total_seconds() > UNCLAIMED_GRACE_S
    worker_host, _, pid = str(worker).partition(":")
    return worker_host == host and pid.isdigit() and not process_alive(int(pid))


def finished(study: optuna.Study) -> int:
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=states))


def run_trials(study: optuna.Study, settings: StudySettings, data: ValidationData,
               on_trial: Callable[[optuna.Study, optuna.trial.FrozenTrial], None], progress: bool = True) -> None:
    """Run trials until the study has `n_trials` finished ones (counting other workers' trials)."""
    remaining = settings.n_trials - finished(study)
    if remaining <= 0:
        log.info("study %s already has %d finished trials", study.study_name, finished(study))
        return
    maximise = settings.direction == "maximize"
    worker = f"{socket.gethostname()}:{os.getpid()}"
    refused: list[MindshareError] = []

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr(WORKER_ATTR, worker)
        suggested = {d.name: d.suggest(trial) for d in settings.dimensions}
        model = make_model(settings.model, settings.trial_params(suggested))
        model.step_callback = _pruning_callback(trial, settings.metric, maximise, data)
        model.answer_users = data.answer_users()  # a trial's model is asked about valid's users only
        try:
            model.fit(data.train)
            model.step_callback = None
            value = data.score(model, settings.metric)
            trial.set_user_attr(COLD_START_ATTR, data.segment_prior_scores(model))
            return value
        except MindshareError as error:  # a refusal (the family cannot take this data): stop with its one line
            refused.append(error)
            trial.study.stop()
            return float("nan")

    optimize_to_total(study, objective, settings.n_trials, settings.timeout, callbacks=[on_trial],
                      catch=(ArithmeticError, ValueError, np.linalg.LinAlgError, MemoryError),
                      show_progress_bar=progress, gc_after_trial=True)
    if refused:
        raise refused[0]


def optimize_to_total(study: optuna.Study, objective: Callable[[optuna.Trial], float], total: int,
                      timeout: float | None = None, **optimize_kwargs: Any) -> None:
    """`study.optimize` until the study holds `total` finished trials, counting every worker's.

    Two workers on one SQLite file can both start the same queued trial (SQLite has no row locks, so Optuna's
    claim of a waiting trial is not exclusive there); the one finishing second cannot record it, and Optuna raises.
    That worker's duplicate result is dropped and it goes on with the trials still missing.
    """
    stop_at_total = optuna.study.MaxTrialsCallback(
        total, states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED))
    callbacks = [stop_at_total, *optimize_kwargs.pop("callbacks", [])]
    started = time.monotonic()
    while (remaining := total - finished(study)) > 0:
        left = None if timeout is None else timeout - (time.monotonic() - started)
        if left is not None and left <= 0:
            return
        try:
            study.optimize(objective, n_trials=remaining, timeout=left, callbacks=callbacks, **optimize_kwargs)
            return
        except ValueError as error:
            if not str(error).startswith("Cannot tell a COMPLETE trial"):
                raise
            log.info("another worker finished a trial this one also ran; its result is kept, this one's dropped")


def _pruning_callback(trial: optuna.Trial, metric: str, maximise: bool, data: ValidationData):
    """Report a fitting model's steps to the trial and stop it when the pruner says so.

    A family's own figures are higher-is-better; where it gives none, the model is scored on valid.
    Steps of the other kind (a rating learner while tuning a ranking metric) are not reported.
    """
    wanted = "rating" if metric in RATING_METRICS else "ranking"

    def report(model: Recommender, step: int, value: float | None, kind: str) -> None:
        if kind != wanted:
            return
        if value is None:
            value = data.score(model, metric, step=True)
        elif not maximise:
            value = -value
        trial.report(float(value), step)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at step {step}")

    return report


def best_params(study: optuna.Study, settings: StudySettings) -> dict[str, Any]:
    """The best trial's parameters decoded to model values; the params.yaml values if none finished."""
    try:
        best = study.best_trial
    except ValueError:
        return {}
    by_name = {d.name: d for d in settings.dimensions}
    out = {}
    for name, value in best.params.items():
        dimension = by_name.get(name)
        if dimension is not None and dimension.type == "categorical":
            value = next((c for c in dimension.choices if dimension.storable(c) == value), value)
        out[name] = value
    return out


def state_counts(study: optuna.Study) -> dict[str, int]:
    counts = {"complete": 0, "pruned": 0, "failed": 0}
    for trial in study.get_trials(deepcopy=False):
        key = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed"}.get(trial.state.name)
        if key:
            counts[key] += 1
    return counts


def seconds(trial: optuna.trial.FrozenTrial) -> float:
    if trial.datetime_start is None or trial.datetime_complete is None:
        return 0.0
    return (trial.datetime_complete - trial.datetime_start).total_seconds()


def study_summary(study: optuna.Study, settings: StudySettings, name: str, run_id: str) -> dict[str, Any]:
    """What tune@<model> writes: the best parameters and value, the untuned value (trial 0), trial
    counts, and the segment prior for little-history users chosen with the best trial's model."""
    counts = state_counts(study)
    try:
        scores = study.best_trial.user_attrs.get(COLD_START_ATTR) or {}
    except ValueError:
        scores = {}
    first = [t.value for t in study.get_trials(deepcopy=False) if t.number == 0 and t.value is not None]
    return {"model": settings.model, "study": name, "metric": settings.metric, "direction": settings.direction,
            "best_params": best_params(study, settings),
            "best_value": study.best_value if counts["complete"] else None,
            "first_value": first[0] if first else None, "trials": counts, "mlflow_run_id": run_id,
            "cold_start": {"segment_prior": choose_segment_prior(scores), **scores}}
