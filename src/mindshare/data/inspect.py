"""What the pipeline would see in a file: `mindshare inspect` (and the loader `bench --columns` uses).

A folder or zip is read as MovieLens (any layout); any other file as an events log (CSV, TSV, Parquet,
JSON lines) with an optional column map, through the same cleaning rules and checks as `ingest`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mindshare.data.cleaning import CleaningReport
from mindshare.data.events import load_events_and_items, read_items_table, read_table
from mindshare.data.movielens import read_movielens
from mindshare.data.schema import RawTable, canonical_interactions, canonical_items
from mindshare.errors import MindshareError
from mindshare.settings import IngestSettings, checked_block


def parse_pairs(text: str | None, flag: str) -> dict[str, str]:
    """'a=b,c=d' -> {'a': 'b', 'c': 'd'}."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise MindshareError(f"{flag}: '{part}' is not name=value (e.g. user_id=CustomerID)")
        out[key.strip()] = value.strip()
    return out


@dataclass
class Loaded:
    kind: str
    raw: RawTable
    interactions: pd.DataFrame
    items: pd.DataFrame | None
    cleaning: CleaningReport
    columns: dict[str, str] | None = None  # canonical -> the file's name


def load_any(path: str | Path, columns: dict[str, str] | None = None, timestamp_format: str | None = None,
             cleaning: dict[str, str] | None = None, event_weights: dict | None = None,
             items_path: str | Path | None = None, item_columns: dict[str, str] | None = None) -> Loaded:
    """A MovieLens folder or zip, or an events file with, optionally, its items file (which wins over the
    log's item columns, as in ingest)."""
    path = Path(path)
    if not path.exists():
        raise MindshareError(f"{path}: no such file or folder")
    if path.is_dir() or path.suffix.lower() == ".zip":  # MovieLens; its columns are known
        ratings, raw_items = read_movielens(path)
        items = canonical_items(raw_items) if raw_items is not None else None
        return Loaded(f"MovieLens ({Path(ratings.source.split(':')[-1]).name})", ratings,
                      canonical_interactions(ratings, None, None), items, CleaningReport({}, {}))
    raw = read_table(path, columns)
    ingest = checked_block(IngestSettings, {"source": "events", "path": str(path), "rating_scale": None,
                                            "timestamp_format": timestamp_format, "cleaning": cleaning or {},
                                            "event_weights": event_weights}, "--cleaning")
    interactions, items, report = load_events_and_items(raw, ingest)
    if items_path is not None:
        items = canonical_items(read_items_table(items_path, item_columns))
    return Loaded(f"events ({path.suffix.lstrip('.') or 'csv'})", raw, interactions, items, report, columns)


def inspect_data(loaded: Loaded) -> dict:
    raw = loaded.raw.frame
    duplicates = loaded.interactions.duplicated().to_numpy()  # `prepare` drops exact duplicates (and counts them)
    frame = loaded.interactions[~duplicates]
    users, items = frame["user_id"].nunique(), frame["item_id"].nunique()
    pairs = len(frame[["user_id", "item_id"]].drop_duplicates())
    first, last = (pd.to_datetime(frame["timestamp"].agg(["min", "max"]), unit="s", utc=True)
                   if len(frame) else (None, None))
    return {
        "kind": loaded.kind,
        "source": loaded.raw.source,
        "rows_read": len(raw),
        "rows_kept": len(frame),
        "users": users,
        "items": items,
        "density": pairs / max(users * items, 1),
        "first": None if first is None else first.isoformat(),
        "last": None if last is None else last.isoformat(),
        "span_days": 0.0 if first is None else (last - first).total_seconds() / 86_400,
        "columns": {
            _file_name(str(c), loaded.columns): {"type": str(raw[c].dtype), "missing": int(raw[c].isna().sum())}
            for c in raw.columns
        },
        "canonical_columns": list(frame.columns),
        "dropped": {
            **loaded.cleaning.dropped,
            **({"exact_duplicate": int(duplicates.sum())} if duplicates.any() else {}),
        },
        "repaired": loaded.cleaning.repaired,
    }


def _file_name(column: str, columns: dict[str, str] | None) -> str:
    original = (columns or {}).get(column)
    return f"{original} -> {column}" if original and original != column else column


def format_inspection(report: dict) -> str:
    lines = [
        f"{report['source']}: {report['kind']}",
        f"rows read: {report['rows_read']}",
        f"rows kept: {report['rows_kept']}",
        f"users: {report['users']}",
        f"items: {report['items']}",
        f"density: {100 * report['density']:.4f}% of user x item pairs",
        f"time span: {report['first'][:10] if report['first'] else '-'} to "
        f"{report['last'][:10] if report['last'] else '-'} ({report['span_days']:.0f} days)",
        "file columns (type, missing values):",
    ]
    lines += [f"  {name}: {info['type']}, {info['missing']} missing" for name, info in report["columns"].items()]
    lines.append(f"as the pipeline's columns: {', '.join(report['canonical_columns'])}")
    lines.append("rows dropped by reason:" + ("" if report["dropped"] else " none"))
    lines += [f"  {reason}: {n}" for reason, n in report["dropped"].items()]
    lines.append("values repaired:" + ("" if report["repaired"] else " none"))
    lines += [f"  {reason}: {n}" for reason, n in report["repaired"].items()]
    return "\n".join(lines)
