"""A person's own interaction log (CSV, TSV, Parquet or JSON lines) with a column map to the canonical names."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mindshare.data.cleaning import CleaningReport, clean_events
from mindshare.data.schema import (
    EVENT_COLUMNS,
    ITEM_ATTRIBUTE_COLUMNS,
    ITEM_COLUMNS,
    RawTable,
    canonical_interactions,
    canonical_items,
)
from mindshare.data.text_files import check_encoding, read_delimited, read_parquet
from mindshare.errors import MindshareError
from mindshare.settings import IngestSettings


def read_table(
    path: str | Path, columns: dict[str, str] | None = None, known: tuple[str, ...] = EVENT_COLUMNS
) -> RawTable:
    """Read CSV or Parquet and rename the file's columns to canonical ones (`columns`: canonical -> file)."""
    path = Path(path)
    if not path.exists():
        raise MindshareError(f"{path}: no such file; set ingest.path in params.yaml")
    if path.is_dir() and not any(path.glob("*.parquet")):
        raise MindshareError(f"{path}: is a folder without Parquet files; ingest.source 'events' takes one CSV, TSV, "
                             f"Parquet or JSON-lines file, or a Parquet dataset folder (as Spark writes)")
    columns = checked_column_map(columns, known)
    if path.is_dir() or path.suffix.lower() in (".parquet", ".pq"):
        table = read_parquet(path, str(path))
    elif path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        table = read_json_lines(path, tuple(columns.get(c, c) for c in ("user_id", "item_id")))
    else:
        sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
        ids = tuple(columns.get(c, c) for c in ("user_id", "item_id"))
        table = read_delimited(path.read_bytes(), str(path), sep=sep, id_columns=ids)
    rename = {file_name: canonical for canonical, file_name in columns.items()}
    return RawTable(
        frame=table.frame.rename(columns=rename), source=table.source, first_line=table.first_line, unit=table.unit
    )


def checked_column_map(columns: dict[str, str] | None, known: tuple[str, ...] = EVENT_COLUMNS) -> dict[str, str]:
    """A column map (canonical -> the file's column) whose canonical names all exist."""
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(known))
    if unknown:
        raise MindshareError(
            f"params.yaml: ingest.columns has unknown key '{unknown[0]}'; use some of {', '.join(known)}"
        )
    return columns


def read_json_lines(path: Path, id_columns: tuple[str, ...]) -> RawTable:
    """One JSON object per line (blank lines skipped; rows keep their file line numbers; ids as text)."""
    import orjson

    data = path.read_bytes()
    if not data.strip():
        raise MindshareError(f"{path}: the file is empty; give one JSON object per line")
    check_encoding(data, str(path), "utf-8")
    records, lines = [], []
    for number, line in enumerate(data.splitlines()):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            raise MindshareError(
                f"{path}, line {number + 1}: not JSON ({str(error).split(':')[0]}); give one JSON object per line"
            ) from None
        if not isinstance(record, dict):
            raise MindshareError(f"{path}, line {number + 1}: not a JSON object; give one object per line")
        records.append(record)
        lines.append(number)
    frame = pd.DataFrame.from_records(records, index=pd.Index(lines))
    for column in id_columns:
        if column in frame:
            frame[column] = frame[column].map(lambda v: None if v is None or v != v else str(v)).astype(object)
    return RawTable(frame=frame, source=str(path), first_line=1)


def read_items_table(path: str | Path, columns: dict[str, str] | None = None) -> RawTable:
    return read_table(path, columns, known=ITEM_COLUMNS)


def read_users_table(path: str | Path, columns: dict[str, str] | None = None) -> RawTable:
    return read_table(path, columns, known=("user_id", "gender", "age", "occupation", "display_name"))


def load_events(raw: RawTable, ingest: IngestSettings) -> tuple[pd.DataFrame, CleaningReport]:
    """A raw events table through the cleaning rules and the schema checks; event types become
    implicit-feedback `weight`s. One path for ingest, `mindshare inspect` and `bench --columns`."""
    interactions, _, report = load_events_and_items(raw, ingest)
    return interactions, report


def load_events_and_items(raw: RawTable, ingest: IngestSettings) -> tuple[pd.DataFrame, pd.DataFrame | None,
                                                                          CleaningReport]:
    """`load_events`, and the canonical items the kept rows describe where the log carries item
    attributes (title, categories, tags; see `items_from_events`), else None."""
    weights = dict(ingest.event_weights) if ingest.event_weights else None
    cleaned, report = clean_events(raw, ingest.cleaning, ingest.timestamp_format, weights)
    interactions = canonical_interactions(cleaned, ingest.rating_scale, ingest.timestamp_format)
    if weights:
        interactions["weight"] = interactions["event"].map(weights).astype("float64")
    described = items_from_events(cleaned)
    return interactions, canonical_items(described) if described is not None else None, report


def items_from_events(events: RawTable) -> RawTable | None:
    """One row per item of an events log whose rows carry item attributes: each attribute's most frequent
    non-empty value among the item's rows (ties: the first seen); price, where mapped, likewise. None when
    the log carries no item attribute."""
    frame = events.frame
    attributes = [c for c in ITEM_ATTRIBUTE_COLUMNS if c in frame]
    if not attributes or "item_id" not in frame or not len(frame):
        return None
    ids = frame["item_id"].astype(str).str.strip()
    out = pd.DataFrame({"item_id": ids.drop_duplicates().to_numpy()})
    for column in attributes + (["price"] if "price" in frame else []):
        values = frame[column].map(lambda v: "|".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
        values = values.where(values.astype(str).str.strip() != "").dropna()
        pairs = pd.DataFrame({"item_id": ids[values.index], "value": values})
        counts = pairs.groupby(["item_id", "value"], sort=False).size()  # groups in first-seen order
        counts = counts.reset_index(name="n").sort_values("n", ascending=False, kind="stable")
        out[column] = out["item_id"].map(counts.drop_duplicates("item_id").set_index("item_id")["value"])
    if "title" in out:
        out["title"] = out["title"].fillna(out["item_id"])  # an item whose rows never name it: its id
    return RawTable(frame=out, source=f"{events.source} (item columns, most frequent value per item)")
