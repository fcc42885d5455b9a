"""What people did with the answers of an online experiment: events joined to exposures, per-user
figures per arm, and the interleaving credit.

Attribution: an event that names its request (the `request_id` every answer carries) belongs to that
answer, to the shown item it names (or to the answer as a whole when it names none); an event that
names only the user and the item belongs to the latest answer that showed that item to that user. In
both cases the answer must have been shown at most `attribution_hours` before the event and not
after it. Events that match no answer are counted, never silently dropped.

Users are the units: each user's answers, clicks, conversions and value are summed, and an arm's
figures are means over its users (so one very active user cannot outweigh the others, and users are
independent, as the sequential test assumes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mindshare.errors import MindshareError
from mindshare.marketing.traffic import CHALLENGER_ARM, INTERLEAVED_ARM, PRODUCTION_ARM
from mindshare.metrics.online import (
    ArmTotals,
    Verdict,
    always_valid_p_value,
    mean_interval,
    preference_p_value,
    preference_verdict,
    verdict,
    wilson_interval,
)

ARMS = (PRODUCTION_ARM, CHALLENGER_ARM)
PER_USER_COLUMNS = ("user_id", "arm", "answers", "clicks", "conversions", "value", "challenger_clicks",
                    "production_clicks")


@dataclass(frozen=True)
class Attribution:
    events: pd.DataFrame  # the attributed events with the exposure's user, arm, credit, request
    unmatched: int  # events that match no answer within the window


def attribute(exposures: pd.DataFrame, events: pd.DataFrame, attribution_hours: float) -> Attribution:
    """Each event joined to the exposure it belongs to (see the module's docstring)."""
    window = attribution_hours * 3600.0
    shown = exposures[["time", "request_id", "user_id", "arm", "credit", "item_id", "method"]]
    answers = shown.drop_duplicates("request_id")[["request_id", "time", "user_id", "arm", "method"]]
    by_request = events[events["request_id"] != ""].reset_index(drop=True)
    named_item = by_request[by_request["item_id"] != ""].merge(
        shown, on=["request_id", "item_id"], how="inner", suffixes=("", "_shown"))
    whole = by_request[by_request["item_id"] == ""].drop(columns=["user_id"]).merge(
        answers, on="request_id", how="inner", suffixes=("", "_shown"))
    whole = whole.assign(credit="", item_id="")
    by_pair = events[(events["request_id"] == "") & (events["user_id"] != "") & (events["item_id"] != "")]
    by_pair = by_pair.drop(columns=["request_id"]).reset_index(drop=True).reset_index(names="event")
    candidates = by_pair.merge(shown, on=["user_id", "item_id"], how="inner", suffixes=("", "_shown"))
    candidates = candidates[(candidates["time_shown"] <= candidates["time"])
                            & (candidates["time"] - candidates["time_shown"] <= window)]
    latest = candidates.sort_values("time_shown").groupby("event", sort=False).tail(1).drop(columns=["event"])
    columns = ["time", "kind", "value", "request_id", "user_id", "arm", "credit", "item_id", "method", "time_shown"]
    parts = []
    for part in (named_item, whole):
        if "user_id_shown" in part:
            part = part.assign(user_id=part["user_id_shown"])
        part = part[(part["time_shown"] <= part["time"]) & (part["time"] - part["time_shown"] <= window)]
        parts.append(part.reindex(columns=columns))
    parts.append(latest.reindex(columns=columns))
    matched = pd.concat(parts, ignore_index=True)
    return Attribution(matched, int(len(events) - len(matched)))


def per_user(exposures: pd.DataFrame, attributed: pd.DataFrame) -> pd.DataFrame:
    """One row per exposed user: arm, answers, clicks, conversions, value and, for interleaved answers,
    the clicks credited to each version."""
    answers = exposures.drop_duplicates("request_id").groupby("user_id").agg(
        arm=("arm", "last"), answers=("request_id", "size"))
    clicks = attributed[attributed["kind"] == "click"]
    conversions = attributed[attributed["kind"] == "conversion"]
    out = answers.assign(
        clicks=clicks.groupby("user_id").size(),
        conversions=conversions.groupby("user_id").size(),
        value=attributed.groupby("user_id")["value"].sum(),
        challenger_clicks=clicks[clicks["credit"] == CHALLENGER_ARM].groupby("user_id").size(),
        production_clicks=clicks[clicks["credit"] == PRODUCTION_ARM].groupby("user_id").size(),
    ).fillna(0.0)
    return out.reset_index()[list(PER_USER_COLUMNS)]


def metric_values(metric: str, answers, clicks, conversions, value) -> np.ndarray:
    """Each user's value of the experiment's metric from their totals: ctr (clicks per answer, at most 1),
    conversion (0/1) or value."""
    if metric == "ctr":
        return np.minimum(np.asarray(clicks, float) / np.maximum(np.asarray(answers, float), 1.0), 1.0)
    if metric == "conversion":
        return (np.asarray(conversions) > 0).astype(float)
    if metric == "value":
        return np.asarray(value, float)
    raise ValueError(f"unknown online metric '{metric}'")


def user_metric(users: pd.DataFrame, metric: str) -> np.ndarray:
    """`metric_values` of a `per_user` table."""
    return metric_values(metric, users["answers"], users["clicks"], users["conversions"], users["value"])


def arm_figures(exposures: pd.DataFrame, users: pd.DataFrame) -> pd.DataFrame:
    """Per arm: users, answers, exposures (items shown), clicks, CTR@k (clicks per item shown), conversion
    rate (users who converted) and value per user."""
    rows = []
    for arm in (*ARMS, INTERLEAVED_ARM):
        mine = users[users["arm"] == arm]
        shown = int((exposures["arm"] == arm).sum())
        if not len(mine):
            continue
        rows.append({"arm": arm, "users": len(mine), "answers": int(mine["answers"].sum()), "exposures": shown,
                     "clicks": int(mine["clicks"].sum()), "ctr_at_k": float(mine["clicks"].sum() / max(shown, 1)),
                     "conversion_rate": float((mine["conversions"] > 0).mean()),
                     "value_per_user": float(mine["value"].mean())})
    return pd.DataFrame(rows)


def preference(users: pd.DataFrame) -> tuple[int, int, int]:
    """Interleaved users who clicked the challenger's items more (wins), less (losses), or as often (ties)."""
    mine = users[users["arm"] == INTERLEAVED_ARM]
    diff = mine["challenger_clicks"] - mine["production_clicks"]
    return int((diff > 0).sum()), int((diff < 0).sum()), int((diff == 0).sum())


@dataclass(frozen=True)
class ExperimentStatus:
    method: str  # ab | interleaving
    metric: str
    arms: pd.DataFrame  # per arm at the last look, with 95% intervals (fixed-horizon, for reading)
    looks: pd.DataFrame  # the monitoring path: time, users per arm, estimate, always-valid p-value
    verdict: Verdict
    unmatched_events: int
    srm: SampleRatio | None = None  # users per arm against the configured split


SRM_ALPHA = 0.001  # the usual threshold: a mismatch this unlikely by chance means broken assignment or logging


@dataclass(frozen=True)
class SampleRatio:
    """A sample-ratio-mismatch check: users seen per arm against the split the server answered with (each
    user's `online.challenger_share` at their first answer, as the exposure log records it)."""

    users: tuple[int, int]  # production, challenger (or interleaved) users
    expected_share: float  # of the second: the mean of the users' shares
    p_value: float  # chi-square goodness of fit, 1 degree of freedom

    @property
    def mismatch(self) -> bool:
        return self.p_value < SRM_ALPHA

    def describe(self) -> str:
        seen = self.users[1] / max(sum(self.users), 1)
        return (f"sample ratio {'MISMATCH' if self.mismatch else 'ok'}: {self.users[0]} production / {self.users[1]} "
                f"other users, {seen:.1%} against the {self.expected_share:.1%} the server was set to (chi-square p = "
                f"{self.p_value:.2g}{', below ' + str(SRM_ALPHA) if self.mismatch else ''})")


def sample_ratio(users: pd.DataFrame, other_arm: str, shares: np.ndarray | float) -> SampleRatio | None:
    """The SRM check over the users of the last look: `shares` is each user's expected chance of `other_arm` (or
    one share for all); None where no user has a known share strictly between 0 and 1."""
    from scipy.stats import chisquare

    in_arms = users["arm"].isin([PRODUCTION_ARM, other_arm]).to_numpy()
    shares = np.broadcast_to(np.asarray(shares, dtype=float), (len(users),))[in_arms]
    arms = users["arm"].to_numpy()[in_arms]
    known = np.isfinite(shares)
    shares, arms = shares[known], arms[known]
    counts = (int((arms == PRODUCTION_ARM).sum()), int((arms == other_arm).sum()))
    expected_other = float(shares.sum())
    if not len(shares) or not 0 < expected_other < len(shares):
        return None
    expected = np.array([len(shares) - expected_other, expected_other])
    return SampleRatio(counts, expected_other / len(shares), float(chisquare(counts, expected).pvalue))


def users_shares(shown: pd.DataFrame, users: pd.DataFrame, configured: float | None) -> np.ndarray:
    """Each user's challenger share as the server recorded it at their first answer; `configured` for answers
    logged before the log kept it (NaN where neither is known)."""
    first = shown.sort_values("time").drop_duplicates("user_id").set_index("user_id")
    recorded = first["share"] if "share" in first else pd.Series(np.nan, index=first.index)
    fallback = np.nan if configured is None else configured
    return users["user_id"].map(recorded).astype(float).fillna(fallback).to_numpy()


def _arm_totals(users_by_look: list[pd.DataFrame], arm: str, metric: str) -> ArmTotals:
    values = [user_metric(users[users["arm"] == arm], metric) for users in users_by_look]
    return ArmTotals(np.array([len(v) for v in values], float), np.array([v.sum() for v in values]),
                     np.array([np.square(v).sum() for v in values]))


def experiment_status(exposures: pd.DataFrame, events: pd.DataFrame, method: str, metric: str, alpha: float,
                      attribution_hours: float, max_looks: int = 50,
                      challenger_share: float | None = None) -> ExperimentStatus:
    """Where an experiment stands: `exposures` are its answers (already narrowed to its two versions), looked
    at up to `max_looks` times as its answers arrived (each look holds about as many more answers), so that
    the always-valid p-value is the running minimum over the path a team would have watched."""
    shown = exposures[exposures["method"] == method]
    if shown.empty:
        raise MindshareError(f"no answers of an '{method}' experiment in the exposure log yet: set "
                             "online.challenger_share above 0 and let `mindshare serve` answer")
    attribution = attribute(shown, events, attribution_hours)
    answer_times = np.sort(shown.drop_duplicates("request_id")["time"].to_numpy())
    cut = np.unique(answer_times[np.ceil(np.linspace(1, len(answer_times), min(max_looks, len(answer_times))))
                                 .astype(int) - 1])
    cut[-1] = max(cut[-1], float(attribution.events["time"].max()) if len(attribution.events) else cut[-1])
    users_by_look = [per_user(shown[shown["time"] <= t], attribution.events[attribution.events["time"] <= t])
                     for t in cut]
    last = users_by_look[-1]
    if method == "ab":
        production, challenger = (_arm_totals(users_by_look, arm, metric) for arm in ARMS)
        if production.users[-1] == 0 or challenger.users[-1] == 0:
            raise MindshareError("the experiment has answered only one arm so far; wait for users in both")
        result = verdict(production, challenger, alpha)
        p_path = always_valid_p_value(production, challenger)
        looks = pd.DataFrame({"time": cut, "production_users": production.users, "challenger_users": challenger.users,
                              "production_mean": production.mean, "challenger_mean": challenger.mean,
                              "estimate": challenger.mean - production.mean, "p_value": p_path})
    else:
        counts = np.array([preference(users)[:2] for users in users_by_look], float)
        if counts[-1].sum() == 0:
            raise MindshareError("no interleaved user has preferred either version yet (no clicks, or only ties)")
        result = preference_verdict(counts[:, 0], counts[:, 1], alpha)
        share = np.divide(counts[:, 0], counts.sum(axis=1), out=np.full(len(cut), 0.5), where=counts.sum(axis=1) > 0)
        looks = pd.DataFrame({"time": cut, "wins": counts[:, 0], "losses": counts[:, 1], "estimate": share,
                              "p_value": preference_p_value(counts[:, 0], counts[:, 1])})
    srm = sample_ratio(last, CHALLENGER_ARM if method == "ab" else INTERLEAVED_ARM,
                       users_shares(shown, last, challenger_share))
    return ExperimentStatus(method, metric, _with_intervals(arm_figures(shown, last), last), looks, result,
                            attribution.unmatched, srm)


def _with_intervals(figures: pd.DataFrame, users: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for row in figures.to_dict("records"):
        mine = users[users["arm"] == row["arm"]]
        ctr = wilson_interval(min(row["clicks"], row["exposures"]), max(row["exposures"], 1))
        conversion = wilson_interval(int((mine["conversions"] > 0).sum()), len(mine))
        value = mean_interval(mine["value"].to_numpy(float)) if len(mine) > 1 else (row["value_per_user"],) * 2
        rows.append({**row, "ctr_low": ctr[0], "ctr_high": ctr[1], "conversion_low": conversion[0],
                     "conversion_high": conversion[1], "value_low": value[0], "value_high": value[1]})
    return pd.DataFrame(rows)
