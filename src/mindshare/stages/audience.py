"""audience: campaign audiences, messages and offline lift from the model that `register` chose.

Reads reports/registry.json (the challenger's family) and models/<family>/model.pkl, the items and
the test split. Writes data/recommendations.parquet (top-N for every user), data/audiences/<campaign>.csv (and
<campaign>.people.parquet: its members' group, score and profile as they are now, for uplift learning),
data/messages/<campaign>.jsonl (pseudonymised ids only), reports/campaigns.csv (one row per
campaign: counts by reason, lift) and reports/audience.json; logs a run. Campaigns are processed
in params order; the frequency cap counts a user's audiences across them.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from mindshare import layout
from mindshare.atomic_files import atomic_path, replace_folder, write_json, write_parquet
from mindshare.marketing.campaign_results import people_at_send
from mindshare.marketing.campaign_runs import all_campaigns
from mindshare.marketing.campaigns import check_campaigns
from mindshare.marketing.messages import audience_csv, messages
from mindshare.marketing.recommendations import top_n_table
from mindshare.marketing.uplift_targeting import load_uplift_models
from mindshare.models.base import Recommender
from mindshare.models.cold_start import ColdStartPolicy
from mindshare.project import outputs
from mindshare.project.params import load_settings
from mindshare.stages.runner import run_stage
from mindshare.tracking.runs import log_stage_run
from mindshare.tracking.store import DATA_FINGERPRINT_TAG, FAMILY_TAG


def main() -> None:
    settings = load_settings()
    items, users = pd.read_parquet(layout.ITEMS), outputs.users_table()
    campaigns, skipped = check_campaigns(settings.campaigns, items)  # before anything is read or written
    registry = outputs.read_json(layout.REGISTRY_REPORT)
    family = registry["challenger_family"]
    model = outputs.ranked_by_engine(settings, Recommender.load(layout.model_file(family)), layout.model_file(family))
    repeats = outputs.repeat_decision()
    policy = ColdStartPolicy(model.train_, outputs.cold_start_settings(settings, family), users, items,
                             repeats.exclude_seen)
    write_parquet(top_n_table(model, policy, items, settings.audience.top_n), layout.RECOMMENDATIONS)
    names = users.set_index("user_id")["display_name"] if users is not None and "display_name" in users else None
    profiles, _ = outputs.feature_tables()
    runs = all_campaigns(model, campaigns, items, pd.read_parquet(layout.split_path("test")),
                         settings.audience, repeats.exclude_seen, outputs.campaign_history(settings, campaigns),
                         load_uplift_models(campaigns), profiles)
    replace_folder(layout.AUDIENCES, {
        **{f"{c.name}.csv": audience_csv(table) for c, table, _ in runs},
        **{layout.audience_people_file(c.name).name: people_at_send(table, profiles).to_parquet(index=False)
           for c, table, _ in runs}})
    replace_folder(layout.MESSAGES, {f"{c.name}.jsonl": "".join(json.dumps(m) + "\n" for m in messages(c, table, names))
                                     for c, table, _ in runs})
    rows = [row for _, _, row in runs]
    with atomic_path(layout.CAMPAIGN_SUMMARY) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    write_json({"model_family": family, "model_version": registry.get("challenger"),
                "campaigns": {r["campaign"]: {k: v for k, v in r.items() if k not in ("campaign", "channel")}
                              for r in rows}, "skipped_campaigns": skipped}, layout.AUDIENCE_REPORT)
    metrics = {f"{r['campaign']}.{key}": float(r[key]) for r in rows
               for key in ("audience", "control", "candidates", "audience_hit_rate", "lift_vs_random", "lift_vs_active")
               if np.isfinite(r[key])}
    log_stage_run(
        "audience",
        settings.experiment_name,
        {"audience": settings.audience.model_dump(), "campaigns": [c.model_dump() for c in settings.campaigns]},
        metrics,
        {DATA_FINGERPRINT_TAG: outputs.split_fingerprints()["data_fingerprint"], FAMILY_TAG: family},
        artifacts=[
            layout.CAMPAIGN_SUMMARY,
            layout.AUDIENCE_REPORT,
            *(layout.audience_file(c.name) for c, _, _ in runs),
        ],
    )


if __name__ == "__main__":
    run_stage("audience", main)
