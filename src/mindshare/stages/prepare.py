"""prepare: de-duplicate, k-core filter, split into train / valid / test, mark relevant test rows, decide the
repeat policy. Writes data/processed/{train,valid,test}.parquet and reports/prepare.json (every dropped row
counted by reason; each split's fingerprint, counts and columns; the windows of a split by time; the repeat
share and policy)."""

from __future__ import annotations

import logging

import pandas as pd

from mindshare import layout
from mindshare.atomic_files import write_json, write_parquet
from mindshare.data.repeats import decide_repeats, describe_windows, repeat_share, split_windows
from mindshare.data.split import (
    drop_exact_duplicates,
    k_core,
    protocol_for_span,
    relevant_mask,
    split_interactions,
    split_summary,
)
from mindshare.project.outputs import read_json, read_split
from mindshare.project.params import load_settings
from mindshare.settings import PrepareSettings
from mindshare.stages.runner import run_stage
from mindshare.tracking.runs import log_stage_run
from mindshare.tracking.store import DATA_FINGERPRINT_TAG, SPLIT_FINGERPRINT_TAG

log = logging.getLogger(__name__)


def main() -> None:
    settings = load_settings()
    prepare = settings.prepare
    times = pd.read_parquet(layout.INTERACTIONS, columns=["timestamp"])["timestamp"].to_numpy()
    protocol = protocol_for_span(prepare.split, settings.split_protocol, times)
    outputs = {name: layout.split_path(name) for name in layout.SPLITS}
    if settings.engine == "spark":
        from mindshare.spark.prepare import prepare_on_spark  # on the session of params.yaml `spark`

        made = prepare_on_spark(layout.INTERACTIONS, prepare, outputs, protocol)
    else:
        made = prepare_locally(prepare, outputs, protocol)
    splits, dropped = made["splits"], made["dropped"]  # splits: MLflow dataset inputs
    fingerprint = read_json(layout.INGEST_REPORT)["data_fingerprint"]
    split_fingerprint = splits["test"]["fingerprint"]
    counts = {
        "rows_in": made["rows_in"],
        **{f"{name}_rows": splits[name]["rows"] for name in layout.SPLITS},
        "test_rows_relevant": made["test_rows_relevant"],
        "train_users": splits["train"]["users"],
        "train_items": splits["train"]["items"],
    }
    history = {name: read_split(name, columns=["user_id", "item_id", "timestamp"]) for name in outputs}
    repeats = decide_repeats(prepare.repeat, repeat_share(history["train"]))
    windows = split_windows(protocol, prepare.split, history)
    write_json({"data_fingerprint": fingerprint, "split_fingerprint": split_fingerprint, "protocol": protocol,
                "counts": counts, "dropped": dropped, "windows": windows, "repeat": repeats.as_dict(),
                "splits": splits}, layout.PREPARE_REPORT)
    log.info("split %s on %s: train %d, valid %d, test %d rows; dropped %s", protocol, settings.engine,
             counts["train_rows"], counts["valid_rows"], counts["test_rows"], dropped)
    describe_windows(windows, repeats)
    window_metrics = {f"{name}_window_{key}": value for name, window in windows.items()
                      for key, value in window.items() if isinstance(value, (int, float))}
    log_stage_run("prepare", settings.experiment_name,
                  {"prepare": prepare.model_dump(), "engine": settings.engine, "split_protocol": protocol,
                   "repeats_included": repeats.include},
                  {**counts, **{f"dropped_{k}": v for k, v in dropped.items()}, "repeat_share": repeats.share,
                   **window_metrics},
                  {DATA_FINGERPRINT_TAG: fingerprint, SPLIT_FINGERPRINT_TAG: split_fingerprint})


def prepare_locally(prepare: PrepareSettings, outputs: dict, protocol: str) -> dict:
    """De-duplicate, k-core filter, split and write with pandas (the local engine)."""
    frame = pd.read_parquet(layout.INTERACTIONS)
    rows_in = len(frame)
    frame, duplicates = drop_exact_duplicates(frame)
    frame, k_core_dropped = k_core(frame, prepare.min_user_interactions, prepare.min_item_interactions)
    split = split_interactions(frame, prepare.split, protocol)
    split.test["relevant"] = relevant_mask(split.test, prepare.relevant_min_rating)
    for name, path in outputs.items():
        write_parquet(getattr(split, name), path)
    return {"rows_in": rows_in, "splits": {name: split_summary(getattr(split, name)) for name in outputs},
            "dropped": {"exact_duplicate": duplicates, "k_core": k_core_dropped},
            "test_rows_relevant": int(split.test["relevant"].sum())}


if __name__ == "__main__":
    run_stage("prepare", main)
