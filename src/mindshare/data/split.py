"""De-duplication, k-core filtering and the split protocols, all vectorised.

Every function returns what it kept and how many rows it dropped, so nothing is lost silently.
Assignments depend on row order and the seed, never on the pseudonymised id values.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mindshare.data.fingerprint import frame_fingerprint
from mindshare.errors import MindshareError
from mindshare.settings import SplitSettings

log = logging.getLogger(__name__)


@dataclass
class Split:
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame


def drop_exact_duplicates(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    kept = frame.drop_duplicates(ignore_index=True)
    return kept, len(frame) - len(kept)


def k_core(frame: pd.DataFrame, min_user: int, min_item: int) -> tuple[pd.DataFrame, int]:
    """Repeatedly drop users with < min_user and items with < min_item interactions."""
    if min_user <= 1 and min_item <= 1:  # every user and item has at least one row: nothing to count
        return frame, 0
    kept = frame
    while True:
        user_counts = kept.groupby("user_id", sort=False)["user_id"].transform("size")
        item_counts = kept.groupby("item_id", sort=False)["item_id"].transform("size")
        keep = (user_counts >= min_user) & (item_counts >= min_item)
        if keep.all():
            return kept.reset_index(drop=True), len(frame) - len(kept)
        kept = kept[keep.to_numpy()]


def _rank_within_user(codes: np.ndarray, sort_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank of each row within its user by `sort_key` (ties by row order), and the user's row count."""
    order = np.lexsort((np.arange(len(codes)), sort_key, codes))
    counts = np.bincount(codes)
    starts = np.cumsum(counts) - counts
    rank = np.empty(len(codes), dtype=np.int64)
    rank[order] = np.arange(len(codes)) - starts[codes[order]]
    return rank, counts[codes]


def check_ratios(test_ratio: float, valid_ratio: float) -> None:
    if not 0 < test_ratio < 1:
        raise MindshareError(f"params.yaml: prepare.split.test_ratio is {test_ratio}; it must be inside (0, 1)")
    if not 0 <= valid_ratio < 1 or test_ratio + valid_ratio >= 1:
        raise MindshareError(
            f"params.yaml: prepare.split.valid_ratio is {valid_ratio}; it must be in [0, 1) and leave room for train "
            f"(test_ratio + valid_ratio < 1)"
        )


def split_random_per_user(frame: pd.DataFrame, test_ratio: float, valid_ratio: float, seed: int) -> Split:
    """Per-user stratified random split (as Microsoft Recommenders' python_stratified_split).

    Each user's rows are shuffled; the first round(n * train_ratio) (at least 1) go to train, the
    next round(n * valid_ratio) to valid, the rest to test.
    """
    check_ratios(test_ratio, valid_ratio)
    codes = pd.factorize(frame["user_id"], sort=False)[0]
    noise = np.random.default_rng(seed).random(len(frame))
    rank, n = _rank_within_user(codes, noise)
    train_end = np.maximum(np.round(n * (1 - test_ratio - valid_ratio)), 1)
    valid_end = np.maximum(np.round(n * (1 - test_ratio)), train_end)
    return _assign(frame, rank < train_end, (rank >= train_end) & (rank < valid_end))


def split_leave_last_n(frame: pd.DataFrame, n_test: int, n_valid: int) -> Split:
    """Per user by time: the last `n_test` rows to test, the `n_valid` before them to valid.

    Users with no more than n_test + n_valid rows keep everything in train.
    """
    if n_test < 1 or n_valid < 0:
        raise MindshareError("params.yaml: prepare.split.leave_last_n must be >= 1 (and valid_last_n >= 0)")
    codes = pd.factorize(frame["user_id"], sort=False)[0]
    rank, n = _rank_within_user(codes, frame["timestamp"].to_numpy())
    from_end = n - 1 - rank
    eligible = n > n_test + n_valid
    test = eligible & (from_end < n_test)
    valid = eligible & (from_end >= n_test) & (from_end < n_test + n_valid)
    return _assign(frame, ~(test | valid), valid)


def split_global_time(frame: pd.DataFrame, test_ratio: float, valid_ratio: float) -> Split:
    """One cut-off time: the latest `test_ratio` of rows to test, the `valid_ratio` before to valid."""
    check_ratios(test_ratio, valid_ratio)
    ts = frame["timestamp"].to_numpy()
    test_cut = np.quantile(ts, 1 - test_ratio, method="higher")
    valid_cut = np.quantile(ts, 1 - test_ratio - valid_ratio, method="higher") if valid_ratio > 0 else test_cut
    return _assign(frame, ts < valid_cut, (ts >= valid_cut) & (ts < test_cut))


DAY = 86_400


def split_temporal(frame: pd.DataFrame, test_days: int, valid_days: int) -> Split:
    """One global cut in time, back from the log's latest event: the last `test_days` days to test, the
    `valid_days` days before them to valid, everything earlier to train (what each customer does next)."""
    ts = frame["timestamp"].to_numpy()
    if len(ts) == 0:
        raise MindshareError("prepare: no interactions to split")
    test_cut, valid_cut = temporal_cuts(int(ts.max()), test_days, valid_days)
    if not (ts <= valid_cut).any():
        span = (int(ts.max()) - int(ts.min())) / DAY
        raise MindshareError(
            f"params.yaml: prepare.split.test_days + valid_days ({test_days} + {valid_days}) cover the whole log "
            f"({span:.1f} days of events): nothing is left to fit on; shorten the windows")
    return _assign(frame, ts <= valid_cut, (ts > valid_cut) & (ts <= test_cut))


