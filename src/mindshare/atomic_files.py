"""Write files atomically: to a temporary name in the same folder, flushed to disk, then renamed.

A stage that fails half-way never leaves a half-written output behind, and a power cut after the rename
finds the whole file. The file gets the mode of the one it replaces (params.yaml keeps its mode on edit),
else the mode the umask gives new files (teammates sharing a project folder can read outputs), or 0600 with
`private=True` (files with raw ids, such as a campaign's send list).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pandas as pd


def new_file_mode() -> int:
    """The mode the umask gives a new file (0666 minus the umask)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path, private: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`; flush it to disk and rename it onto `path` only if the block succeeds
    (with the mode the module's docstring says)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.is_file():
            mode = 0o600 if private else (path.stat().st_mode & 0o7777 if path.is_file() else new_file_mode())
            os.chmod(tmp_path, mode)
            _fsync(tmp_path)
        os.replace(tmp_path, path)
        _fsync(path.parent)  # the rename itself
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_parquet(frame: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
        if Path(path).is_dir():  # a Parquet dataset (a folder) that the Spark engine wrote there
            shutil.rmtree(path)


def write_json(data: Any, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")


def write_text(text: str, path: str | Path, private: bool = False) -> None:
    with atomic_path(path, private) as tmp:
        tmp.write_text(text)


def replace_folder(folder: Path, files: dict[str, str | bytes]) -> None:
    """Write the files (text, or bytes such as Parquet) into a fresh folder beside `folder`, then swap it in: never
    half a folder."""
    staging = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name, content in files.items():
        if isinstance(content, bytes):
            (staging / name).write_bytes(content)
        else:
            (staging / name).write_text(content, encoding="utf-8")
        _fsync(staging / name)
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    _fsync(folder.parent)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
