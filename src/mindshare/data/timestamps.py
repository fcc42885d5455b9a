"""Timestamps as seconds since 1970, from numbers, ISO 8601 text or a given format."""

from __future__ import annotations

import pandas as pd

MAX_SECONDS = 1e11  # about the year 5138: larger numbers are not seconds since 1970


def parse_timestamps(raw: pd.Series, timestamp_format: str | None) -> pd.Series:
    """Seconds since 1970 as float (NaN where unparseable): numbers as they are; text as ISO 8601 dates,
    dates in `timestamp_format`, or, with `timestamp_format: mixed`, each value in its own format."""
    numbers = pd.to_numeric(raw, errors="coerce")
    if timestamp_format is None and numbers.notna().mean() >= 0.5:
        seconds = numbers.astype("float64")
        return seconds.where(seconds.abs() < MAX_SECONDS)  # inf, 1e30: not a time (NaN: unparseable)
    parsed = pd.to_datetime(raw, format=timestamp_format or "ISO8601", errors="coerce", utc=True)
    seconds = (parsed - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    return seconds.astype("float64")
