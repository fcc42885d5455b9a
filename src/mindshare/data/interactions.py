"""The Interactions object: id <-> index maps and the user x item CSR matrix, built once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp


@dataclass(frozen=True)
class EventLog:
    """Every event behind the matrix (a pair's repeats apart): user and item indices, time (seconds since 1970)
    and weight (the event weight, 1 where the data has none). Kept while fitting, never saved with a model."""

    users: np.ndarray  # int32
    items: np.ndarray  # int32
    times: np.ndarray  # int64
    weights: np.ndarray  # float32

    def of_pairs(self, matrix: sp.csr_matrix) -> "EventLog":
        """The events of the (user, item) pairs stored in `matrix` (a part of the matrix they were built with)."""
        coo = matrix.tocoo()
        n_items = matrix.shape[1]
        kept = np.isin(self.users.astype(np.int64) * n_items + self.items,
                       coo.row.astype(np.int64) * n_items + coo.col)
        return EventLog(self.users[kept], self.items[kept], self.times[kept], self.weights[kept])


@dataclass
class Interactions:
    """Users and items as contiguous int32 indices and the train matrix as CSR.

    `matrix[u, i]` is the user's latest rating where the data has ratings, else the number of
    interactions. `times[u, i]`, where the data has timestamps, is when the user last interacted
    with the item (seconds since 1970) on the same pairs as `matrix`. `item_text[i]`, where a catalogue
    was attached, is item i's words (title, categories, tags, description) for the content families.
    Index order is first appearance in the data, so it never depends on the pseudonymisation key.
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    matrix: sp.csr_matrix
    has_ratings: bool = False
    user_features: pd.DataFrame | None = None  # row u describes user index u (see `with_features`)
    item_features: pd.DataFrame | None = None
    times: sp.csr_matrix | None = None
    item_text: np.ndarray | None = None  # object array: item index i's document (see `with_item_text`)
    events: EventLog | None = None  # every event, where the data has times (not saved: see EventLog)
    _memo: dict = field(init=False, repr=False, compare=False, default_factory=dict)
    _user_lookup: pd.Index = field(init=False, repr=False)
    _item_lookup: pd.Index = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._user_lookup = pd.Index(self.user_ids)
        self._item_lookup = pd.Index(self.item_ids)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> "Interactions":
        users, user_ids = pd.factorize(frame["user_id"], sort=False)
        items, item_ids = pd.factorize(frame["item_id"], sort=False)
        shape = (len(user_ids), len(item_ids))
        latest = None
        if "timestamp" in frame.columns:
            pairs = {"u": users, "i": items, "t": frame["timestamp"].to_numpy(dtype=np.int64)}
            if "rating" in frame.columns:
                pairs["r"] = frame["rating"].to_numpy()
            latest = pd.DataFrame(pairs).sort_values("t", kind="stable").drop_duplicates(["u", "i"], keep="last")
        if "rating" in frame.columns:
            rows, cols, values = latest["u"].to_numpy(), latest["i"].to_numpy(), latest["r"].to_numpy()
        elif "weight" in frame.columns:  # implicit feedback: event weights add up per (user, item)
            rows, cols, values = users, items, frame["weight"].to_numpy(dtype=np.float64)
        else:
            rows, cols, values = users, items, np.ones(len(users))
        matrix = sp.csr_matrix((values.astype(np.float32), (rows, cols)), shape=shape, dtype=np.float32)
        matrix.sum_duplicates()
        times = events = None
        if latest is not None:
            times = sp.csr_matrix(
                (latest["t"].to_numpy(dtype=np.float64), (latest["u"].to_numpy(), latest["i"].to_numpy())), shape=shape
            )
            weights = frame["weight"].to_numpy(dtype=np.float32) if "weight" in frame.columns \
                else np.ones(len(frame), dtype=np.float32)
            events = EventLog(users.astype(np.int32), items.astype(np.int32), pairs["t"], weights)
        return cls(
            np.asarray(user_ids, dtype=object),
            np.asarray(item_ids, dtype=object),
            matrix,
            has_ratings="rating" in frame.columns,
            times=times,
            events=events,
        )

    def memo(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """`compute()` once per key for this object (not saved with it): lets a tuner's trials share
        work that does not depend on the hyper-parameters being tuned, such as base-family fits."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    @property
    def n_users(self) -> int:
        return self.matrix.shape[0]

    @property
    def n_items(self) -> int:
        return self.matrix.shape[1]

    def user_index(self, ids: pd.Series | np.ndarray | list[str]) -> np.ndarray:
        """Indices of user ids; -1 for a user not seen in training."""
        return self._user_lookup.get_indexer(pd.Index(ids)).astype(np.int64)

    def item_index(self, ids: pd.Series | np.ndarray | list[str]) -> np.ndarray:
        """Indices of item ids; -1 for an item not seen in training."""
        return self._item_lookup.get_indexer(pd.Index(ids)).astype(np.int64)

    def item_popularity(self) -> np.ndarray:
        """Number of distinct users per item."""
        return np.diff(self.matrix.tocsc().indptr).astype(np.int64)

    def with_features(self, users: pd.DataFrame | None, items: pd.DataFrame | None) -> "Interactions":
        """A copy carrying feature tables (indexed by id) aligned to index order; missing rows are 0."""

        def align(table: pd.DataFrame | None, ids: np.ndarray) -> pd.DataFrame | None:
            if table is None:
                return None
            return table.reindex(pd.Index(ids)).fillna(0.0).astype(np.float32).reset_index(drop=True)

        return Interactions(
            self.user_ids,
            self.item_ids,
            self.matrix,
            self.has_ratings,
            align(users, self.user_ids),
            align(items, self.item_ids),
            self.times,
            self.item_text,
            self.events,
        )

    def with_item_text(self, documents: pd.Series | None) -> "Interactions":
        """A copy carrying each item's document (`documents`: str indexed by item id) in index order; an
        item without one gets ''. None keeps this object's text (no catalogue at hand)."""
        if documents is None:
            return self
        keyed = pd.Series(documents.to_numpy(dtype=object), index=documents.index.astype(str))
        text = keyed[~keyed.index.duplicated()].reindex(pd.Index(self.item_ids).astype(str)).fillna("")
        return Interactions(self.user_ids, self.item_ids, self.matrix, self.has_ratings, self.user_features,
                            self.item_features, self.times, text.to_numpy(dtype=object), self.events)

    def with_matrix(self, matrix: sp.csr_matrix) -> "Interactions":
        """The same users, items and features with another matrix (for example a part of this one); the
        times of the pairs it keeps."""
        times = None
        if self.times is not None:
            pattern = matrix.astype(bool).astype(np.float64)
            times = self.times.multiply(pattern).tocsr()
        events = self.events.of_pairs(matrix) if self.events is not None else None
        return Interactions(
            self.user_ids, self.item_ids, matrix, self.has_ratings, self.user_features, self.item_features, times,
            self.item_text, events,
        )

    def binary(self) -> sp.csr_matrix:
        """The matrix with every stored value set to 1 (who interacted with what)."""
        out = self.matrix.astype(np.float32, copy=True)
        out.data[:] = 1.0
        return out

    def __getstate__(self) -> dict:
        return {
            "user_ids": self.user_ids,
            "item_ids": self.item_ids,
            "matrix": self.matrix,
            "has_ratings": self.has_ratings,
            "user_features": self.user_features,
            "item_features": self.item_features,
            "times": self.times,
            "item_text": self.item_text,
        }

    def __setstate__(self, state: dict) -> None:
        self.__init__(
            state["user_ids"],
            state["item_ids"],
            state["matrix"],
            state.get("has_ratings", False),
            state.get("user_features"),
            state.get("item_features"),
            state.get("times"),
            state.get("item_text"),
        )
