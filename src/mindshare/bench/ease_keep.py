"""`mindshare bench ease-keep`: EASE's nDCG@10 against `keep` (weights kept per item, on average) under
the ranking protocol of bench/ranking.py, and the size of what is kept: the curve the default comes from."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mindshare.bench.ranking import TRAIN_SHARE, ranking_metrics
from mindshare.data.interactions import Interactions
from mindshare.data.split import split_random_per_user
from mindshare.models.ease import EASE, column_norms, prune_to_largest


def stored_megabytes(weights: np.ndarray | sp.csr_matrix) -> float:
    if sp.issparse(weights):
        return (weights.data.nbytes + weights.indices.nbytes + weights.indptr.nbytes) / 2**20
    return weights.nbytes / 2**20


def run_keep_curve(frame: pd.DataFrame, keeps: list[int], seeds: list[int], l2: float = 200.0,
                   progress: Callable[[str], None] = lambda _: None) -> dict[str, dict]:
    """Per keep (0: dense): mean nDCG@10 over seeds, per seed, the loss against dense, megabytes kept."""
    positives = frame[["user_id", "item_id", "timestamp"]].drop_duplicates(["user_id", "item_id"], ignore_index=True)
    per_keep: dict[int, list[dict]] = {keep: [] for keep in keeps}
    for seed in seeds:
        split = split_random_per_user(positives, test_ratio=1 - TRAIN_SHARE, valid_ratio=0.0, seed=seed)
        model = EASE(l2=l2, keep=0).fit(Interactions.from_frame(split.train))
        dense, norms = model.weights_, column_norms(model.user_vectors_)
        for keep in keeps:
            model.weights_ = prune_to_largest(dense, keep, norms)
            per_keep[keep].append({"seed": seed, "ndcg_at_10": ranking_metrics(model, split.test)["ndcg_at_10"],
                                   "megabytes": stored_megabytes(model.weights_)})
            progress(f"seed {seed}: keep {keep}")
    dense_mean = float(np.mean([r["ndcg_at_10"] for r in per_keep[0]])) if 0 in per_keep else None
    out = {}
    for keep, runs in per_keep.items():
        mean = float(np.mean([r["ndcg_at_10"] for r in runs]))
        out[str(keep)] = {"ndcg_at_10": mean, "megabytes": float(np.mean([r["megabytes"] for r in runs])),
                          "loss_vs_dense": None if dense_mean is None else dense_mean - mean, "per_seed": runs}
    return out


def format_keep_curve(results: dict[str, dict]) -> str:
    lines = [f"{'keep':>8}{'ndcg_at_10':>12}{'loss':>9}{'MB':>9}", "-" * 38]
    for keep, row in results.items():
        loss = "" if row["loss_vs_dense"] is None else f"{row['loss_vs_dense']:+.4f}"
        label = "dense" if keep == "0" else keep
        lines.append(f"{label:>8}{row['ndcg_at_10']:>12.4f}{loss:>9}{row['megabytes']:>9.1f}")
    return "\n".join(lines)
