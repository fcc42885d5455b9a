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

import numpy as np
import pandas as pd

from mindshare.errors import MindshareError
from mindshare.settings import MESSAGE_TEMPLATES, CampaignSettings

Campaign = CampaignSettings  # a campaign as params.yaml gives it (typed and range-checked there)


def render_message(campaign: Campaign, context: dict) -> str:
    return MESSAGE_TEMPLATES.from_string(campaign.template).render(**context)


def parse_campaigns(campaigns: list[Campaign], items: pd.DataFrame) -> list[Campaign]:
    """Every campaign checked against the items table (the settings schema checked the rest, templates
    included); the first mistake stops with one line naming the campaign."""
    known_items = set(items["item_id"].astype(str))
    known_categories = {c for cats in items["categories"] for c in cats}
    for campaign in campaigns:
        where = f"params.yaml: campaign '{campaign.name}'"
        missing = [i for i in campaign.items if i not in known_items]
        if missing:
            raise MindshareError(f"{where}: item '{missing[0]}' is not in the items file")
        missing = [c for c in campaign.categories if c not in known_categories]
        if missing:
            raise MindshareError(f"{where}: category '{missing[0]}' is not in the items file "
                                 f"(known: {', '.join(sorted(known_categories)[:12])}...)")
    return list(campaigns)


def target_mask(campaign: Campaign, item_ids: np.ndarray, items: pd.DataFrame) -> np.ndarray:
    """Which catalogue items (in model index order) the campaign promotes."""
    table = items.set_index(items["item_id"].astype(str))
    wanted = set(campaign.items)
    if campaign.categories:
        categories = set(campaign.categories)
        wanted |= {i for i, cats in table["categories"].items() if categories & set(cats)}
    return np.isin(np.asarray(item_ids).astype(str), list(wanted))
