"""features: user profiles, item features and user segments from the data the models are fitted on.

Reads train (+ valid when train.include_valid) and the items; writes data/features/users.parquet
(the profile), data/features/items.parquet, data/features/segments.parquet (user_id, segment),
reports/segments.csv (each segment's size, description in words and mean profile),
reports/plots/segments_{projection,silhouette}.png and reports/features.json; logs a run.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from mindshare.atomic_files import atomic_path, write_json, write_parquet
from mindshare.features.tables import build_profiles, settings_from_params
from mindshare.stages.ingest import ITEMS, USERS
from mindshare.stages.params import experiment_name, load_params
from mindshare.stages.prepare import REPORT as PREPARE_REPORT
from mindshare.stages.prepare import fit_frame
from mindshare.stages.runner import run_stage
from mindshare.tracking.runs import log_stage_run
from mindshare.tracking.store import DATA_FINGERPRINT_TAG

log = logging.getLogger(__name__)
FEATURES = Path("data/features")
USER_FEATURES = FEATURES / "users.parquet"
ITEM_FEATURES = FEATURES / "items.parquet"
SEGMENTS = FEATURES / "segments.parquet"
REPORT = Path("reports/features.json")
SEGMENT_SUMMARY = Path("reports/segments.csv")
PLOTS = Path("reports/plots")


def load_feature_tables() -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The tables the features stage wrote, indexed by id (None where absent)."""
    users = pd.read_parquet(USER_FEATURES).set_index("user_id") if USER_FEATURES.exists() else None
    items = pd.read_parquet(ITEM_FEATURES).set_index("item_id") if ITEM_FEATURES.exists() else None
    return users, items


def load_segments() -> pd.Series | None:
    """Segment per user_id from the features stage (None where it has not run)."""
    return pd.read_parquet(SEGMENTS).set_index("user_id")["segment"] if SEGMENTS.exists() else None


def main() -> None:
    params = load_params()
    settings, segment_settings = settings_from_params(params.get("features"))
    train = fit_frame(params["train"]["include_valid"])
    users, items, segmentation = build_profiles(train, pd.read_parquet(ITEMS), settings, segment_settings,
                                                pd.read_parquet(USERS) if USERS.exists() else None)
    write_parquet(users.reset_index(), USER_FEATURES)
    write_parquet(items.reset_index(), ITEM_FEATURES)
    write_parquet(segmentation.labels.reset_index(), SEGMENTS)
    with atomic_path(SEGMENT_SUMMARY) as tmp:
        segmentation.summary.to_csv(tmp, index=False)
    plot_segments(segmentation, PLOTS)
    counts = {"users": len(users), "items": len(items), "user_features": users.shape[1],
              "item_features": items.shape[1], "segments": segmentation.k,
              "silhouette": float(segmentation.silhouette["silhouette"].max())}
    write_json({**counts, "user_columns": list(users.columns), "item_columns": list(items.columns),
                "segment_descriptions": dict(zip(segmentation.summary["segment"].astype(str),
                                                 segmentation.summary["description"]))}, REPORT)
    log.info("features: %d users x %d, %d items x %d, %d segments", len(users), users.shape[1], len(items),
             items.shape[1], segmentation.k)
    for row in segmentation.summary.itertuples():
        log.info("segment %d: %d users (%.0f%%): %s", row.segment, row.users, 100 * row.share, row.description)
    fingerprint = json.loads(PREPARE_REPORT.read_text())["data_fingerprint"]
    log_stage_run("features", experiment_name(params),
                  {"features": settings.__dict__, "segments": segment_settings.__dict__}, counts,
                  {DATA_FINGERPRINT_TAG: fingerprint},
                  artifacts=[REPORT, SEGMENT_SUMMARY, PLOTS / "segments_projection.png", PLOTS / "segments_silhouette.png"])


def plot_segments(segmentation, folder: Path) -> None:
    """The silhouette curve over k and a 2-D projection (PCA) of the profiles coloured by segment."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    figure, axis = plt.subplots(figsize=(5, 3.2))
    axis.plot(segmentation.silhouette["k"], segmentation.silhouette["silhouette"], marker="o")
    axis.axvline(segmentation.k, color="grey", linestyle=":")
    axis.set(xlabel="k", ylabel="silhouette", title=f"k = {segmentation.k} by silhouette")
    figure.tight_layout()
    with atomic_path(folder / "segments_silhouette.png") as tmp:
        figure.savefig(tmp, format="png", dpi=90)
    plt.close(figure)
    figure, axis = plt.subplots(figsize=(6, 4.5))
    points = segmentation.projection
    for row in segmentation.summary.itertuples():
        mask = segmentation.labels.to_numpy() == row.segment
        axis.scatter(points[mask, 0], points[mask, 1], s=6, alpha=0.6, label=f"{row.segment}: {row.description}"[:60])
    axis.set(xlabel="PC 1", ylabel="PC 2", title="users by segment (PCA of the standardised profile)")
    axis.legend(fontsize=6, markerscale=2)
    figure.tight_layout()
    with atomic_path(folder / "segments_projection.png") as tmp:
        figure.savefig(tmp, format="png", dpi=90)
    plt.close(figure)


if __name__ == "__main__":
    run_stage("features", main)
