"""The configured source (params.yaml `ingest`) read into the canonical tables, before pseudonymisation.

Sources: MovieLens (a folder or zip in any of its layouts), an events export (with a column map and
the cleaning rules) or the seeded synthetic generator.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mindshare.data.cleaning import CleaningReport
from mindshare.data.events import load_events_and_items, read_items_table, read_table, read_users_table
from mindshare.data.fingerprint import frame_fingerprint
from mindshare.data.movielens import read_movielens, read_movielens_users
from mindshare.data.schema import USER_COLUMNS, RawTable, canonical_interactions, canonical_items, canonical_users
from mindshare.data.synthetic import generate_synthetic, generate_synthetic_users
from mindshare.errors import MindshareError
from mindshare.settings import IngestSettings

log = logging.getLogger(__name__)


@dataclass
class SourceTables:
    interactions: pd.DataFrame  # canonical, raw user ids
    items: pd.DataFrame  # every interacted item has a row
    users: pd.DataFrame  # demographics and display names where the source has them (else no rows)
    cleaning: CleaningReport
    unknown_item_rows: int  # interactions naming items missing from the items file (added, id as title)
    fingerprint: str  # of the raw content: the same whatever the pseudonymisation key


def read_source(ingest: IngestSettings) -> tuple[RawTable, RawTable | None]:
    """The raw interactions and items tables of the configured source."""
    if ingest.source == "movielens":
        if ingest.release and not Path(ingest.path).exists():
            raise MindshareError(f"{ingest.path}: not found; run `mindshare download` to fetch MovieLens "
                                 f"{ingest.release} there (or point ingest.path at a local copy)")
        return read_movielens(ingest.path)
    if ingest.source == "events":
        items = read_items_table(ingest.items_path, ingest.item_columns) if ingest.items_path else None
        return read_table(ingest.path, ingest.columns), items
    interactions, items = generate_synthetic(ingest.synthetic)
    return RawTable(interactions, "synthetic"), RawTable(items, "synthetic items")


def read_users(ingest: IngestSettings) -> pd.DataFrame:
    """Canonical users (demographics, display names) of the configured source; no rows where it has none."""
    raw = None
    if ingest.source == "movielens":
        raw = read_movielens_users(ingest.path)
    elif ingest.source == "events" and ingest.users_path:
        raw = read_users_table(ingest.users_path, ingest.user_columns)
    elif ingest.source == "synthetic":
        raw = RawTable(generate_synthetic_users(ingest.synthetic), "synthetic users")
    if raw is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in USER_COLUMNS})
    return canonical_users(raw)


def complete_items(interactions: pd.DataFrame, items: pd.DataFrame | None) -> tuple[pd.DataFrame, int]:
    """Items for every interacted item: rows missing from the items file are added (id as title) and counted."""
    if items is None:
        items = pd.DataFrame({"item_id": pd.Series(dtype=str), "title": pd.Series(dtype=str), "categories": []})
    missing = pd.Index(interactions["item_id"].unique()).difference(pd.Index(items["item_id"]))
    unknown_rows = int(interactions["item_id"].isin(missing).sum())
    added = pd.DataFrame({"item_id": missing.astype(str), "title": missing.astype(str),
                          "categories": [[] for _ in range(len(missing))]})
    return pd.concat([items, added], ignore_index=True), unknown_rows


def read_source_tables(ingest: IngestSettings) -> SourceTables:
    """The configured source as canonical tables, messy rows handled by the cleaning rules and counted."""
    raw_interactions, raw_items = read_source(ingest)
    items = canonical_items(raw_items) if raw_items is not None else None
    if ingest.source == "events":
        interactions, described, cleaning = load_events_and_items(raw_interactions, ingest)
        items = items if items is not None else described  # an items file wins over the log's item columns
        for reason, n in cleaning.dropped.items():
            log.warning("dropped %d rows: %s (ingest.cleaning)", n, reason)
    else:
        interactions = canonical_interactions(raw_interactions, ingest.rating_scale, ingest.timestamp_format)
        cleaning = CleaningReport(dropped={}, repaired={})
    fingerprint = frame_fingerprint(interactions)
    items, unknown_item_rows = complete_items(interactions, items)
    if unknown_item_rows:
        log.warning(
            "%d interactions name items missing from the items file; added them with their id as title",
            unknown_item_rows,
        )
    return SourceTables(interactions, items, read_users(ingest), cleaning, unknown_item_rows, fingerprint)
