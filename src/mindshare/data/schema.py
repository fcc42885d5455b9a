"""The canonical schema, and the checks that bring a raw table to it.

interactions: `user_id` (str), `item_id` (str), `timestamp` (int64 seconds) and any of
`rating` (float), `event` (str), `quantity`, `price`, `value` (float), `weight` (float: implicit
feedback strength, from ingest.event_weights or the file).
items: `item_id` (str), optional `title` (str), `categories` (list of str), `price` (float).
Every check fails with one line naming the file, the column, the line and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mindshare.data.timestamps import parse_timestamps
from mindshare.errors import MindshareError

REQUIRED_INTERACTION_COLUMNS = ("user_id", "item_id", "timestamp")
NUMERIC_INTERACTION_COLUMNS = ("rating", "quantity", "price", "value", "weight")
TEXT_INTERACTION_COLUMNS = ("event",)
INTERACTION_COLUMNS = REQUIRED_INTERACTION_COLUMNS + NUMERIC_INTERACTION_COLUMNS + TEXT_INTERACTION_COLUMNS
ITEM_COLUMNS = ("item_id", "title", "categories", "tags", "price")
# item attributes an events log may carry on every row (a shop export's description, category)
ITEM_ATTRIBUTE_COLUMNS = ("title", "categories", "tags")
EVENT_COLUMNS = INTERACTION_COLUMNS + ITEM_ATTRIBUTE_COLUMNS


@dataclass(frozen=True)
class RawTable:
    """A table as read from a file, with what is needed to point at its lines.

    `first_line` is the file line of the table's first row (2 for a CSV with a header,
    1 without one); `unit` is "line" for text files and "row" for Parquet.
    """

    frame: pd.DataFrame
    source: str
    first_line: int = 2
    unit: str = "line"

    def where(self, position: int) -> str:
        """The file line (or row) of the row at `position`; rows dropped by cleaning keep their labels."""
        label = self.frame.index[int(position)] if len(self.frame.index) > int(position) else position
        return f"{self.source}, {self.unit} {self.first_line + int(label)}"


def _first_bad(mask: np.ndarray | pd.Series) -> int:
    return int(np.flatnonzero(np.asarray(mask))[0])


def _require_rows(table: RawTable) -> None:
    frame = table.frame
    if frame.shape[1] == 0:
        raise MindshareError(f"{table.source}: the file is empty; give a file with a header and at least one row")
    if len(frame) == 0:
        raise MindshareError(f"{table.source}: the file has a header but no rows; give at least one row")


def _ids(table: RawTable, column: str) -> pd.Series:
    values = table.frame[column]
    missing = values.isna().to_numpy()
    if missing.any():
        raise MindshareError(
            f"{table.where(_first_bad(missing))}: column '{column}' is empty; every row needs a {column}"
        )
    return values.astype(str).str.strip()


def _numbers(table: RawTable, column: str) -> pd.Series:
    raw = table.frame[column]
    numbers = pd.to_numeric(raw, errors="coerce")
    bad = numbers.isna().to_numpy()
    if bad.any():
        pos = _first_bad(bad)
        value = raw.iloc[pos]
        raise MindshareError(
            f"{table.where(pos)}: column '{column}' has {value!r}, not a number; fix or remove that row"
        )
    return numbers.astype("float64")


def _timestamps(table: RawTable, timestamp_format: str | None) -> pd.Series:
    """Seconds since 1970: numbers as they are; text as dates (ISO 8601 unless a format is given;
    `mixed`: each value in its own format)."""
    raw = table.frame["timestamp"]
    seconds = parse_timestamps(raw, timestamp_format)
    bad = seconds.isna().to_numpy()
    if bad.any():
        pos = _first_bad(bad)
        hint = (
            f"a date in format '{timestamp_format}'" if timestamp_format else "seconds since 1970 or an ISO 8601 date"
        )
        raise MindshareError(
            f"{table.where(pos)}: column 'timestamp' has {raw.iloc[pos]!r}, which is not {hint}; fix the value "
            "or set ingest.timestamp_format (or ingest.cleaning.unparseable_timestamp: drop) in params.yaml"
        )
    return seconds.astype("int64")


def canonical_interactions(
    table: RawTable,
    rating_scale: tuple[float, float] | None = None,
    timestamp_format: str | None = None,
) -> pd.DataFrame:
    """Check a raw interactions table and return it in the canonical schema (same rows, same order)."""
    _require_rows(table)
    missing = [c for c in REQUIRED_INTERACTION_COLUMNS if c not in table.frame.columns]
    if missing:
        found = ", ".join(map(str, table.frame.columns))
        raise MindshareError(
            f"{table.source}: required column '{missing[0]}' is missing (found: {found}); "
            "rename the column or map it in params.yaml"
        )
    out = pd.DataFrame(
        {
            "user_id": _ids(table, "user_id"),
            "item_id": _ids(table, "item_id"),
            "timestamp": _timestamps(table, timestamp_format),
        }
    )
    for column in NUMERIC_INTERACTION_COLUMNS:
        if column in table.frame.columns:
            out[column] = _numbers(table, column)
    if "rating" in out and rating_scale is not None:
        low, high = rating_scale
        outside = ((out["rating"] < low) | (out["rating"] > high)).to_numpy()
        if outside.any():
            pos = _first_bad(outside)
            raise MindshareError(
                f"{table.where(pos)}: column 'rating' has {out['rating'].iloc[pos]:g}, outside the scale "
                f"[{low:g}, {high:g}]; fix the row or set ingest.rating_scale in params.yaml"
            )
    for column in TEXT_INTERACTION_COLUMNS:
        if column in table.frame.columns:
            out[column] = table.frame[column].astype(str)
    return out.reset_index(drop=True)


def canonical_items(table: RawTable) -> pd.DataFrame:
    """Check a raw items table (`item_id`, optional `title`, `categories` as list, `price`)."""
    _require_rows(table)
    if "item_id" not in table.frame.columns:
        raise MindshareError(f"{table.source}: required column 'item_id' is missing; rename or map it")
    out = pd.DataFrame({"item_id": _ids(table, "item_id")})
    frame = table.frame
    out["title"] = frame["title"].fillna("").astype(str) if "title" in frame else out["item_id"]
    if "categories" in frame:
        out["categories"] = frame["categories"].map(_category_list)
    else:
        out["categories"] = [[] for _ in range(len(out))]
    if "tags" in frame:
        out["tags"] = frame["tags"].map(_category_list)
    if "price" in frame:
        out["price"] = _numbers(table, "price")
    duplicated = out["item_id"].duplicated().to_numpy()
    if duplicated.any():
        pos = _first_bad(duplicated)
        raise MindshareError(
            f"{table.where(pos)}: item_id {out['item_id'].iloc[pos]!r} appears twice; keep one row per item"
        )
    return out.reset_index(drop=True)


def _category_list(value: object) -> list[str]:
    """A list stays a list; text 'A|B' becomes ['A', 'B']; anything missing becomes []."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(c) for c in value]
    if isinstance(value, str):
        return [c for c in value.split("|") if c]
    return []


