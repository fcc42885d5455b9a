"""What a user is served: the one answer path of the pyfunc, the REST app and the audience stage.

A known user gets the model's top-k through the cold-start policy (the segment blend for little
history); a user with no history gets the new-user answer of their demographic group (or recent
popularity). Known users' last `new_item_slots` places then go to matching new items. Every item
says its `basis`. Because a shorter list is the prefix of a longer one before the new items are
placed, the answer for k is `with_new_items(ranked(..., max_k) cut to k, the user's new-item choices)`,
which is how the REST app answers from lists computed once per served version.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mindshare.models.base import Recommender
from mindshare.models.cold_start import ColdStartPolicy, place_new_items


@dataclass
class Lists:
    """Top-k lists of a batch of users: (users, k) arrays; item id '' and score -inf where a list is shorter."""

    item_ids: np.ndarray  # object (str)
    scores: np.ndarray  # float64
    basis: np.ndarray  # object: model, segment_blend, demographic, popular, new_item

    def first(self, k: int) -> "Lists":
        return Lists(self.item_ids[:, :k], self.scores[:, :k], self.basis[:, :k])


def ranked(model: Recommender, policy: ColdStartPolicy, users: np.ndarray, groups: np.ndarray, k: int) -> Lists:
    """Before new items are placed: known users (`users` >= 0, model indices) through the policy, the
    others by their demographic group (`groups`, -1: none) or recent popularity."""
    users = np.asarray(users, dtype=np.int64)
    items = np.full((len(users), k), -1, dtype=np.int64)
    scores = np.full((len(users), k), -np.inf, dtype=np.float64)
    basis = np.empty((len(users), k), dtype=object)
    known = users >= 0
    if known.any():
        items[known], scores[known], row_basis = policy.recommend(model, users[known], k)
        basis[known] = row_basis[:, None]
    if (~known).any():
        items[~known], scores[~known], row_basis = policy.new_users(np.asarray(groups)[~known], k)
        basis[~known] = row_basis[:, None]
    item_ids = model.train_.item_ids
    ids = np.where(items >= 0, item_ids[np.maximum(items, 0)] if len(item_ids) else "", "").astype(object)
    return Lists(ids, scores, basis)


def with_new_items(lists: Lists, new_ids: np.ndarray, new_scores: np.ndarray) -> Lists:
    """The lists with their last places given to each user's new-item choices (positive affinity only)."""
    return Lists(*place_new_items(lists.item_ids, lists.scores, lists.basis, new_ids, new_scores))


def answer(model: Recommender, policy: ColdStartPolicy, users: np.ndarray, groups: np.ndarray, k: int) -> Lists:
    """What each user is served at k: ranked lists, then known users' new-item places."""
    lists = ranked(model, policy, users, groups, k)
    known = np.flatnonzero(np.asarray(users) >= 0)
    if len(known):
        placed = with_new_items(Lists(lists.item_ids[known], lists.scores[known], lists.basis[known]),
                                *policy.new_item_choices(np.asarray(users)[known]))
        lists.item_ids[known], lists.scores[known], lists.basis[known] = placed.item_ids, placed.scores, placed.basis
    return lists
