"""What comes back from people: campaign outcomes (the loop closes) and erasure requests.

Both live in data/feedback/ (git-ignored except its README), a dependency of `ingest`, so the next
`dvc repro` rebuilds everything with them: outcome interactions are added, forgotten users' rows
are dropped. Only pseudonyms are stored.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from mindshare.atomic_files import write_parquet, write_text
from mindshare.errors import MindshareError
from mindshare.layout import EXPOSURES, FORGET_IDS, FORGET_LIST, INTERACTIONS, ONLINE_EVENTS, OUTCOMES, USERS
from mindshare.marketing.online_log import erase_from_log

OUTCOME_COLUMNS = ("sent", "opened", "clicked", "converted")


def _lines(path: Path) -> set[str]:
    return {line.strip() for line in path.read_text().splitlines() if line.strip()} if path.exists() else set()


def forgotten() -> set[str]:
    """Pseudonyms of the people who asked to be forgotten (under the key they were forgotten with)."""
    return _lines(FORGET_LIST)


def forgotten_ids() -> set[str]:
    """The erasure hashes of their raw ids (data/pseudonymise.erasure_hash): valid under any key."""
    return _lines(FORGET_IDS)


def listed_by_raw_id(key: bytes, *ids: pd.Series) -> set[str]:
    """The pseudonyms, under `key`, of the raw ids in `ids` whose erasure hash is on the forget list."""
    from mindshare.data.pseudonymise import matching_ids, pseudonymise

    hashes = forgotten_ids()
    return set(pseudonymise(sorted(set().union(*(matching_ids(column, hashes) for column in ids))), key))


def forget(pseudonym: str, erasure: str | None = None) -> bool:
    """Add a person to the forget list (their pseudonym and, given the raw id, its erasure hash) and drop their
    outcome rows and online-log rows; False if already there."""
    names = forgotten()
    if erasure is not None and erasure not in (hashes := forgotten_ids()):
        write_text("".join(f"{h}\n" for h in sorted(hashes | {erasure})), FORGET_IDS, private=True)
    if pseudonym not in names:
        write_text("".join(f"{n}\n" for n in sorted(names | {pseudonym})), FORGET_LIST, private=True)
    for path in sorted(OUTCOMES.glob("*.parquet")):
        rows = pd.read_parquet(path)
        if (rows["user_id"] == pseudonym).any():
            write_parquet(rows[rows["user_id"] != pseudonym], path)
    for log in (EXPOSURES, ONLINE_EVENTS):  # what the online experiment showed them and what they did
        erase_from_log(log, pseudonym)
    return pseudonym not in names


def outcome_interactions(columns: list[str], rating: float | None) -> pd.DataFrame:
    """Every recorded outcome as an interaction in the canonical columns of the ingested data."""
    frames = [pd.read_parquet(path) for path in sorted(OUTCOMES.glob("*.parquet"))]
    if not frames:
        return pd.DataFrame(columns=columns)
    rows = pd.concat(frames, ignore_index=True)
    if "rating" in columns:
        rows["rating"] = rating
    return rows.reindex(columns=columns)


def apply_feedback(interactions: pd.DataFrame, users: pd.DataFrame, top_rating: float | None,
                   also_gone: set[str] = frozenset()) -> tuple[pd.DataFrame, pd.DataFrame, int, int]:
    """Ingested (pseudonymised) tables without the forgotten people (the forget list's pseudonyms and `also_gone`,
    those its erasure hashes matched under today's key) and with the recorded outcomes:
    (interactions, users, rows erased, outcome rows added)."""
    gone = forgotten() | set(also_gone)
    erased = interactions["user_id"].isin(gone)
    users = users[~users["user_id"].isin(gone)].reset_index(drop=True)
    outcomes = outcome_interactions(list(interactions.columns), top_rating)
    outcomes = outcomes[~outcomes["user_id"].isin(gone)]
    kept = interactions[~erased]
    interactions = pd.concat([kept, outcomes], ignore_index=True) if len(outcomes) else kept.reset_index(drop=True)
    return interactions, users, int(erased.sum()), len(outcomes)


def forget_person(pseudonym: str, erasure: str | None = None) -> tuple[bool, int]:
    """Erase a person now: onto the forget list, out of the outcomes and of ingest's interactions and users
    (the next repro rebuilds the rest). (newly listed, ingested interaction rows removed)."""
    new = forget(pseudonym, erasure)
    return new, erase_from(pseudonym, [INTERACTIONS, USERS]).get(INTERACTIONS, 0)


def erase_from(pseudonym: str, paths: list[Path]) -> dict[Path, int]:
    """Remove a person's rows from ingested tables now (the next repro rebuilds the rest): rows removed per file."""
    removed = {}
    for path in paths:
        if path.exists():
            rows = pd.read_parquet(path)
            mine = rows["user_id"] == pseudonym
            if mine.any():
                write_parquet(rows[~mine], path)
            removed[path] = int(mine.sum())
    return removed


def read_results(path: str | Path) -> pd.DataFrame:
    """A campaign results file: user_id (raw), 0/1 columns sent, opened, clicked, converted, and optionally
    `value` (what a conversion was worth: a number >= 0)."""
    file = Path(path)
    if not file.exists():
        raise MindshareError(f"{file}: results file not found")
    try:
        frame = pd.read_csv(file, dtype={"user_id": str, "item_id": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise MindshareError(f"{file}: not a readable CSV ({str(error).splitlines()[0]})") from None
    missing = [c for c in ("user_id", *OUTCOME_COLUMNS) if c not in frame.columns]
    if missing:
        raise MindshareError(f"{file}: column '{missing[0]}' is missing; need user_id, {', '.join(OUTCOME_COLUMNS)}")
    for column in OUTCOME_COLUMNS:
        values = frame[column].map(lambda v: {"1": 1, "0": 0, "true": 1, "false": 0}.get(str(v).strip().lower(), -1))
        bad = np.flatnonzero(values.to_numpy() < 0)
        if len(bad):
            raise MindshareError(f"{file}, line {bad[0] + 2}: column '{column}' has {frame[column].iloc[bad[0]]!r}; "
                                 "use 0/1 or true/false")
        frame[column] = values.astype(int)
    if frame["user_id"].isna().any():
        line = int(np.flatnonzero(frame["user_id"].isna())[0]) + 2
        raise MindshareError(f"{file}, line {line}: column 'user_id' is empty")
    if "value" in frame:
        value = pd.to_numeric(frame["value"].fillna(0), errors="coerce")
        bad = np.flatnonzero((value.isna() | (value < 0)).to_numpy())
        if len(bad):
            raise MindshareError(f"{file}, line {bad[0] + 2}: column 'value' has {str(frame['value'].iloc[bad[0]])!r}; "
                                 "use a number >= 0")
        frame["value"] = value.astype(float)
    return frame


@dataclass(frozen=True)
class Rate:
    successes: int
    trials: int
    low: float
    high: float

    @property
    def value(self) -> float:
        return self.successes / self.trials if self.trials else float("nan")


def rate(successes: int, trials: int) -> Rate:
    """A proportion with its 95% Wilson interval (scipy)."""
    if trials == 0:
        return Rate(0, 0, float("nan"), float("nan"))
    interval = stats.binomtest(int(successes), int(trials)).proportion_ci(confidence_level=0.95, method="wilson")
    return Rate(int(successes), int(trials), float(interval.low), float(interval.high))


def outcome_report(joined: pd.DataFrame) -> dict[str, dict]:
    """CTR (clicked / sent) and conversion (converted / users) per group, and conversion uplift."""
    report: dict[str, dict] = {}
    for group in ("treatment", "control"):
        part = joined[joined["group"] == group]
        sent = int(part["sent"].sum())
        report[group] = {"users": int(len(part)), "ctr": rate(int(part["clicked"].sum()), sent).__dict__,
                         "open_rate": rate(int(part["opened"].sum()), sent).__dict__,
                         "conversion": rate(int(part["converted"].sum()), len(part)).__dict__}
    treated, control = (report[g]["conversion"] for g in ("treatment", "control"))
    if treated["trials"] and control["trials"]:
        p1, p0 = treated["successes"] / treated["trials"], control["successes"] / control["trials"]
        se = np.sqrt(p1 * (1 - p1) / treated["trials"] + p0 * (1 - p0) / control["trials"])
        report["uplift"] = {"conversion_difference": p1 - p0, "low": p1 - p0 - 1.96 * se, "high": p1 - p0 + 1.96 * se}
    return report


def record_outcomes(campaign: str, joined: pd.DataFrame) -> int:
    """Clicks and conversions become interactions for the next `dvc repro` (one file per campaign)."""
    positive = joined[(joined["clicked"] == 1) | (joined["converted"] == 1)]
    rows = pd.DataFrame(
        {
            "user_id": positive["user_id"].to_numpy(),
            "item_id": positive["item_id"].astype(str).to_numpy(),
            "timestamp": np.int64(time.time()),
            "event": np.where(positive["converted"] == 1, "conversion", "click"),
        }
    )
    rows = rows[rows["item_id"].notna() & (rows["item_id"] != "")]
    write_parquet(rows, OUTCOMES / f"{campaign}.parquet")
    return len(rows)


@dataclass(frozen=True)
class CampaignOutcomes:
    """A results file joined to its campaign's audience, and what it adds up to."""

    joined: pd.DataFrame  # the audience's rows: results, group, and the item each person was sent
    report: dict[str, dict]  # outcome_report: rates per group, conversion uplift
    metrics: dict[str, float]  # outcome_metrics: the report as flat numbers for the tracking run
    rows: int  # rows in the results file
    outside_audience: int  # of them, people the campaign did not target: counted, left out


def campaign_outcomes(campaign: str, audience: pd.DataFrame, results: pd.DataFrame,
                      source: str | Path) -> CampaignOutcomes:
    """Results (pseudonymised user ids) of `campaign`'s `audience`; a row without item_id is credited to the
    first item the person was sent. `source` names the results file in the error when nobody matches."""
    joined = results.merge(audience[["user_id", "group", "top_item_ids"]], on="user_id", how="left")
    outside = int(joined["group"].isna().sum())
    joined = joined[joined["group"].notna()].copy()
    if joined.empty:
        raise MindshareError(f"{source}: none of its users is in the audience of '{campaign}'")
    promoted = joined["top_item_ids"].fillna("").astype(str).map(lambda text: text.split("|")[0] or None)
    joined["item_id"] = joined["item_id"].fillna(promoted) if "item_id" in joined else promoted
    report = outcome_report(joined)
    return CampaignOutcomes(joined, report, outcome_metrics(report), len(results), outside)


def outcome_metrics(report: dict[str, dict]) -> dict[str, float]:
    """`<group>.<rate>` = successes / trials for every rate with trials, and `uplift.<field>`."""
    metrics = {f"{group}.{name}": float(values["successes"] / values["trials"])
               for group in ("treatment", "control") for name, values in report[group].items()
               if isinstance(values, dict) and values["trials"]}
    metrics.update({f"uplift.{k}": float(v) for k, v in report.get("uplift", {}).items()})
    return metrics


def erase_outputs(pseudonym: str, root: Path = Path("data")) -> dict[str, int]:
    """Remove a person's rows from every table under `root` that has a `user_id` (Parquet, CSV, JSON lines: splits,
    features, recommendations, audiences, messages, outcomes, online logs), each file rewritten atomically; rows
    removed per file (only files that held the person)."""
    import json

    removed: dict[str, int] = {}
    needle = pseudonym.encode()
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.startswith(".") or path.is_relative_to(root / "raw"):
            continue  # the raw exports hold raw ids, never pseudonyms: the next ingest drops the person from them
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            rows = pd.read_parquet(path)
            if "user_id" not in rows.columns:
                continue
            mine = (rows["user_id"].astype(str) == pseudonym).to_numpy()
            if mine.any():
                write_parquet(rows[~mine], path)
        elif suffix in (".csv", ".jsonl") and needle in path.read_bytes():
            if suffix == ".csv":
                rows = pd.read_csv(path, dtype=str, keep_default_na=False)
                if "user_id" not in rows.columns:
                    continue
                mine = (rows["user_id"] == pseudonym).to_numpy()
                write_text(rows[~mine].to_csv(index=False), path)
            else:
                lines = path.read_text().splitlines(keepends=True)
                kept = [line for line in lines if json.loads(line).get("user_id") != pseudonym]
                mine = np.ones(len(lines) - len(kept), bool)
                write_text("".join(kept), path)
        else:
            continue
        if mine.sum():
            removed[str(path)] = int(mine.sum())
    return removed
