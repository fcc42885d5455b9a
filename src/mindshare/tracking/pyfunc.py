"""The MLflow pyfunc of a recommender: raw user ids in, top-k items out.

Input: a DataFrame with `user_id` (the raw id a person knows) and optional `k` (default 10).
Output: one row per recommendation: `user_id`, `rank`, `item_id`, `title`, `score`,
`cold_start` (True when the user is unknown and gets the fallback: the items most popular in the
features stage's recent window (`features.recent_days`), then all-time popularity).
Raw ids are hashed with the key read from the environment at load time; the key is never
stored in the model.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from mindshare.data.pseudonymise import load_key, pseudonymise
from mindshare.models.base import Recommender
from mindshare.models.cold_start import new_user_ranking

DEFAULT_K = 10
INPUT_SCHEMA = Schema([ColSpec("string", "user_id"), ColSpec("long", "k", required=False)])
OUTPUT_SCHEMA = Schema(
    [
        ColSpec("string", "user_id"),
        ColSpec("long", "rank"),
        ColSpec("string", "item_id"),
        ColSpec("string", "title"),
        ColSpec("double", "score"),
        ColSpec("boolean", "cold_start"),
    ]
)
EXAMPLE_INPUT = pd.DataFrame({"user_id": ["example-user"], "k": [3]})
_REQUIREMENTS = ("mlflow", "numpy", "scipy", "pandas", "pyarrow", "scikit-learn")


class RecommenderPyfunc(mlflow.pyfunc.PythonModel):
    """Wraps a fitted `Recommender` plus item titles; cold users get the recently most popular items."""

    def load_context(self, context) -> None:
        self.recommender = Recommender.load(context.artifacts["model"])
        self._prepare(pd.read_parquet(context.artifacts["items"]), load_key(create=False))

    def _prepare(self, items: pd.DataFrame, key: bytes) -> None:
        train = self.recommender.train_
        titles = items.set_index("item_id")["title"] if len(items) else pd.Series(dtype=str)
        self.titles_ = titles.reindex(train.item_ids).fillna("").to_numpy(dtype=object)
        self.key_ = key
        self.popular_order_, self.popular_scores_ = new_user_ranking(train)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        frame = pd.DataFrame(model_input)
        raw_ids = frame["user_id"].astype(str).to_numpy()
        ks = frame["k"].fillna(DEFAULT_K).astype(int).to_numpy() if "k" in frame else np.full(len(frame), DEFAULT_K)
        if (ks < 1).any():
            raise ValueError("k must be at least 1")
        users = self.recommender.train_.user_index(pseudonymise(raw_ids, self.key_))
        parts = [self._for_k(raw_ids[ks == k], users[ks == k], int(k)) for k in np.unique(ks)]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[c.name for c in OUTPUT_SCHEMA.inputs])

    def _for_k(self, raw_ids: np.ndarray, users: np.ndarray, k: int) -> pd.DataFrame:
        items = np.empty((len(users), k), dtype=np.int64)
        scores = np.empty((len(users), k), dtype=np.float64)
        known = users >= 0
        if known.any():
            items[known], scores[known] = self.recommender.recommend(users[known], k=k, exclude_seen=True)
        take = min(k, len(self.popular_order_))
        items[~known] = -1
        scores[~known] = -np.inf
        items[~known, :take] = self.popular_order_[:take]
        scores[~known, :take] = self.popular_scores_[:take]
        rank = np.tile(np.arange(1, k + 1), len(users))
        flat_items = items.ravel()
        keep = flat_items >= 0
        item_ids = np.where(keep, self.recommender.train_.item_ids[np.maximum(flat_items, 0)], "")
        return pd.DataFrame(
            {
                "user_id": np.repeat(raw_ids, k)[keep],
                "rank": rank[keep].astype(np.int64),
                "item_id": item_ids[keep].astype(str),
                "title": self.titles_[flat_items[keep]].astype(str),
                "score": scores.ravel()[keep],
                "cold_start": np.repeat(~known, k)[keep],
            }
        )


def _requirements() -> list[str]:
    pins = []
    for name in _REQUIREMENTS:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:  # pragma: no cover
            pins.append(name)
    return pins


def log_recommender(model_path: Path, items_path: Path, name: str = "model") -> str:
    """Log a saved recommender as a pyfunc in the active run; return its model URI."""
    package_dir = Path(sys.modules["mindshare"].__file__).parent
    info = mlflow.pyfunc.log_model(
        name=name,
        python_model=RecommenderPyfunc(),
        artifacts={"model": str(model_path), "items": str(items_path)},
        signature=ModelSignature(inputs=INPUT_SCHEMA, outputs=OUTPUT_SCHEMA),
        input_example=EXAMPLE_INPUT,
        code_paths=[str(package_dir)],
        pip_requirements=_requirements(),
    )
    return info.model_uri
