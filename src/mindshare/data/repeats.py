"""Re-purchases: how much people come back to what they had, and the repeat policy that follows from it.

Where people re-buy (a shop's purchases), the items a customer already had are what they most often take
next, and a list that never shows them misses those; where they do not (one rating per film), a seen item is
wasted space. `repeat.policy` says which (include | exclude), or `auto` decides from the fit data.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import pandas as pd

from mindshare.data.split import DAY, temporal_cuts
from mindshare.settings import RepeatSettings, SplitSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RepeatDecision:
    """Whether lists may hold items the person already had, and why (prepare reports it; every stage follows)."""

    policy: str  # as set: auto | include | exclude
    include: bool
    share: float  # the fit data's repeat share (see `repeat_share`)
    min_share: float

    @property
    def exclude_seen(self) -> bool:
        return not self.include

    @property
    def reason(self) -> str:
        if self.policy != "auto":
            return f"repeat.policy: {self.policy}"
        verb = "reaches" if self.include else "is below"
        return f"auto: the fit data's repeat share {self.share:.3f} {verb} min_share {self.min_share}"

    def as_dict(self) -> dict:
        return {**asdict(self), "reason": self.reason}

    @classmethod
    def from_dict(cls, values: dict) -> "RepeatDecision":
        return cls(values["policy"], bool(values["include"]), float(values["share"]), float(values["min_share"]))


EXCLUDE_SEEN = RepeatDecision("exclude", False, 0.0, 0.0)  # where no decision was recorded: seen items left out


def decide_repeats(settings: RepeatSettings, share: float) -> RepeatDecision:
    """The policy as set, or for `auto`: include seen items where `share` reaches `settings.min_share`."""
    include = settings.policy == "include" or (settings.policy == "auto" and share >= settings.min_share)
    return RepeatDecision(settings.policy, include, float(share), float(settings.min_share))


def repeat_share(frame: pd.DataFrame) -> float:
    """Of the distinct (user, item, day) of `frame`, the share on a later day than the pair's first: how much
    people come back to what they had (a re-purchase, a re-watch). 0 for a log of one rating per pair; a
    view-cart-purchase of one day counts once."""
    if len(frame) == 0:
        return 0.0
    days = pd.DataFrame({"u": frame["user_id"].to_numpy(), "i": frame["item_id"].to_numpy(),
                         "d": frame["timestamp"].to_numpy() // DAY}).drop_duplicates()
    pairs = len(days.drop_duplicates(["u", "i"]))
    return float(1 - pairs / len(days))


def window_repeat_share(history: pd.DataFrame, window: pd.DataFrame) -> float:
    """Of the distinct (user, item) of `window` whose user is in `history`, the share the user already had in
    `history` (what a model that never recommends seen items cannot hit)."""
    pairs = window[["user_id", "item_id"]].drop_duplicates()
    pairs = pairs[pairs["user_id"].isin(pd.unique(history["user_id"]))]
    if pairs.empty:
        return 0.0
    had = pd.MultiIndex.from_frame(history[["user_id", "item_id"]].drop_duplicates())
    return float(pd.MultiIndex.from_frame(pairs).isin(had).mean())


def split_windows(protocol: str, split: SplitSettings, history: dict[str, pd.DataFrame]) -> dict:
    """For a cut in time (temporal, global_time): each window's dates, rows, users with history before it and
    new users, and its repeat share (of their distinct items, those they had before the window)."""
    if protocol not in ("temporal", "global_time") or history["test"].empty:
        return {}
    out = {}
    before = history["train"]
    for name in ("valid", "test"):
        window = history[name]
        if window.empty:
            before = pd.concat([before, window], ignore_index=True)
            continue
        users = pd.unique(window["user_id"])
        known = pd.Index(users).isin(pd.unique(before["user_id"]))
        ts = window["timestamp"]
        out[name] = {"from": _date(int(ts.min())), "to": _date(int(ts.max())), "rows": int(len(window)),
                     "users_with_history": int(known.sum()), "users_new": int((~known).sum()),
                     "repeat_share": window_repeat_share(before, window)}
        before = pd.concat([before, window], ignore_index=True)
    if protocol == "temporal":
        latest = int(max(int(part["timestamp"].max()) for part in history.values() if not part.empty))
        test_cut, valid_cut = temporal_cuts(latest, split.test_days, split.valid_days)
        out["cuts"] = {"valid_after": _date(valid_cut), "test_after": _date(test_cut)}
    return out


def _date(seconds: int) -> str:
    return pd.Timestamp(seconds, unit="s").strftime("%Y-%m-%d %H:%M:%S")


def describe_windows(windows: dict, repeats: RepeatDecision) -> None:
    """Log each window of `split_windows` and the repeat decision, a line each."""
    for name in ("valid", "test"):
        if name in windows:
            window = windows[name]
            log.info("%s window %s to %s: %d rows, %d users with history (%d new); %.1f%% of their items were "
                     "items they had", name, window["from"], window["to"], window["rows"],
                     window["users_with_history"], window["users_new"], 100 * window["repeat_share"])
    log.info("repeats %s (%s)", "included" if repeats.include else "excluded", repeats.reason)
