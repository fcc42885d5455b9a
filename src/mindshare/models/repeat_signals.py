"""When a person re-buys and when they explore: what the re-rankers learn from the event log where repeats
count (`repeats=True`), and the forward-in-time holdout they learn it on.

All of it comes from the events of the data it is computed on (a re-ranker's fit part), so no held-out
event reaches it. "Now" is the data's latest event. For a (user u, item i) pair:
- times taken: log(1 + the distinct days u took i);
- days since: log(1 + days from u's last event on i to now) (log(1 + NEVER_DAYS) where u never took i);
- due: log(1 + elapsed / u's usual interval for i), the usual interval being (last - first) / (days - 1)
  where u took i on two days or more, else the item's median of that over its customers (0 where u never
  took i): about log 2 when it is due;
- the item's repeat rate: the share of its customers who took it on two days or more;
- the user's repeat rate: the share of u's items taken on two days or more (loyal or exploring).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mindshare.data.interactions import EventLog, Interactions

DAY = 86_400.0
NEVER_DAYS = 3650.0
REPEAT_FEATURES = ["pair_times_taken", "pair_days_since_taken", "pair_due", "pair_item_repeat_rate",
                   "pair_user_repeat_rate"]


def split_last_days(train: Interactions, days: int, back: int = 0) -> tuple[Interactions, sp.csr_matrix]:
    """(the data before a window of `days` days, the distinct (user, item) pairs of the window for users with
    history before it): the re-rankers' forward-in-time holdout, the future before the test's future. The
    window is the data's last `days` days, or `back` windows before those (more training groups from the past)."""
    events = train.events
    if events is None or len(events.times) == 0:
        raise ValueError("split_last_days needs the data's event log (a frame with timestamps)")
    end = int(events.times.max()) - int(back) * int(days) * 86_400
    cut = end - int(days) * 86_400
    before = events.times <= cut
    fit_part = _from_events(train, EventLog(events.users[before], events.items[before], events.times[before],
                                            events.weights[before]))
    has_history = np.diff(fit_part.matrix.indptr) > 0
    after = ~before & (events.times <= end) & has_history[events.users]
    held = sp.csr_matrix((np.ones(int(after.sum()), dtype=np.float32), (events.users[after], events.items[after])),
                         shape=train.matrix.shape)
    held.sum_duplicates()
    held.data[:] = 1.0
    return fit_part, held


def _from_events(train: Interactions, events: EventLog) -> Interactions:
    """`train`'s users, items and tables with the matrix, times and events of `events` alone (ratings: the
    pairs' values in `train`)."""
    shape = train.matrix.shape
    weights = sp.csr_matrix((events.weights, (events.users, events.items)), shape=shape, dtype=np.float32)
    weights.sum_duplicates()
    matrix = train.matrix.multiply(weights.astype(bool)).tocsr() if train.has_ratings else weights
    keys = events.users.astype(np.int64) * shape[1] + events.items
    order = np.lexsort((events.times, keys))
    last = np.ones(len(order), dtype=bool)
    last[:-1] = keys[order][1:] != keys[order][:-1]
    chosen = order[last]
    times = sp.csr_matrix((events.times[chosen].astype(np.float64), (events.users[chosen], events.items[chosen])),
                          shape=shape)
    return Interactions(train.user_ids, train.item_ids, matrix, train.has_ratings, train.user_features,
                        train.item_features, times, train.item_text, events)


@dataclass
class RepeatContext:
    days_taken: sp.csr_matrix  # (users, items): distinct days the user took the item
    first: sp.csr_matrix  # first event time (seconds) on the pairs of days_taken
    last: sp.csr_matrix
    item_interval: np.ndarray  # (items,) median usual interval (seconds) of its repeat customers, 0 where none
    item_repeat_rate: np.ndarray  # (items,)
    user_repeat_rate: np.ndarray  # (users,)
    now: float


def repeat_context(train: Interactions) -> RepeatContext | None:
    """The data's RepeatContext, once per Interactions object; None where it has no event log."""
    if train.events is None or len(train.events.times) == 0:
        return None
    return train.memo(("repeat_context",), lambda: _build(train))


def _build(train: Interactions) -> RepeatContext:
    events, shape = train.events, train.matrix.shape
    days = pd.DataFrame({"u": events.users, "i": events.items, "t": events.times,
                         "d": events.times // int(DAY)})
    pairs = days.groupby(["u", "i"], sort=False).agg(first=("t", "min"), last=("t", "max"), days=("d", "nunique"))
    u = pairs.index.get_level_values("u").to_numpy()
    i = pairs.index.get_level_values("i").to_numpy()

    def matrix(values: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix((values.astype(np.float64), (u, i)), shape=shape)

    n_days = pairs["days"].to_numpy()
    repeated = n_days >= 2
    interval = np.where(repeated, (pairs["last"] - pairs["first"]).to_numpy() / np.maximum(n_days - 1, 1), np.nan)
    item_interval = pd.Series(interval).groupby(i).median().reindex(range(shape[1])).fillna(0.0).to_numpy()
    item_customers = np.bincount(i, minlength=shape[1])
    user_items = np.bincount(u, minlength=shape[0])
    return RepeatContext(
        days_taken=matrix(n_days), first=matrix(pairs["first"].to_numpy()), last=matrix(pairs["last"].to_numpy()),
        item_interval=item_interval,
        item_repeat_rate=np.bincount(i, repeated, minlength=shape[1]) / np.maximum(item_customers, 1),
        user_repeat_rate=np.bincount(u, repeated, minlength=shape[0]) / np.maximum(user_items, 1),
        now=float(events.times.max()))


def repeat_features(context: RepeatContext, users: np.ndarray, items: np.ndarray) -> list[np.ndarray]:
    """The columns REPEAT_FEATURES names, for (user, item) index pairs (see the module)."""
    def at(matrix: sp.csr_matrix) -> np.ndarray:
        return np.asarray(matrix[users, items]).ravel()

    n_days, first, last = at(context.days_taken), at(context.first), at(context.last)
    taken = n_days > 0
    since_days = np.where(taken, (context.now - last) / DAY, NEVER_DAYS)
    usual = np.where(n_days >= 2, (last - first) / np.maximum(n_days - 1, 1), context.item_interval[items])
    due = np.where(taken & (usual > 0), (context.now - last) / np.maximum(usual, 1.0), 0.0)
    return [np.log1p(n_days), np.log1p(since_days), np.log1p(np.minimum(due, 100.0)),
            context.item_repeat_rate[items], context.user_repeat_rate[users]]
