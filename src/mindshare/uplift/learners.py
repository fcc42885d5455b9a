"""Uplift learners: who buys *because* of a message, learned from a randomised campaign (treated and control).

Each learner estimates the conditional average treatment effect tau(x) = E[outcome | x, sent] - E[outcome | x,
not sent] with LightGBM underneath (a classifier for 0/1 outcomes, a regressor for values such as spend):

- `SLearner`: one model of the outcome on the features and the treatment flag; tau = f(x, 1) - f(x, 0).
- `TLearner`: one model per arm; tau = f1(x) - f0(x).
- `XLearner` (Künzel et al., PNAS 2019): the T-learner's models impute each person's effect (a treated person's
  outcome minus what the control model expected, and the other way round), a regressor per arm learns those, and
  the two are blended by the treated share: tau = e tau0(x) + (1 - e) tau1(x).
- `ClassTransformation` (Jaskowski and Jaroszewicz 2012): for 0/1 outcomes, a classifier of z = 1 when (treated
  and bought) or (control and did not); tau = 2 P(z | x) - 1. People are weighted so that both arms count alike
  (the formula assumes equal arms; the weights make it hold for any split). For values, the transformed outcome
  y (t - e) / (e (1 - e)) is regressed instead (its expectation is tau).

Parameters shared by every learner
----------------------------------
n_estimators : int
    Boosting rounds of each LightGBM model (default 200).
learning_rate : float
    Shrinkage per round (default 0.05).
num_leaves : int
    Leaves per tree (default 15: effects are small against the outcome's noise, so the trees are kept simple).
min_child_samples : int
    People per leaf at least (default 100, for the same reason).
reg_lambda : float
    L2 penalty on leaf values (default 1.0).
seed : int
    LightGBM's seed (default 0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DEFAULTS = {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 100,
            "reg_lambda": 1.0}


def is_binary(outcome: np.ndarray) -> bool:
    return bool(np.isin(np.asarray(outcome, dtype=np.float64), (0.0, 1.0)).all())


class UpliftLearner:
    """fit(features, treatment, outcome) then predict(features) -> each person's estimated effect."""

    name = "uplift"

    def __init__(self, n_estimators: int = 200, learning_rate: float = 0.05, num_leaves: int = 15,
                 min_child_samples: int = 100, reg_lambda: float = 1.0, seed: int = 0) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.seed = seed

    def get_params(self) -> dict:
        return {k: getattr(self, k) for k in (*DEFAULTS, "seed")}

    def _lightgbm(self, classify: bool):
        import lightgbm

        kind = lightgbm.LGBMClassifier if classify else lightgbm.LGBMRegressor
        return kind(n_estimators=self.n_estimators, learning_rate=self.learning_rate, num_leaves=self.num_leaves,
                    min_child_samples=self.min_child_samples, reg_lambda=self.reg_lambda, random_state=self.seed,
                    verbose=-1, n_jobs=-1)

    def _outcome_model(self):
        return self._lightgbm(self.binary_)

    @staticmethod
    def _expected(model, x: pd.DataFrame) -> np.ndarray:
        """A fitted outcome model's expected outcome: P(outcome = 1) for a classifier."""
        return model.predict_proba(x)[:, 1] if hasattr(model, "predict_proba") else model.predict(x)

    def fit(self, x: pd.DataFrame, treatment: np.ndarray, outcome: np.ndarray) -> "UpliftLearner":
        treatment = np.asarray(treatment, dtype=np.int8)
        outcome = np.asarray(outcome, dtype=np.float64)
        if not (treatment == 1).any() or not (treatment == 0).any():
            raise ValueError("an uplift learner needs treated and control people")
        self.binary_ = is_binary(outcome)
        self.treated_share_ = float(treatment.mean())
        self.features_ = list(x.columns)
        self._fit(x, treatment, outcome)
        return self

    def _fit(self, x: pd.DataFrame, treatment: np.ndarray, outcome: np.ndarray) -> None:
        raise NotImplementedError

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        """Each person's estimated effect of being sent the message (on the outcome's scale)."""
        raise NotImplementedError


class SLearner(UpliftLearner):
    __doc__ = "One LightGBM model of the outcome on the features and the treatment flag (see the module)."
    name = "s_learner"

    def _fit(self, x, treatment, outcome) -> None:
        self.model_ = self._outcome_model().fit(x.assign(_treated=treatment), outcome)

    def predict(self, x) -> np.ndarray:
        sent = self._expected(self.model_, x.assign(_treated=np.ones(len(x), dtype=np.int8)))
        not_sent = self._expected(self.model_, x.assign(_treated=np.zeros(len(x), dtype=np.int8)))
        return sent - not_sent


class TLearner(UpliftLearner):
    __doc__ = "A LightGBM outcome model per arm; the effect is their difference (see the module)."
    name = "t_learner"

    def _fit(self, x, treatment, outcome) -> None:
        sent = treatment == 1
        self.treated_model_ = self._outcome_model().fit(x[sent], outcome[sent])
        self.control_model_ = self._outcome_model().fit(x[~sent], outcome[~sent])

    def predict(self, x) -> np.ndarray:
        return self._expected(self.treated_model_, x) - self._expected(self.control_model_, x)


class XLearner(TLearner):
    __doc__ = "The T-learner's models impute effects, a regressor per arm learns them (Künzel et al. 2019)."
    name = "x_learner"

    def _fit(self, x, treatment, outcome) -> None:
        super()._fit(x, treatment, outcome)
        sent = treatment == 1
        imputed_treated = outcome[sent] - self._expected(self.control_model_, x[sent])
        imputed_control = self._expected(self.treated_model_, x[~sent]) - outcome[~sent]
        self.treated_effect_ = self._lightgbm(classify=False).fit(x[sent], imputed_treated)
        self.control_effect_ = self._lightgbm(classify=False).fit(x[~sent], imputed_control)

    def predict(self, x) -> np.ndarray:
        e = self.treated_share_
        return e * self.control_effect_.predict(x) + (1 - e) * self.treated_effect_.predict(x)


class ClassTransformation(UpliftLearner):
    __doc__ = "A classifier of the transformed class, arms weighted alike; for values, the transformed outcome."
    name = "class_transformation"

    def _fit(self, x, treatment, outcome) -> None:
        e = self.treated_share_
        if self.binary_:
            z = (outcome == treatment).astype(np.int8)  # treated and bought, or control and did not
            weights = np.where(treatment == 1, 0.5 / e, 0.5 / (1 - e))
            self.model_ = self._lightgbm(classify=True).fit(x, z, sample_weight=weights)
        else:
            transformed = outcome * (treatment - e) / (e * (1 - e))
            self.model_ = self._lightgbm(classify=False).fit(x, transformed)

    def predict(self, x) -> np.ndarray:
        if self.binary_:
            return 2 * self.model_.predict_proba(x)[:, 1] - 1
        return self.model_.predict(x)


LEARNERS: dict[str, type[UpliftLearner]] = {c.name: c for c in (SLearner, TLearner, XLearner, ClassTransformation)}


def make_learner(name: str, params: dict | None = None) -> UpliftLearner:
    if name not in LEARNERS:
        raise ValueError(f"uplift learner '{name}' is unknown; use one of {', '.join(LEARNERS)}")
    return LEARNERS[name](**(params or {}))
