"""Campaigns as written in params.yaml, checked before anything is scored.

    campaigns:
      - name: documentaries
        categories: [Documentary]    # or items: [ids]; both may be given
        budget: 60                   # at most this many users (control group included)
        min_score: 0.2               # audience score floor (see audience.py)
        channel: email
        control_share: 0.1           # held out at random and recorded, not messaged
        template: "Because you liked {{ reason_items | join(' and ') }}: {{ top_items | join(', ') }}"
"""

from __future__ import annotations

from dataclasses import dataclass

import jinja2
import numpy as np
import pandas as pd

from mindshare.errors import MindshareError

KEYS = {"name", "items", "categories", "budget", "min_score", "channel", "control_share", "template"}
ENVIRONMENT = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
EXAMPLE_CONTEXT = {"user_id": "0" * 20, "name": None, "campaign": "x", "channel": "email",
                   "reason": "because you liked A and B", "reason_items": ["A", "B"], "top_items": ["C", "D"]}


@dataclass(frozen=True)
class Campaign:
    name: str
    items: tuple[str, ...]
    categories: tuple[str, ...]
    budget: int
    min_score: float
    channel: str
    control_share: float
    template: str

    def render(self, context: dict) -> str:
        return ENVIRONMENT.from_string(self.template).render(**context)


def parse_campaigns(entries, items: pd.DataFrame) -> list[Campaign]:
    """Every campaign checked against the items table; the first mistake stops with one line naming it."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise MindshareError("params.yaml: campaigns must be a list of campaigns (name, items or categories, budget, ...)")
    known_items = set(items["item_id"].astype(str))
    known_categories = {c for cats in items["categories"] for c in cats}
    campaigns, names = [], set()
    for position, entry in enumerate(entries):
        where = f"params.yaml: campaign #{position + 1}"
        if not isinstance(entry, dict) or not entry.get("name"):
            raise MindshareError(f"{where} needs a name")
        name = str(entry["name"])
        where = f"params.yaml: campaign '{name}'"
        if name in names:
            raise MindshareError(f"{where} appears twice; names must be unique")
        names.add(name)
        unknown = set(entry) - KEYS
        if unknown:
            raise MindshareError(f"{where}: unknown key '{sorted(unknown)[0]}'; use {', '.join(sorted(KEYS))}")
        target_items = tuple(str(i) for i in entry.get("items") or [])
        categories = tuple(str(c) for c in entry.get("categories") or [])
        if not target_items and not categories:
            raise MindshareError(f"{where}: give target items or categories")
        missing = [i for i in target_items if i not in known_items]
        if missing:
            raise MindshareError(f"{where}: item '{missing[0]}' is not in the items file")
        missing = [c for c in categories if c not in known_categories]
        if missing:
            raise MindshareError(f"{where}: category '{missing[0]}' is not in the items file "
                                 f"(known: {', '.join(sorted(known_categories)[:12])}...)")
        budget = entry.get("budget")
        if not isinstance(budget, int) or isinstance(budget, bool) or budget <= 0:
            raise MindshareError(f"{where}: budget is {budget!r}; give a whole number of users > 0")
        control = entry.get("control_share", 0.1)
        if not isinstance(control, (int, float)) or not 0 <= control < 1:
            raise MindshareError(f"{where}: control_share is {control!r}; give a share in [0, 1)")
        min_score = entry.get("min_score", 0.0)
        if not isinstance(min_score, (int, float)):
            raise MindshareError(f"{where}: min_score is {min_score!r}; give a number")
        template = str(entry.get("template") or "{{ reason }}: {{ top_items | join(', ') }}")
        campaign = Campaign(name, target_items, categories, budget, float(min_score), str(entry.get("channel", "email")),
                            float(control), template)
        try:
            campaign.render(EXAMPLE_CONTEXT)
        except jinja2.TemplateError as error:
            raise MindshareError(f"{where}: template error: {error}; fields: {', '.join(EXAMPLE_CONTEXT)}") from None
        campaigns.append(campaign)
    return campaigns


def target_mask(campaign: Campaign, item_ids: np.ndarray, items: pd.DataFrame) -> np.ndarray:
    """Which catalogue items (in model index order) the campaign promotes."""
    table = items.set_index(items["item_id"].astype(str))
    wanted = set(campaign.items)
    if campaign.categories:
        categories = set(campaign.categories)
        wanted |= {i for i, cats in table["categories"].items() if categories & set(cats)}
    return np.isin(np.asarray(item_ids).astype(str), list(wanted))
