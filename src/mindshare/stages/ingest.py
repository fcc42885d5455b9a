"""ingest: bring the configured source to the canonical schema and pseudonymise user ids; drop the
rows of people on the forget list and add recorded campaign outcomes (data/feedback/).

Writes data/interim/interactions.parquet, data/interim/items.parquet, data/interim/users.parquet
(demographics and display names where the source has them; otherwise no rows) and reports/ingest.json.
"""

from __future__ import annotations

import logging

from mindshare import layout
from mindshare.atomic_files import write_json, write_parquet
from mindshare.data.pseudonymise import load_key, pseudonymise, pseudonymise_column
from mindshare.data.sources import read_source_tables
from mindshare.marketing.feedback import apply_feedback
from mindshare.stages.params import load_settings
from mindshare.stages.runner import run_stage
from mindshare.tracking.runs import log_stage_run
from mindshare.tracking.store import DATA_FINGERPRINT_TAG

log = logging.getLogger(__name__)


def main() -> None:
    settings = load_settings()
    ingest = settings.ingest
    tables = read_source_tables(ingest)
    key = load_key()
    interactions, users = tables.interactions, tables.users
    interactions["user_id"] = pseudonymise_column(interactions["user_id"], key)
    users["user_id"] = pseudonymise(users["user_id"], key)
    top_rating = ingest.rating_scale[1] if ingest.rating_scale else \
        (float(interactions["rating"].max()) if "rating" in interactions else None)
    interactions, users, erased, outcome_rows = apply_feedback(interactions, users, top_rating)
    write_parquet(interactions, layout.INTERACTIONS)
    write_parquet(tables.items, layout.ITEMS)
    write_parquet(users, layout.USERS)
    counts = {
        "rows": len(interactions),
        "users": int(interactions["user_id"].nunique()),
        "items": int(interactions["item_id"].nunique()),
        "items_in_catalogue": len(tables.items),
        "users_with_demographics": len(users),
        "interactions_with_unknown_item": tables.unknown_item_rows,
        "campaign_outcome_rows": outcome_rows,
    }
    dropped = {**tables.cleaning.dropped, "forgotten_user": erased}
    write_json({"dataset": ingest.name, "source": ingest.source, "data_fingerprint": tables.fingerprint,
                "counts": counts, "dropped": dropped, "repaired": tables.cleaning.repaired}, layout.INGEST_REPORT)
    log.info("ingested %s: %d rows, %d users, %d items", ingest.name, counts["rows"], counts["users"], counts["items"])
    logged = {**counts, **{f"dropped_{k}": v for k, v in dropped.items()},
              **{f"repaired_{k}": v for k, v in tables.cleaning.repaired.items()}}
    log_stage_run("ingest", settings.experiment_name, {"ingest": ingest.model_dump()}, logged,
                  {DATA_FINGERPRINT_TAG: tables.fingerprint})


if __name__ == "__main__":
    run_stage("ingest", main)
