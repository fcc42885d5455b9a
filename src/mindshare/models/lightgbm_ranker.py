"""LightGBM hybrid: a LambdaRank re-ranker (LGBMRanker) over the base families' candidates, and an
LGBMRegressor for ratings on the same pair features plus the rating families' predictions.
See `reranker.py` for exactly how the training data is made.

The ranker's boosting starts from `prior_weight` x the prior family's within-user standardised
score (LightGBM's init_score; the prior is the first base family unless another ranks the check held out of
the fit data clearly better, see reranker.py), so it learns corrections to the strongest family instead of
re-learning it from a few thousand groups. The trees are kept only if they clearly beat the prior on that
check; otherwise the model ranks by the prior (`fallback_` is True; `validation_ndcg_` holds the figures).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from mindshare.models.reranker import DEFAULT_SIGNALS, CandidateReranker

DEFAULT_BASES = ("item_knn_ease", "svd", "item_knn", "user_knn")
DEFAULT_RATERS = ("baseline", "item_knn", "user_knn", "svd:biased_als")


def capped_threads(n_jobs: int) -> int:
    """`n_jobs`, at most OMP_NUM_THREADS when that is set: LightGBM's own thread count overrides OpenMP's, and two
    processes each spinning two OpenMP threads on two cores run several times slower than one thread each."""
    limit = os.environ.get("OMP_NUM_THREADS", "")
    if not limit.isdigit() or int(limit) == 0:
        return n_jobs
    return int(limit) if n_jobs <= 0 else min(n_jobs, int(limit))


class LightGBMRanker(CandidateReranker):
    """LightGBM re-ranker: LambdaRank trees that reorder the base families' candidates, boosted from the prior
    family's scores, and an LGBMRegressor for ratings (module docstring; reranker.py: how the training data is
    made).

    The hybrid: it combines what the bases see with the pair features (content, price, repeats, the feature
    tables), and ranks by its trees only where they clearly beat the prior on a check held out of the fit data.
    Worth its cost where the bases disagree and the features carry information; otherwise it ranks as its prior.

    Parameters
    ----------
    base_models : sequence of str, default ('item_knn_ease', 'svd', 'item_knn', 'user_knn')
        The base families whose top lists make the candidates, each 'family' or 'family:algorithm' (e.g.
        'svd:ials'); the first is the prior unless another is clearly better on the check (reranker.py). Families
        that see the data differently (a regression, a factorisation, item and user neighbourhoods), EASE first as
        the strongest single family on the sample (docs/benchmarks.md, "Ranking: Microsoft Recommenders'
        protocol").
    rating_models : sequence of str, default ('baseline', 'item_knn', 'user_knn', 'svd:biased_als')
        The families whose out-of-fold rating predictions are the rating learner's inputs (explicit data only):
        the baseline and the families that predict ratings.
    n_candidates : int, default 50
        Each base's top items per user (unseen, unless `repeats`) that join the candidates: several times the
        top 10 measured, so that the learner has items to promote; each more costs pairs to score.
    holdout_share : float, default 0.2
        The share of each user's interactions in a holdout fold (round(1 / holdout_share) folds), as in the usual
        80 / 20 split.
    holdout_folds : int, default 5
        Folds whose held-out items make training groups, each a refit of every base family; 5, every fold of the
        default share, multiplies the groups where users are few (`max_groups` bounds them where users are many).
    early_stopping_share : float, default 0.2
        The share of users whose candidate groups early-stop the learner instead of training it, as holdout_share.
    learn : str, default 'both'
        'ranking', 'rating' or 'both' learners; both by default, the rating learner being skipped where the data
        has no ratings.
    n_estimators : int, default 500
        Boosting rounds at most; early stopping ends the fit sooner.
    learning_rate : float, default 0.02
        Shrinkage of each tree: small, with many rounds and early stopping, so that the trees correct the prior in
        small steps.
    num_leaves : int, default 31
        Leaves per tree; LightGBM's default.
    min_child_samples : int, default 50
        Candidate pairs a leaf needs at least. Above LightGBM's default (20): positives are few per group, and a
        leaf resting on a handful of pairs learns noise.
    subsample : float, default 0.8
        The share of pairs each round draws (bagging every round), against overfitting.
    colsample_bytree : float, default 0.8
        The share of features each tree draws, against leaning on one feature.
    reg_lambda : float, default 1.0
        L2 penalty on the leaf values: a mild one.
    objective : str, default 'lambdarank'
        The ranking objective (LightGBM's 'lambdarank' or 'rank_xendcg'); LambdaRank optimises nDCG, the
        measure the families are compared on.
    prior_weight : float, default 3.0
        The boosting starts from prior_weight x the prior family's within-user standardised score (init_score),
        so that the trees learn corrections to the strongest family rather than re-learning it from a few
        thousand groups; large enough that the prior's order holds unless the trees find a clear correction.
        Tuning searches it. 0: the trees start from nothing.
    early_stopping_rounds : int, default 100
        Rounds without improvement on the early-stopping users after which boosting stops (the best round is
        kept): generous, as one round at the small learning rate moves little.
    signals : sequence of str, default ('content', 'price')
        Optional pair-feature groups from 'content', 'price', 'time' and 'repeat' (candidates.py). Content and
        price by default: they need only the catalogue; 'time' lowered the ranking on the sample
        (docs/benchmarks.md, "Bases that see differently, item content, re-ranker signals"). With `repeats`,
        'repeat' and 'time' are added.
    n_jobs : int, default 2
        LightGBM's threads, at most OMP_NUM_THREADS where it is set (`capped_threads`); -1: every core. Two, so
        that a fit does not take every core of a shared machine.
    seed : int, default 0
        Seeds the folds, the early-stopping users, the samples and LightGBM, so that a fit is reproducible.
    max_groups : int or None, default 5_000
        Training groups (user x fold) at most: fewer folds, then a seeded sample of users per fold; None: all. It
        keeps the fit's cost flat in the number of users at little cost in quality (docs/benchmarks.md, "Bounds:
        what each costs in quality").
    base_params : dict or None, default None
        A base's hyper-parameters by its spec ({'item_knn': {'n_neighbours': 'auto'}}); None: every base with its
        family's defaults, the settings the learners' own defaults were chosen with (module docstring of
        reranker.py).
    max_rating_rows : int or None, default 1_000_000
        Held-out ratings the rating learner takes at most (fewer folds, then a seeded sample); None: all. Explicit
        logs of tens of millions of ratings then refit the raters once, not five times; smaller logs are under it.
    holdout : str, default 'random'
        How the check and the training folds are cut: 'random' (a random fold of each user's interactions) or
        'last_days' (the last `holdout_days` days: the future before the test's). Random by default: it needs no
        timestamps; the pipeline sets 'last_days' where its split is by time (`with_data_policy`).
    holdout_days : int, default 30
        The window of 'last_days', in days: a month, as the pipeline's validation window by default; the pipeline
        passes its own (`with_data_policy`).
    repeats : bool, default False
        Rank the items people had too (the repeat policy include), with the repeat signals and buy_again as the
        first base. Off by default, as a model's lists leave out seen items by default (`exclude_seen=True`); the
        pipeline sets it from `repeat.policy` (`with_data_policy`).
    """

    name = "lightgbm"
    method = "LightGBM LambdaRank re-ranker"

    def __init__(self, base_models=DEFAULT_BASES, rating_models=DEFAULT_RATERS, n_candidates: int = 50,
                 holdout_share: float = 0.2, holdout_folds: int = 5, early_stopping_share: float = 0.2,
                 learn: str = "both", n_estimators: int = 500, learning_rate: float = 0.02, num_leaves: int = 31,
                 min_child_samples: int = 50, subsample: float = 0.8, colsample_bytree: float = 0.8,
                 reg_lambda: float = 1.0, objective: str = "lambdarank", prior_weight: float = 3.0,
                 early_stopping_rounds: int = 100, signals: tuple[str, ...] = DEFAULT_SIGNALS,
                 n_jobs: int = 2, seed: int = 0,
                 max_groups: int | None = 5_000, base_params: dict[str, dict] | None = None,
                 max_rating_rows: int | None = 1_000_000, holdout: str = "random", holdout_days: int = 30,
                 repeats: bool = False) -> None:
        self._init_reranker(
            base_models, rating_models, n_candidates, holdout_share, holdout_folds, early_stopping_share, learn, seed,
            signals, max_groups, base_params, max_rating_rows, holdout, holdout_days, repeats,
        )
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.objective = objective
        self.prior_weight = prior_weight
        self.early_stopping_rounds = early_stopping_rounds
        self.n_jobs = n_jobs

    def _settings(self) -> dict:
        return {
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "subsample": self.subsample,
            "subsample_freq": 1,
            "colsample_bytree": self.colsample_bytree,
            "reg_lambda": self.reg_lambda,
            "random_state": self.seed,
            "n_jobs": capped_threads(self.n_jobs),
            "verbose": -1,
        }

    def _callbacks(self, kind: str) -> list:
        def report(env) -> None:  # every 10 rounds: the early-stopping users' figure (higher is better)
            if self.step_callback is not None and env.iteration % 10 == 9:
                _, metric, value, higher_is_better = env.evaluation_result_list[0]
                value = value if higher_is_better else -np.sqrt(value) if metric == "l2" else -value
                self._report_step(env.iteration + 1, value, kind)

        import lightgbm as lgb  # here, not at import: answering from a saved model needs only its pickle

        return [lgb.early_stopping(self.early_stopping_rounds, verbose=False), report]

    def _prior(self, x: np.ndarray) -> np.ndarray:
        """The boosting starts from the prior family's within-user standardised score (times prior_weight)."""
        return self.prior_weight * x[:, self.prior_column_]

    def _prior_scores(self, x: np.ndarray) -> np.ndarray:
        """What the trees must beat: their prior, or the prior family's score where prior_weight is 0."""
        return self._prior(x) if self.prior_weight else x[:, self.prior_column_]

    def _fit_ranker(self, x, y, groups, x_stop, y_stop, groups_stop, names) -> None:
        import lightgbm as lgb

        self.ranker_ = lgb.LGBMRanker(objective=self.objective, **self._settings())
        self.ranker_.fit(
            x,
            y,
            group=groups,
            init_score=self._prior(x),
            eval_X=x_stop,
            eval_y=y_stop,
            eval_group=[groups_stop],
            eval_init_score=[self._prior(x_stop)],
            eval_at=[10],
            feature_name=names,
            callbacks=self._callbacks("ranking"),
        )

    def _learned_scores(self, x: np.ndarray) -> np.ndarray:
        return self._prior(x) + self.ranker_.booster_.predict(x, num_iteration=self.ranker_.best_iteration_ or None)

    def _fit_regressor(self, x, y, x_stop, y_stop, names) -> None:
        import lightgbm as lgb

        self.regressor_ = lgb.LGBMRegressor(objective="regression", **self._settings())
        self.regressor_.fit(x, y, eval_X=x_stop, eval_y=y_stop, feature_name=names, callbacks=self._callbacks("rating"))

    def _regress(self, x: np.ndarray) -> np.ndarray:
        return self.regressor_.booster_.predict(x, num_iteration=self.regressor_.best_iteration_ or None)

    def feature_importances(self) -> pd.DataFrame:
        """Gain importances of the ranker and the regressor (where fitted), largest first."""
        tables = []
        for part, learner in (
            ("ranking", getattr(self, "ranker_", None)),
            ("rating", getattr(self, "regressor_", None)),
        ):
            if learner is not None:
                gain = learner.booster_.feature_importance(importance_type="gain")
                tables.append(pd.DataFrame({"model": part, "feature": learner.booster_.feature_name(), "gain": gain}))
        if not tables:
            return pd.DataFrame(columns=["model", "feature", "gain"])
        return pd.concat(tables).sort_values(["model", "gain"], ascending=[True, False], ignore_index=True)
