"""Cold start: one policy, used alike by `evaluate` (which measures it) and the served model.

- New user (no history): popularity among the training users of the same demographic group
  (gender x age group, ingest's users table) where the person's demographics are known and the group
  has at least `demographic_min_users` members, shrunk towards overall popularity by
  `demographic_prior` pseudo-users; otherwise the items most popular in the features stage's recent
  window (`item_recent_popularity`), ties by all-time popularity.
- Little history (1 to `max_interactions` training interactions): the model's scores blended with
  the popularity among the user's segment (features stage). Over the model's and the segment's top
  candidates both are scaled to [0, 1] per user; the segment's weight is
  segment_prior / (segment_prior + interactions), so it fades as history grows.
- New item (in the catalogue, no training interactions): a user's affinity to it is the TF-IDF cosine
  of its words with the user's items' words where the data has item text, else the mean, over the
  item's categories, of the user's share of interactions in that category (new_items.py);
  `new_item_slots` of the k places go to the new items the user has the highest (positive) affinity for.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mindshare.data.interactions import Interactions
from mindshare.models.base import top_k_rows
from mindshare.models.new_items import new_items_of
from mindshare.settings import DEFAULT_SEGMENT_PRIOR, ColdStartSettings  # noqa: F401 (re-exported)

# where an answer came from (the `basis` of a served recommendation)
BLEND_CANDIDATES = 200  # from the model and from the segment each, for the little-history blend
MODEL, SEGMENT_BLEND, DEMOGRAPHIC, POPULAR, NEW_ITEM = "model", "segment_blend", "demographic", "popular", "new_item"


SEGMENT_PRIOR_GRID = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0)  # `segment_prior: auto` picks one of these on valid
MIN_USERS_TO_CHOOSE = 20


def choose_segment_prior(scores: dict | None) -> float | None:
    """The prior with the best valid ndcg (ties: the smaller), if enough users had little history."""
    if not scores or scores.get("users", 0) < MIN_USERS_TO_CHOOSE:
        return None
    by_prior = {float(p): v for p, v in scores["ndcg"].items()}
    return max(sorted(by_prior), key=lambda p: (by_prior[p], -p))


def new_user_ranking(train: Interactions, recent_prior: float = 10_000.0) -> tuple[np.ndarray, np.ndarray]:
    """Recent popularity shrunk to all-time popularity: (item indices best first, their scores).

    An item's score is (its interactions in the recent window + recent_prior x its all-time share) /
    (all interactions in the window + recent_prior): a busy window speaks for itself, a quiet one
    (few interactions) defers to all-time popularity."""
    popularity = train.item_popularity().astype(np.float64)
    all_time = popularity / max(popularity.sum(), 1.0)
    recent = np.zeros_like(popularity)
    if train.item_features is not None and "item_recent_popularity" in train.item_features:
        recent = train.item_features["item_recent_popularity"].to_numpy(dtype=np.float64)
    scores = (recent + recent_prior * all_time) / (recent.sum() + recent_prior) if recent_prior > 0 or recent.any() \
        else all_time
    order = np.lexsort((np.arange(len(popularity)), -popularity, -scores))
    return order, scores[order]


def demographic_groups(users: pd.DataFrame | None) -> pd.Series:
    """user_id -> 'gender|age_group' for users whose gender and age group are both known."""
    if users is None or not {"gender", "age_group"} <= set(users.columns) or users.empty:
        return pd.Series(dtype=object)
    known = users["gender"].notna() & users["age_group"].notna()
    rows = users[known]
    return pd.Series((rows["gender"].astype(str) + "|" + rows["age_group"].astype(str)).to_numpy(),
                     index=rows["user_id"].to_numpy(), dtype=object)


def group_item_share(binary: sp.csr_matrix, groups: np.ndarray) -> np.ndarray:
    """(groups x items): the share of each group's users (codes 0..G-1; -1 in none) who interacted with
    each item."""
    member = groups >= 0
    n_groups = int(groups.max()) + 1 if member.any() else 1
    members = sp.csr_matrix((np.ones(member.sum(), dtype=np.float32), (groups[member], np.flatnonzero(member))),
                            shape=(n_groups, binary.shape[0]))
    counts = (members @ binary).toarray()
    return (counts / np.maximum(np.bincount(groups[member], minlength=n_groups), 1)[:, None]).astype(np.float32)


def _top(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top-k, padded to k columns with item -1 / -inf (see `top_k_rows`)."""
    items = np.full((scores.shape[0], k), -1, dtype=np.int64)
    values = np.full((scores.shape[0], k), -np.inf, dtype=np.float64)
    top, top_scores = top_k_rows(scores, k)
    items[:, : top.shape[1]], values[:, : top.shape[1]] = top, top_scores
    return items, values


