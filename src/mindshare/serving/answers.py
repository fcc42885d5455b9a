"""The production model's answers, ready for requests: every known user's top `max_k` is computed
when a version is loaded (the model with the cold-start policy, exactly as its pyfunc answers), so
that a request is a hash, a lookup and a slice.

The answer for k is the first k of the list, with the user's best-matching new items in the last
`new_item_slots` places, as `RecommenderPyfunc.predict` gives it (a test holds them equal).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mindshare.data.pseudonymise import pseudonym
from mindshare.data.schema import age_groups
from mindshare.models.cold_start import BLEND_CANDIDATES, NEW_ITEM
from mindshare.tracking.pyfunc import RecommenderPyfunc

BLOCK_USERS = 2048


@dataclass(frozen=True)
class VersionInfo:
    name: str
    version: str
    alias: str
    family: str
    git_commit: str
    run_id: str


class Answers:
    """Built once per served version (only its audience cache fills later); the web app swaps whole
    objects, never edits one."""

    def __init__(self, wrapper: RecommenderPyfunc, info: VersionInfo, max_k: int = 100):
        if not 1 <= max_k <= BLEND_CANDIDATES:
            raise ValueError(f"max_k must be within 1..{BLEND_CANDIDATES}")
        self.info, self.max_k, self.key = info, max_k, wrapper.key_
        recommender, policy = wrapper.recommender, wrapper.policy_
        self.recommender = recommender  # for audiences
        self.audiences: dict[tuple, dict] = {}  # the web app's audience answers for this version
        self.policy = policy
        train = recommender.train_
        self.row_of = {user: row for row, user in enumerate(train.user_ids)}
        parts = [policy.recommend(recommender, np.arange(start, min(start + BLOCK_USERS, train.n_users)), max_k)
                 for start in range(0, train.n_users, BLOCK_USERS)]
        items = np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, max_k), dtype=np.int64)
        self.scores = np.concatenate([p[1] for p in parts]) if parts else np.zeros((0, max_k))
        self.basis = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, dtype=object)
        titles = pd.Series(wrapper.titles_, dtype=object)
        self.item_ids = np.append(train.item_ids.astype(object), "")
        self.item_titles = np.append(titles.reindex(train.item_ids).fillna("").to_numpy(dtype=object), "")
        self.items = np.where(items >= 0, items, len(train.item_ids))  # -1 -> the empty sentinel
        # new items: each known user's best matches (used only where affinity > 0)
        slots = int(policy.settings.new_item_slots)
        affinity = policy.new_item_affinity(np.arange(train.n_users))
        self.slots = min(slots, affinity.shape[1])
        best = np.argsort(-affinity, axis=1, kind="stable")[:, : self.slots]
        self.new_ids = policy.new_item_ids_[best] if self.slots else np.zeros((train.n_users, 0), dtype=object)
        self.new_scores = np.take_along_axis(affinity, best, axis=1)
        self.new_titles = {i: wrapper.titles_.get(i, "") for i in policy.new_item_ids_}
        # new users: one list per usable demographic group, and the popular one (-1)
        groups = np.flatnonzero(policy.group_usable_)
        group_items, group_scores, group_basis = policy.new_users(np.append(groups, -1), max_k)
        self.cold = {int(g): (np.where(i >= 0, i, len(train.item_ids)), s, b)
                     for g, i, s, b in zip(np.append(groups, -1), group_items, group_scores, group_basis)}

    def group_of(self, hashed: str, gender: str | None, age: int | None) -> int:
        group = int(self.policy.groups_of_users([hashed])[0])
        if group < 0 and gender is not None and age is not None:
            group = int(self.policy.group_of([gender], age_groups(pd.Series([float(age)])).to_numpy())[0])
        return group

    def recommend(self, raw_user_id: str, k: int, gender: str | None = None, age: int | None = None) -> dict:
        """{user_id, cold_start, items: [{item_id, title, score, basis}]} for the raw id a person knows."""
        hashed = pseudonym(raw_user_id, self.key)
        row = self.row_of.get(hashed)
        if row is None:
            items, scores, basis = self.cold[self.group_of(hashed, gender, age)]
            out = [{"item_id": self.item_ids[i], "title": self.item_titles[i], "score": float(s), "basis": basis}
                   for i, s in zip(items[:k], scores[:k]) if i < len(self.item_ids) - 1]
            return {"user_id": raw_user_id, "cold_start": True, "items": out}
        items, scores, basis = self.items[row, :k], self.scores[row, :k], self.basis[row]
        out = [{"item_id": self.item_ids[i], "title": self.item_titles[i], "score": float(s), "basis": basis}
               for i, s in zip(items, scores)]
        take = min(self.slots, k)
        for j in range(take):
            value = self.new_scores[row, j]
            place = k - take + j
            if value > 0 and place < len(out):
                new_id = self.new_ids[row, j]
                out[place] = {"item_id": new_id, "title": self.new_titles[new_id], "score": float(value),
                              "basis": NEW_ITEM}
        return {"user_id": raw_user_id, "cold_start": False,
                "items": [item for item in out if item["item_id"] != ""]}
