"""`mindshare bench online`: the online experiment's statistics on simulated people (marketing/simulation.py).

Two families are fitted on a 75/25 per-user split; their top-k lists for the test users are the two
versions; visits are test users whose held-out items are clicked with a position bias. Reported:
- A/A: the same version in both arms, `runs` seeded experiments (salt and behaviour seed differ) of at
  most `visits` visits each, looked at every `look_every` visits: the share that declares a winner
  (the always-valid test promises at most alpha);
- the pair (production = the first family, challenger = the second) by A/B and by interleaving, each
  over `pair_runs` seeds: how often and after how many users and visits each reaches its verdict.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from mindshare.bench import RANKING_MODELS
from mindshare.data.interactions import Interactions
from mindshare.data.split import split_random_per_user
from mindshare.marketing.simulation import Behaviour, TestBehaviour, simulate_experiment
from mindshare.models import make_model

K = 10


def top_lists(model, train: Interactions, users: np.ndarray, k: int = K) -> dict[str, list[str]]:
    """Each test user's top-k item ids (seen items excluded), in one batch."""
    items, _ = model.recommend(train.user_index(users), k=k)
    ids = train.item_ids
    return {user: [ids[i] for i in row if i >= 0] for user, row in zip(users, items)}


def run_online_bench(frame: pd.DataFrame, pair: tuple[str, str], runs: int, pair_runs: int, visits: int,
                     look_every: int, share: float, metric: str, alpha: float, seed: int,
                     progress: Callable[[str], None] = lambda text: None) -> dict:
    split = split_random_per_user(frame, 0.25, 0.0, seed)
    train = Interactions.from_frame(split.train)
    test = split.test[split.test["user_id"].isin(set(train.user_ids))]
    users = np.array(sorted(test["user_id"].astype(str).unique()), dtype=object)
    lists = {}
    for family in dict.fromkeys(pair):
        lists[family] = top_lists(make_model(family, RANKING_MODELS[family]).fit(train), train, users)
        progress(f"fitted {family}")
    production, challenger = lists[pair[0]], lists[pair[1]]

    def experiment(method: str, run: int, prod: dict, chall: dict):
        people = TestBehaviour(test, seed=seed * 100_000 + run, behaviour=Behaviour())
        return simulate_experiment(prod, chall, people, method, share, f"bench-{method}-{run}", metric, alpha, K,
                                   visits, look_every)

    aa = [experiment("ab", run, production, production) for run in range(runs)]
    progress(f"A/A: {runs} runs")
    out = {"pair": list(pair), "metric": metric, "alpha": alpha, "share": share, "visits": visits,
           "look_every": look_every, "test_users": len(users),
           "aa": {"runs": runs, "winner_declared": sum(r.decision != "keep going" for r in aa),
                  "false_verdict_rate": float(np.mean([r.decision != "keep going" for r in aa]))}}
    for method in ("ab", "interleaving"):
        results = [experiment(method, 1000 + run, production, challenger) for run in range(pair_runs)]
        decided = [r for r in results if r.decision != "keep going"]
        out[method] = {
            "runs": pair_runs,
            "better": sum(r.decision == "better" for r in results),
            "worse": sum(r.decision == "worse" for r in results),
            "median_users_to_verdict": float(np.median([r.users for r in decided])) if decided else None,
            "median_visits_to_verdict": float(np.median([r.visits for r in decided])) if decided else None,
        }
        progress(f"{method}: {pair_runs} runs")
    return out


def format_online(result: dict) -> str:
    aa = result["aa"]
    lines = [f"A/A ({result['pair'][0]} in both arms, {aa['runs']} seeded runs of up to {result['visits']} visits, "
             f"a look every {result['look_every']}): a winner declared in {aa['winner_declared']} "
             f"({aa['false_verdict_rate']:.1%}; the test promises at most {result['alpha']:.0%})"]
    for method in ("ab", "interleaving"):
        r = result[method]
        lines.append(f"{method:<12} {result['pair'][1]} vs {result['pair'][0]} ({result['metric']}): better in "
                     f"{r['better']}/{r['runs']}, worse in {r['worse']}; median users to verdict "
                     f"{r['median_users_to_verdict']}, median visits {r['median_visits_to_verdict']}")
    return "\n".join(lines)
