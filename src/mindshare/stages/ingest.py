"""ingest: bring the configured source to the canonical schema and pseudonymise user ids; drop the
rows of people on the forget list and add recorded campaign outcomes (data/feedback/).

Writes data/interim/interactions.parquet, data/interim/items.parquet and reports/ingest.json.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from mindshare.atomic_files import write_json, write_parquet
from mindshare.data.events import read_items_table, read_table
from mindshare.data.fingerprint import frame_fingerprint
from mindshare.data.movielens import read_movielens
from mindshare.data.pseudonymise import load_key, pseudonymise
from mindshare.data.schema import RawTable, canonical_interactions, canonical_items
from mindshare.data.synthetic import SyntheticSpec, generate_synthetic
from mindshare.marketing.feedback import forgotten, outcome_interactions
from mindshare.stages.params import dataset_name, experiment_name, load_params
from mindshare.stages.runner import run_stage
from mindshare.tracking.runs import log_stage_run
from mindshare.tracking.store import DATA_FINGERPRINT_TAG

log = logging.getLogger(__name__)
INTERACTIONS = Path("data/interim/interactions.parquet")
ITEMS = Path("data/interim/items.parquet")
REPORT = Path("reports/ingest.json")


def read_source(ingest: dict) -> tuple[RawTable, RawTable | None]:
    """The raw interactions and items tables of the configured source."""
    source = ingest["source"]
    if source == "movielens":
        return read_movielens(ingest["path"])
    if source == "events":
        items = read_items_table(ingest["items_path"], ingest.get("item_columns")) if ingest.get("items_path") else None
        return read_table(ingest["path"], ingest.get("columns")), items
    spec = SyntheticSpec(**ingest["synthetic"])
    interactions, items = generate_synthetic(spec)
    return RawTable(interactions, "synthetic"), RawTable(items, "synthetic items")


def complete_items(interactions: pd.DataFrame, items: pd.DataFrame | None) -> tuple[pd.DataFrame, int]:
    """Items for every interacted item: rows missing from the items file are added (id as title) and counted."""
    if items is None:
        items = pd.DataFrame({"item_id": pd.Series(dtype=str), "title": pd.Series(dtype=str), "categories": []})
    missing = pd.Index(interactions["item_id"].unique()).difference(pd.Index(items["item_id"]))
    unknown_rows = int(interactions["item_id"].isin(missing).sum())
    added = pd.DataFrame({"item_id": missing.astype(str), "title": missing.astype(str),
                          "categories": [[] for _ in range(len(missing))]})
    return pd.concat([items, added], ignore_index=True), unknown_rows


def main() -> None:
    params = load_params()
    ingest = params["ingest"]
    scale = tuple(ingest["rating_scale"]) if ingest.get("rating_scale") else None
    raw_interactions, raw_items = read_source(ingest)
    interactions = canonical_interactions(raw_interactions, scale, ingest.get("timestamp_format"))
    items = canonical_items(raw_items) if raw_items is not None else None
    fingerprint = frame_fingerprint(interactions)  # of the raw content: the same whatever the key
    items, unknown_item_rows = complete_items(interactions, items)
    if unknown_item_rows:
        log.warning("%d interactions name items missing from the items file; added them with their id as title",
                    unknown_item_rows)
    interactions["user_id"] = pseudonymise(interactions["user_id"], load_key())
    gone = forgotten()
    erased = interactions["user_id"].isin(gone)
    top_rating = scale[1] if scale else (float(interactions["rating"].max()) if "rating" in interactions else None)
    outcomes = outcome_interactions(list(interactions.columns), top_rating)
    outcomes = outcomes[~outcomes["user_id"].isin(gone)]
    interactions = pd.concat([interactions[~erased], outcomes], ignore_index=True) if len(outcomes) \
        else interactions[~erased].reset_index(drop=True)
    write_parquet(interactions, INTERACTIONS)
    write_parquet(items, ITEMS)
    counts = {
        "rows": len(interactions),
        "users": int(interactions["user_id"].nunique()),
        "items": int(interactions["item_id"].nunique()),
        "items_in_catalogue": len(items),
        "interactions_with_unknown_item": unknown_item_rows,
        "campaign_outcome_rows": len(outcomes),
    }
    report = {"dataset": dataset_name(params), "source": ingest["source"], "data_fingerprint": fingerprint,
              "counts": counts, "dropped": {"forgotten_user": int(erased.sum())}}
    write_json(report, REPORT)
    log.info("ingested %s: %d rows, %d users, %d items", report["dataset"], counts["rows"], counts["users"], counts["items"])
    log_stage_run("ingest", experiment_name(params), {"ingest": ingest}, counts, {DATA_FINGERPRINT_TAG: fingerprint})


if __name__ == "__main__":
    run_stage("ingest", main)
