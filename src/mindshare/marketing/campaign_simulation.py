"""Simulated responses of a campaign's audience, so that campaign -> outcomes -> uplift model -> next campaign runs
end to end on a project's own people, with the truth known.

People react as in data/campaign_people.py, through what the project knows of them (the audience's people file:
the campaign score and the profile): the chance to buy without a message grows with the campaign score and with
activity; a message moves those with a high score who are not regulars (persuadables, up to +0.25) and puts off
the most active regulars with a low score (sleeping dogs, down to -0.15). Only treated people are sent the
message; everyone may convert. Seeded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mindshare.errors import MindshareError

ACTIVITY = "profile_user_n_interactions"
BASKET_VALUE = 30.0


def _standard(values: np.ndarray) -> np.ndarray:
    spread = values.std()
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def true_effects(people: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(chance to buy without the message, what the message changes) per audience member."""
    if ACTIVITY not in people:
        raise MindshareError(f"the audience's people file has no '{ACTIVITY}': run the features stage first")
    score = _standard(np.log1p(people["score"].to_numpy(dtype=np.float64)))
    activity = _standard(np.log1p(people[ACTIVITY].to_numpy(dtype=np.float64)))
    baseline = _sigmoid(-1.8 + 0.6 * score + 0.5 * activity)
    effect = 0.25 * _sigmoid(2 * score) * _sigmoid(-2 * activity) - 0.15 * _sigmoid(3 * (activity - 1)) * \
        _sigmoid(-2 * score)
    return baseline, np.clip(effect, -baseline, 1 - baseline)


def simulate_results(people: pd.DataFrame, seed: int) -> pd.DataFrame:
    """A results file of the audience as `mindshare outcomes` reads it (user ids as the audience has them, the
    pseudonyms), with each member's true effect beside it (`true_uplift`: never read by outcomes)."""
    rng = np.random.default_rng(seed)
    baseline, effect = true_effects(people)
    sent = (people["group"] == "treatment").to_numpy().astype(int)
    converted = (rng.random(len(people)) < baseline + sent * effect).astype(int)
    opened = sent * (rng.random(len(people)) < 0.4).astype(int)
    clicked = np.maximum(opened * (rng.random(len(people)) < 0.3), sent * converted).astype(int)
    return pd.DataFrame({"user_id": people["user_id"].to_numpy(), "sent": sent, "opened": np.maximum(opened, clicked),
                         "clicked": clicked, "converted": converted, "value": converted * BASKET_VALUE,
                         "true_uplift": effect})
