"""Read delimited text into a `RawTable`, turning every read failure into one clear line."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from mindshare.data.schema import RawTable
from mindshare.errors import MindshareError


def read_delimited(
    data: bytes,
    source: str,
    *,
    sep: str = ",",
    names: list[str] | None = None,
    encoding: str = "utf-8",
    id_columns: tuple[str, ...] = (),
) -> RawTable:
    """Parse `data` (the file's bytes); `names` means the file has no header line."""
    if not data.strip():
        raise MindshareError(f"{source}: the file is empty; give a file with a header and at least one row")
    check_encoding(data, source, encoding)
    if len(sep) > 1:  # e.g. MovieLens' '::'; the fast C parser takes one character
        data = data.replace(sep.encode(encoding), b"\t")
        sep = "\t"
    header = None if names is not None else 0
    try:
        frame = pd.read_csv(
            io.BytesIO(data),
            sep=sep,
            names=names,
            header=header,
            encoding=encoding,
            dtype={c: str for c in id_columns} or None,
            skipinitialspace=True,
        )
    except pd.errors.EmptyDataError:
        raise MindshareError(f"{source}: the file is empty; give a file with a header and at least one row") from None
    except (pd.errors.ParserError, ValueError) as error:
        first = str(error).strip().splitlines()[0]
        raise MindshareError(f"{source}: cannot be parsed ({first}); check the separator and quoting") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return RawTable(frame=frame, source=source, first_line=1 if names is not None else 2)


def check_encoding(data: bytes, source: str, encoding: str) -> None:
    try:
        data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise MindshareError(
            f"{source}: line {line}: bytes that are not valid {encoding} (byte {error.start}); "
            f"re-save the file as {encoding}"
        ) from None


def read_parquet(path: Path, source: str) -> RawTable:
    try:
        frame = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several types for a broken file
        raise MindshareError(f"{source}: not a readable Parquet file ({type(error).__name__}); re-export it") from None
    return RawTable(frame=frame, source=source, first_line=0, unit="row")
