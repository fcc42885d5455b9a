"""What the uplift stage shows a marketer, from effects predicted for people the model never learned from
(cross-fitted): the Qini curve against random targeting and the best possible ranking, and the measured uplift
of each tenth of the people ranked by predicted uplift with its interval."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mindshare.metrics.uplift import perfect_qini_curve, qini_curve, uplift_by_quantile


def decile_table(outcome: np.ndarray, effects: np.ndarray, treatment: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(uplift_by_quantile(outcome, effects, treatment, 10))


def plot_qini(outcome: np.ndarray, effects: np.ndarray, treatment: np.ndarray, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, y = qini_curve(outcome, effects, treatment)
    x_best, y_best = perfect_qini_curve(outcome, treatment)
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.plot(x / x[-1], y, label="model (cross-fitted)")
    axis.plot(x_best / x_best[-1], y_best, linestyle=":", label="best possible")
    axis.plot([0, 1], [0, y[-1]], linestyle="--", color="grey", label="random")
    axis.set_xlabel("share of people targeted, by predicted uplift")
    axis.set_ylabel("incremental outcomes")
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
