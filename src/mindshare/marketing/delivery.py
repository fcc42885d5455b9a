"""The last mile of a campaign: its audience (pseudonyms) matched to the team's own list of raw ids, so that the
team can send the messages. Each raw id is hashed with the project's key and looked up among the audience's
pseudonyms; the pseudonym -> raw id mapping exists only in memory and in the send list the team asked for.

The send list has one row per audience member found: `user_id` (raw), `channel`, `message` (rendered as the
audience stage renders it) and `group`. Control members are listed with group `control` and no message: the
team must not message them, and needs their ids to report their outcomes (`mindshare outcomes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mindshare.data.events import read_json_lines
from mindshare.data.pseudonymise import pseudonymise
from mindshare.data.schema import RawTable
from mindshare.data.text_files import read_delimited, read_parquet
from mindshare.errors import MindshareError
from mindshare.marketing.campaigns import Campaign
from mindshare.marketing.messages import messages

SEND_COLUMNS = ["user_id", "channel", "message", "group"]


@dataclass(frozen=True)
class Customers:
    """The team's raw ids, trimmed, one per distinct id, with what reading them found."""

    ids: pd.Series  # distinct raw ids, in file order
    source: str
    rows: int  # rows read
    empty: int  # rows without an id (skipped)
    duplicates: int  # rows repeating an id listed before
    first_duplicate: str | None  # where the first repeat is ("customers.csv, line 7"); never the id itself


@dataclass(frozen=True)
class Delivery:
    """The send list and the counts the summary line reports."""

    table: pd.DataFrame  # SEND_COLUMNS, audience order
    audience: int  # audience members (treatment and control)
    treatment: int  # found, in the treatment group (a message each)
    control: int  # found, in the control group (listed, no message)
    not_in_customers: int  # audience members whose pseudonym no listed raw id produces
    customers_outside: int  # listed raw ids not in the audience


def read_customers(path: str | Path, id_column: str = "user_id", repair_float_ids: bool = False) -> Customers:
    """The raw ids of `path` (CSV, TSV, Parquet or JSON lines) in column `id_column`, trimmed as ingest trims them
    (and '17850.0' -> '17850' where ingest repairs float-looking ids); a missing file or column is one line."""
    file = Path(path)
    if not file.is_file():
        raise MindshareError(f"{file}: customers file not found; give the CSV, TSV or Parquet list of raw ids")
    table = read_any_table(file, (id_column,))
    if id_column not in table.frame.columns:
        known = ", ".join(map(str, table.frame.columns[:12]))
        raise MindshareError(f"{file}: column '{id_column}' is missing (columns: {known}); name the raw-id column "
                             "with --id-column")
    values = table.frame[id_column]
    text = values.astype("string").str.strip()
    if repair_float_ids:
        text = text.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True)
    empty = (values.isna() | text.isna() | (text == "")).to_numpy(bool)
    kept = text[~empty].astype(str)
    repeated = kept.duplicated().to_numpy()
    first = table.where(int(np.flatnonzero(~empty)[np.flatnonzero(repeated)[0]])) if repeated.any() else None
    return Customers(ids=kept[~repeated].reset_index(drop=True), source=str(file), rows=len(values),
                     empty=int(empty.sum()), duplicates=int(repeated.sum()), first_duplicate=first)


def read_any_table(file: Path, text_columns: tuple[str, ...]) -> RawTable:
    """The project's readers by file type (CSV, TSV, Parquet, JSON lines); `text_columns` are read as text
    (leading zeros kept)."""
    suffix = file.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return read_parquet(file, str(file))
    if suffix in (".jsonl", ".ndjson", ".json"):
        return read_json_lines(file, text_columns)
    sep = "\t" if suffix in (".tsv", ".tab") else ","
    return read_delimited(file.read_bytes(), str(file), sep=sep, id_columns=text_columns)


def resolve_audience(campaign: Campaign, audience: pd.DataFrame, customers: Customers, key: bytes,
                     names: pd.Series | None = None) -> Delivery:
    """The send list of `audience` (the audience table, pseudonymised `user_id`) for the customers whose raw id
    hashes (with `key`) to an audience member; treatment members get their rendered message."""
    by_pseudonym = pd.Series(customers.ids.to_numpy(), index=pseudonymise(customers.ids, key))
    rendered = {m["user_id"]: m["message"] for m in messages(campaign, audience, names)}
    found = audience[audience["user_id"].isin(by_pseudonym.index)]
    table = pd.DataFrame({
        "user_id": by_pseudonym.reindex(found["user_id"]).to_numpy(),
        "channel": campaign.channel,
        "message": found["user_id"].map(rendered).fillna("").to_numpy(),
        "group": found["group"].to_numpy(),
    }, columns=SEND_COLUMNS)
    treatment = int((table["group"] == "treatment").sum())
    return Delivery(table=table, audience=len(audience), treatment=treatment, control=len(table) - treatment,
                    not_in_customers=len(audience) - len(table), customers_outside=len(customers.ids) - len(table))
