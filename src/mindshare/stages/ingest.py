"""ingest: bring the configured source to the canonical schema and pseudonymise user ids; drop the
rows of people on the forget list and add recorded campaign outcomes (data/feedback/).

Writes data/interim/interactions.parquet, data/interim/items.parquet, data/interim/users.parquet
(demographics and display names where the source has them; otherwise no rows) and reports/ingest.json.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from mindshare.atomic_files import write_json, write_parquet
from mindshare.data.cleaning import CleaningReport
from mindshare.data.events import load_events, read_items_table, read_table, read_users_table
from mindshare.data.fingerprint import frame_fingerprint
from mindshare.data.movielens import read_movielens, read_movielens_users
from mindshare.data.pseudonymise import load_key, pseudonymise, pseudonymise_column
from mindshare.data.schema import RawTable, USER_COLUMNS, canonical_interactions, canonical_items, canonical_users
from mindshare.data.synthetic import SyntheticSpec, generate_synthetic, generate_synthetic_users
from mindshare.errors import MindshareError
from mindshare.marketing.feedback import forgotten, outcome_interactions
from mindshare.stages.params import dataset_name, experiment_name, load_params
from mindshare.stages.runner import run_stage
from mindshare.tracking.runs import log_stage_run
from mindshare.tracking.store import DATA_FINGERPRINT_TAG

log = logging.getLogger(__name__)
INTERACTIONS = Path("data/interim/interactions.parquet")
ITEMS = Path("data/interim/items.parquet")
USERS = Path("data/interim/users.parquet")
REPORT = Path("reports/ingest.json")


def read_source(ingest: dict) -> tuple[RawTable, RawTable | None]:
    """The raw interactions and items tables of the configured source."""
    source = ingest["source"]
    if source == "movielens":
        if ingest.get("release") and not Path(ingest["path"]).exists():
            raise MindshareError(f"{ingest['path']}: not found; run `mindshare download` to fetch MovieLens "
                                 f"{ingest['release']} there (or point ingest.path at a local copy)")
        return read_movielens(ingest["path"])
    if source == "events":
        items = read_items_table(ingest["items_path"], ingest.get("item_columns")) if ingest.get("items_path") else None
        return read_table(ingest["path"], ingest.get("columns")), items
    spec = SyntheticSpec(**ingest["synthetic"])
    interactions, items = generate_synthetic(spec)
    return RawTable(interactions, "synthetic"), RawTable(items, "synthetic items")


def read_users(ingest: dict) -> pd.DataFrame:
    """Canonical users (demographics, display names) of the configured source; no rows where it has none."""
    source = ingest["source"]
    raw = None
    if source == "movielens":
        raw = read_movielens_users(ingest["path"])
    elif source == "events" and ingest.get("users_path"):
        raw = read_users_table(ingest["users_path"], ingest.get("user_columns"))
    elif source == "synthetic":
        raw = RawTable(generate_synthetic_users(SyntheticSpec(**ingest["synthetic"])), "synthetic users")
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


def main() -> None:
    params = load_params()
    ingest = params["ingest"]
    scale = tuple(ingest["rating_scale"]) if ingest.get("rating_scale") else None
    raw_interactions, raw_items = read_source(ingest)
    if ingest["source"] == "events":
        interactions, cleaning = load_events(raw_interactions, ingest, scale)
        for reason, n in cleaning.dropped.items():
            log.warning("dropped %d rows: %s (ingest.cleaning)", n, reason)
    else:
        interactions = canonical_interactions(raw_interactions, scale, ingest.get("timestamp_format"))
        cleaning = CleaningReport(dropped={}, repaired={})
    items = canonical_items(raw_items) if raw_items is not None else None
    fingerprint = frame_fingerprint(interactions)  # of the raw content: the same whatever the key
    items, unknown_item_rows = complete_items(interactions, items)
    if unknown_item_rows:
        log.warning("%d interactions name items missing from the items file; added them with their id as title",
                    unknown_item_rows)
    key = load_key()
    interactions["user_id"] = pseudonymise_column(interactions["user_id"], key)
    users = read_users(ingest)
    users["user_id"] = pseudonymise(users["user_id"], key)
    gone = forgotten()
    erased = interactions["user_id"].isin(gone)
    users = users[~users["user_id"].isin(gone)].reset_index(drop=True)
    top_rating = scale[1] if scale else (float(interactions["rating"].max()) if "rating" in interactions else None)
    outcomes = outcome_interactions(list(interactions.columns), top_rating)
    outcomes = outcomes[~outcomes["user_id"].isin(gone)]
    interactions = pd.concat([interactions[~erased], outcomes], ignore_index=True) if len(outcomes) \
        else interactions[~erased].reset_index(drop=True)
    write_parquet(interactions, INTERACTIONS)
    write_parquet(items, ITEMS)
    write_parquet(users, USERS)
    counts = {
        "rows": len(interactions),
        "users": int(interactions["user_id"].nunique()),
        "items": int(interactions["item_id"].nunique()),
        "items_in_catalogue": len(items),
        "users_with_demographics": len(users),
        "interactions_with_unknown_item": unknown_item_rows,
        "campaign_outcome_rows": len(outcomes),
    }
    report = {"dataset": dataset_name(params), "source": ingest["source"], "data_fingerprint": fingerprint,
              "counts": counts, "dropped": {**cleaning.dropped, "forgotten_user": int(erased.sum())},
              "repaired": cleaning.repaired}
    write_json(report, REPORT)
    log.info("ingested %s: %d rows, %d users, %d items", report["dataset"], counts["rows"], counts["users"], counts["items"])
    logged = {**counts, **{f"dropped_{k}": v for k, v in report["dropped"].items()},
              **{f"repaired_{k}": v for k, v in cleaning.repaired.items()}}
    log_stage_run("ingest", experiment_name(params), {"ingest": ingest}, logged, {DATA_FINGERPRINT_TAG: fingerprint})


if __name__ == "__main__":
    run_stage("ingest", main)
