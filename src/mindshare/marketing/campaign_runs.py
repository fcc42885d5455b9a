"""Running campaigns on a model: targets, exclusions (already interacted where seen items are excluded, opted
out, frequency cap), the audience under its budget with a seeded control group, reasons, and offline lift on the
test split. A replenishment campaign scores who is due to re-buy its items instead (replenishment.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from mindshare.data.interactions import Interactions
from mindshare.data.pseudonymise import load_project_key, pseudonymise
from mindshare.errors import MindshareError
from mindshare.marketing.audience import (
    CampaignScores,
    audience_table,
    choose_audience,
    offline_lift,
    reasons,
    score_campaigns,
)
from mindshare.marketing.campaigns import Campaign, check_campaigns, target_mask
from mindshare.marketing.replenishment import replenishment_scores
from mindshare.marketing.uplift_targeting import expected_incremental, predicted_uplift, priority
from mindshare.models.base import Recommender
from mindshare.settings import AudienceSettings

log = logging.getLogger(__name__)


def suppressed_users(path: str | None, user_ids: np.ndarray) -> np.ndarray:
    """Users on the opt-out list (raw ids, one per line or a user_id column), as a mask over `user_ids`."""
    if not path:
        return np.zeros(len(user_ids), dtype=bool)
    file = Path(path)
    if not file.exists():
        raise MindshareError(f"{file}: suppression list not found (params.yaml audience.suppression_path)")
    lines = [line.strip() for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    raw = lines[1:] if lines and lines[0] == "user_id" else lines
    hashed = set(pseudonymise(raw, load_project_key()))
    return np.isin(user_ids, list(hashed))


def run_campaign(
    model: Recommender,
    campaign: Campaign,
    items: pd.DataFrame,
    test: pd.DataFrame,
    settings: AudienceSettings,
    suppressed: np.ndarray,
    times_targeted: np.ndarray,
    targets: np.ndarray,
    scores: CampaignScores,
    exclude_interacted: bool = True,
    uplift_model=None,
    profiles: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict]:
    """The audience table and the summary row of one campaign, from its target items (a mask over the catalogue)
    and the users' scores for them (updates `times_targeted`); users who had a target item are left out where
    `exclude_interacted`. A campaign targeted by uplift ranks by its `uplift_model`'s predictions (by score until
    it has one) with `profiles` (the features stage's user table)."""
    train = model.train_
    binary = train.binary()
    interacted = np.asarray(binary[:, targets].sum(axis=1)).ravel() > 0
    interacted &= exclude_interacted
    uplift = None
    if campaign.target != "score" and uplift_model is not None:
        uplift = predicted_uplift(campaign, uplift_model, scores.score, profiles, train.user_ids)
    audience = choose_audience(
        campaign, scores, interacted, suppressed, times_targeted, settings.frequency_cap, settings.seed,
        None if uplift is None else priority(campaign, uplift),
    )
    times_targeted[audience.users] += 1
    anchors = scores.top_targets[audience.users, 0]
    table = audience_table(
        train, audience, scores, items.set_index("item_id")["title"], reasons(train, audience.users, anchors)
    )
    test_users, test_items = train.user_index(test["user_id"]), train.item_index(test["item_id"])
    known = (test_users >= 0) & (test_items >= 0)
    hits = np.zeros(train.n_users, dtype=bool)
    hits[test_users[known][targets[test_items[known]]]] = True
    lift = offline_lift(audience, hits, np.diff(binary.indptr))
    row = {
        "campaign": campaign.name,
        "channel": campaign.channel,
        "targeted_by": campaign.target if uplift is not None or campaign.target == "score"
        else "score (no uplift model yet: record its outcomes, then dvc repro)",
        "target_items": int(targets.sum()),
        **audience.counts,
        **{k: round(v, 6) for k, v in lift.items()},
    }
    if uplift is not None:
        sent = audience.users[~audience.control]
        row.update(expected_incremental(uplift, sent, audience.eligible & (scores.score > 0), scores.score,
                                        getattr(uplift_model, "calibration_", None)))
    return table, row


def single_campaign(
    model: Recommender,
    campaigns: list[Campaign],
    campaign_name: str,
    budget: int | None,
    settings: AudienceSettings,
    items: pd.DataFrame,
    test: pd.DataFrame,
    exclude_seen: bool = True,
    history: Interactions | None = None,
    uplift_models: dict | None = None,
    profiles: pd.DataFrame | None = None,
) -> tuple[Campaign, pd.DataFrame, dict]:
    """One campaign's audience from a given model (the CLI's and the web app's `@production`), alone:
    no frequency cap across campaigns; `exclude_seen` and `history` as `all_campaigns` takes them. Unknown
    campaign or budget < 1: one-line error."""
    runnable, skipped = check_campaigns(campaigns, items)
    by_name = {c.name: c for c in runnable}
    if campaign_name in skipped:
        raise MindshareError(f"campaign '{campaign_name}' does not apply to this data: {skipped[campaign_name]}")
    if campaign_name not in by_name:
        raise MindshareError(f"campaign '{campaign_name}' is not in params.yaml; known: {', '.join(by_name) or 'none'}")
    campaign = by_name[campaign_name]
    if budget is not None:
        if budget < 1:
            raise MindshareError(f"budget is {budget}; give a whole number of users >= 1")
        campaign = campaign.model_copy(update={"budget": budget})
    targets = target_mask(campaign, model.train_.item_ids, items)
    (scores,) = campaign_scores(model, [campaign], [targets], settings, exclude_seen, history)
    table, row = run_campaign(model, campaign, items, test, settings,
                              suppressed_users(settings.suppression_path, model.train_.user_ids),
                              np.zeros(model.train_.n_users, dtype=np.int64), targets, scores,
                              exclude_seen and campaign.kind != "replenish", (uplift_models or {}).get(campaign.name),
                              profiles)
    return campaign, table, row


def campaign_scores(model: Recommender, campaigns: list[Campaign], targets: list[np.ndarray],
                    settings: AudienceSettings, exclude_seen: bool, history: Interactions | None
                    ) -> list[CampaignScores]:
    """Every campaign's scores: from the model's lists (one ranking of each user for all of them), or who is due
    to re-buy for a replenishment campaign (from `history`, the fit data with its event log)."""
    ranked = [t for c, t in zip(campaigns, targets) if c.kind != "replenish"]
    by_lists = iter(score_campaigns(model, ranked, settings.pool, settings.activity_weight, exclude_seen))
    out = []
    for campaign, target in zip(campaigns, targets):
        if campaign.kind != "replenish":
            out.append(next(by_lists))
        elif history is None:
            raise MindshareError(f"campaign '{campaign.name}' (kind: replenish) needs the fit data's events; "
                                 "run it in the project folder after `dvc repro`")
        else:
            out.append(replenishment_scores(history, model.train_, target))
    return out


def all_campaigns(
    model: Recommender, campaigns: list[Campaign], items: pd.DataFrame, test: pd.DataFrame, settings: AudienceSettings,
    exclude_seen: bool = True,
    history: Interactions | None = None,
    uplift_models: dict | None = None,
    profiles: pd.DataFrame | None = None,
) -> list[tuple[Campaign, pd.DataFrame, dict]]:
    """Every campaign (checked by `check_campaigns`) in order, the frequency cap counting a user's
    audiences across them: (campaign, audience table, summary row) each; the campaigns' items a user had are
    scored too (and such users are not left out) where `exclude_seen` is False (the repeat policy). A
    replenishment campaign needs `history`, the fit data with its event log."""
    suppressed = suppressed_users(settings.suppression_path, model.train_.user_ids)
    times_targeted = np.zeros(model.train_.n_users, dtype=np.int64)
    targets = [target_mask(campaign, model.train_.item_ids, items) for campaign in campaigns]
    scores = campaign_scores(model, campaigns, targets, settings, exclude_seen, history)
    out = []
    for campaign, target, score in zip(campaigns, targets, scores):
        table, row = run_campaign(model, campaign, items, test, settings, suppressed, times_targeted, target, score,
                                  exclude_seen and campaign.kind != "replenish",
                                  (uplift_models or {}).get(campaign.name), profiles)
        log.info(
            "%s: %d users (%d control) of %d candidates; lift vs random %.2f, vs most active %.2f",
            campaign.name,
            row["audience"],
            row["control"],
            row["candidates"],
            row["lift_vs_random"],
            row["lift_vs_active"],
        )
        out.append((campaign, table, row))
    return out
