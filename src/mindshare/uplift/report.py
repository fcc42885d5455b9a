"""What the uplift stage shows a marketer, from effects predicted for people the model never learned from
(cross-fitted): the Qini and uplift curves against random targeting and the best possible ranking, and the
measured uplift of each tenth of the people ranked by predicted uplift with its interval."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mindshare.metrics.uplift import (
    perfect_qini_curve,
    perfect_uplift_curve,
    qini_curve,
    uplift_by_quantile,
    uplift_curve,
)


def decile_table(outcome: np.ndarray, effects: np.ndarray, treatment: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(uplift_by_quantile(outcome, effects, treatment, 10))


def plot_qini(outcome: np.ndarray, effects: np.ndarray, treatment: np.ndarray, title: str, path: Path) -> None:
    """The Qini curve and the uplift curve of cross-fitted effects, each beside random targeting and the best
    possible ranking, in one figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    panels = ((axes[0], qini_curve, perfect_qini_curve, "Qini curve: incremental outcomes"),
              (axes[1], uplift_curve, perfect_uplift_curve, "uplift curve: rate difference x people"))
    for axis, curve, best, label in panels:
        x, y = curve(outcome, effects, treatment)
        x_best, y_best = best(outcome, treatment)
        axis.plot(x / x[-1], y, label="model (cross-fitted)")
        axis.plot(x_best / x_best[-1], y_best, linestyle=":", label="best possible")
        axis.plot([0, 1], [0, y[-1]], linestyle="--", color="grey", label="random")
        axis.set_xlabel("share of people targeted, by predicted uplift")
        axis.set_ylabel(label)
        axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
