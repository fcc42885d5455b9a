"""One campaign's uplift model from its recorded results (marketing/campaign_results.py): the learners tuned on
the cross-fitted Qini AUC, the best refitted on everyone, and its effects for people it never learned from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mindshare.metrics.uplift import qini_auc_score, uplift_at_k
from mindshare.settings import UpliftSettings
from mindshare.uplift.learners import UpliftLearner
from mindshare.uplift.report import decile_table
from mindshare.uplift.tuning import choose_learner, cross_fitted_effects, fold_ids

PROFILE_PREFIX = "profile_"  # a campaign result's profile columns (marketing/campaign_results.py)


def uplift_features(table: pd.DataFrame) -> pd.DataFrame:
    """The features an uplift model learns from and scores by: the campaign's score and the profile columns."""
    return table[["score", *[c for c in table.columns if c.startswith(PROFILE_PREFIX)]]].astype(np.float64)


@dataclass
class CampaignUplift:
    learner: UpliftLearner  # refitted on every person with a result
    report: dict  # the chosen learner, its settings and figures, every learner's cross-fitted Qini AUC
    outcome: np.ndarray
    treatment: np.ndarray
    effects: np.ndarray  # each person's effect predicted by the chosen learner fitted on the other folds
    deciles: pd.DataFrame  # measured uplift per tenth of the people ranked by those effects


def learn_campaign(table: pd.DataFrame, settings: UpliftSettings) -> CampaignUplift:
    x, treatment = uplift_features(table), table["treated"].to_numpy(dtype=np.int8)
    outcome = table[settings.outcome].to_numpy(dtype=np.float64)
    learner, studies = choose_learner(x, treatment, outcome, list(settings.learners), settings.n_trials,
                                      settings.folds, settings.seed, max_people=settings.max_tuning_people)
    effects = cross_fitted_effects(learner.name, learner.get_params(), x, treatment, outcome,
                                   fold_ids(treatment, outcome, settings.folds, settings.seed))
    report = {"learner": learner.name, "params": learner.get_params(), "outcome": settings.outcome,
              "people": int(len(outcome)), "treated": int(treatment.sum()), "control": int((1 - treatment).sum()),
              "qini_auc": qini_auc_score(outcome, effects, treatment),
              "uplift_at_30": uplift_at_k(outcome, effects, treatment, 0.3, "overall"),
              "learners": {s.name: {"qini_auc": s.qini, "params": s.params, "seconds": s.seconds} for s in studies}}
    return CampaignUplift(learner, report, outcome, treatment, effects, decile_table(outcome, effects, treatment))


def calibration(effects: np.ndarray, deciles: pd.DataFrame) -> dict:
    """How predicted effects translate into measured ones: the predicted effect where each tenth of the people
    (ranked best first) ends, and each tenth's measured uplift with its interval's half-width."""
    ranked = np.sort(np.asarray(effects, dtype=np.float64))[::-1]
    ends = [float(ranked[min(len(ranked) - 1, (g + 1) * len(ranked) // len(deciles))]) for g in range(len(deciles) - 1)]
    return {"edges": ends, "uplift": deciles["uplift"].astype(float).tolist(),
            "half_width": ((deciles["high"] - deciles["low"]) / 2).astype(float).tolist()}


def measured_outcomes(calibrated: dict, predicted: np.ndarray) -> tuple[float, float, float]:
    """(estimate, low, high): the incremental outcomes of sending to people with these predicted effects, as the
    tenths they fall in measured it on held-out people (a tenth's error shared by its people: 95% interval)."""
    groups = (np.asarray(calibrated["edges"])[None, :] > np.asarray(predicted)[:, None]).sum(axis=1)
    counts = np.bincount(groups, minlength=len(calibrated["uplift"]))
    estimate = float(counts @ np.asarray(calibrated["uplift"]))
    half = float(np.sqrt(np.sum((counts * np.asarray(calibrated["half_width"])) ** 2)))
    return estimate, estimate - half, estimate + half
