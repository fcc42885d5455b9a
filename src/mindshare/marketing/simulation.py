"""Simulated people for online experiments: held-out test interactions replayed as behaviour.

A visit is a test user (drawn with replacement, seeded) asking for recommendations. Of the items
shown, one the user interacted with in the test split is clicked with a position-biased probability
`click_probability / position ** position_decay` (the cascade-free examination model of Craswell et
al. 2008, "An experimental comparison of click position-bias models"); a click converts with
`conversion_probability`, worth the item's price where the catalogue has one, else 1. Other items are
never clicked, so a version that ranks the user's held-out items higher earns more clicks: the
offline-better version should win online.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Behaviour:
    click_probability: float = 0.6  # of a relevant item in the first place
    position_decay: float = 1.0
    conversion_probability: float = 0.3  # of a click


@dataclass(frozen=True)
class Reaction:
    item_id: str
    kind: str  # click | conversion
    value: float


class TestBehaviour:
    """The test split's users, what each of them will click, and the seeded draws."""

    def __init__(self, test: pd.DataFrame, seed: int, behaviour: Behaviour = Behaviour(),
                 prices: dict[str, float] | None = None):
        relevant = test[test["relevant"]] if "relevant" in test else test
        grouped = relevant.groupby("user_id")["item_id"].agg(lambda s: set(s.astype(str)))
        self.users = np.array(sorted(grouped.index), dtype=object)
        if not len(self.users):
            raise ValueError("the test split has no relevant interactions to replay")
        self.relevant = grouped.to_dict()
        self.behaviour, self.prices = behaviour, prices or {}
        self.rng = np.random.default_rng(seed)

    def next_user(self) -> str:
        return str(self.users[self.rng.integers(len(self.users))])

    def react(self, user: str, shown: list[str]) -> list[Reaction]:
        """Clicks and conversions of `user` on the items shown, in order."""
        mine = self.relevant.get(user, set())
        b = self.behaviour
        out = []
        for position, item in enumerate(shown, start=1):
            if item in mine and self.rng.random() < b.click_probability / position ** b.position_decay:
                out.append(Reaction(item, "click", 0.0))
                if self.rng.random() < b.conversion_probability:
                    out.append(Reaction(item, "conversion", float(self.prices.get(item, 1.0))))
        return out


@dataclass(frozen=True)
class SimulatedExperiment:
    decision: str  # better | worse | keep going (no verdict within the visits)
    users: int  # distinct users in the experiment when the verdict came (or at the end)
    visits: int


def simulate_experiment(production: dict[str, list[str]], challenger: dict[str, list[str]], people: TestBehaviour,
                        method: str, challenger_share: float, salt: str, metric: str, alpha: float, k: int,
                        max_visits: int, look_every: int) -> SimulatedExperiment:
    """An online experiment in one process: each visit routed as `mindshare serve` routes it (traffic.route),
    the person's reactions drawn, the sequential test read every `look_every` visits; stops at the first
    verdict. `production` and `challenger` map each test user to that version's ranked items."""
    from mindshare.marketing.online_outcomes import metric_values
    from mindshare.marketing.traffic import CHALLENGER_ARM, INTERLEAVED_ARM, PRODUCTION_ARM, route
    from mindshare.metrics.online import ArmTotals, preference_verdict, verdict

    index = {user: row for row, user in enumerate(people.users)}
    n = len(people.users)
    arm = np.full(n, "", dtype=object)
    answers, clicks, conversions, value = (np.zeros(n) for _ in range(4))
    credited = {PRODUCTION_ARM: np.zeros(n), CHALLENGER_ARM: np.zeros(n)}
    path: dict[str, list] = {"p_users": [], "p_total": [], "p_squares": [], "c_users": [], "c_total": [],
                             "c_squares": [], "wins": [], "losses": []}
    decision = "keep going"
    for visit in range(1, max_visits + 1):
        user = people.next_user()
        row = index[user]
        routed = route(user, f"{salt}-{visit}", k, method, challenger_share, salt,
                       lambda k_: production[user][:k_], lambda k_: challenger[user][:k_])
        arm[row] = routed.arm
        answers[row] += 1
        credit = dict(zip(routed.items, routed.credit))
        for reaction in people.react(user, routed.items):
            if reaction.kind == "click":
                clicks[row] += 1
                credited[credit[reaction.item_id]][row] += 1
            else:
                conversions[row] += 1
                value[row] += reaction.value
        if visit % look_every and visit != max_visits:
            continue
        if method == "ab":
            per_user = metric_values(metric, answers, clicks, conversions, value)
            for prefix, name in (("p", PRODUCTION_ARM), ("c", CHALLENGER_ARM)):
                mine = per_user[arm == name]
                path[f"{prefix}_users"].append(len(mine))
                path[f"{prefix}_total"].append(mine.sum())
                path[f"{prefix}_squares"].append(np.square(mine).sum())
            if min(path["p_users"][-1], path["c_users"][-1]) == 0:
                continue
            result = verdict(ArmTotals(*(np.array(path[f"p_{f}"], float) for f in ("users", "total", "squares"))),
                             ArmTotals(*(np.array(path[f"c_{f}"], float) for f in ("users", "total", "squares"))),
                             alpha)
        else:
            difference = (credited[CHALLENGER_ARM] - credited[PRODUCTION_ARM])[arm == INTERLEAVED_ARM]
            path["wins"].append(int((difference > 0).sum()))
            path["losses"].append(int((difference < 0).sum()))
            if path["wins"][-1] + path["losses"][-1] == 0:
                continue
            result = preference_verdict(np.array(path["wins"]), np.array(path["losses"]), alpha)
        if result.decision != "keep going":
            decision = result.decision
            break
    experiment_users = int((arm != "").sum()) if method == "ab" else int((arm == INTERLEAVED_ARM).sum())
    return SimulatedExperiment(decision, experiment_users, visit)
