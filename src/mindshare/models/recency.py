"""What the re-rankers learn from time, none of which the base families see: which items were
popular when a user was active, which items are rising, and what goes with a user's latest items.

All of it comes from the `times` of the data it is computed on (a re-ranker's fit part), so no
held-out interaction reaches it. The fit data's time span is cut into `N_TIME_BINS` bins of equal
numbers of interactions; then for a (user u, item i) pair:
- time-matched popularity: sum_b p_u(b) s_i(b), where p_u is the share of u's interactions in
  bin b and s_i(b) the share of bin b's active users who interacted with i (its log, and its log
  against i's all-time share: "popular when this user was around");
- trend: log s_i(last bin) - log (i's all-time share of users): rising or fading now;
- recent co-occurrence: sum over u's `N_RECENT` latest items j of |users(j) & users(i)| /
  sqrt(|users(j)| |users(i)|), the cosine co-occurrence with what u did last.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from mindshare.data.interactions import Interactions
from mindshare.models.base import SCORE_BLOCK_FLOATS

N_TIME_BINS = 16
N_RECENT = 5
FLOOR = 1e-6  # shares are logged: an item nobody touched in a bin gets this share


@dataclass
class TimeContext:
    user_bins: np.ndarray  # (users, bins) float32: each user's share of interactions per bin
    item_bin_share: np.ndarray  # (items, bins) float32: share of each bin's active users per item
    item_share: np.ndarray  # (items,) float32: share of all users per item
    recent: sp.csr_matrix  # (users, items): 1 / sqrt(|users(j)|) on each user's N_RECENT latest items j
    binary: sp.csr_matrix  # (users, items): who interacted with what
    by_item: sp.csr_matrix  # (items, users): its transpose
    item_norm: np.ndarray  # (items,) float64: 1 / sqrt(|users(i)|)


def time_context(train: Interactions) -> TimeContext | None:
    """The data's TimeContext, once per Interactions object; None where it has no times."""
    if train.times is None or train.times.nnz == 0:
        return None
    return train.memo(("time_context",), lambda: _build(train))


def _build(train: Interactions) -> TimeContext:
    times = train.times.tocoo()
    n_users, n_items = train.n_users, train.n_items
    edges = np.unique(np.quantile(times.data, np.linspace(0, 1, N_TIME_BINS + 1)[1:-1]))
    bins = np.searchsorted(edges, times.data, side="right")
    n_bins = N_TIME_BINS
    user_bins = np.zeros((n_users, n_bins), dtype=np.float64)
    np.add.at(user_bins, (times.row, bins), 1.0)
    user_bins /= np.maximum(user_bins.sum(axis=1, keepdims=True), 1.0)
    item_counts = np.zeros((n_items, n_bins), dtype=np.float64)
    np.add.at(item_counts, (times.col, bins), 1.0)
    user_bin_pairs = np.unique(times.row.astype(np.int64) * n_bins + bins)
    active = np.bincount(user_bin_pairs % n_bins, minlength=n_bins)
    item_bin_share = item_counts / np.maximum(active, 1)[None, :]
    popularity = np.bincount(times.col, minlength=n_items).astype(np.float64)
    item_share = popularity / max(n_users, 1)
    binary = sp.csr_matrix((np.ones(times.nnz, dtype=np.float32), (times.row, times.col)), shape=(n_users, n_items))
    return TimeContext(
        user_bins=user_bins.astype(np.float32),
        item_bin_share=item_bin_share.astype(np.float32),
        item_share=item_share.astype(np.float32),
        recent=_latest_items(times, n_users, n_items, popularity),
        binary=binary,
        by_item=binary.T.tocsr(),
        item_norm=1.0 / np.sqrt(np.maximum(popularity, 1.0)),
    )


def _latest_items(times: sp.coo_matrix, n_users: int, n_items: int, popularity: np.ndarray) -> sp.csr_matrix:
    """Each user's N_RECENT latest items (ties by item index), weighted 1 / sqrt(popularity)."""
    order = np.lexsort((times.col, -times.data, times.row))
    rows, cols = times.row[order], times.col[order]
    starts = np.searchsorted(rows, rows, side="left")
    keep = (np.arange(len(rows)) - starts) < N_RECENT
    rows, cols = rows[keep], cols[keep]
    weights = (1.0 / np.sqrt(np.maximum(popularity[cols], 1.0))).astype(np.float32)
    return sp.csr_matrix((weights, (rows, cols)), shape=(n_users, n_items))


def time_features(context: TimeContext, users: np.ndarray, items: np.ndarray) -> tuple[list[np.ndarray], list[str]]:
    """The pairs' time features (see the module docstring), float32 columns and their names."""
    matched = np.einsum("pb,pb->p", context.user_bins[users], context.item_bin_share[items])
    log_matched = np.log(matched + FLOOR).astype(np.float32)
    log_share = np.log(context.item_share + FLOOR).astype(np.float32)
    trend = (np.log(context.item_bin_share[:, -1] + FLOOR) - log_share).astype(np.float32)
    columns = [log_matched, log_matched - log_share[items], trend[items], recent_cooccurrence(context, users, items)]
    names = ["pair_time_matched_popularity", "pair_time_matched_vs_overall", "pair_item_trend",
             "pair_recent_cooccurrence"]
    return columns, names


def recent_cooccurrence(context: TimeContext, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Cosine co-occurrence of each pair's item with its user's latest items, summed; block-wise over users."""
    unique, codes = np.unique(users, return_inverse=True)
    n_items = context.binary.shape[1]
    out = np.zeros(len(users), dtype=np.float32)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(unique) + 1))
    block = max(1, SCORE_BLOCK_FLOATS // max(1, n_items))
    for start in range(0, len(unique), block):
        stop = min(start + block, len(unique))
        # (block, users) @ (users, items): co-occurrence counts of every item with the block's latest items
        counts = (context.recent[unique[start:stop]] @ context.by_item) @ context.binary
        dense = counts.toarray()
        pairs = order[bounds[start]:bounds[stop]]
        out[pairs] = dense[codes[pairs] - start, items[pairs]] * context.item_norm[items[pairs]]
    return out
