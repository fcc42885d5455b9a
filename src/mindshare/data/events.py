"""A person's own interaction log (CSV or Parquet) with a column map to the canonical names."""

from __future__ import annotations

from pathlib import Path

from mindshare.data.schema import INTERACTION_COLUMNS, ITEM_COLUMNS, RawTable
from mindshare.data.text_files import read_delimited, read_parquet
from mindshare.errors import MindshareError


def read_table(path: str | Path, columns: dict[str, str] | None = None, known: tuple[str, ...] = INTERACTION_COLUMNS) -> RawTable:
    """Read CSV or Parquet and rename the file's columns to canonical ones (`columns`: canonical -> file)."""
    path = Path(path)
    if not path.exists():
        raise MindshareError(f"{path}: no such file; set ingest.path in params.yaml")
    if path.is_dir():
        raise MindshareError(f"{path}: is a folder; ingest.source 'events' takes one CSV or Parquet file")
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(known))
    if unknown:
        raise MindshareError(f"params.yaml: ingest.columns has unknown key '{unknown[0]}'; use some of {', '.join(known)}")
    if path.suffix.lower() in (".parquet", ".pq"):
        table = read_parquet(path, str(path))
    else:
        sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
        ids = tuple(columns.get(c, c) for c in ("user_id", "item_id"))
        table = read_delimited(path.read_bytes(), str(path), sep=sep, id_columns=ids)
    rename = {file_name: canonical for canonical, file_name in columns.items()}
    return RawTable(frame=table.frame.rename(columns=rename), source=table.source,
                    first_line=table.first_line, unit=table.unit)


def read_items_table(path: str | Path, columns: dict[str, str] | None = None) -> RawTable:
    return read_table(path, columns, known=ITEM_COLUMNS)


def read_users_table(path: str | Path, columns: dict[str, str] | None = None) -> RawTable:
    return read_table(path, columns, known=("user_id", "gender", "age", "occupation", "display_name"))
