"""Every known user's top-N as served (data/recommendations.parquet): the answer path of the REST app."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from tqdm import tqdm

from mindshare.models.answers import Lists, answer
from mindshare.models.base import Recommender
from mindshare.models.cold_start import ColdStartPolicy

USERS_PER_BATCH = 10_000  # users answered at once: bounded memory, and a progress line with ETA after each batch


def top_n_table(model: Recommender, policy: ColdStartPolicy, items: pd.DataFrame, k: int,
                users_per_batch: int = USERS_PER_BATCH) -> pd.DataFrame:
    """user_id, rank, item_id, title, score, basis: one row per served item of every known user. Users are
    answered in batches (each user's list does not depend on the others in a batch), with tqdm's progress."""
    train = model.train_
    parts = []
    with tqdm(total=train.n_users, unit="users", desc="top-N", file=sys.stderr, mininterval=10) as bar:
        for start in range(0, train.n_users, users_per_batch):
            users = np.arange(start, min(start + users_per_batch, train.n_users))
            parts.append(answer(model, policy, users, np.full(len(users), -1), k))
            bar.update(len(users))
    fields = ("item_ids", "scores", "basis")
    lists = Lists(*(np.concatenate([getattr(part, field) for part in parts]) for field in fields))
    valid = lists.item_ids != ""
    rows, ranks = np.nonzero(valid)
    ids = lists.item_ids[valid]
    titles = items.set_index("item_id")["title"].reindex(ids).fillna("").to_numpy()
    return pd.DataFrame({"user_id": train.user_ids[rows], "rank": ranks + 1, "item_id": ids.astype(str),
                         "title": titles, "score": lists.scores[valid], "basis": lists.basis[valid].astype(str)})
