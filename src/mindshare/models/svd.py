"""The SVD / matrix-factorisation family, one contract over five algorithms.

- `implicit_als` (default, for ranking): confidence-weighted implicit factorisation (Hu, Koren,
  Volinsky 2008) by the `implicit` library's CPU solver: weight alpha * x_ui on observed pairs, 1 on
  all others, one L2 weight `regularization` for every user and item.
- `ials`: the same solver in the regime of Rendle et al. 2022 (many factors, strong L2). `implicit`
  has no frequency-scaled L2 (lambda * (|I_u| + alpha0 |I|)^nu); its nu = 0 case is this model:
  Rendle's unobserved weight alpha0 and lambda are alpha = 1 + 1/alpha0, regularization = lambda * alpha.
- `bpr`: Bayesian personalised ranking, also from `implicit`.
- `truncated`: PureSVD, a randomised truncated SVD of the binarised matrix (scikit-learn);
  users are folded in: score(u) = x_u V V^T.
- `biased_als`: biased MF for explicit ratings (see `biased_mf.py`); ranks by predicted rating.
- `spark_als`: `implicit_als`'s model fitted by Spark MLlib's ALS on the session `engine: spark` started
  (mindshare.spark.als: the same hyper-parameters, translated to Spark's form of the loss).
Ranking scores are user-factor . item-factor products, batched over users.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from mindshare.data.interactions import Interactions
from mindshare.errors import MindshareError
from mindshare.models.base import Recommender
from mindshare.models.baseline import Baseline
from mindshare.models.biased_mf import fit_biased_als

# Each algorithm's defaults, used where a hyper-parameter is left at None. Few factors and strong
# regularisation hold up from a few thousand interactions (where 64 factors overfit and fall below
# popularity) to MovieLens sizes; tuning finds more where the data can carry it.
# `ials`: 256 factors and regularization / alpha near 6 (Rendle's lambda = 6, alpha0 = 1/7), chosen on
# both MovieLens latest-small and the synthetic shop log (`mindshare bench ranking --models svd_ials`).
DEFAULTS = {
    "implicit_als": {"factors": 24, "regularization": 20.0, "iterations": 15, "alpha": 5.0},
    "ials": {"factors": 256, "regularization": 48.0, "iterations": 15, "alpha": 8.0},
    "bpr": {"factors": 64, "regularization": 0.01, "iterations": 100},
    "truncated": {"factors": 16, "regularization": 0.0, "iterations": 5},
    "biased_als": {"factors": 20, "regularization": 0.12, "iterations": 8},
    "spark_als": {"factors": 24, "regularization": 20.0, "iterations": 15, "alpha": 5.0},
}
ALGORITHMS = tuple(DEFAULTS)
ALS_ALGORITHMS = ("implicit_als", "ials", "spark_als")  # the confidence-weighted ALS: they use `alpha`
METHODS = {
    "implicit_als": "implicit ALS matrix factorisation",
    "ials": "iALS, Rendle et al. 2022 regime (many factors, strong L2)",
    "bpr": "BPR matrix factorisation",
    "truncated": "PureSVD (truncated SVD)",
    "biased_als": "biased matrix factorisation (ALS, ratings)",
    "spark_als": "implicit ALS matrix factorisation on Spark MLlib",
}


class SVD(Recommender):
    """Matrix factorisation: users and items as vectors of `factors` numbers, score(u, i) their dot product; one
    contract over the algorithms of the module docstring.

    The dense, low-rank view that the neighbourhood families lack: it generalises across items never seen
    together, and ranks fast. `implicit_als` suits implicit feedback of any size; `ials` larger logs; `biased_als`
    explicit ratings (it alone predicts them); `spark_als` a fit on Spark's executors. The hyper-parameters left
    at None take the algorithm's own value from `DEFAULTS`: few factors and strong regularisation, which hold up
    from a few thousand interactions to MovieLens sizes (tuning finds more where the data carries it), and for
    `ials` the regime of Rendle et al. 2022.

    Parameters
    ----------
    algorithm : str, default 'implicit_als'
        'implicit_als', 'ials', 'bpr', 'truncated', 'biased_als' or 'spark_als' (module docstring). Implicit ALS
        by default: most logs are implicit feedback, and it needs no ratings and few settings.
    factors : int or None, default None
        Dimensions of the user and item vectors; None: the algorithm's `DEFAULTS`.
    regularization : float or None, default None
        The L2 weight on the factors (for BPR, its L2 per update); None: the algorithm's `DEFAULTS`. Not used by
        `truncated`.
    iterations : int or None, default None
        ALS sweeps, BPR epochs or the randomised SVD's power iterations; None: the algorithm's `DEFAULTS`.
    alpha : float or None, default None
        The confidence weight of an observed pair (alpha x x_ui against 1 for the others) in the ALS algorithms
        (`implicit_als`, `ials`, `spark_als`); None: the algorithm's `DEFAULTS`. Unused by the others.
    learning_rate : float, default 0.01
        BPR's stochastic-gradient step (`implicit`'s default); unused by the other algorithms.
    seed : int, default 0
        Seeds the factors' initialisation (and BPR's sampling, the randomised SVD), so that a fit is reproducible.
    """

    name = "svd"

    @classmethod
    def describe(cls, params: dict) -> str:
        return METHODS.get(params.get("algorithm") or "implicit_als", "")

    @property
    def needs_ratings(self) -> bool:
        return self.algorithm == "biased_als"

    def __init__(self, algorithm: str = "implicit_als", factors: int | None = None, regularization: float | None = None,
                 iterations: int | None = None, alpha: float | None = None, learning_rate: float = 0.01,
                 seed: int = 0) -> None:
        self.algorithm = algorithm
        self.factors = factors
        self.regularization = regularization
        self.iterations = iterations
        self.alpha = alpha
        self.learning_rate = learning_rate
        self.seed = seed

    @property
    def supports_ratings(self) -> bool:  # type: ignore[override]
        return self.algorithm == "biased_als"

    @property
    def fits_on_spark(self) -> bool:  # type: ignore[override]
        return self.algorithm == "spark_als"

    def effective_params(self) -> dict:
        defaults = DEFAULTS.get(self.algorithm, {})
        return {key: defaults.get(key) if value is None else value for key, value in self.get_params().items()}

    def _setting(self, key: str):
        value = getattr(self, key)
        return DEFAULTS[self.algorithm][key] if value is None else value

    def _fit(self, train: Interactions) -> None:
        if self.algorithm not in ALGORITHMS:
            raise MindshareError(
                f"params.yaml: svd algorithm '{self.algorithm}' is unknown; use one of {', '.join(ALGORITHMS)}"
            )
        self.factors_ = int(self._setting("factors"))
        self.regularization_ = float(self._setting("regularization"))
        self.iterations_ = int(self._setting("iterations"))
        if self.algorithm in ALS_ALGORITHMS:
            self.alpha_ = float(self._setting("alpha"))
        binary = train.binary()
        if self.algorithm == "truncated":
            factors = min(self.factors_, min(binary.shape) - 1)
            from sklearn.utils.extmath import randomized_svd  # scikit-learn loads when a fit needs it

            _, _, vt = randomized_svd(binary, n_components=factors, n_iter=self.iterations_, random_state=self.seed)
            self.item_factors_ = vt.T.astype(np.float32)
            self.user_factors_ = np.asarray(binary @ self.item_factors_, dtype=np.float32)
        elif self.algorithm == "biased_als":
            if not train.has_ratings:
                raise MindshareError("svd algorithm 'biased_als' needs ratings; the data has none: use implicit_als")
            fitted = fit_biased_als(train.matrix, self.factors_, self.regularization_, self.iterations_, self.seed)
            self.rating_factors_ = fitted
            self.baseline_ = Baseline().fit(train)  # for users or items unknown at prediction time
            self.user_factors_ = np.hstack(
                [fitted.user_factors, fitted.user_bias[:, None], np.ones((train.n_users, 1))]
            ).astype(np.float32)
            self.item_factors_ = np.hstack(
                [fitted.item_factors, np.ones((train.n_items, 1)), fitted.item_bias[:, None]]
            ).astype(np.float32)
        elif self.algorithm == "spark_als":
            from mindshare.spark.als import fit_spark_als  # pyspark loads only when a fit asks for Spark

            self.user_factors_, self.item_factors_ = fit_spark_als(
                binary, self.factors_, self.regularization_, self.alpha_, self.iterations_, self.seed)
        else:
            self.user_factors_, self.item_factors_ = self._fit_implicit(binary)

    def _fit_implicit(self, binary):
        with threadpool_limits(1, "blas"):  # implicit parallelises itself; BLAS threads only contend
            model = self._implicit_model()

            def report(iteration, *_):  # a watcher may evaluate the factors as they stand
                if self.step_callback is not None:
                    self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
                    self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)
                    self._report_step(iteration)

            model.fit(binary.tocsr(), show_progress=False, callback=report)
        return np.asarray(model.user_factors, dtype=np.float32), np.asarray(model.item_factors, dtype=np.float32)

    def _implicit_model(self):
        from implicit.cpu.als import AlternatingLeastSquares
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        if self.algorithm in ALS_ALGORITHMS:
            return AlternatingLeastSquares(
                factors=self.factors_,
                regularization=self.regularization_,
                alpha=self.alpha_,
                iterations=self.iterations_,
                random_state=self.seed,
            )
        return BayesianPersonalizedRanking(
            factors=self.factors_,
            learning_rate=self.learning_rate,
            regularization=self.regularization_,
            iterations=self.iterations_,
            random_state=self.seed,
        )

    def _score_block(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors_[users] @ self.item_factors_.T

    def score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
        return np.einsum("nk,nk->n", self.user_factors_[users], self.item_factors_[items])

    def _predict_known(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.rating_factors_.predict(users, items)
