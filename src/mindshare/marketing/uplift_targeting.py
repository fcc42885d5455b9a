"""Targeting a campaign by uplift: each candidate's predicted effect of the message from the campaign's uplift
model (the uplift stage's, learned from its earlier results), with the features it learned from: the campaign's
score and the user profile as they are now. What the chosen audience is expected to bring is compared with a
random audience and with score targeting of the same size, by the same predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mindshare.errors import MindshareError
from mindshare.marketing.campaigns import Campaign
from mindshare.uplift.campaign import PROFILE_PREFIX, measured_outcomes


def predicted_uplift(campaign: Campaign, learner, score: np.ndarray, profiles: pd.DataFrame | None,
                     user_ids: np.ndarray) -> np.ndarray:
    """Each user's predicted effect of the campaign's message (on the learner's outcome scale)."""
    features = pd.DataFrame({"score": score}, index=pd.Index(user_ids, name="user_id"))
    if profiles is not None:
        numeric = profiles.select_dtypes(include="number")
        features = features.join(numeric.rename(columns={c: f"{PROFILE_PREFIX}{c}" for c in numeric.columns}))
    missing = [c for c in learner.features_ if c not in features.columns]
    if missing:
        raise MindshareError(f"campaign '{campaign.name}': its uplift model learned from '{missing[0]}', which the "
                             "user profiles no longer have; record new outcomes and run `dvc repro`")
    return learner.predict(features[learner.features_].astype(np.float64).reset_index(drop=True))


def priority(campaign: Campaign, uplift: np.ndarray) -> np.ndarray:
    """What the campaign ranks by: the uplift itself, or its incremental value net of the contact's cost."""
    if campaign.target == "incremental_value":
        return uplift * campaign.value_per_conversion - campaign.cost_per_contact
    return uplift


def expected_incremental(uplift: np.ndarray, sent: np.ndarray, candidates: np.ndarray, score: np.ndarray,
                         calibrated: dict | None = None) -> dict:
    """Predicted incremental outcomes of sending to `sent` (user indices), of as many random candidates, and of as
    many candidates with the highest score; with the model's `calibrated` tenths (uplift/campaign.py), also as they
    measured it on held-out people, with 95% intervals (`_measured`, `_low`, `_high`)."""
    n = len(sent)
    pool = np.flatnonzero(candidates)
    by_score = pool[np.lexsort((pool, -score[pool]))][:n]
    out = {"expected_incremental": float(uplift[sent].sum()),
           "expected_incremental_random": float(uplift[pool].mean() * n) if len(pool) else 0.0,
           "expected_incremental_by_score": float(uplift[by_score].sum())}
    if calibrated is not None:
        random = np.random.default_rng(0).choice(pool, size=min(n, len(pool)), replace=False)
        for name, people in (("", sent), ("_random", random), ("_by_score", by_score)):
            estimate, low, high = measured_outcomes(calibrated, uplift[people])
            out.update({f"measured_incremental{name}": estimate, f"measured_incremental{name}_low": low,
                        f"measured_incremental{name}_high": high})
    return out


def load_uplift_models(campaigns: list[Campaign]) -> dict:
    """The uplift stage's model of each campaign targeted by uplift that has one (data/uplift/<campaign>.pkl), its
    calibration beside it as the learner's `calibration_`."""
    import json
    import pickle

    from mindshare import layout

    models = {}
    for campaign in campaigns:
        path = layout.uplift_model_file(campaign.name)
        if campaign.target != "score" and path.exists():
            with open(path, "rb") as file:
                models[campaign.name] = pickle.load(file)
            calibrated = path.with_suffix(".calibration.json")
            models[campaign.name].calibration_ = json.loads(calibrated.read_text()) if calibrated.exists() else None
    return models
