"""features: user profiles, item features and user segments from the data the models are fitted on.

Reads train (+ valid when train.include_valid) and the items; writes data/features/users.parquet
(the profile), data/features/items.parquet, data/features/segments.parquet (user_id, segment),
reports/segments.csv (each segment's size, description in words and mean profile),
reports/plots/segments_{projection,silhouette}.png and reports/features.json; logs a run.
"""

from __future__ import annotations

import logging

import pandas as pd

from mindshare import layout
from mindshare.atomic_files import atomic_path, write_json, write_parquet
from mindshare.features.segment_plots import plot_segments
from mindshare.features.tables import build_profiles
from mindshare.project import outputs
from mindshare.project.params import load_settings
from mindshare.stages.runner import run_stage
from mindshare.tracking.runs import log_stage_run
from mindshare.tracking.store import DATA_FINGERPRINT_TAG

log = logging.getLogger(__name__)


def main() -> None:
    settings = load_settings()
    catalogue, demographics = pd.read_parquet(layout.ITEMS), outputs.users_table()
    if settings.engine == "spark":  # aggregates over the events and K-means on the session of params.yaml `spark`
        from mindshare.spark.features import profiles_on_spark, read_fit_frame

        train = read_fit_frame([layout.split_path(n) for n in ("train", "valid")[:1 + settings.train.include_valid]])
        users, items, segmentation = profiles_on_spark(train, catalogue, settings.features, demographics)
    else:
        train = outputs.fit_frame(settings.train.include_valid)
        users, items, segmentation = build_profiles(train, catalogue, settings.features, demographics)
    write_parquet(users.reset_index(), layout.USER_FEATURES)
    write_parquet(items.reset_index(), layout.ITEM_FEATURES)
    write_parquet(segmentation.labels.reset_index(), layout.SEGMENTS)
    with atomic_path(layout.SEGMENT_SUMMARY) as tmp:
        segmentation.summary.to_csv(tmp, index=False)
    plot_segments(segmentation, layout.PLOTS)
    counts = {"users": len(users), "items": len(items), "user_features": users.shape[1],
              "item_features": items.shape[1], "segments": segmentation.k,
              "silhouette": float(segmentation.silhouette["silhouette"].max())}
    write_json({**counts, "user_columns": list(users.columns), "item_columns": list(items.columns),
                "segment_descriptions": dict(zip(segmentation.summary["segment"].astype(str),
                                                 segmentation.summary["description"]))}, layout.FEATURES_REPORT)
    log.info("features: %d users x %d, %d items x %d, %d segments", len(users), users.shape[1], len(items),
             items.shape[1], segmentation.k)
    for row in segmentation.summary.itertuples():
        log.info("segment %d: %d users (%.0f%%): %s", row.segment, row.users, 100 * row.share, row.description)
    log_stage_run("features", settings.experiment_name, {"features": settings.features.model_dump()}, counts,
                  {DATA_FINGERPRINT_TAG: outputs.split_fingerprints()["data_fingerprint"]},
                  artifacts=[layout.FEATURES_REPORT, layout.SEGMENT_SUMMARY, *layout.SEGMENT_PLOTS])


if __name__ == "__main__":
    run_stage("features", main)
