"""Every known user's top-N as served (data/recommendations.parquet): the answer path of the REST app."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mindshare.models.answers import answer
from mindshare.models.base import Recommender
from mindshare.models.cold_start import ColdStartPolicy


def top_n_table(model: Recommender, policy: ColdStartPolicy, items: pd.DataFrame, k: int) -> pd.DataFrame:
    """user_id, rank, item_id, title, score, basis: one row per served item of every known user."""
    train = model.train_
    users = np.arange(train.n_users)
    lists = answer(model, policy, users, np.full(len(users), -1), k)
    valid = lists.item_ids != ""
    rows, ranks = np.nonzero(valid)
    ids = lists.item_ids[valid]
    titles = items.set_index("item_id")["title"].reindex(ids).fillna("").to_numpy()
    return pd.DataFrame({"user_id": train.user_ids[rows], "rank": ranks + 1, "item_id": ids.astype(str),
                         "title": titles, "score": lists.scores[valid], "basis": lists.basis[valid].astype(str)})
