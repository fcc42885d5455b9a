"""Simulated people who react to a campaign differently, with the effect known, so that uplift targeting can be
checked against the truth.

Each person has what a shop knows before sending (the features): days since their last purchase, purchases and
average basket in the last year, tenure, their usual channel, whether they are new, the share of their purchases
made on a promotion, the share of the shop's e-mails they open, and the recommender's affinity for the campaign's
items. Their chance to buy in the campaign window without a message (`baseline`) grows with activity and affinity;
what a message changes (`effect`) depends on the features too:

- **persuadables**: people who read the shop's e-mails and buy on promotions, not yet sure to buy: up to +0.2;
- **sleeping dogs**: frequent buyers who ignore the shop's e-mails: a message puts them off (down to -0.1);
- **sure things**: likely buyers either way (high baseline, effect near 0);
- **lost causes**: unlikely buyers either way.

The effect is the conditional average treatment effect of people like them (a function of the features, what an
oracle knowing how people react would target by); each person's outcome is a draw, so no one's own effect is seen.
A randomised campaign sends to `treated_share` of them; `converted` is drawn from baseline (+ effect if sent) and
`spend` is the basket of those who converted. `baseline`, `true_uplift` and `segment` are the truth, never features.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

FEATURES = ["recency_days", "frequency", "avg_basket", "tenure_days", "channel", "newbie", "promo_share",
            "email_open_rate", "affinity"]
SEGMENTS = ("persuadable", "sleeping_dog", "sure_thing", "lost_cause")


@dataclass(frozen=True)
class CampaignPeople:
    n_people: int = 50_000
    treated_share: float = 0.5
    seed: int = 0


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def simulate_campaign(spec: CampaignPeople = CampaignPeople()) -> pd.DataFrame:
    """One randomised campaign: a row per person with the features, `treatment` (1 = sent), `converted`, `spend`
    and the truth (`baseline`, `true_uplift`, `segment`)."""
    rng = np.random.default_rng(spec.seed)
    n = spec.n_people
    frequency = rng.negative_binomial(1.2, 0.25, n)  # purchases in the last year: many 0-3, a long tail
    recency = np.where(frequency > 0, rng.exponential(365 / (frequency + 1.0)), 365 + rng.exponential(200, n))
    tenure = recency + rng.exponential(500, n)
    promo_share = rng.beta(1.5, 3.0, n)
    open_rate = rng.beta(1.2, 2.5, n)
    affinity = rng.beta(2.0, 5.0, n)
    channel = rng.choice(["web", "app", "store"], n, p=[0.5, 0.3, 0.2])
    avg_basket = rng.lognormal(3.5, 0.5, n)
    activity = np.log1p(frequency) - recency / 180.0
    baseline = _sigmoid(-2.6 + 0.9 * activity + 2.5 * affinity + 0.3 * (channel == "app"))
    engaged = _sigmoid(8 * (open_rate - 0.35))  # reads the shop's e-mails
    deal_seeker = _sigmoid(8 * (promo_share - 0.3))
    loyal = _sigmoid(2.5 * (np.log1p(frequency) - 1.8))
    effect = 0.2 * engaged * deal_seeker * (1 - baseline) - 0.12 * loyal * (1 - engaged)
    effect = np.clip(effect, -baseline, 1 - baseline)  # a probability stays a probability
    treatment = (rng.random(n) < spec.treated_share).astype(np.int8)
    converted = (rng.random(n) < baseline + treatment * effect).astype(np.int8)
    spend = np.round(converted * avg_basket * rng.lognormal(0.0, 0.3, n), 2)
    segment = np.select([effect > 0.03, effect < -0.03, baseline > 0.4], SEGMENTS[:3], SEGMENTS[3])
    return pd.DataFrame({
        "person_id": [f"p{i:07d}" for i in range(n)],
        "recency_days": np.round(recency, 1), "frequency": frequency, "avg_basket": np.round(avg_basket, 2),
        "tenure_days": np.round(tenure, 1), "channel": channel, "newbie": (tenure < 90).astype(np.int8),
        "promo_share": np.round(promo_share, 3), "email_open_rate": np.round(open_rate, 3),
        "affinity": np.round(affinity, 4), "treatment": treatment, "converted": converted, "spend": spend,
        "baseline": baseline, "true_uplift": effect, "segment": segment,
    })


def targeted_uplift(people: pd.DataFrame, chosen: np.ndarray) -> float:
    """The incremental conversions expected from sending to the `chosen` people (a boolean mask): the sum of
    their true effects."""
    return float(people["true_uplift"].to_numpy()[np.asarray(chosen, dtype=bool)].sum())


def top_share(scores: np.ndarray, share: float) -> np.ndarray:
    """A mask of the `share` of people with the highest scores (ties by position)."""
    scores = np.asarray(scores, dtype=np.float64)
    n = int(round(len(scores) * share))
    chosen = np.zeros(len(scores), dtype=bool)
    chosen[np.argsort(-scores, kind="stable")[:n]] = True
    return chosen


TRUTH_COLUMNS = ["person_id", "baseline", "true_uplift", "segment"]


def write_campaign(spec: CampaignPeople, out: str | Path) -> Path:
    """The campaign table at `out` (CSV, or Parquet by its suffix) without the truth, which goes to
    `<stem>_truth<suffix>` beside it (a truth column in the table would read as a feature); returns that path."""
    from mindshare.atomic_files import atomic_path

    out = Path(out)
    people = simulate_campaign(spec)
    truth = out.with_name(f"{out.stem}_truth{out.suffix}")
    out.parent.mkdir(parents=True, exist_ok=True)
    for path, table in ((out, people.drop(columns=TRUTH_COLUMNS[1:])), (truth, people[TRUTH_COLUMNS])):
        with atomic_path(path) as tmp:
            if path.suffix.lower() == ".parquet":
                table.to_parquet(tmp, index=False)
            else:
                table.to_csv(tmp, index=False)
    return truth
