"""The MLflow pyfunc of a recommender: raw user ids in, top-k items out.

Input: a DataFrame with `user_id` (the raw id a person knows), optional `k` (default 10) and, for
people not seen in training, optional `gender` and `age` (used when the users table does not know them).
Output: one row per recommendation: `user_id`, `rank`, `item_id`, `title`, `score`, `cold_start`
(True when the user has no training history) and `basis`, where the item came from: `model`,
`segment_blend` (little history: blended with their segment's favourites), `demographic` or `popular`
(new users), `new_item` (an item without interactions yet, matching the user's categories). The
policy is models/cold_start.py with params.yaml `cold_start`, the same as `evaluate` measured.
Raw ids are hashed with the key read from the environment at load time; the key is never stored in
the model.
"""

from __future__ import annotations

import sys
import tempfile
from importlib import metadata
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from mindshare.data.pseudonymise import load_key, pseudonymise
from mindshare.data.schema import age_groups
from mindshare.models.answers import answer
from mindshare.models.base import Recommender
from mindshare.models.cold_start import ColdStartPolicy
from mindshare.settings import ColdStartSettings, checked_block

DEFAULT_K = 10
MAX_K = 1000
INPUT_SCHEMA = Schema([ColSpec("string", "user_id"), ColSpec("long", "k", required=False),
                       ColSpec("string", "gender", required=False), ColSpec("long", "age", required=False)])
OUTPUT_SCHEMA = Schema(
    [
        ColSpec("string", "user_id"),
        ColSpec("long", "rank"),
        ColSpec("string", "item_id"),
        ColSpec("string", "title"),
        ColSpec("double", "score"),
        ColSpec("boolean", "cold_start"),
        ColSpec("string", "basis"),
    ]
)
EXAMPLE_INPUT = pd.DataFrame({"user_id": ["example-user"], "k": [3]})
_REQUIREMENTS = ("mlflow", "numpy", "scipy", "pandas", "pyarrow", "scikit-learn")


class RecommenderPyfunc(mlflow.pyfunc.PythonModel):
    """Wraps a fitted `Recommender`, the item catalogue, the demographics and the cold-start policy."""

    def load_context(self, context) -> None:
        self.model_folder_ = str(Path(context.artifacts["model"]).parent.parent)  # <model>/artifacts/model.pkl
        self.recommender = Recommender.load(context.artifacts["model"])
        users = pd.read_parquet(context.artifacts["users"]) if "users" in context.artifacts else None
        settings = checked_block(ColdStartSettings, (context.model_config or {}).get("cold_start"),
                                 "the model's cold_start settings")
        self._prepare(pd.read_parquet(context.artifacts["items"]), load_key(create=False), users, settings)

    def _prepare(self, items: pd.DataFrame, key: bytes, users: pd.DataFrame | None = None,
                 settings: ColdStartSettings = ColdStartSettings()) -> None:
        train = self.recommender.train_
        self.titles_ = (items.set_index("item_id")["title"].astype(str) if len(items)
                        else pd.Series(dtype=str)).to_dict()
        self.key_ = key
        self.policy_ = ColdStartPolicy(train, settings, users, items)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        frame = pd.DataFrame(model_input)
        raw_ids = frame["user_id"].astype(str).to_numpy()
        ks = frame["k"].fillna(DEFAULT_K).astype(int).to_numpy() if "k" in frame else np.full(len(frame), DEFAULT_K)
        if (ks < 1).any() or (ks > MAX_K).any():
            raise ValueError(f"k must be between 1 and {MAX_K}")
        hashed = pseudonymise(raw_ids, self.key_)
        users = self.recommender.train_.user_index(hashed)
        groups = self.policy_.groups_of_users(hashed)
        if "gender" in frame and "age" in frame:  # demographics given with the request, for people we do not know
            given = self.policy_.group_of(frame["gender"].to_numpy(dtype=object),
                                          age_groups(pd.to_numeric(frame["age"], errors="coerce")).to_numpy())
            groups = np.where(groups >= 0, groups, given)
        parts = [self._for_k(raw_ids[ks == k], users[ks == k], groups[ks == k], int(k)) for k in np.unique(ks)]
        return (
            pd.concat(parts, ignore_index=True)
            if parts
            else pd.DataFrame(columns=[c.name for c in OUTPUT_SCHEMA.inputs])
        )

    def _for_k(self, raw_ids: np.ndarray, users: np.ndarray, groups: np.ndarray, k: int) -> pd.DataFrame:
        lists = answer(self.recommender, self.policy_, users, groups, k)
        keep = (lists.item_ids != "").ravel()
        flat_ids = lists.item_ids.ravel()[keep]
        return pd.DataFrame(
            {
                "user_id": np.repeat(raw_ids, k)[keep],
                "rank": np.tile(np.arange(1, k + 1), len(users))[keep].astype(np.int64),
                "item_id": flat_ids.astype(str),
                "title": np.array([self.titles_.get(i, "") for i in flat_ids], dtype=object).astype(str),
                "score": lists.scores.ravel()[keep],
                "cold_start": np.repeat(users < 0, k)[keep],
                "basis": lists.basis.ravel()[keep].astype(str),
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


def log_recommender(
    model_path: Path,
    items_path: Path,
    name: str = "model",
    users_path: Path | None = None,
    cold_start: ColdStartSettings = ColdStartSettings(),
) -> str:
    """Log a saved recommender as a pyfunc in the active run; return its model URI. Of the users table
    only pseudonymised ids, gender and age group go in (no names)."""
    package_dir = Path(sys.modules["mindshare"].__file__).parent
    with tempfile.TemporaryDirectory() as folder:
        artifacts = {"model": str(model_path), "items": str(items_path)}
        if users_path is not None and Path(users_path).exists():
            users = pd.read_parquet(users_path)
            kept = users[[c for c in ("user_id", "gender", "age_group") if c in users.columns]]
            artifacts["users"] = str(Path(folder) / "users.parquet")
            kept.to_parquet(artifacts["users"], index=False)
        info = mlflow.pyfunc.log_model(
            name=name,
            python_model=RecommenderPyfunc(),
            artifacts=artifacts,
            model_config={"cold_start": cold_start.model_dump()},
            signature=ModelSignature(inputs=INPUT_SCHEMA, outputs=OUTPUT_SCHEMA),
            input_example=EXAMPLE_INPUT,
            code_paths=[str(package_dir)],
            pip_requirements=_requirements(),
        )
    return info.model_uri
