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
