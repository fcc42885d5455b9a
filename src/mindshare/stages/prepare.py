"""prepare: de-duplicate, k-core filter, split into train / valid / test, mark relevant test rows.

Writes data/processed/{train,valid,test}.parquet and reports/prepare.json (every dropped row
counted by reason).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from mindshare.atomic_files import write_json, write_parquet
from mindshare.data.fingerprint import frame_fingerprint
from mindshare.data.split import drop_exact_duplicates, k_core, relevant_mask, split_interactions
from mindshare.stages.ingest import INTERACTIONS
from mindshare.stages.ingest import REPORT as INGEST_REPORT
from mindshare.stages.params import experiment_name, load_params
from mindshare.stages.runner import run_stage
from mindshare.tracking.runs import log_stage_run
from mindshare.tracking.store import DATA_FINGERPRINT_TAG, SPLIT_FINGERPRINT_TAG

log = logging.getLogger(__name__)
PROCESSED = Path("data/processed")
REPORT = Path("reports/prepare.json")


def split_path(name: str) -> Path:
    return PROCESSED / f"{name}.parquet"


def fit_frame(include_valid: bool) -> pd.DataFrame:
    """What the final models are fitted on: train, plus valid when `train.include_valid`."""
    parts = [pd.read_parquet(split_path("train"))]
    if include_valid:
        parts.append(pd.read_parquet(split_path("valid")))
    return pd.concat(parts, ignore_index=True)


def main() -> None:
    params = load_params()
    prepare = params["prepare"]
    split_params = prepare["split"]
    frame = pd.read_parquet(INTERACTIONS)
    rows_in = len(frame)
    frame, duplicates = drop_exact_duplicates(frame)
    frame, k_core_dropped = k_core(frame, prepare["min_user_interactions"], prepare["min_item_interactions"])
    split = split_interactions(
        frame,
        split_params["protocol"],
        test_ratio=split_params["test_ratio"],
        valid_ratio=split_params["valid_ratio"],
        seed=split_params["seed"],
        leave_last_n=split_params["leave_last_n"],
        valid_last_n=split_params["valid_last_n"],
        holdout_given=split_params.get("holdout_given", 0),
    )
    split.test["relevant"] = relevant_mask(split.test, prepare.get("relevant_min_rating"))
    for name in ("train", "valid", "test"):
        write_parquet(getattr(split, name), split_path(name))
    fingerprint = json.loads(INGEST_REPORT.read_text())["data_fingerprint"]
    split_fingerprint = frame_fingerprint(split.test)
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
                "dropped": dropped}, REPORT)
    log.info("split %s: train %d, valid %d, test %d rows; dropped %s", split_params["protocol"], counts["train_rows"],
             counts["valid_rows"], counts["test_rows"], dropped)
    log_stage_run("prepare", experiment_name(params), {"prepare": prepare},
                  {**counts, **{f"dropped_{k}": v for k, v in dropped.items()}},
                  {DATA_FINGERPRINT_TAG: fingerprint, SPLIT_FINGERPRINT_TAG: split_fingerprint})


if __name__ == "__main__":
    run_stage("prepare", main)
