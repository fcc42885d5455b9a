"""ingest: the configured source in the canonical schema, user ids pseudonymised, the forget list's people
dropped (by pseudonym or raw id, under any key), recorded campaign outcomes added (data/feedback/). Writes
data/interim/{interactions,items,users}.parquet (interactions: a Parquet dataset Spark wrote, with `engine: spark`
and an events source; users: demographics and display names where the source has them) and reports/ingest.json.
"""

from __future__ import annotations

import logging

import pandas as pd

from mindshare import layout
from mindshare.atomic_files import write_json, write_parquet
from mindshare.data.events import read_items_table
from mindshare.data.pseudonymise import key_fingerprint, load_key, pseudonymise, pseudonymise_column
from mindshare.data.schema import canonical_items
from mindshare.data.sources import complete_items, read_source_tables, read_users
from mindshare.marketing import feedback
from mindshare.project.params import load_settings
from mindshare.settings import IngestSettings
from mindshare.stages.runner import run_stage
from mindshare.tracking.runs import log_stage_run
from mindshare.tracking.store import DATA_FINGERPRINT_TAG

log = logging.getLogger(__name__)


def main() -> None:
    settings = load_settings()
    ingest, key = settings.ingest, load_key(create=True)
    on_spark = settings.engine == "spark" and ingest.source == "events"  # other sources are read on the driver
    made = ingest_with_spark(ingest, key) if on_spark else ingest_locally(ingest, key)
    write_parquet(made["items"], layout.ITEMS)
    write_parquet(made["users"], layout.USERS)
    counts = {**made["counts"], "items_in_catalogue": len(made["items"]), "users_with_demographics": len(made["users"])}
    counts.update({k: counts.pop(k) for k in ("interactions_with_unknown_item", "campaign_outcome_rows")})
    dropped = {**made["dropped"], "forgotten_user": made["erased"]}
    write_json({"dataset": ingest.name, "source": ingest.source, "data_fingerprint": made["fingerprint"],
                "key_fingerprint": key_fingerprint(key), "counts": counts, "dropped": dropped,
                "repaired": made["repaired"]}, layout.INGEST_REPORT)
    log.info("ingested %s on %s: %d rows, %d users, %d items", ingest.name, "spark" if on_spark else "local",
             counts["rows"], counts["users"], counts["items"])
    logged = {**counts, **{f"dropped_{k}": v for k, v in dropped.items()},
              **{f"repaired_{k}": v for k, v in made["repaired"].items()}}
    log_stage_run("ingest", settings.experiment_name, {"ingest": ingest.model_dump(), "engine": settings.engine},
                  logged, {DATA_FINGERPRINT_TAG: made["fingerprint"]})


def ingest_locally(ingest: IngestSettings, key: bytes) -> dict:
    tables = read_source_tables(ingest)
    interactions, users = tables.interactions, tables.users
    listed = feedback.listed_by_raw_id(key, interactions["user_id"], users["user_id"])  # forgotten under any key
    interactions["user_id"] = pseudonymise_column(interactions["user_id"], key)
    users["user_id"] = pseudonymise(users["user_id"], key)
    top_rating = ingest.rating_scale[1] if ingest.rating_scale else (float(interactions["rating"].max())
                                                                     if "rating" in interactions else None)
    interactions, users, erased, outcome_rows = feedback.apply_feedback(interactions, users, top_rating, listed)
    write_parquet(interactions, layout.INTERACTIONS)
    counts = {"rows": len(interactions), "users": int(interactions["user_id"].nunique()),
              "items": int(interactions["item_id"].nunique()),
              "interactions_with_unknown_item": tables.unknown_item_rows, "campaign_outcome_rows": outcome_rows}
    return {"items": tables.items, "users": users, "counts": counts, "erased": erased,
            "fingerprint": tables.fingerprint, "dropped": tables.cleaning.dropped, "repaired": tables.cleaning.repaired}


def ingest_with_spark(ingest: IngestSettings, key: bytes) -> dict:
    from mindshare.spark.ingest import ingest_on_spark  # on the session of params.yaml `spark`

    gone, hashes = feedback.forgotten(), feedback.forgotten_ids()
    made = ingest_on_spark(ingest, key, gone, feedback.outcome_interactions, layout.INTERACTIONS, hashes)
    for reason, n in made["dropped"].items():
        log.warning("dropped %d rows: %s (ingest.cleaning)", n, reason)
    catalogue = canonical_items(read_items_table(ingest.items_path, ingest.item_columns)) if ingest.items_path else None
    item_rows = made["source_item_rows"]  # as locally: the export's items, before the forget list and outcomes
    known = pd.Index(catalogue["item_id"] if catalogue is not None else [])
    items, _ = complete_items(pd.DataFrame({"item_id": item_rows.index.astype(str)}), catalogue)
    users = read_users(ingest)
    gone = gone | feedback.listed_by_raw_id(key, users["user_id"])
    users["user_id"] = pseudonymise(users["user_id"], key)
    counts = {**{k: made[k] for k in ("rows", "users", "items")},
              "interactions_with_unknown_item": int(item_rows[~item_rows.index.isin(known)].sum()),
              "campaign_outcome_rows": made["outcome_rows"]}
    return {"items": items, "users": users[~users["user_id"].isin(gone)].reset_index(drop=True), "counts": counts,
            **{k: made[k] for k in ("erased", "fingerprint", "dropped", "repaired")}}


if __name__ == "__main__":
    run_stage("ingest", main)
