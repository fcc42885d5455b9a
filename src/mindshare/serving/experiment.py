"""What the web app answers with during an online experiment: production's answers, the challenger's
when `online.challenger_share` > 0, the routing between them (marketing/traffic.py) and the logs.

A `Served` is built whole for a pair of versions and a copy of the online settings, and replaced
whole (one reference swap) when either alias moves or the settings change; the log writers live as
long as the app. Every answer gets a request id; while an experiment runs it appends its exposures (one row
per shown item, pseudonyms only) to the exposure log; `POST /events` appends to the event log.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from mindshare.data.pseudonymise import pseudonym
from mindshare.marketing.online_log import EVENT_KINDS
from mindshare.marketing.traffic import CHALLENGER_ARM, PRODUCTION_ARM, route
from mindshare.serving.answers import Answers
from mindshare.settings import OnlineSettings

FORGOTTEN = "forgotten"  # what a forgotten person is answered as: no pseudonym is this (they are hex)


@dataclass(frozen=True)
class Served:
    production: Answers
    challenger: Answers | None  # None: no experiment (share 0, no challenger, or the same version)
    online: OnlineSettings

    @property
    def method(self) -> str:
        return self.online.method if self.challenger is not None and self.online.challenger_share > 0 else "off"

    def answer(self, raw_user_id: str, k: int, gender: str | None = None, age: int | None = None,
               pseudonymised: bool = False, forgotten: frozenset[str] = frozenset()) -> tuple[dict, list]:
        """(the answer, its exposure rows). The answer says the request id, the user's arm and, per item,
        the version that placed it. `pseudonymised`: the id is already a pseudonym. A person on the forget list
        (`forgotten`) is answered as a stranger, from nothing of theirs, and nothing of the answer is logged."""
        hashed = raw_user_id if pseudonymised else pseudonym(raw_user_id, self.production.key)
        erased = hashed in forgotten
        if erased:
            hashed = FORGOTTEN
        request_id = uuid.uuid4().hex
        found: dict[str, tuple[bool, list[dict]]] = {}

        def lists_of(arm: str, answers: Answers):
            def items(k_: int) -> list[str]:
                found[arm] = answers.for_pseudonym(hashed, k_, gender, age)
                return [item["item_id"] for item in found[arm][1]]
            return items

        challenger = self.challenger if self.method != "off" else None
        routed = route(hashed, request_id, k, self.online.method, self.online.challenger_share, self.online.salt,
                       lists_of(PRODUCTION_ARM, self.production),
                       lists_of(CHALLENGER_ARM, challenger) if challenger is not None else None)
        versions = {PRODUCTION_ARM: self.production.info.version,
                    CHALLENGER_ARM: challenger.info.version if challenger is not None else ""}
        by_arm = {arm: {item["item_id"]: item for item in lists[1]} for arm, lists in found.items()}
        items = [{**by_arm[arm][item_id], "version": versions[arm]}
                 for item_id, arm in zip(routed.items, routed.credit)]
        cold = found.get(PRODUCTION_ARM, found.get(CHALLENGER_ARM, (True, [])))[0]
        exposure = {"time": time.time(), "request_id": request_id, "user_id": hashed, "method": self.method,
                    "arm": routed.arm, "k": k, "items": list(routed.items), "credits": list(routed.credit),
                    "versions": [versions[arm] for arm in routed.credit], "share": self.online.challenger_share}
        return ({"user_id": raw_user_id, "request_id": request_id, "arm": routed.arm, "cold_start": cold,
                 "items": items}, [] if erased else [exposure])


MAX_CLOCK_SKEW_SECONDS = 300.0  # an event's own time may be this far in the future (clients' clocks differ)


def event_row(key: bytes, kind: str, request_id: str | None, raw_user_id: str | None, item_id: str | None,
              value: float | None, at: float | None, max_age_days: float = 90.0) -> dict:
    """A click or conversion as the event log stores it (the raw id hashed at once, the arrival time beside its own);
    ValueError if it names neither a request nor a user and an item, or if its time is more than
    `MAX_CLOCK_SKEW_SECONDS` ahead of now or older than `max_age_days` (the logs' retention)."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(EVENT_KINDS)}")
    if not request_id and not (raw_user_id and item_id):
        raise ValueError("name the request_id of the answer, or the user_id and the item_id")
    now = time.time()
    if at is not None and not now - max_age_days * 86_400 <= at <= now + MAX_CLOCK_SKEW_SECONDS:
        raise ValueError(f"time {at:.0f} is not between {max_age_days:g} days ago and {MAX_CLOCK_SKEW_SECONDS:.0f} s "
                         "from now (epoch seconds)")
    return {"time": float(at if at is not None else now), "request_id": request_id or "",
            "user_id": pseudonym(raw_user_id, key) if raw_user_id else "", "item_id": item_id or "",
            "kind": kind, "value": float(value or 0.0), "received": now}
