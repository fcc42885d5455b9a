"""Who gets a campaign: every user scored for the campaign's items by one model, the best within
budget after exclusions, a random control group, a reason per person, and offline lift.

Audience score = affinity x activity ** `activity_weight`. Affinity: the campaign's items in the
user's own top-`pool` list, each worth its rank discount 1 / log2(rank + 1) (a DCG of the campaign
in the user's ranking); it needs nothing but the model contract's `recommend`, so it means the same
for every family and is comparable across users. Activity (training interactions) stands for how
much the user will do at all in the campaign's period: affinity says what, activity how likely at
all (weight 1: expected engagement proportional to past volume; 0: affinity alone).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mindshare.data.interactions import Interactions
from mindshare.marketing.campaigns import Campaign
from mindshare.models.base import Recommender

USER_BLOCK = 20_000
TOP_TARGETS = 3


@dataclass
class CampaignScores:
    score: np.ndarray  # per user index
    top_targets: np.ndarray  # (users, TOP_TARGETS) the user's best-ranked target items, -1 padded


def score_campaigns(model: Recommender, targets: list[np.ndarray], pool: int,
                    activity_weight: float = 1.0, exclude_seen: bool = True) -> list[CampaignScores]:
    """Score every training user for each campaign's target items (boolean masks over the catalogue), all from
    one top-`pool` list per user: the model ranks each user once however many campaigns there are. Items the
    user had count too where `exclude_seen` is False (the repeat policy includes re-purchases)."""
    if not targets:
        return []
    n_users = model.train_.n_users
    activity = np.diff(model.train_.matrix.indptr).astype(np.float64) ** activity_weight
    out = [CampaignScores(np.zeros(n_users), np.full((n_users, TOP_TARGETS), -1, dtype=np.int64)) for _ in targets]
    discounts = 1.0 / np.log2(np.arange(2, pool + 2))
    for start in range(0, n_users, USER_BLOCK):
        users = np.arange(start, min(start + USER_BLOCK, n_users))
        items, _ = model.recommend(users, k=pool, exclude_seen=exclude_seen)
        for target, scores in zip(targets, out):
            hit = (items >= 0) & target[np.maximum(items, 0)]
            scores.score[users] = (hit @ discounts) * activity[users]
            # the first TOP_TARGETS hits per row, in rank order
            order = np.argsort(~hit, axis=1, kind="stable")[:, :TOP_TARGETS]
            picked = np.take_along_axis(items, order, axis=1)
            scores.top_targets[users] = np.where(np.take_along_axis(hit, order, axis=1), picked, -1)
    return out


@dataclass
class Audience:
    users: np.ndarray  # chosen user indices, best first
    scores: np.ndarray
    control: np.ndarray  # bool per chosen user: held out
    eligible: np.ndarray  # bool per user: in the pool the audience was chosen from (for lift)
    counts: dict[str, int]
    priority: np.ndarray | None = None  # per chosen user, where targeting was by it: predicted uplift or value


def choose_audience(campaign: Campaign, scores: CampaignScores, interacted: np.ndarray, suppressed: np.ndarray,
                    times_targeted: np.ndarray, frequency_cap: int, seed: int,
                    priority: np.ndarray | None = None) -> Audience:
    """The top users by score within budget, or by `priority` (per user: predicted uplift or incremental value)
    where given, then only those above 0 (a message expected to put someone off is not sent); every excluded user
    counted by reason."""
    eligible = ~interacted & ~suppressed
    capped = eligible & (times_targeted >= frequency_cap)
    scored = scores.score > 0
    candidates = eligible & ~capped & scored & (scores.score >= campaign.min_score)
    no_effect = candidates & (priority <= 0) if priority is not None else np.zeros_like(candidates)
    candidates &= ~no_effect
    index = np.flatnonzero(candidates)
    order = np.lexsort((index, -(scores.score if priority is None else priority)[index]))
    chosen = index[order][: campaign.budget]
    rng = np.random.default_rng(seed)
    control = np.zeros(len(chosen), dtype=bool)
    control[rng.choice(len(chosen), size=int(round(campaign.control_share * len(chosen))), replace=False)] = True
    counts = {
        "users": int(len(interacted)),
        "excluded_already_interacted": int(interacted.sum()),
        "excluded_suppressed": int((suppressed & ~interacted).sum()),
        "excluded_frequency_cap": int(capped.sum()),
        "not_recommended": int((eligible & ~capped & ~scored).sum()),
        "below_min_score": int((eligible & ~capped & scored & (scores.score < campaign.min_score)).sum()),
        "no_expected_effect": int(no_effect.sum()),
        "candidates": int(candidates.sum()),
        "audience": int(len(chosen)),
        "treatment": int((~control).sum()),
        "control": int(control.sum()),
    }
    return Audience(chosen, scores.score[chosen], control, eligible & ~capped, counts,
                    None if priority is None else priority[chosen])


def reasons(train: Interactions, users: np.ndarray, anchors: np.ndarray, n: int = 2) -> list[np.ndarray]:
    """For each user, the `n` items of their history most similar (cosine over users) to their anchor item."""
    rows = train.binary()
    norms = np.sqrt(np.asarray(rows.sum(axis=0)).ravel())  # binary: the squares are the values
    normalised = (rows @ sp.diags(1.0 / np.maximum(norms, 1e-12))).tocsc()
    out: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * len(users)
    for anchor in np.unique(anchors[anchors >= 0]):
        similarity = np.asarray((normalised.T @ normalised[:, anchor]).todense()).ravel()
        for position in np.flatnonzero(anchors == anchor):
            history = rows.indices[rows.indptr[users[position]]:rows.indptr[users[position] + 1]]
            best = history[np.argsort(-similarity[history], kind="stable")[:n]]
            out[position] = best
    return out


def offline_lift(audience: Audience, hits: np.ndarray, activity: np.ndarray) -> dict[str, float]:
    """Hit rate on the campaign's items in the test split: the audience against a random audience of the
    same size from the same pool (its expected rate: the pool's) and against the pool's most active users."""
    size = len(audience.users)
    pool = np.flatnonzero(audience.eligible)
    out = {"audience_hit_rate": float(hits[audience.users].mean()) if size else 0.0,
           "random_hit_rate": float(hits[pool].mean()) if len(pool) else 0.0}
    active = pool[np.lexsort((pool, -activity[pool]))][:size]
    out["active_hit_rate"] = float(hits[active].mean()) if size else 0.0
    out["lift_vs_random"] = _ratio(out["audience_hit_rate"], out["random_hit_rate"])
    out["lift_vs_active"] = _ratio(out["audience_hit_rate"], out["active_hit_rate"])
    return out


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b > 0 else (float("inf") if a > 0 else float("nan"))


def audience_table(train: Interactions, audience: Audience, scores: CampaignScores, titles: pd.Series,
                   reason_items: list[np.ndarray]) -> pd.DataFrame:
    """One row per chosen user: pseudonymised id, score, group, top target items, reason."""
    def names(indices) -> list[str]:
        return [str(titles.get(train.item_ids[i], train.item_ids[i])) for i in indices if i >= 0]

    liked = [names(r) for r in reason_items]
    return pd.DataFrame({
        "user_id": train.user_ids[audience.users],
        "score": np.round(audience.scores, 6),
        "group": np.where(audience.control, "control", "treatment"),
        "top_item_ids": [[str(train.item_ids[i]) for i in row if i >= 0] for row in scores.top_targets[audience.users]],
        "top_items": [names(row) for row in scores.top_targets[audience.users]],
        "reason_items": liked,
        "reason": ["because you liked " + " and ".join(items) if items else "popular with people like you"
                   for items in liked],
        **({} if audience.priority is None else {"priority": np.round(audience.priority, 6)}),
    })
