"""prepare: de-duplicate, k-core filter, split into train / valid / test, mark relevant test rows.

Writes data/processed/{train,valid,test}.parquet and reports/prepare.json (every dropped row
counted by reason; each split's fingerprint, counts and columns).
"""

from __future__ import annotations

import logging

import pandas as pd

from mindshare import layout
from mindshare.atomic_files import write_json, write_parquet
from mindshare.data.split import drop_exact_duplicates, k_core, relevant_mask, split_interactions, split_summary
from mindshare.stages.inputs import read_json
from mindshare.stages.params import load_settings
from mindshare.stages.runner import run_stage
from mindshare.tracking.runs import log_stage_run
from mindshare.tracking.store import DATA_FINGERPRINT_TAG, SPLIT_FINGERPRINT_TAG

log = logging.getLogger(__name__)


def main() -> None:
    settings = load_settings()
    prepare, split_settings = settings.prepare, settings.prepare.split
    frame = pd.read_parquet(layout.INTERACTIONS)
    rows_in = len(frame)
    frame, duplicates = drop_exact_duplicates(frame)
    frame, k_core_dropped = k_core(frame, prepare.min_user_interactions, prepare.min_item_interactions)
    split = split_interactions(frame, split_settings)
    split.test["relevant"] = relevant_mask(split.test, prepare.relevant_min_rating)
    for name in layout.SPLITS:
        write_parquet(getattr(split, name), layout.split_path(name))
    fingerprint = read_json(layout.INGEST_REPORT)["data_fingerprint"]
    splits = {name: split_summary(getattr(split, name)) for name in layout.SPLITS}  # MLflow dataset inputs
    split_fingerprint = splits["test"]["fingerprint"]
    counts = {
        "rows_in": rows_in,
        "train_rows": len(split.train),
        "valid_rows": len(split.valid),
        "test_rows": len(split.test),
        "test_rows_relevant": int(split.test["relevant"].sum()),
        "train_users": int(split.train["user_id"].nunique()),
        "train_items": int(split.train["item_id"].nunique()),
    }
    dropped = {"exact_duplicate": duplicates, "k_core": k_core_dropped}
    write_json({"data_fingerprint": fingerprint, "split_fingerprint": split_fingerprint, "counts": counts,
                "dropped": dropped, "splits": splits}, layout.PREPARE_REPORT)
    log.info("split %s: train %d, valid %d, test %d rows; dropped %s", split_settings.protocol, counts["train_rows"],
             counts["valid_rows"], counts["test_rows"], dropped)
    log_stage_run("prepare", settings.experiment_name, {"prepare": prepare.model_dump()},
                  {**counts, **{f"dropped_{k}": v for k, v in dropped.items()}},
                  {DATA_FINGERPRINT_TAG: fingerprint, SPLIT_FINGERPRINT_TAG: split_fingerprint})


if __name__ == "__main__":
    run_stage("prepare", main)
