"""Rules for messy exports (`ingest.cleaning` in params.yaml): each kind of messy row is kept,
repaired, dropped, or refused (one line naming the file, line and column), and counted by reason.

Runs on an events table (canonical column names) before the schema checks. Rows keep their file
positions, so an error after a drop still names the right line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mindshare.data.schema import RawTable
from mindshare.data.timestamps import parse_timestamps
from mindshare.errors import MindshareError
from mindshare.settings import CleaningRules


@dataclass
class CleaningReport:
    dropped: dict[str, int]
    repaired: dict[str, int]


def _refuse(table: RawTable, mask: np.ndarray, column: str, what: str, rule: str, fix: str) -> None:
    position = int(np.flatnonzero(mask)[0])
    value = table.frame[column].iloc[position]
    raise MindshareError(f"{table.where(position)}: column '{column}' has {str(value)!r}, {what}; {fix} "
                         f"(or set ingest.cleaning.{rule})")


def _missing(values: pd.Series) -> np.ndarray:
    text = values.astype("string").str.strip()
    return (values.isna() | text.isna() | (text == "") | text.str.lower().isin(["nan", "none", "null"])).to_numpy(bool)


def _float_like_ids(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """'17850.0' -> '17850' (whole numbers written as floats); which rows changed."""
    text = values.astype("string")
    match = text.str.fullmatch(r"-?\d+\.0+").fillna(False).to_numpy(bool)
    if not match.any():
        return values, match
    fixed = text.where(~match, text.str.replace(r"\.0+$", "", regex=True))
    return fixed.astype("str").where(values.notna(), None), match  # Arrow strings: no Python object per row


def clean_events(table: RawTable, rules: CleaningRules, timestamp_format: str | None = None,
                 event_weights: dict[str, float] | None = None) -> tuple[RawTable, CleaningReport]:
    """Apply the rules; return the kept rows (original positions in the index) and the counts."""
    frame = table.frame
    drop = np.zeros(len(frame), dtype=bool)
    dropped: dict[str, int] = {}
    repaired: dict[str, int] = {}

    def apply(reason: str, mask: np.ndarray, action: str, column: str, what: str, fix: str) -> None:
        mask = mask & ~drop
        if not mask.any():
            return
        if action == "error":
            _refuse(table, mask, column, what, reason, fix)
        if action == "drop":
            drop[mask] = True
            dropped[reason] = int(mask.sum())

    for column, rule in (("user_id", "missing_user_id"), ("item_id", "missing_item_id")):
        if column in frame:
            apply(rule, _missing(frame[column]), getattr(rules, rule), column, "an empty id", "fill it in")
    if rules.float_ids == "repair":
        frame = frame.copy()
        for column in ("user_id", "item_id"):
            if column in frame:
                frame[column], changed = _float_like_ids(frame[column])
                if changed.any():
                    repaired[f"float_{column}"] = int(changed.sum())
    if "quantity" in frame:
        quantity = pd.to_numeric(frame["quantity"], errors="coerce").to_numpy(dtype=float)
        apply("negative_quantity", quantity < 0, rules.negative_quantity, "quantity",
              "a return or cancellation", "remove the row")
    if "timestamp" in frame and rules.unparseable_timestamp == "drop":
        bad = parse_timestamps(frame["timestamp"], timestamp_format).isna().to_numpy()
        apply("unparseable_timestamp", bad, "drop", "timestamp", "not a date", "fix it")
    if event_weights:
        if "event" not in frame:
            raise MindshareError(f"{table.source}: ingest.event_weights is set but there is no 'event' column; map "
                                 "it in ingest.columns or remove event_weights")
        unknown = ~frame["event"].astype(str).isin([str(e) for e in event_weights]).to_numpy()
        apply("unknown_event", unknown, rules.unknown_event, "event", "an event type not in ingest.event_weights",
              "add it there")
        zero = (
            frame["event"].astype(str).map({str(k): float(v) for k, v in event_weights.items()}).fillna(1).to_numpy()
            <= 0
        )
        apply("event_weight_zero", zero, "drop", "event", "", "")
    kept = frame[~drop]
    return RawTable(frame=kept, source=table.source, first_line=table.first_line, unit=table.unit), CleaningReport(
        dropped=dropped, repaired=repaired
    )
