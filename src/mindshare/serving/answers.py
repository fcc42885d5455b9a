"""The production model's answers, ready for requests: every known user's ranked top `max_k` and
new-item choices, and every demographic group's new-user list, are computed when a version is loaded
(models/answers.py, the path the pyfunc and the audience stage answer by), so that a request is a
hash, a lookup, a slice and the new-item places for its k.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mindshare.data.pseudonymise import pseudonym
from mindshare.data.schema import age_groups
from mindshare.models.answers import Lists, ranked, with_new_items
from mindshare.models.cold_start import BLEND_CANDIDATES
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
        self.recommender, self.policy = wrapper.recommender, wrapper.policy_  # the recommender for audiences
        self.audiences: dict[tuple, dict] = {}  # the web app's audience answers for this version
        self.titles = wrapper.titles_
        train = self.recommender.train_
        self.row_of = {user: row for row, user in enumerate(train.user_ids)}
        blocks = [np.arange(start, min(start + BLOCK_USERS, train.n_users))
                  for start in range(0, train.n_users, BLOCK_USERS)]
        parts = [ranked(self.recommender, self.policy, users, np.full(len(users), -1), max_k) for users in blocks]
        self.known = Lists(*(np.concatenate([getattr(p, f) for p in parts]) if parts else empty
                             for f, empty in (("item_ids", np.zeros((0, max_k), dtype=object)),
                                              ("scores", np.zeros((0, max_k))),
                                              ("basis", np.zeros((0, max_k), dtype=object)))))
        self.new_ids, self.new_scores = self.policy.new_item_choices(np.arange(train.n_users))
        groups = np.append(np.flatnonzero(self.policy.group_usable_), -1)  # -1: recent popularity
        new_users = ranked(self.recommender, self.policy, np.full(len(groups), -1), groups, max_k)
        self.cold = {int(g): Lists(new_users.item_ids[[i]], new_users.scores[[i]], new_users.basis[[i]])
                     for i, g in enumerate(groups)}

    def group_of(self, hashed: str, gender: str | None, age: int | None) -> int:
        group = int(self.policy.groups_of_users([hashed])[0])
        if group < 0 and gender is not None and age is not None:
            group = int(self.policy.group_of([gender], age_groups(pd.Series([float(age)])).to_numpy())[0])
        return group

    def recommend(self, raw_user_id: str, k: int, gender: str | None = None, age: int | None = None) -> dict:
        """{user_id, cold_start, items: [{item_id, title, score, basis}]} for the raw id a person knows."""
        cold, items = self.for_pseudonym(pseudonym(raw_user_id, self.key), k, gender, age)
        return {"user_id": raw_user_id, "cold_start": cold, "items": items}

    def for_pseudonym(self, hashed: str, k: int, gender: str | None = None,
                      age: int | None = None) -> tuple[bool, list[dict]]:
        """(cold start?, [{item_id, title, score, basis}]) for a pseudonymised id."""
        row = self.row_of.get(hashed)
        if row is None:
            lists = self.cold[self.group_of(hashed, gender, age)].first(k)
        else:
            mine = Lists(self.known.item_ids[[row]], self.known.scores[[row]], self.known.basis[[row]]).first(k)
            lists = with_new_items(mine, self.new_ids[[row]], self.new_scores[[row]])
        items = [{"item_id": i, "title": self.titles.get(i, ""), "score": float(s), "basis": b}
                 for i, s, b in zip(lists.item_ids[0], lists.scores[0], lists.basis[0]) if i != ""]
        return row is None, items