def protocol_for_span(split: SplitSettings, resolved: str, timestamps: np.ndarray) -> str:
    """`resolved` (Settings.split_protocol), except where `split.protocol` is auto and the log (its `timestamps`)
    is too short for the temporal windows and as many days to fit on: then per user, and a warning says so."""
    if split.protocol != "auto" or resolved != "temporal":
        return resolved
    span = (int(timestamps.max()) - int(timestamps.min())) / DAY if len(timestamps) else 0.0
    if span >= 2 * (split.test_days + split.valid_days):
        return resolved
    log.warning("split auto: the log spans %.1f days, too few for test_days + valid_days (%d + %d) and as many to "
                "fit on: random_per_user", span, split.test_days, split.valid_days)
    return "random_per_user"


def temporal_cuts(latest: int, test_days: int, valid_days: int) -> tuple[int, int]:
    """(test_cut, valid_cut): test is after test_cut, valid after valid_cut up to test_cut (seconds)."""
    test_cut = latest - test_days * DAY
    return test_cut, test_cut - valid_days * DAY


def split_holdout_users(frame: pd.DataFrame, test_ratio: float, valid_ratio: float, seed: int,
                        given: int = 0) -> Split:
    """Whole users to test (a random `test_ratio` of them, at least one), which measures cold start:
    with `given` = 0 they are new to the models; otherwise each keeps their `given` earliest rows in
    train (users with little history). Of the other users' rows, a random `valid_ratio` per user to valid."""
    check_ratios(test_ratio, valid_ratio)
    if not isinstance(given, int) or given < 0:
        raise MindshareError(f"params.yaml: prepare.split.holdout_given is {given!r}; give a whole number >= 0")
    codes, uniques = pd.factorize(frame["user_id"], sort=False)
    rng = np.random.default_rng(seed)
    held_users = rng.random(len(uniques)) < test_ratio
    if len(uniques) > 1 and not held_users.any():
        held_users[rng.integers(len(uniques))] = True
    held = held_users[codes]
    rank, n = _rank_within_user(codes, rng.random(len(frame)))
    valid = ~held & (rank >= np.maximum(np.round(n * (1 - valid_ratio)), 1))
    if given:
        time_rank, _ = _rank_within_user(codes, frame["timestamp"].to_numpy())
        held &= time_rank >= given
    return _assign(frame, ~held & ~valid, valid)


def split_holdout_items(frame: pd.DataFrame, test_ratio: float, valid_ratio: float, seed: int) -> Split:
    """The random per-user split, and then every row of a random `test_ratio` of items (at least one)
    moved to test: those items are new to the models, which measures item cold start."""
    split = split_random_per_user(frame, test_ratio, valid_ratio, seed)
    items = pd.unique(frame["item_id"])
    rng = np.random.default_rng([seed, 2])
    held = rng.random(len(items)) < test_ratio
    if len(items) > 1 and not held.any():
        held[rng.integers(len(items))] = True
    held_items = pd.Index(items[held])
    moved = [part[part["item_id"].isin(held_items)] for part in (split.train, split.valid)]
    return Split(
        train=split.train[~split.train["item_id"].isin(held_items)].reset_index(drop=True),
        valid=split.valid[~split.valid["item_id"].isin(held_items)].reset_index(drop=True),
        test=pd.concat([split.test, *moved], ignore_index=True),
    )


def _assign(frame: pd.DataFrame, train: np.ndarray, valid: np.ndarray) -> Split:
    test = ~(train | valid)
    return Split(
        train=frame[train].reset_index(drop=True),
        valid=frame[valid].reset_index(drop=True),
        test=frame[test].reset_index(drop=True),
    )


def split_interactions(frame: pd.DataFrame, settings: SplitSettings, protocol: str | None = None) -> Split:
    """The split protocol params.yaml `prepare.split` names (`protocol`: its `auto` resolved, see
    Settings.split_protocol)."""
    protocol = protocol or settings.protocol
    if protocol == "auto":
        raise ValueError("split_interactions: resolve protocol 'auto' first (Settings.split_protocol)")
    if protocol == "temporal":
        return split_temporal(frame, settings.test_days, settings.valid_days)
    if protocol == "random_per_user":
        return split_random_per_user(frame, settings.test_ratio, settings.valid_ratio, settings.seed)
    if protocol == "leave_last_n":
        return split_leave_last_n(frame, settings.leave_last_n, settings.valid_last_n)
    if protocol == "global_time":
        return split_global_time(frame, settings.test_ratio, settings.valid_ratio)
    if protocol == "holdout_users":
        return split_holdout_users(frame, settings.test_ratio, settings.valid_ratio, settings.seed,
                                   settings.holdout_given)
    return split_holdout_items(frame, settings.test_ratio, settings.valid_ratio, settings.seed)


def relevant_mask(test: pd.DataFrame, min_rating: float | None) -> np.ndarray:
    """Which test rows count as relevant: all, or those rated at least `min_rating`."""
    if min_rating is None or "rating" not in test.columns:
        return np.ones(len(test), dtype=bool)
    return (test["rating"] >= min_rating).to_numpy()


def split_summary(frame: pd.DataFrame) -> dict:
    """A split as lineage records it (MLflow dataset inputs): its fingerprint, rows, distinct users and
    items, and column dtypes; never a row."""
    return {"fingerprint": frame_fingerprint(frame), "rows": len(frame), "users": int(frame["user_id"].nunique()),
            "items": int(frame["item_id"].nunique()), "columns": {str(c): str(t) for c, t in frame.dtypes.items()}}
