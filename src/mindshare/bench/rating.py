"""Surprise's published rating protocol: 5-fold cross-validation over rating rows.

Folds are scikit-learn's KFold(n_splits, shuffle=True, random_state=0); predictions are clipped to
the data's rating scale; rmse and mae are means over folds, fit_seconds is fit + predict summed over
folds. `compare_surprise` runs Surprise's SVD and BaselineOnly on the very same folds.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold

from mindshare import metrics
from mindshare.bench import RATING_MODELS
from mindshare.data.interactions import Interactions
from mindshare.errors import MindshareError
from mindshare.features.tables import build_feature_tables
from mindshare.models import make_model

METRICS = ("rmse", "mae", "fit_seconds")


def _folds(frame: pd.DataFrame, n_folds: int):
    return list(KFold(n_splits=n_folds, shuffle=True, random_state=0).split(np.arange(len(frame))))


def run_rating_bench(frame: pd.DataFrame, models: list[str], n_folds: int, items: pd.DataFrame | None = None,
                     progress: Callable[[str], None] = lambda _: None,
                     keys: dict[str, dict] = RATING_MODELS) -> dict[str, dict]:
    if "rating" not in frame.columns:
        raise MindshareError("bench rating: the data has no ratings; use `mindshare bench ranking`")
    low, high = float(frame["rating"].min()), float(frame["rating"].max())
    per_fold: dict[str, list[dict]] = {name: [] for name in models}
    for fold, (train_rows, test_rows) in enumerate(_folds(frame, n_folds)):
        train_frame, test = frame.iloc[train_rows], frame.iloc[test_rows]
        train = Interactions.from_frame(train_frame).with_features(*build_feature_tables(train_frame, items))
        users, items = train.user_index(test["user_id"]), train.item_index(test["item_id"])
        truth = test["rating"].to_numpy()
        for name in models:
            model = make_model(name, keys[name])
            started = time.perf_counter()
            model.fit(train)
            predicted = np.clip(model.predict_ratings(users, items), low, high)
            seconds = time.perf_counter() - started
            per_fold[name].append({"fold": fold, "rmse": metrics.rmse(truth, predicted),
                                   "mae": metrics.mae(truth, predicted), "fit_seconds": seconds})
            progress(f"fold {fold}: {name}")
    return {name: _summary(runs) for name, runs in per_fold.items()}


def _summary(runs: list[dict]) -> dict:
    return {"rmse": float(np.mean([r["rmse"] for r in runs])), "mae": float(np.mean([r["mae"] for r in runs])),
            "fit_seconds": float(np.sum([r["fit_seconds"] for r in runs])), "per_fold": runs}


def run_surprise(
    frame: pd.DataFrame, n_folds: int, progress: Callable[[str], None] = lambda _: None
) -> dict[str, dict]:
    """Surprise's SVD and BaselineOnly (library defaults, SVD seeded 0) on the same folds."""
    try:
        from surprise import SVD, BaselineOnly, Dataset, Reader
    except ImportError:
        raise MindshareError("--compare-surprise needs Surprise: pip install -e '.[bench]'") from None
    low, high = float(frame["rating"].min()), float(frame["rating"].max())
    data = Dataset.load_from_df(frame[["user_id", "item_id", "rating"]], Reader(rating_scale=(low, high)))
    rows = list(zip(frame["user_id"], frame["item_id"], frame["rating"], [None] * len(frame)))
    factories = {"surprise_svd": lambda: SVD(random_state=0), "surprise_baseline": lambda: BaselineOnly(verbose=False)}
    per_fold: dict[str, list[dict]] = {name: [] for name in factories}
    for fold, (train_rows, test_rows) in enumerate(_folds(frame, n_folds)):
        trainset = data.construct_trainset([rows[j] for j in train_rows])
        testset = data.construct_testset([rows[j] for j in test_rows])
        truth = np.array([r for _, _, r in testset])
        for name, factory in factories.items():
            started = time.perf_counter()
            algorithm = factory()
            algorithm.fit(trainset)
            predicted = np.array([p.est for p in algorithm.test(testset)])
            seconds = time.perf_counter() - started
            per_fold[name].append(
                {
                    "fold": fold,
                    "rmse": metrics.rmse(truth, predicted),
                    "mae": metrics.mae(truth, predicted),
                    "fit_seconds": seconds,
                }
            )
            progress(f"fold {fold}: {name}")
    return {name: _summary(runs) for name, runs in per_fold.items()}
