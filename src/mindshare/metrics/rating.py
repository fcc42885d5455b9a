"""Rating-prediction metrics."""

from __future__ import annotations

import numpy as np

RATING_METRICS = ("rmse", "mae")  # measured only where the data has ratings and the model predicts them


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """sqrt(mean((y - yhat)^2)). Example: y=[1, 3], yhat=[2, 3] -> sqrt(1/2) = 0.7071."""
    diff = np.asarray(y_true, dtype=np.float64) - np.asarray(y_pred, dtype=np.float64)
    return float(np.sqrt(np.mean(diff**2)))


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """mean(|y - yhat|). Example: y=[1, 3], yhat=[2, 5] -> (1 + 2) / 2 = 1.5."""
    diff = np.asarray(y_true, dtype=np.float64) - np.asarray(y_pred, dtype=np.float64)
    return float(np.mean(np.abs(diff)))
