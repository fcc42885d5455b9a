"""Who sees which version in an online experiment: a sticky salted-hash split (A/B) and team-draft
interleaving of two versions' lists in one answer.

- A/B: a pseudonym's draw is the first 8 bytes of HMAC-SHA256(salt, pseudonym) read as a fraction of
  2**64; the user is on the challenger when the draw is below `challenger_share`. The same user gets
  the same arm on every request and after a restart; raising the share only moves production users
  to the challenger, never back; a new salt re-draws everyone.
- Interleaving: the same draw decides whose answers are interleaved (a share of users, so that a
  person's experience is consistent). Team draft (Radlinski, Kurup & Joachims, "How does
  clickthrough data reflect retrieval quality?", CIKM 2008): in each round a coin decides which
  version picks first; each picks its highest-ranked item not yet shown; every item is credited to
  the version that picked it. The coin is seeded by the request id, so an answer can be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

PRODUCTION_ARM = "production"
CHALLENGER_ARM = "challenger"
INTERLEAVED_ARM = "interleaved"  # an answer both versions placed items in
_SCALE = float(2**64)


def assignment_draw(pseudonym: str, salt: str) -> float:
    """The user's fixed draw in [0, 1) under `salt`."""
    digest = hmac.new(salt.encode(), pseudonym.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def arm_of(pseudonym: str, salt: str, challenger_share: float) -> str:
    """`challenger` for a `challenger_share` of users (sticky under the salt), else `production`."""
    if challenger_share <= 0:
        return PRODUCTION_ARM
    return CHALLENGER_ARM if assignment_draw(pseudonym, salt) < challenger_share else PRODUCTION_ARM


@dataclass(frozen=True)
class Interleaved:
    items: list[str]
    credit: list[str]  # per item: the arm whose version placed it


def team_draft(production: list[str], challenger: list[str], k: int, seed: int) -> Interleaved:
    """Team-draft interleaving of two ranked lists into at most `k` items (see the module's docstring)."""
    rng = np.random.default_rng(seed)
    lists = {PRODUCTION_ARM: list(production), CHALLENGER_ARM: list(challenger)}
    next_place = {PRODUCTION_ARM: 0, CHALLENGER_ARM: 0}
    items: list[str] = []
    credit: list[str] = []
    shown: set[str] = set()

    def pick(arm: str) -> bool:
        ranked = lists[arm]
        while next_place[arm] < len(ranked) and ranked[next_place[arm]] in shown:
            next_place[arm] += 1
        if next_place[arm] >= len(ranked):
            return False
        item = ranked[next_place[arm]]
        items.append(item)
        credit.append(arm)
        shown.add(item)
        return True

    while len(items) < k:
        order = (PRODUCTION_ARM, CHALLENGER_ARM) if rng.random() < 0.5 else (CHALLENGER_ARM, PRODUCTION_ARM)
        progressed = False
        for arm in order:
            if len(items) < k and pick(arm):
                progressed = True
        if not progressed:
            break
    return Interleaved(items, credit)


def request_seed(request_id: str) -> int:
    """A 63-bit seed from a request id (hex or any text), for the interleaving coin."""
    return int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:8], "big") >> 1


@dataclass(frozen=True)
class Routed:
    """One answer of an experiment: the items shown, the arm the user is on, and per item the arm whose
    version placed it."""

    items: list[str]
    arm: str
    credit: list[str]


def route(pseudonym: str, request_id: str, k: int, method: str, challenger_share: float, salt: str,
          production: Callable[[int], list[str]], challenger: Callable[[int], list[str]] | None) -> Routed:
    """Which version answers this user (or how both are interleaved). `production(k)` and `challenger(k)`
    give each version's ranked item ids for the user; without a challenger everything is production's."""
    if challenger is None or arm_of(pseudonym, salt, challenger_share) == PRODUCTION_ARM:
        items = production(k)
        return Routed(items, PRODUCTION_ARM, [PRODUCTION_ARM] * len(items))
    if method == "ab":
        items = challenger(k)
        return Routed(items, CHALLENGER_ARM, [CHALLENGER_ARM] * len(items))
    mixed = team_draft(production(k), challenger(k), k, request_seed(request_id))
    return Routed(mixed.items, INTERLEAVED_ARM, mixed.credit)
