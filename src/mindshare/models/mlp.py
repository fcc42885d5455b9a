"""MLP: a scikit-learn multi-layer perceptron that re-ranks the base families' candidates.

Inputs are the re-rankers' pair features plus the user and item embeddings of the first base
family with factors (the implicit factorisation by default) and their element-wise product,
standardised. Ranking: an MLPClassifier (candidate in the held-out part or not) trained by
mini-batch Adam through `partial_fit`, one call per epoch over shuffled data, keeping the epoch
with the best nDCG@10 on the early-stopping users; unless it then clearly beats its prior on the check held
out of the fit data (see reranker.py), the model ranks by the prior (`fallback_` is True; `validation_ndcg_`
holds the figures). Ratings: an
MLPRegressor the same way, kept at its best validation RMSE. Training data as in `reranker.py`.
scikit-learn suffices here: the inputs are a few dozen dense features, not raw ids, so no embedding
layers need to be learned.
"""

from __future__ import annotations

import copy

import numpy as np

from mindshare.models.reranker import DEFAULT_SIGNALS, CandidateReranker, grouped_ndcg

DEFAULT_BASES = ("item_knn_ease", "svd", "item_knn", "user_knn")
DEFAULT_RATERS = ("baseline", "item_knn", "user_knn", "svd:biased_als")


class MLPRanker(CandidateReranker):
    """MLP re-ranker: a scikit-learn multi-layer perceptron that reorders the base families' candidates from their
    pair features and the first factorised base's embeddings, and an MLPRegressor for ratings (module docstring;
    reranker.py: how the training data is made).

    The re-ranker that sees the user and item embeddings as well as the pair features; it ranks by its network
    only where it clearly beats the prior on a check held out of the fit data, else as its prior.

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
    holdout_folds : int, default 1
        Folds whose held-out items make training groups, each a refit of every base family. One: the network's
        epochs over one fold's groups are its cost, and more folds multiply the base fits.
    early_stopping_share : float, default 0.2
        The share of users whose candidate groups early-stop the learner instead of training it, as holdout_share.
    learn : str, default 'both'
        'ranking', 'rating' or 'both' learners; both by default, the rating learner being skipped where the data
        has no ratings.
    hidden_layers : tuple of int, default (64, 32)
        Units per hidden layer. Two small layers: the inputs are a few dozen dense features, not raw ids, so a
        small network suffices.
    alpha : float, default 1e-4
        L2 penalty on the weights; scikit-learn's default.
    learning_rate : float, default 1e-3
        Adam's initial step; scikit-learn's default.
    batch_size : int, default 256
        Pairs per mini-batch; near scikit-learn's default (200), a power of two.
    epochs : int, default 20
        Passes over the shuffled training pairs at most; the best epoch on the early-stopping users is kept.
    patience : int, default 4
        Epochs without improvement after which training stops: a few, as the validation figure is noisy.
    signals : sequence of str, default ('content', 'price')
        Optional pair-feature groups from 'content', 'price', 'time' and 'repeat' (candidates.py). Content and
        price by default: they need only the catalogue; 'time' lowered the ranking on the sample
        (docs/benchmarks.md, "Bases that see differently, item content, re-ranker signals"). With `repeats`,
        'repeat' and 'time' are added.
    seed : int, default 0
        Seeds the folds, the early-stopping users, the samples, the shuffles and the network's initialisation, so
        that a fit is reproducible.
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

    name = "mlp"
    method = "MLP re-ranker"
    uses_embeddings = True

    def __init__(self, base_models=DEFAULT_BASES, rating_models=DEFAULT_RATERS, n_candidates: int = 50,
                 holdout_share: float = 0.2, holdout_folds: int = 1, early_stopping_share: float = 0.2,
                 learn: str = "both", hidden_layers: tuple[int, ...] = (64, 32), alpha: float = 1e-4,
                 learning_rate: float = 1e-3, batch_size: int = 256, epochs: int = 20, patience: int = 4,
                 signals: tuple[str, ...] = DEFAULT_SIGNALS, seed: int = 0,
                 max_groups: int | None = 5_000, base_params: dict[str, dict] | None = None,
                 max_rating_rows: int | None = 1_000_000, holdout: str = "random", holdout_days: int = 30,
                 repeats: bool = False) -> None:
        self._init_reranker(base_models, rating_models, n_candidates, holdout_share, holdout_folds,
                            early_stopping_share, learn, seed, signals, max_groups, base_params, max_rating_rows,
                            holdout, holdout_days, repeats)
        self.hidden_layers = tuple(hidden_layers)
        self.alpha = alpha
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience

    def _network(self, kind):
        return kind(hidden_layer_sizes=self.hidden_layers, alpha=self.alpha, learning_rate_init=self.learning_rate,
                    batch_size=self.batch_size, random_state=self.seed)

    def _train(self, network, scaler, x, y, validate, kind, **partial):
        """Epochs of partial_fit over shuffled data; the best epoch by `validate` (higher is better)."""
        rng = np.random.default_rng(self.seed)
        x = scaler.transform(x)
        best, best_value, waited = copy.deepcopy(network), -np.inf, 0
        for epoch in range(self.epochs):
            order = rng.permutation(len(x))
            network.partial_fit(x[order], y[order], **partial)
            value = validate(network)
            self._report_step(epoch, max(value, best_value), kind)
            if value > best_value:
                best, best_value, waited = copy.deepcopy(network), value, 0
            else:
                waited += 1
                if waited >= self.patience:
                    break
        return best

    def _fit_ranker(self, x, y, groups, x_stop, y_stop, groups_stop, names) -> None:
        from sklearn.neural_network import MLPClassifier  # scikit-learn loads when a fit needs it
        from sklearn.preprocessing import StandardScaler

        self.rank_scaler_ = StandardScaler().fit(x)
        stop_x = self.rank_scaler_.transform(x_stop)
        group_ids = np.repeat(np.arange(len(groups_stop)), groups_stop)

        def validate(network) -> float:
            return grouped_ndcg(network.predict_proba(stop_x)[:, 1], y_stop, group_ids, 10)

        self.classifier_ = self._train(self._network(MLPClassifier), self.rank_scaler_, x, y.astype(int), validate,
                                       "ranking", classes=np.array([0, 1]))

    def _learned_scores(self, x: np.ndarray) -> np.ndarray:
        probability = self.classifier_.predict_proba(self.rank_scaler_.transform(x))[:, 1]
        return np.log(np.clip(probability, 1e-9, 1.0))

    def _fit_regressor(self, x, y, x_stop, y_stop, names) -> None:
        from sklearn.neural_network import MLPRegressor
        from sklearn.preprocessing import StandardScaler

        self.rating_scaler_ = StandardScaler().fit(x)
        stop_x = self.rating_scaler_.transform(x_stop)
        shift = float(np.mean(y))

        def validate(network) -> float:
            return -float(np.sqrt(np.mean((network.predict(stop_x) + shift - y_stop) ** 2)))

        self.rating_shift_ = shift
        self.regressor_ = self._train(self._network(MLPRegressor), self.rating_scaler_, x, y - shift, validate,
                                      "rating")

    def _regress(self, x: np.ndarray) -> np.ndarray:
        return self.regressor_.predict(self.rating_scaler_.transform(x)) + self.rating_shift_
