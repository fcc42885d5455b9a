"""A person's own interaction log (CSV, TSV, Parquet or JSON lines) with a column map to the canonical names."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mindshare.data.cleaning import CleaningReport, clean_events
from mindshare.data.schema import INTERACTION_COLUMNS, ITEM_COLUMNS, RawTable, canonical_interactions
from mindshare.data.text_files import check_encoding, read_delimited, read_parquet
from mindshare.errors import MindshareError
from mindshare.settings import IngestSettings


def read_table(
    path: str | Path, columns: dict[str, str] | None = None, known: tuple[str, ...] = INTERACTION_COLUMNS
) -> RawTable:
    """Read CSV or Parquet and rename the file's columns to canonical ones (`columns`: canonical -> file)."""
    path = Path(path)
    if not path.exists():
        raise MindshareError(f"{path}: no such file; set ingest.path in params.yaml")
    if path.is_dir():
        raise MindshareError(
            f"{path}: is a folder; ingest.source 'events' takes one CSV, TSV, Parquet or JSON-lines file"
        )
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(known))
    if unknown:
        raise MindshareError(
            f"params.yaml: ingest.columns has unknown key '{unknown[0]}'; use some of {', '.join(known)}"
        )
    if path.suffix.lower() in (".parquet", ".pq"):
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
    weights = dict(ingest.event_weights) if ingest.event_weights else None
    cleaned, report = clean_events(raw, ingest.cleaning, ingest.timestamp_format, weights)
    interactions = canonical_interactions(cleaned, ingest.rating_scale, ingest.timestamp_format)
    if weights:
        interactions["weight"] = interactions["event"].map(weights).astype("float64")
    return interactions, report
