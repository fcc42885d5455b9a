"""Tuning uplift learners on the Qini coefficient with cross-fitting, and choosing among them.

An effect is never observed for one person, so a learner is judged on people it did not learn from: the
training people are split into `folds` (stratified by arm and outcome), each fold's effects are predicted by the
learner fitted on the other folds, and the trial's value is the mean of the folds' Qini AUC
(`metrics.uplift.qini_auc_score`). Optuna's TPE sampler (seeded) searches LightGBM's settings; the first trial
is the learner's defaults. `choose_learner` tunes each learner named, keeps the one with the best cross-fitted
Qini AUC and refits it on every training person.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mindshare.metrics.uplift import qini_auc_score
from mindshare.uplift.learners import DEFAULTS, UpliftLearner, make_learner

log = logging.getLogger(__name__)


def suggest(trial) -> dict:
    """LightGBM's settings of one trial: simple trees and slow learning suit effects small against the noise."""
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 400, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 64, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 20, 1000, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 0.01, 30.0, log=True),
    }


def fold_ids(treatment: np.ndarray, outcome: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Each person's fold, stratified by arm and by whether the outcome happened."""
    from sklearn.model_selection import StratifiedKFold

    strata = np.asarray(treatment, dtype=np.int64) * 2 + (np.asarray(outcome) > 0)
    ids = np.empty(len(strata), dtype=np.int64)
    for fold, (_, held) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=seed).split(strata, strata)):
        ids[held] = fold
    return ids


def cross_fitted_effects(name: str, params: dict, x: pd.DataFrame, treatment: np.ndarray, outcome: np.ndarray,
                         folds: np.ndarray) -> np.ndarray:
    """Each person's effect predicted by the learner fitted on the other folds (never on the person)."""
    effects = np.empty(len(folds), dtype=np.float64)
    for fold in np.unique(folds):
        held = folds == fold
        learner = make_learner(name, params).fit(x[~held], treatment[~held], outcome[~held])
        effects[held] = learner.predict(x[held])
    return effects


def cross_fitted_qini(name: str, params: dict, x: pd.DataFrame, treatment: np.ndarray, outcome: np.ndarray,
                      folds: np.ndarray) -> float:
    """Mean over folds of the Qini AUC of each fold's effects, predicted by the learner fitted on the others."""
    effects = cross_fitted_effects(name, params, x, treatment, outcome, folds)
    return float(np.mean([qini_auc_score(outcome[folds == f], effects[folds == f], treatment[folds == f])
                          for f in np.unique(folds)]))


def stratified_sample(treatment: np.ndarray, outcome: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Row positions of a sample of `size` people stratified by arm and outcome (all of them where fewer)."""
    if len(treatment) <= size:
        return np.arange(len(treatment))
    from sklearn.model_selection import train_test_split

    strata = np.asarray(treatment, dtype=np.int64) * 2 + (np.asarray(outcome) > 0)
    kept, _ = train_test_split(np.arange(len(strata)), train_size=size, stratify=strata, random_state=seed)
    return np.sort(kept)


@dataclass
class Tuned:
    name: str
    params: dict
    qini: float  # the best trial's cross-fitted Qini AUC
    trials: list[dict] = field(default_factory=list)  # each trial's params and value
    seconds: float = 0.0


def tune_learner(name: str, x: pd.DataFrame, treatment: np.ndarray, outcome: np.ndarray, n_trials: int = 8,
                 folds: int = 3, seed: int = 0, timeout: float | None = None) -> Tuned:
    """An Optuna study of `name`'s LightGBM settings on the cross-fitted Qini AUC (first trial: the defaults)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started = time.perf_counter()
    treatment, outcome = np.asarray(treatment), np.asarray(outcome, dtype=np.float64)
    ids = fold_ids(treatment, outcome, folds, seed)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial(DEFAULTS)
    study.optimize(lambda trial: cross_fitted_qini(name, {**suggest(trial), "seed": seed}, x, treatment, outcome,
                                                   ids), n_trials=n_trials, timeout=timeout)
    trials = [{"params": t.params, "qini_auc": t.value} for t in study.trials if t.value is not None]
    log.info("%s: best cross-fitted Qini AUC %.4f of %d trials", name, study.best_value, len(trials))
    return Tuned(name, {**study.best_params, "seed": seed}, float(study.best_value), trials,
                 time.perf_counter() - started)


def choose_learner(x: pd.DataFrame, treatment: np.ndarray, outcome: np.ndarray, learners: list[str],
                   n_trials: int = 8, folds: int = 3, seed: int = 0, timeout: float | None = None,
                   max_people: int | None = None) -> tuple[UpliftLearner, list[Tuned]]:
    """Tune every learner named (on a stratified sample of `max_people` at most); the best by cross-fitted Qini
    AUC, refitted on all the people, and every study."""
    treatment, outcome = np.asarray(treatment), np.asarray(outcome, dtype=np.float64)
    rows = stratified_sample(treatment, outcome, max_people, seed) if max_people else np.arange(len(outcome))
    studies = [tune_learner(name, x.iloc[rows], treatment[rows], outcome[rows], n_trials, folds, seed, timeout)
               for name in learners]
    best = max(studies, key=lambda s: s.qini)
    return make_learner(best.name, best.params).fit(x, treatment, outcome), studies
