"""features: user and item feature tables from the data the models are fitted on.

Reads train (+ valid when train.include_valid) and the items; writes data/features/users.parquet
and data/features/items.parquet (id column plus features) and reports/features.json; logs a run.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from mindshare.atomic_files import write_json, write_parquet
from mindshare.features.tables import FeatureSettings, build_feature_tables
from mindshare.stages.ingest import ITEMS
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
REPORT = Path("reports/features.json")


def load_feature_tables() -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The tables the features stage wrote, indexed by id (None where absent)."""
    users = pd.read_parquet(USER_FEATURES).set_index("user_id") if USER_FEATURES.exists() else None
    items = pd.read_parquet(ITEM_FEATURES).set_index("item_id") if ITEM_FEATURES.exists() else None
    return users, items


def main() -> None:
    params = load_params()
    settings = FeatureSettings(**(params.get("features") or {}))
    train = fit_frame(params["train"]["include_valid"])
    users, items = build_feature_tables(train, pd.read_parquet(ITEMS), settings)
    write_parquet(users.reset_index(), USER_FEATURES)
    write_parquet(items.reset_index(), ITEM_FEATURES)
    counts = {"users": len(users), "items": len(items), "user_features": users.shape[1],
              "item_features": items.shape[1]}
    write_json({**counts, "user_columns": list(users.columns), "item_columns": list(items.columns)}, REPORT)
    log.info("features: %d users x %d, %d items x %d", len(users), users.shape[1], len(items), items.shape[1])
    fingerprint = json.loads(PREPARE_REPORT.read_text())["data_fingerprint"]
    log_stage_run("features", experiment_name(params), {"features": settings.__dict__}, counts,
                  {DATA_FINGERPRINT_TAG: fingerprint}, artifacts=[REPORT])


if __name__ == "__main__":
    run_stage("features", main)