class ColdStartPolicy:
    """Built from a fitted model's training data (with its feature tables attached), the users table
    (demographics) and the item catalogue. `exclude_seen` is the repeat policy (data/repeats.py): whether known
    users' lists leave out the items they had."""

    def __init__(self, train: Interactions, settings: ColdStartSettings = ColdStartSettings(),
                 users: pd.DataFrame | None = None, catalogue: pd.DataFrame | None = None, exclude_seen: bool = True):
        settings = settings.resolved()
        self.train, self.settings, self.exclude_seen = train, settings, bool(exclude_seen)
        binary = train.binary()
        self.counts_ = np.diff(binary.indptr)
        self.popular_order_, self.popular_scores_ = new_user_ranking(train, settings.recent_prior)
        popularity = train.item_popularity() / max(train.n_users, 1)
        # demographic groups: popularity within each, shrunk to overall popularity
        self.groups_ = demographic_groups(users)
        codes, self.group_names_ = pd.factorize(self.groups_.reindex(train.user_ids).to_numpy(), sort=True)
        sizes = np.bincount(codes[codes >= 0], minlength=len(self.group_names_))
        share = group_item_share(binary, codes)[: len(self.group_names_)]
        prior = settings.demographic_prior
        self.group_scores_ = (share * sizes[:, None] + prior * popularity) / (sizes[:, None] + prior)
        self.group_usable_ = sizes >= settings.demographic_min_users
        # segments: popularity within each
        self.segment_ = None
        if train.user_features is not None and "segment" in train.user_features:
            self.segment_ = train.user_features["segment"].to_numpy().astype(np.int64)
            self.segment_share_ = train.memo(("segment_item_share",), lambda: group_item_share(binary, self.segment_))
        # new items: catalogue items without training interactions, by their words or categories
        self.new_items_ = new_items_of(train, catalogue)

    @property
    def new_item_ids_(self) -> np.ndarray:
        return self.new_items_.ids if self.new_items_ is not None else np.array([], dtype=object)

    # -- new users -------------------------------------------------------------------------------
    def group_of(self, gender, age_group) -> np.ndarray:
        """Group codes of (gender, age group) pairs; -1 where unknown or too small."""
        keys = pd.Series(gender, dtype=object).astype(str) + "|" + pd.Series(age_group, dtype=object).astype(str)
        codes = pd.Index(self.group_names_).get_indexer(keys.to_numpy())
        usable = codes >= 0
        usable[usable] = self.group_usable_[codes[usable]]
        return np.where(usable, codes, -1)

    def groups_of_users(self, user_ids) -> np.ndarray:
        """Group codes of pseudonymised user ids from the users table (-1: unknown)."""
        known = self.groups_.reindex(pd.Index(user_ids, dtype=object))
        codes = pd.Index(self.group_names_).get_indexer(known.to_numpy())
        usable = codes >= 0
        usable[usable] = self.group_usable_[codes[usable]]
        return np.where(usable, codes, -1)

    def new_users(self, groups: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(items, scores, basis) for users with no history; `groups` from `group_of`/`groups_of_users`."""
        groups = np.asarray(groups, dtype=np.int64)
        items = np.full((len(groups), k), -1, dtype=np.int64)
        scores = np.full((len(groups), k), -np.inf, dtype=np.float64)
        take = min(k, len(self.popular_order_))
        items[:, :take], scores[:, :take] = self.popular_order_[:take], self.popular_scores_[:take]
        by_group = groups >= 0
        if by_group.any():
            unique, inverse = np.unique(groups[by_group], return_inverse=True)
            top_items, top_scores = _top(self.group_scores_[unique].astype(np.float64), k)
            items[by_group], scores[by_group] = top_items[inverse], top_scores[inverse]
        return items, scores, np.where(by_group, DEMOGRAPHIC, POPULAR).astype(object)

    # -- known users -----------------------------------------------------------------------------
    def recommend(self, model, users: np.ndarray, k: int, exclude_seen: bool | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(items, scores, basis) for known users: the model's top-k, blended with the segment's
        popularity for users with little history; seen items left out as the policy says (or `exclude_seen`)."""
        exclude_seen = self.exclude_seen if exclude_seen is None else exclude_seen
        users = np.asarray(users, dtype=np.int64)
        items, scores = model.recommend(users, k=k, exclude_seen=exclude_seen)
        scores = scores.astype(np.float64)
        basis = np.full(len(users), MODEL, dtype=object)
        little = self.little_history(users)
        if little.any():
            items[little], scores[little] = self._blend(model, users[little], k, exclude_seen)
            basis[little] = SEGMENT_BLEND
        return items, scores, basis

    def little_history(self, users: np.ndarray) -> np.ndarray:
        """Users the segment blend applies to (little history, a segment, a prior above 0)."""
        if self.segment_ is None or self.settings.segment_prior <= 0:
            return np.zeros(len(users), dtype=bool)
        return self.has_little_history(users)

    def has_little_history(self, users: np.ndarray) -> np.ndarray:
        return self.counts_[users] <= self.settings.max_interactions

    def _blend(self, model, users: np.ndarray, k: int, exclude_seen: bool) -> tuple[np.ndarray, np.ndarray]:
        n_candidates = max(k, BLEND_CANDIDATES)  # fixed for k <= 200: a shorter list is a prefix of a longer
        model_items, _ = model.recommend(users, k=n_candidates, exclude_seen=exclude_seen)
        share = self.segment_share_[self.segment_[users]].astype(np.float64)
        if exclude_seen:
            rows, cols = self.train.matrix[users].nonzero()
            share[rows, cols] = -np.inf
        segment_items, _ = _top(share, n_candidates)
        candidates = np.concatenate([model_items, segment_items], axis=1)
        valid = candidates >= 0
        safe = np.where(valid, candidates, 0)
        rows = np.repeat(np.arange(len(users)), candidates.shape[1])
        model_scores = model.score(users[rows], safe.ravel()).astype(np.float64).reshape(candidates.shape)
        segment_scores = np.take_along_axis(share, safe, axis=1)
        blended = ((1 - self._segment_weight(users))[:, None] * _unit_scale(model_scores, valid)
                   + self._segment_weight(users)[:, None] * _unit_scale(segment_scores, valid))
        blended[~valid] = -np.inf
        # an item in both lists counts once (padding gets distinct negative keys, so it repeats nothing)
        keys = np.where(valid, candidates, -1 - np.arange(candidates.shape[1]))
        order = np.argsort(keys, axis=1, kind="stable")
        sorted_items = np.take_along_axis(keys, order, axis=1)
        repeat = np.zeros_like(valid)
        repeat[:, 1:] = sorted_items[:, 1:] == sorted_items[:, :-1]
        np.put_along_axis(blended, order, np.where(repeat, -np.inf, np.take_along_axis(blended, order, axis=1)), axis=1)
        best = np.argsort(-blended, axis=1, kind="stable")[:, :k]
        top_scores = np.take_along_axis(blended, best, axis=1)
        top_items = np.where(np.isfinite(top_scores), np.take_along_axis(candidates, best, axis=1), -1)
        if top_items.shape[1] < k:
            pad = k - top_items.shape[1]
            top_items = np.pad(top_items, ((0, 0), (0, pad)), constant_values=-1)
            top_scores = np.pad(top_scores, ((0, 0), (0, pad)), constant_values=-np.inf)
        return top_items, top_scores

    def _segment_weight(self, users: np.ndarray) -> np.ndarray:
        prior = float(self.settings.segment_prior)
        return prior / (prior + self.counts_[users])

    # -- new items -------------------------------------------------------------------------------
    def new_item_affinity(self, users: np.ndarray) -> np.ndarray:
        """(len(users), new items) affinity of known users to the catalogue's new items (new_items.py)."""
        if self.new_items_ is None:
            return np.zeros((len(users), 0))
        return self.new_items_.affinity(users)

    def new_item_choices(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each known user's best-matching new items for the `new_item_slots` places, best first:
        (item ids, affinities), (len(users), slots) each; an affinity <= 0 leaves its place alone."""
        affinity = self.new_item_affinity(users)
        take = min(int(self.settings.new_item_slots), affinity.shape[1])
        best = np.argsort(-affinity, axis=1, kind="stable")[:, :take]
        return self.new_item_ids_[best].astype(object), np.take_along_axis(affinity, best, axis=1)

    def unpersonalised_new_item_scores(self) -> np.ndarray:
        """The new items' scores for no one in particular: the baseline their metric is read against."""
        return self.new_items_.unpersonalised() if self.new_items_ is not None else np.zeros(0)


def place_new_items(ids: np.ndarray, scores: np.ndarray, basis: np.ndarray, new_ids: np.ndarray,
                    new_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-k lists (item ids, scores, basis per item) with their last places given to the new items
    chosen for each user (`ColdStartPolicy.new_item_choices`), where the affinity is positive: new arrays."""
    ids, scores, basis = ids.copy(), scores.copy(), basis.copy()
    k = ids.shape[1]
    take = min(new_ids.shape[1], k)
    for j in range(take):
        place, ok = k - take + j, new_scores[:, j] > 0
        ids[ok, place] = new_ids[ok, j]
        scores[ok, place] = new_scores[ok, j]
        basis[ok, place] = NEW_ITEM
    return ids, scores, basis


def _unit_scale(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per row, min-max scale the valid entries to [0, 1] (a constant row becomes 1)."""
    low = np.where(valid, values, np.inf).min(axis=1, keepdims=True)
    high = np.where(valid, values, -np.inf).max(axis=1, keepdims=True)
    span = np.where(high > low, high - low, 1.0)
    return np.where(valid, np.where(high > low, (values - low) / span, 1.0), 0.0)
