"""Re-rankers: learn to order the candidates that the base families propose.

How the training data is made (no test label reaches it). First a check is held out of the fit data: a
random fold of each user's interactions (`holdout: random`), or its last `holdout_days` days (`holdout:
last_days`, the future before the test's future). From the rest, each user's interactions are shuffled and
dealt into round(1 / holdout_share) disjoint folds (users with one interaction keep it out of every fold), or
cut into the windows of `holdout_days` days before the check's; for each of the first `holdout_folds` folds,
the base families are fitted on what precedes or surrounds it; each user's candidates are the union of their
top `n_candidates` unseen items (and, with `repeats`, the items they had in the bases' top lists); a
candidate's label is 1 if it is in that fold. Users are then split
(`early_stopping_share`) into those the learner trains on and those it is early-stopped on. For
ratings, the rating families' predictions for the held-out ratings of every fold (made by models
that never saw them: out-of-fold stacking) plus the pair features are the inputs and the held-out
rating the target (at most `max_rating_rows` of them: fewer folds, then a seeded sample of each fold's
ratings, so that explicit logs of tens of millions of ratings refit the raters once, not five times).
Finally the base families are refitted on all the fit data and the learner re-ranks their candidates.
Feature tables attached to the data (the features stage) are computed on all fit data, so user and item
aggregates include the held-out part.

The check is the test one level down: the base families fitted on the rest rank the check's items over the
whole catalogue, and the learner ranks their candidates. The prior (the boosting's start) is the first of
`base_models` unless another base's nDCG@10 there is clearly higher (by more than one standard error of the
paired per-user difference, `clearly_better`): then the best of them. The learner is kept only if it clearly
beats the prior there, else the model ranks by the prior and says so in `fallback_` (and fit_facts'
`ranks_by`). When scoring, a
pair's base scores are standardised against its user's candidates, never against the rest of the
batch, so score(u, i) is one number whatever else is asked for.

`base_params` (spec -> values) sets a base's hyper-parameters; by default each base runs with its
library defaults. The shipped params.yaml gives item_knn `n_neighbours: auto` (item_knn.py), probed in its first
fit and taken as chosen there by the base's later fits: where the data wants larger neighbourhoods than the
default, the re-ranker gains (on a large log its prior became item-kNN); on the sample nothing moves. Giving the
bases their standalone models' tuned values is not the pipeline's default: it helped on a large synthetic log but
lowered both learners' test figures on MovieLens latest-small, the learners having been tuned on default bases
(docs/benchmarks.md, "Scale" and "The re-ranker with its item-kNN base sizing itself").
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from mindshare.data.interactions import Interactions
from mindshare.errors import MindshareError
from mindshare.metrics.ranking import hit_matrix, per_user
from mindshare.models.base import Recommender
from mindshare.models.candidates import (
    SIGNALS,
    Candidates,
    ScoredPool,
    generate_candidates,
    pair_features,
    place_in_pool,
    score_pool,
    split_holdout,
    with_seen_candidates,
)
from mindshare.models.families import base_for, fitted_base, make_base, params_key, users_key
from mindshare.models.repeat_signals import RepeatContext, repeat_context, split_last_days

log = logging.getLogger(__name__)
LEARN = ("both", "ranking", "rating")
HOLDOUTS = ("random", "last_days")
# The optional feature groups on by default. "time" (recency.py) is off: it lowered lightgbm's nDCG@10 on the
# sample (docs/benchmarks.md, "Bases that see differently, item content, re-ranker signals").
DEFAULT_SIGNALS = ("content", "price")


class CandidateReranker(Recommender):
    """Shared fit / recommend / score / predict_ratings; subclasses supply the learners."""

    supports_ratings = True
    uses_embeddings = False
    max_groups: int | None = None  # models saved before the setting: every fold, every user
    max_rating_rows: int | None = None  # models saved before the setting: every held-out rating
    prior_column_: int = 0  # models saved before the prior was chosen: the first base family
    base_params: dict[str, dict] | None = None  # models saved before the setting: every base with its defaults
    holdout: str = "random"  # models saved before the setting
    holdout_days: int = 30
    repeats: bool = False

    def _init_reranker(
        self, base_models, rating_models, n_candidates, holdout_share, holdout_folds, early_stopping_share, learn, seed,
        signals, max_groups, base_params=None, max_rating_rows=None, holdout="random", holdout_days=30, repeats=False,
    ) -> None:
        self.holdout = holdout
        self.holdout_days = holdout_days
        self.repeats = repeats
        self.base_params = base_params
        self.max_rating_rows = max_rating_rows
        self.max_groups = max_groups
        self.signals = list(signals)
        self.base_models = list(base_models)
        self.rating_models = list(rating_models)
        self.n_candidates = n_candidates
        self.holdout_share = holdout_share
        self.holdout_folds = holdout_folds
        self.early_stopping_share = early_stopping_share
        self.learn = learn
        self.seed = seed

    # --- learners (subclasses) ---
    def _fit_ranker(self, x, y, groups, x_stop, y_stop, groups_stop, names) -> None:
        raise NotImplementedError

    def _learned_scores(self, x: np.ndarray) -> np.ndarray:
        """The fitted ranker's scores of feature rows."""
        raise NotImplementedError

    def _prior_scores(self, x: np.ndarray) -> np.ndarray:
        """What the ranker must beat: the prior family's within-user standardised score."""
        return x[:, self.prior_column_]

    def _choose_prior(self, x: np.ndarray, y: np.ndarray, groups: np.ndarray, names: list[str],
                      check: "CheckFold | None" = None) -> None:
        """The prior: the first base family, unless another ranks the check's held-out items clearly better over
        the whole catalogue (see `_choose_ranking` and `clearly_better`: the best of them then); where the check
        has no user, the one whose score ranks the training groups best (the first on a tie)."""
        columns = [c for c, name in enumerate(names) if name.startswith("score_")]
        if check is not None and len(check.users):
            self.prior_ndcg_ = {names[c]: float(v) for c, v in zip(columns, check.base_ndcg.mean(axis=0))}
            best = int(np.argmax(check.base_ndcg.mean(axis=0)))  # the first on a tie
            chosen = best if clearly_better(check.base_ndcg[:, best], check.base_ndcg[:, 0]) else 0
            self.prior_column_ = columns[chosen]
            where = f"the check's {len(check.users)} users' whole-catalogue nDCG@10"
        else:
            group_ids = np.repeat(np.arange(len(groups)), groups)
            self.prior_ndcg_ = {names[c]: grouped_ndcg(x[:, c], y, group_ids, 10) for c in columns}
            self.prior_column_ = max(columns, key=lambda c: (self.prior_ndcg_[names[c]], -c))
            where = "training groups' nDCG@10"
        log.info("%s: prior %s (%s %s)", self.name, names[self.prior_column_], where,
                 ", ".join(f"{name} {value:.4f}" for name, value in self.prior_ndcg_.items()))

    def _fit_regressor(self, x, y, x_stop, y_stop, names) -> None:
        raise NotImplementedError

    def _regress(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # --- shared flow ---
    def _embeddings(self, bases: list[Recommender]):
        for base in bases:
            if self.uses_embeddings and hasattr(base, "user_factors_"):
                return base.user_factors_, base.item_factors_
        return None

    def _fit(self, train: Interactions) -> None:
        if self.learn not in LEARN:
            raise MindshareError(f"params.yaml: learn '{self.learn}' is unknown; use one of {', '.join(LEARN)}")
        if not self.base_models:
            raise MindshareError("params.yaml: base_models must name at least one family")
        unknown = sorted(set(self._signals()) - set(SIGNALS))
        if unknown:
            raise MindshareError(f"params.yaml: signals has '{unknown[0]}'; use any of {', '.join(SIGNALS)}")
        if self.holdout not in HOLDOUTS:
            raise MindshareError(f"params.yaml: holdout '{self.holdout}' is unknown; use one of {', '.join(HOLDOUTS)}")
        # what the final fit data says of re-buying, kept: a saved model carries no event log to compute it from
        self.repeat_context_ = repeat_context(train) if "repeat" in self._signals() else None
        n_folds = max(2, round(1 / self.holdout_share))
        n_used, fold_users = self._training_groups(train, n_folds)
        last_days = self.holdout == "last_days" and train.events is not None and len(train.events.times) > 0
        if last_days:
            n_used, fold_users = self._window_groups(train)
        rng = np.random.default_rng(self.seed)
        stop_users = rng.random(train.n_users) < self.early_stopping_share
        self.feature_names_: list[str] = []
        self.resolved_: dict[str, dict] = {}  # what "auto" settings of the bases became in their first fit
        if self.learn in ("both", "ranking"):
            # the candidates and their features depend on these settings only, not on the learner's
            key = (
                "ranking",
                tuple(self.base_models),
                self.n_candidates,
                n_folds,
                n_used,
                fold_users,
                self.seed,
                self.uses_embeddings,
                self._signals(),
                users_key(self.answer_users),
                params_key(self.base_params),
                last_days and self.holdout_days,
                self.repeats,
            )
            self.pool_key_ = key
            check, parts, self.bases_ = train.memo(key, lambda: self._training_data(train, last_days, n_folds, n_used,
                                                                                     fold_users))
            self.learned_ = sum(len(p[1]) for p in parts) > 1
            if not self.learned_:  # too little data to learn from: rank by the first base family
                self.fallback_, self.validation_ndcg_ = True, {}
                return self._fit_ratings(train, n_folds, stop_users)
            x, y = np.vstack([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
            pair_users, names = np.concatenate([p[2] for p in parts]), parts[0][3]
            group_ids = np.concatenate([p[2] + f * train.n_users for f, p in enumerate(parts)])
            stop = stop_users[pair_users]
            if stop.all() or not stop.any():
                stop = np.zeros_like(stop)
                stop[pair_users == pair_users[-1]] = True
            self.feature_names_ = names
            self._choose_prior(x[~stop], y[~stop], _group_sizes(group_ids[~stop]), names, check)
            self._fit_ranker(
                x[~stop],
                y[~stop],
                _group_sizes(group_ids[~stop]),
                x[stop],
                y[stop],
                _group_sizes(group_ids[stop]),
                names,
            )
            self._choose_ranking(check, x[stop], y[stop], _group_sizes(group_ids[stop]))
        self._fit_ratings(train, n_folds, stop_users)

    def _training_data(self, train: Interactions, last_days: bool, n_folds: int, n_used: int,
                       fold_users: int | None) -> tuple["CheckFold", list, list[Recommender]]:
        """(the check, the training folds' pairs, the bases fitted on all of `train`). The check is the test one
        level down: a holdout of `train` (its last window, or a random fold of each user's items) that neither
        the learner nor the bases fitted for it see; the learner's training folds are cut from the rest."""
        if last_days:
            rest, held = split_last_days(train, self.holdout_days)
            folds = [split_last_days(train, self.holdout_days, f + 1) for f in range(n_used)]
        else:
            rest, held = split_holdout(train, n_folds, 0, [self.seed, 1])
            folds = [split_holdout(rest, n_folds, f, self.seed) for f in range(n_used)]
        check = self._check_fold(rest, held)
        parts = [self._ranking_pairs(fit_part, fold_held, fold_users, f) for f, (fit_part, fold_held) in
                 enumerate(folds)]
        return check, parts, [self._fitted_base(train, spec) for spec in self.base_models]

    def _params_of(self, spec: str) -> dict | None:
        """A base's hyper-parameters: `base_params[spec]` where set, else the library defaults; a setting the data
        chose ("auto") in this fit's first fit of the base is taken as chosen there by every later one."""
        params = (self.base_params or {}).get(spec)
        return {**params, **self.resolved_.get(spec, {})} if params else params

    def _fitted(self, spec: str, base: Recommender) -> Recommender:
        """`base` (of `spec`), fitted: what it chose from the data is kept for the base's later fits."""
        self.resolved_.setdefault(spec, base.resolved_params())
        return base

    def _fitted_base(self, train: Interactions, spec: str) -> Recommender:
        return self._fitted(spec, fitted_base(train, spec, self.answer_users, self._params_of(spec)))

    def _training_groups(self, train: Interactions, n_folds: int) -> tuple[int, int | None]:
        """(holdout folds used, users drawn per fold or None for all). A fold's training groups are its users
        with a held-out item; at most `max_groups` groups in all. Where users are few, up to `holdout_folds`
        folds multiply the groups; where they are many, fewer folds (each a refit of every base family)
        and a seeded sample of users per fold keep the cost flat in the number of users."""
        n_used = max(1, min(self.holdout_folds, n_folds))
        cap = self.max_groups
        if not cap:
            return n_used, None
        with_holdout = int((np.diff(train.matrix.indptr) > 1).sum())  # users who can have held-out items
        n_used = max(1, min(n_used, -(-cap // max(1, with_holdout))))
        per_fold = cap // n_used
        return n_used, (per_fold if with_holdout > per_fold else None)

    def _window_groups(self, train: Interactions) -> tuple[int, int | None]:
        """(windows of `holdout_days` used, users drawn per window or None for all) for holdout last_days: the
        window before the last (the check's, see `_training_data`), and up to `holdout_folds` - 1 before it while
        half the data's span is left before each; at most `max_groups` groups in all (fewer windows first, as
        `_training_groups` does)."""
        times = train.events.times
        span_days = (int(times.max()) - int(times.min())) / 86_400
        fit = max(1, int(span_days / 2 // max(self.holdout_days, 1)) - 1)  # the last window is the check's
        n_used = max(1, min(self.holdout_folds, fit))
        cap = self.max_groups
        if not cap:
            return n_used, None
        users = train.n_users
        n_used = max(1, min(n_used, -(-cap // max(1, users))))
        per_window = cap // n_used
        return n_used, (per_window if users > per_window else None)

    def _rating_folds(self, train: Interactions, n_folds: int) -> tuple[int, int | None]:
        """(holdout folds whose ratings the rating learner takes, ratings drawn per fold or None for all): every
        fold's where they are at most `max_rating_rows`, else the fewest folds that hold that many and a seeded
        sample of each."""
        cap = self.max_rating_rows
        counts = np.diff(train.matrix.indptr)
        per_fold = int(counts[counts > 1].sum()) // n_folds  # a fold holds about this many ratings
        if not cap or per_fold * n_folds <= cap:
            return n_folds, None
        n_used = max(1, min(n_folds, -(-cap // max(1, per_fold))))
        return n_used, cap // n_used

    def _signals(self) -> tuple[str, ...]:
        """The optional feature groups used (models saved before `signals` had none of them); where repeats are
        ranked, also when people re-buy (repeat) and what they did last (time)."""
        named = tuple(getattr(self, "signals", ()))
        return named + tuple(s for s in ("repeat", "time") if self.repeats and s not in named)

    def _choose_ranking(self, check: "CheckFold", x_stop: np.ndarray, y_stop: np.ndarray,
                        groups_stop: np.ndarray) -> None:
        """Rank by the learner if it ranks the check's held-out items (see `_training_data`) clearly better than the
        prior (`clearly_better`), else by the prior (`fallback_`). Both over the whole catalogue, the test's measure
        (nDCG@10, every held-out item in the denominator): the prior with its own top 10, the learner with the top
        10 of its candidates. Where the check has no user, the learner against the prior on the early-stopping
        users' candidate groups."""
        n_users = len(check.users)
        self.fallback_column_ = None  # the prior's
        if n_users == 0:
            return self._check_against_prior(x_stop, y_stop, groups_stop)
        learned = self._check_ndcg(check)
        columns = [self.feature_names_.index(f"score_{b}_{base.name}") for b, base in enumerate(self.bases_)]
        prior = check.base_ndcg[:, columns.index(self.prior_column_)]
        self.validation_ndcg_ = {"learned": float(learned.mean()), "prior": float(prior.mean()),
                                 **{self.feature_names_[c]: float(v) for c, v in
                                    zip(columns, check.base_ndcg.mean(axis=0))}}
        self.fallback_ = not clearly_better(learned, prior)
        self.fallback_column_ = self.prior_column_
        log.info("%s: on %d held-out users' whole-catalogue nDCG@10 the learner %.4f, the prior %s %.4f: ranks by "
                 "%s", self.name, n_users, learned.mean(), self.feature_names_[self.prior_column_], prior.mean(),
                 self.feature_names_[self.prior_column_] if self.fallback_ else "the learner")

    def _check_ndcg(self, check: "CheckFold") -> np.ndarray:
        """Each check user's nDCG@10 of the learner's top 10 of their candidates."""
        scores = self._learned_scores(check.x).astype(np.float32)
        row = np.searchsorted(check.users, check.pairs.users)
        top, _ = _top_k_per_user(row, len(check.users), check.pairs, scores, CHECK_K)
        return ndcg_per_user(top, check.held, CHECK_K)

    def _check_against_prior(self, x_stop: np.ndarray, y_stop: np.ndarray, groups_stop: np.ndarray) -> None:
        """Rank by the prior instead of the ranker (`fallback_`) unless the ranker's nDCG@10 on the
        early-stopping users beats the prior's: a re-ranker never ranks below its prior on the data it sees."""
        group_ids = np.repeat(np.arange(len(groups_stop)), groups_stop)
        self.validation_ndcg_ = {
            "prior": grouped_ndcg(self._prior_scores(x_stop), y_stop, group_ids, 10),
            "learned": grouped_ndcg(self._learned_scores(x_stop), y_stop, group_ids, 10),
        }
        self.fallback_ = not self.validation_ndcg_["learned"] > self.validation_ndcg_["prior"]

    def fit_facts(self) -> dict:
        """For fit.json: the prior family (and each base's nDCG@10 on the training groups) and whether it ranks."""
        names = getattr(self, "feature_names_", [])
        prior = names[self.prior_column_] if self.prior_column_ < len(names) else f"score_0_{self.base_models[0]}"
        bases = {spec: base.fit_facts() for spec, base in zip(self.base_models, getattr(self, "bases_", []))
                 if base.fit_facts()}
        column = getattr(self, "fallback_column_", None)
        ranks_by = "learner" if not self.fallback_ else names[column] if column is not None else prior
        return {"fallback": bool(self.fallback_), "prior": prior, "prior_ndcg": getattr(self, "prior_ndcg_", {}),
                "ranks_by": ranks_by, "check_ndcg": getattr(self, "validation_ndcg_", {}),
                **({"bases": bases} if bases else {})}

    def __setstate__(self, state: dict) -> None:
        """Rankers pickled before `fallback_`: LightGBM's use_trees_ said the opposite; the MLP never fell back."""
        if "bases_" in state and "fallback_" not in state:
            state["fallback_"] = not state.pop("use_trees_", True) if state.get("learned_") else True
        self.__dict__.update(state)

    def _fit_ratings(self, train: Interactions, n_folds: int, stop_users: np.ndarray) -> None:
        if self.learn in ("both", "rating") and train.has_ratings:
            # out-of-fold stacking: every fold's held-out ratings, predicted by raters that never saw them
            n_used, per_fold = self._rating_folds(train, n_folds)

            def out_of_fold():
                rows = [self._rating_rows(*split_holdout(train, n_folds, f, self.seed), per_fold, f)
                        for f in range(n_used)]
                raters = [self._fitted_base(train, spec) for spec in self.rating_models]  # a base's fit when shared
                return rows, raters, self.rating_feature_names_

            key = ("rating", tuple(self.rating_models), n_folds, n_used, per_fold, self.seed,
                   users_key(self.answer_users), params_key(self.base_params))
            rows, self.raters_, self.rating_feature_names_ = train.memo(key, out_of_fold)
            x = np.vstack([r[0] for r in rows])
            y, users = np.concatenate([r[1] for r in rows]), np.concatenate([r[2] for r in rows])
            stop = stop_users[users]
            self._fit_regressor(x[~stop], y[~stop], x[stop], y[stop], self.rating_feature_names_)
            self.baseline_ = self._fitted_base(train, "baseline")

    def _rating_rows(self, fit_part: Interactions, held: sp.csr_matrix, n_rows: int | None = None, fold: int = 0):
        """Features, ratings and users of one fold's held-out ratings (a seeded sample of `n_rows` where given)."""
        raters = [self._fitted(spec, make_base(spec, self._params_of(spec)).fit(fit_part))
                  for spec in self.rating_models]
        coo = held.tocoo()
        users, items, ratings = coo.row, coo.col, coo.data
        if n_rows is not None and coo.nnz > n_rows:
            keep = np.sort(np.random.default_rng([self.seed, fold, 1]).choice(coo.nnz, n_rows, replace=False))
            users, items, ratings = users[keep], items[keep], ratings[keep]
        return self._rating_features(raters, fit_part, users, items), ratings, users

    def _ranking_pairs(self, fit_part: Interactions, held: sp.csr_matrix, n_users: int | None = None, fold: int = 0):
        """Features, labels and users of the candidate pairs of one holdout fold (users with a positive; a
        seeded sample of `n_users` of them where given)."""
        started = time.perf_counter()
        users = np.flatnonzero(np.diff(held.indptr) > 0)
        if n_users is not None and len(users) > n_users:
            users = np.sort(np.random.default_rng([self.seed, fold]).choice(users, n_users, replace=False))
        bases = [self._fitted(spec, base_for(spec, users, self._params_of(spec)).fit(fit_part))  # these users only
                 for spec in self.base_models]
        log.info("%s: holdout fold %d: %d base families fitted in %.0f s; candidates for %d users", self.name,
                 fold + 1, len(bases), time.perf_counter() - started, len(users))
        candidates, x, names = self._candidate_rows(bases, fit_part, users)
        n_items = fit_part.n_items
        held_pairs = held.tocoo()
        y = np.isin(
            candidates.users * n_items + candidates.items, held_pairs.row.astype(np.int64) * n_items + held_pairs.col
        )
        keep = np.isin(candidates.users, np.unique(candidates.users[y]))  # groups with a positive
        return x[keep], y[keep].astype(np.float32), candidates.users[keep], names

    def _candidate_rows(self, bases: list[Recommender], data: Interactions, users: np.ndarray
                        ) -> tuple[Candidates, np.ndarray, list[str]]:
        """The users' candidates from `bases` (fitted on `data`), with the items they had where repeats are
        included, as when answering, and their features."""
        candidates = generate_candidates(bases, users, self.n_candidates)
        pool = score_pool(bases, candidates)
        if self.repeats:  # the items people had compete, as they do when answering with repeats included
            candidates = with_seen_candidates(bases, data, pool, users, self.n_candidates)
        x, names = pair_features(bases, data, candidates, self._embeddings(bases), pool, self._signals(),
                                 self._repeat_context(data))
        return candidates, x, names

    def _check_fold(self, rest: Interactions, held: sp.csr_matrix) -> "CheckFold":
        """The check's users (a seeded sample of at most CHECK_USERS of those with held-out items), their held-out
        items, each base's nDCG@10 for them with the base fitted on `rest` (its own top 10 over the whole
        catalogue, as on the test) and their candidates' features (for the learner's top 10)."""
        users = np.flatnonzero(np.diff(held.indptr) > 0)
        if len(users) > CHECK_USERS:
            users = np.sort(np.random.default_rng([self.seed, 2]).choice(users, CHECK_USERS, replace=False))
        if not len(users):
            return CheckFold(users, held[users], np.zeros((0, len(self.base_models))), None, None)
        bases = [self._fitted(spec, base_for(spec, users, self._params_of(spec)).fit(rest))
                 for spec in self.base_models]
        relevant = held[users]
        base_ndcg = np.column_stack([
            ndcg_per_user(base.recommend(users, CHECK_K, exclude_seen=not self.repeats)[0], relevant, CHECK_K)
            for base in bases])
        candidates, x, _ = self._candidate_rows(bases, rest, users)
        return CheckFold(users, relevant, base_ndcg, candidates, x)

    def _rating_features(self, raters, data: Interactions, users, items) -> np.ndarray:
        candidates = Candidates(users=users, items=items, ranks=np.zeros((len(users), 0), dtype=np.float32))
        context, names = pair_features([], data, candidates, signals=self._signals(),
                                       repeats=self._repeat_context(data))
        predictions = np.column_stack([r.predict_ratings(users, items) for r in raters]).astype(np.float32)
        self.rating_feature_names_ = [f"rating_{r.name}_{i}" for i, r in enumerate(raters)] + names
        return np.hstack([predictions, context])

    @property
    def predicts_ratings(self) -> bool:  # type: ignore[override]
        return hasattr(self, "raters_")

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self._regress(self._rating_features(self.raters_, self.train_, users, items))

    def _require_ranker(self) -> None:
        if not hasattr(self, "bases_"):
            raise MindshareError(f"{self.name} was fitted with learn='{self.learn}'; it cannot rank")

    def recommend(self, users: np.ndarray, k: int = 10, exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-k of the re-ranked candidates: the union of the base families' top `n_candidates` unseen
        items. With exclude_seen=False, the seen items in the bases' top `n_candidates` of all items join
        them, each scored as `score` scores it. The pool is the same for every k, so a top k is the first
        k of a longer top; a k above the pool gives the pool."""
        self._require_ranker()
        users = np.asarray(users, dtype=np.int64)
        unique_users, inverse = np.unique(users, return_inverse=True)
        if len(users) == 0:
            return np.full((0, k), -1, dtype=np.int64), np.full((0, k), -np.inf, dtype=np.float32)
        pairs, x = self._candidate_features(unique_users, exclude_seen)
        scores = self._scores(x)
        items, top_scores = _top_k_per_user(
            np.searchsorted(unique_users, pairs.users), len(unique_users), pairs, scores, k
        )
        return items[inverse], top_scores[inverse]

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """The ranker's score of (user, item) pairs, as `recommend` scores them: a pair's base scores are
        standardised against its user's candidates (never against the other pairs asked for), and a pair
        outside the candidates ranks as absent from the bases' lists (a seen item: where its scores place it).
        """
        self._require_ranker()
        users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
        if len(users) == 0:
            return np.zeros(0, dtype=np.float32)
        pool = self._pool(np.unique(users))
        return self._pair_scores(pool, self._placed_pairs(pool, users, items))

    def _candidate_features(self, users: np.ndarray, exclude_seen: bool) -> tuple[Candidates, np.ndarray]:
        """The users' candidate pairs and their features. In a tuning trial (`answer_users` set) they are kept
        for the next trials, which ask the same (memoised) bases about the same users: only the learner
        changes, so the bases score these users once per study, not once per trial."""

        def compute() -> tuple[Candidates, np.ndarray]:
            pool = self._pool(users)
            pairs = pool.candidates if exclude_seen else self._with_seen_candidates(pool, users)
            return pairs, self._features(pool, pairs)

        if self.answer_users is None or not hasattr(self, "pool_key_"):
            return compute()
        return self.train_.memo(("candidate features", self.pool_key_, users_key(users), exclude_seen), compute)

    def _pool(self, users: np.ndarray) -> ScoredPool:
        """The users' candidates (the bases' top `n_candidates` unseen items), scored by every base."""
        return score_pool(self.bases_, generate_candidates(self.bases_, users, self.n_candidates))

    def _with_seen_candidates(self, pool: ScoredPool, users: np.ndarray) -> Candidates:
        """The pool's candidates plus the seen items in the bases' top `n_candidates` of all items."""
        return with_seen_candidates(self.bases_, self.train_, pool, users, self.n_candidates)

    def _placed_pairs(self, pool: ScoredPool, users: np.ndarray, items: np.ndarray) -> Candidates:
        """(user, item) pairs with each base's rank among the user's candidates (see place_in_pool)."""
        seen = np.asarray(self.train_.matrix[users, items]).ravel() != 0
        return place_in_pool(pool, self.bases_, users, items, seen, self.n_candidates)

    def _pair_scores(self, pool: ScoredPool, pairs: Candidates) -> np.ndarray:
        return self._scores(self._features(pool, pairs))

    def _features(self, pool: ScoredPool, pairs: Candidates) -> np.ndarray:
        x, _ = pair_features(self.bases_, self.train_, pairs, self._embeddings(self.bases_), pool, self._signals(),
                             self._repeat_context(self.train_))
        return x

    def _repeat_context(self, data: Interactions) -> RepeatContext | None:
        """The repeat signals' context of `data`: the one kept at fit for the fit data itself (saved with the model),
        else computed from `data`'s event log."""
        if "repeat" not in self._signals():
            return None
        if data is getattr(self, "train_", None):
            return getattr(self, "repeat_context_", None)
        return repeat_context(data)

    def _scores(self, x: np.ndarray) -> np.ndarray:
        """The ranker's scores; the chosen base family's where the ranker did not beat it (fallback_); the first
        base family's standardised score where there was too little data to learn from (or choose a prior on)."""
        if not self.learned_:
            return x[:, 0].astype(np.float32)
        if self.fallback_:
            column = getattr(self, "fallback_column_", None)  # models saved before it: the prior
            return (self._prior_scores(x) if column is None else x[:, column]).astype(np.float32)
        return self._learned_scores(x).astype(np.float32)


CHECK_K = 10
CHECK_USERS = 2_000


@dataclass
class CheckFold:
    """What the choice between the learner and the base families is made on, for one holdout fold."""

    users: np.ndarray  # sorted user indices
    held: sp.csr_matrix  # (users, items) their held-out items
    base_ndcg: np.ndarray  # (users, bases)
    pairs: Candidates | None  # their candidates (sorted by user); None where there are no users
    x: np.ndarray | None  # the candidates' features


def clearly_better(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether per-user scores `a` beat `b` (the same users) by more than one standard error of their paired
    difference: the one-standard-error rule of model selection (Breiman et al. 1984; Hastie, Tibshirani and
    Friedman, The Elements of Statistical Learning, 7.10), so that a check's noise does not move the choice
    away from the default."""
    difference = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if len(difference) < 2:
        return bool(difference.sum() > 0)
    return bool(difference.mean() > difference.std(ddof=1) / np.sqrt(len(difference)))


def ndcg_per_user(top: np.ndarray, held: sp.csr_matrix, k: int) -> np.ndarray:
    """nDCG@k of each row's list `top` against the row of `held`, all its items in the denominator."""
    return per_user(hit_matrix(top, held), np.maximum(np.diff(held.indptr), 1), k)[f"ndcg_at_{k}"]


def _top_k_per_user(
    row: np.ndarray, n_rows: int, pairs: Candidates, scores: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """(n_rows, k) items and scores, best first; ties (trees score in steps) by the first base family's
    rank, then by item; -1 and -inf where a row has fewer than k pairs."""
    order = np.lexsort((pairs.items, pairs.ranks[:, 0], -scores, row))
    row, items, scores = row[order], pairs.items[order], scores[order]
    starts = np.searchsorted(row, np.arange(n_rows))
    position = np.arange(len(row)) - starts[row]
    top = position < k
    table_items = np.full((n_rows, k), -1, dtype=np.int64)
    table_scores = np.full((n_rows, k), -np.inf, dtype=np.float32)
    table_items[row[top], position[top]] = items[top]
    table_scores[row[top], position[top]] = scores[top]
    return table_items, table_scores


def _group_sizes(sorted_users: np.ndarray) -> np.ndarray:
    """Sizes of the runs of equal users (pairs are sorted by user)."""
    _, sizes = np.unique(sorted_users, return_counts=True)
    return sizes


def grouped_ndcg(scores: np.ndarray, labels: np.ndarray, group_ids: np.ndarray, k: int) -> float:
    """Mean NDCG@k over groups (binary labels), vectorised; groups without a positive count as 0."""
    order = np.lexsort((-scores, group_ids))
    groups, labels = group_ids[order], labels[order].astype(np.float64)
    starts = np.searchsorted(groups, groups, side="left")
    position = np.arange(len(groups)) - starts
    discount = np.where(position < k, 1.0 / np.log2(position + 2), 0.0)
    unique, codes = np.unique(groups, return_inverse=True)
    dcg = np.bincount(codes, labels * discount, minlength=len(unique))
    positives = np.bincount(codes, labels, minlength=len(unique)).astype(int)
    ideal = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))])[np.minimum(positives, k)]
    return float(np.mean(np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0)))
