"""A fitted recommender ready to answer raw user ids: its cold-start policy, the item titles and the
pseudonymisation key. The MLflow pyfunc (tracking/pyfunc.py) is this plus MLflow's loading; a
`mindshare recommend` on a local store loads it straight from the version's files, without MLflow.

`answer_frame` takes a DataFrame with `user_id` (the raw id a person knows), optional `k` (default 10)
and, for people not seen in training, optional `gender` and `age`. It returns one row per
recommendation: `user_id`, `rank`, `item_id`, `title`, `score`, `cold_start` (True when the user has
no training history) and `basis` (`model`, `segment_blend`, `demographic`, `popular` or `new_item`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mindshare.data.pseudonymise import check_fingerprint, load_key, pseudonymise
from mindshare.data.schema import age_groups
from mindshare.errors import MindshareError
from mindshare.models.answers import answer
from mindshare.models.base import Recommender
from mindshare.models.cold_start import ColdStartPolicy
from mindshare.settings import ColdStartSettings

DEFAULT_K = 10
MAX_K = 1000
OUTPUT_COLUMNS = ("user_id", "rank", "item_id", "title", "score", "cold_start", "basis")


def model_key(model_config: dict | None) -> bytes:
    """The pseudonymisation key (MINDSHARE_PSEUDONYM_KEY or the key file), refused unless it is the one the model's
    users were pseudonymised with (the fingerprint in its config): under another key everyone would be a stranger."""
    key = load_key()
    check_fingerprint(key, (model_config or {}).get("key_fingerprint"), "this model")
    return key


def exclude_seen_of(model_config: dict | None) -> bool:
    """The repeat policy a logged model answers with (its model_config); seen items excluded where it says none."""
    value = (model_config or {}).get("exclude_seen", True)
    if not isinstance(value, bool):
        raise MindshareError(f"the model's exclude_seen setting is {value!r}; it must be true or false")
    return value


class ServedRecommender:
    """What answers a request: `recommender`, `policy_`, `titles_` and `key_` (never stored with the model)."""

    recommender: Recommender

    def load_files(self, model_path: str | Path, items_path: str | Path, users_path: str | Path | None,
                   settings: ColdStartSettings, key: bytes, exclude_seen: bool = True) -> None:
        """Load the saved recommender and its catalogue (and demographics, if given) from files; `exclude_seen`:
        the repeat policy it was evaluated under."""
        self.model_folder_ = str(Path(model_path).parent.parent)  # <model>/artifacts/model.pkl
        self.recommender = Recommender.load(model_path)
        users = pd.read_parquet(users_path) if users_path is not None else None
        self._prepare(pd.read_parquet(items_path), key, users, settings, exclude_seen)

    def _prepare(self, items: pd.DataFrame, key: bytes, users: pd.DataFrame | None = None,
                 settings: ColdStartSettings = ColdStartSettings(), exclude_seen: bool = True) -> None:
        train = self.recommender.train_
        self.titles_ = (items.set_index("item_id")["title"].astype(str) if len(items)
                        else pd.Series(dtype=str)).to_dict()
        self.key_ = key
        self.policy_ = ColdStartPolicy(train, settings, users, items, exclude_seen)

    def answer_frame(self, model_input: pd.DataFrame) -> pd.DataFrame:
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
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(OUTPUT_COLUMNS))

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