def split_categories(text: pd.Series, separator: str = "|", none_marker: str = "(no genres listed)") -> pd.Series:
    """'Action|Comedy' -> ['Action', 'Comedy']; empty or the none marker -> []."""
    return text.fillna("").astype(str).map(lambda s: [c for c in s.split(separator) if c and c != none_marker])


USER_COLUMNS = ("user_id", "gender", "age_group", "occupation")
AGE_EDGES = (18, 25, 35, 45, 50, 56)  # MovieLens 1M's age codes; 100K's ages fall into the same groups
AGE_GROUPS = ("under_18", "18_24", "25_34", "35_44", "45_49", "50_55", "56_plus")


def age_groups(ages: pd.Series) -> pd.Series:
    """Ages (or MovieLens 1M age codes) -> 'under_18', '18_24', ..., '56_plus'; missing stays missing."""
    codes = np.searchsorted(np.asarray(AGE_EDGES), ages.to_numpy(dtype=np.float64), side="right")
    labels = np.asarray(AGE_GROUPS, dtype=object)[codes]
    return pd.Series(np.where(ages.isna().to_numpy(), None, labels), index=ages.index, dtype=object)


def canonical_users(table: RawTable) -> pd.DataFrame:
    """Check a raw users table (`user_id`, optional `gender`, `age`, `occupation`, `display_name`): one
    row per user; ages become age groups; other columns are not kept."""
    _require_rows(table)
    if "user_id" not in table.frame.columns:
        raise MindshareError(f"{table.source}: required column 'user_id' is missing; rename or map it")
    frame = table.frame
    out = pd.DataFrame({"user_id": _ids(table, "user_id")})
    for column in ("gender", "occupation", "display_name"):
        if column in frame:
            out[column] = frame[column].astype(str).str.strip().where(frame[column].notna(), None).astype(object)
    if "age" in frame:
        out["age_group"] = age_groups(_numbers(table, "age"))
    duplicated = out["user_id"].duplicated().to_numpy()
    if duplicated.any():
        pos = _first_bad(duplicated)
        raise MindshareError(f"{table.where(pos)}: user_id appears twice; keep one row per user")
    return out.reset_index(drop=True)
