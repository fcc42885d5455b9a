"""The append-only logs of an online experiment: what each answer showed (exposures) and what people
did afterwards (clicks, conversions). Pseudonyms only: nothing raw is stored.

Both are Parquet datasets partitioned by the hour the server received the record
(`date=YYYY-MM-DD/hour=HH/part-*.parquet`; an event's own, client-given time is a field, checked against now,
and never picks a folder): the hourly folders are the rotation, and hours older than `retention_days` are
deleted by the writer. `LogWriter` takes records on the request path into a bounded queue (at most
`max_queued_records`; beyond it records are dropped and counted, never blocking a request or growing memory)
and a background thread writes them in batches, every `flush_seconds` or `flush_records` records, each part
file written to a temporary name and renamed (a reader never sees half a file). Records that could not be
written are counted too; /health reports both. `close` writes what is left.

An exposure record is one answer: time, request_id, user_id (pseudonym), method (off | ab |
interleaving), arm (the user's arm; `interleaved` for an interleaved answer), k, and per shown item in
order (position = index + 1) its item id, credit (the arm whose version placed it) and that version's
number. `read_exposures` gives one row per shown item.
An event row: time, request_id ('' if not given), user_id (pseudonym, '' if not given), item_id
('' if not given), kind (click | conversion), value.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

log = logging.getLogger(__name__)

EXPOSURE_SCHEMA = pa.schema([
    ("time", pa.float64()), ("request_id", pa.string()), ("user_id", pa.string()), ("method", pa.string()),
    ("arm", pa.string()), ("k", pa.int32()), ("items", pa.list_(pa.string())), ("credits", pa.list_(pa.string())),
    ("versions", pa.list_(pa.string())), ("share", pa.float64()),  # share: online.challenger_share when answered
])
SHOWN_COLUMNS = ["time", "request_id", "user_id", "method", "arm", "credit", "version", "item_id", "position", "k",
                 "share"]
EVENT_SCHEMA = pa.schema([
    ("time", pa.float64()), ("request_id", pa.string()), ("user_id", pa.string()), ("item_id", pa.string()),
    ("kind", pa.string()), ("value", pa.float64()), ("received", pa.float64()),
])
EVENT_KINDS = ("click", "conversion")
PARTITIONING = ds.partitioning(pa.schema([("date", pa.string()), ("hour", pa.string())]), flavor="hive")


def _hour_folder(root: Path, seconds: float) -> Path:
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return root / f"date={moment:%Y-%m-%d}" / f"hour={moment:%H}"


def write_rows(root: str | Path, rows: list[dict], schema: pa.Schema) -> int:
    """Append `rows` to the dataset at `root`: one part file per hour they were received in (`received`, else
    `time` for exposures, which the server times itself); returns rows written."""
    if not rows:
        return 0
    table = pa.Table.from_pylist(rows, schema=schema)
    arrival = (pc.coalesce(table.column("received"), table.column("time")) if "received" in schema.names
               else table.column("time"))
    hours = np.floor(arrival.to_numpy() / 3600.0).astype(np.int64)
    for hour in np.unique(hours):
        folder = _hour_folder(Path(root), hour * 3600.0)
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"part-{time.time_ns()}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = folder / f".{final.name}.tmp"
        pq.write_table(table.filter(pa.array(hours == hour)), tmp)
        os.replace(tmp, final)
    return table.num_rows


def read_log(root: str | Path, schema: pa.Schema) -> pd.DataFrame:
    """Every row of a log (an empty frame with the schema's columns if there is none yet)."""
    root = Path(root)
    if not root.exists() or not any(root.rglob("part-*.parquet")):
        return schema.empty_table().to_pandas()
    dataset = ds.dataset(root, format="parquet", schema=schema, partitioning=PARTITIONING,
                         exclude_invalid_files=True)
    return dataset.to_table(columns=schema.names).to_pandas()


def read_exposures(root: str | Path) -> pd.DataFrame:
    """The exposure log with one row per shown item: the record's fields, credit, version, item_id, position."""
    answers = read_log(root, EXPOSURE_SCHEMA)
    if answers.empty:
        return pd.DataFrame(columns=SHOWN_COLUMNS)
    shown = answers.explode(["items", "credits", "versions"], ignore_index=False)
    shown = shown[shown["items"].notna()]
    shown["position"] = shown.groupby(level=0).cumcount() + 1
    return shown.rename(columns={"items": "item_id", "credits": "credit", "versions": "version"}).reset_index(
        drop=True)[SHOWN_COLUMNS]


def delete_hours_before(root: str | Path, cutoff: float) -> int:
    """Delete the hour folders of a log that ended before `cutoff` (epoch seconds); folders deleted."""
    import shutil

    deleted = 0
    for folder in sorted(Path(root).glob("date=*/hour=*")):
        try:
            start = datetime.strptime(f"{folder.parent.name[5:]} {folder.name[5:]}", "%Y-%m-%d %H")
        except ValueError:
            continue
        if start.replace(tzinfo=timezone.utc).timestamp() + 3600 <= cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            deleted += 1
            if not any(folder.parent.iterdir()):
                folder.parent.rmdir()
    return deleted


class LogWriter:
    """Records in, Parquet parts out, off the caller's thread (see the module's docstring)."""

    def __init__(self, root: str | Path, schema: pa.Schema, flush_seconds: float = 1.0, flush_records: int = 1000,
                 max_queued_records: int = 100_000, retention_days: float | None = None):
        self.root, self.schema = Path(root), schema
        self.flush_seconds, self.flush_records = flush_seconds, flush_records
        self.max_queued_records, self.retention_days = max_queued_records, retention_days
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = threading.Event()
        self._counts = threading.Condition()
        self.queued = self.done = self.written = 0  # rows: taken, handled (written or failed), written
        self.dropped = self.failed = 0  # rows: refused by a full queue, not written (a disk error)
        self._pruned_at = 0.0
        self._thread = threading.Thread(target=self._run, name=f"log-writer-{self.root.name}", daemon=True)
        self._thread.start()

    def append(self, rows: list[dict]) -> bool:
        """Queue rows (never blocks on disk); False, and the rows counted as dropped, if the queue is full."""
        if not rows:
            return True
        with self._counts:
            if self.queued - self.done + len(rows) > self.max_queued_records:
                self.dropped += len(rows)
                if self.dropped == len(rows) or self.dropped % 10_000 < len(rows):
                    log.error("%s: the log queue is full (%d records); %d records dropped so far", self.root,
                              self.max_queued_records, self.dropped)
                return False
            self.queued += len(rows)
        self._queue.put(rows)
        return True

    def counts(self) -> dict[str, int]:
        with self._counts:
            return {"written": self.written, "dropped": self.dropped, "failed": self.failed,
                    "queued": self.queued - self.done}

    def _write(self, batch: list[dict]) -> None:
        try:
            written = write_rows(self.root, batch, self.schema)
        except Exception as error:  # a full disk must not take the server down; say it, count it, keep serving
            written = 0
            log.error("could not write %d records to %s: %s", len(batch), self.root, str(error).splitlines()[0])
        with self._counts:
            self.written += written
            self.failed += len(batch) - written
            self.done += len(batch)
            self._counts.notify_all()

    def _prune(self) -> None:
        """At most hourly: delete the hours older than `retention_days`."""
        now = time.time()
        if self.retention_days is None or now - self._pruned_at < 3600:
            return
        self._pruned_at = now
        try:
            deleted = delete_hours_before(self.root, now - self.retention_days * 86_400)
        except OSError as error:
            log.error("could not delete old hours of %s: %s", self.root, error)
            return
        if deleted:
            log.info("deleted %d hours of %s older than %s days", deleted, self.root, self.retention_days)

    def _run(self) -> None:
        """Sleep `flush_seconds` (no wake-up per record: the request threads keep the GIL), then write what
        has queued in parts of at most `flush_records`; after `close`, one last round."""
        while True:
            closing = self._closed.wait(self.flush_seconds)
            batch: list[dict] = []
            while True:
                try:
                    batch.extend(self._queue.get_nowait())
                except queue.Empty:
                    break
                if len(batch) >= self.flush_records:
                    self._write(batch)
                    batch = []
            if batch:
                self._write(batch)
            self._prune()
            if closing:
                return

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every row queued so far is handled; False if `timeout` passed first."""
        with self._counts:
            target = self.queued
            return self._counts.wait_for(lambda: self.done >= target, timeout)

    def close(self, timeout: float = 10.0) -> None:
        self._closed.set()
        self._thread.join(timeout)


def events_from_export(table, key: bytes) -> list[dict]:
    """The rows of a batch export of clicks and conversions (`mindshare outcomes --online FILE`) as event-log
    rows: columns `kind` (click | conversion) and either `request_id` or `user_id` (raw, hashed here) with
    `item_id`; optional `value` and `time` (epoch seconds; default now). Any bad row stops the whole file
    with one line naming it (nothing is half-appended)."""
    from mindshare.data.pseudonymise import pseudonymise
    from mindshare.errors import MindshareError

    frame = table.frame
    if "kind" not in frame.columns or not ({"request_id"} <= set(frame.columns) or
                                           {"user_id", "item_id"} <= set(frame.columns)):
        raise MindshareError(f"{table.source}: needs a `kind` column and `request_id`, or `user_id` and `item_id` "
                             f"(it has {', '.join(map(str, frame.columns))})")

    def text(column: str) -> pd.Series:
        return (frame[column].fillna("").astype(str).str.strip() if column in frame.columns
                else pd.Series("", index=frame.index))

    kind, request, user, item = text("kind").str.lower(), text("request_id"), text("user_id"), text("item_id")
    numbers = {}
    for column in ("value", "time"):
        raw = frame[column] if column in frame.columns else pd.Series(float("nan"), index=frame.index)
        numbers[column] = pd.to_numeric(raw, errors="coerce")
        bad = numbers[column].isna() & raw.notna() & (raw.astype(str).str.strip() != "")
        if bad.any() or (numbers[column] < 0).any():
            row = frame.index[bad | (numbers[column] < 0)][0]
            raise MindshareError(f"{table.where(row)}: {column} must be a number >= 0")
    problems = [(~kind.isin(EVENT_KINDS), f"kind must be one of {', '.join(EVENT_KINDS)}"),
                ((request == "") & ((user == "") | (item == "")),
                 "name the request_id, or the user_id and the item_id")]
    for mask, message in problems:
        if mask.any():
            raise MindshareError(f"{table.where(frame.index[mask.to_numpy()][0])}: {message}")
    hashed = pd.Series(pseudonymise(user, key), index=frame.index).where(user != "", "")
    now = time.time()
    return [{"time": float(t) if t == t else now, "request_id": r, "user_id": u, "item_id": i, "kind": k,
             "value": float(v) if v == v else 0.0, "received": now}
            for t, r, u, i, k, v in zip(numbers["time"], request, hashed, item, kind, numbers["value"])]


def erase_from_log(root: str | Path, pseudonym: str) -> int:
    """Remove a person's rows from every part file of a log (each rewritten atomically); rows removed."""
    removed = 0
    for part in sorted(Path(root).glob("date=*/hour=*/part-*.parquet")):
        table = pq.read_table(part)
        mine = pc.equal(table.column("user_id"), pseudonym)
        count = pc.sum(mine).as_py() or 0
        if count:
            tmp = part.with_name(f".{part.name}.tmp")
            pq.write_table(table.filter(pc.invert(mine)), tmp)
            os.replace(tmp, part)
            removed += count
    return removed
