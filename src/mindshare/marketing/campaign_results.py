"""What a campaign taught: each audience member's group, outcomes and what was known of them when it was sent.

The audience stage keeps, beside each campaign's audience, its members as they were when the audience was made
(`layout.audience_people_file`: group, the campaign's score and the user profile of the features stage).
`mindshare outcomes` joins a results file to it and stores one row per member who has a result
(`layout.campaign_results_file`): the randomised treatment and control groups are the data uplift models learn
from (who buys *because* of the message), with the features as they were at send time, never later ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mindshare import layout
from mindshare.atomic_files import write_parquet
from mindshare.uplift.campaign import PROFILE_PREFIX

OUTCOME_FIELDS = ("sent", "opened", "clicked", "converted", "value")


def people_at_send(audience: pd.DataFrame, profiles: pd.DataFrame | None) -> pd.DataFrame:
    """The audience's members (user_id, group, score) with their numeric profile columns, prefixed `profile_`."""
    people = audience[["user_id", "group", "score"]].reset_index(drop=True)
    if profiles is None or profiles.empty:
        return people
    numeric = profiles.select_dtypes(include="number")
    numeric = numeric.rename(columns={c: f"{PROFILE_PREFIX}{c}" for c in numeric.columns})
    return people.join(numeric, on="user_id")


def results_with_features(joined: pd.DataFrame, people: pd.DataFrame) -> pd.DataFrame:
    """One row per member with a result: user_id, group, treated (1/0), the outcome fields, then the features."""
    outcomes = joined[["user_id", *[f for f in OUTCOME_FIELDS if f in joined.columns]]]
    out = people.merge(outcomes, on="user_id", how="inner")
    if "value" not in out:
        out["value"] = 0.0
    out.insert(2, "treated", (out["group"] == "treatment").astype(np.int8))
    return out


def record_results(campaign: str, table: pd.DataFrame) -> None:
    write_parquet(table, layout.campaign_results_file(campaign))
