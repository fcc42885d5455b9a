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

import difflib
import logging

import numpy as np
import pandas as pd

from mindshare.errors import MindshareError
from mindshare.safe_text import render
from mindshare.settings import CampaignSettings

Campaign = CampaignSettings  # a campaign as params.yaml gives it (typed and range-checked there)
log = logging.getLogger(__name__)


def render_message(campaign: Campaign, context: dict) -> str:
    return render(campaign.template, campaign.message_format, context)


def check_campaigns(campaigns: list[Campaign], items: pd.DataFrame) -> tuple[list[Campaign], dict[str, str]]:
    """Every campaign checked against the items table (the settings schema checked the rest, templates
    included): (the campaigns to run, {skipped campaign: why}). The first mistake stops with one line naming
    the campaign: an unknown item id, or a category that nearly matches one the data has (a typo). A
    category the data does not have at all (the shipped sample's genres on a shop's catalogue) is not a
    mistake: it is dropped from the campaign, and a campaign left with no target is skipped."""
    known_items = set(items["item_id"].astype(str))
    known_categories = sorted({c for cats in items["categories"] for c in cats})
    by_lower = {c.lower(): c for c in known_categories}
    kept, skipped = [], {}
    for campaign in campaigns:
        where = f"params.yaml: campaign '{campaign.name}'"
        missing = [i for i in campaign.items if i not in known_items]
        if missing:
            raise MindshareError(f"{where}: item '{missing[0]}' is not in the items file")
        absent = [c for c in campaign.categories if c not in known_categories]
        for category in absent:
            close = by_lower.get(category.lower()) or next(
                iter(difflib.get_close_matches(category.lower(), list(by_lower), n=1, cutoff=0.8)), None)
            if close:
                raise MindshareError(f"{where}: category '{category}' is not in the items file; "
                                     f"did you mean '{by_lower.get(close, close)}'?")
        if absent:
            present = [c for c in campaign.categories if c in known_categories]
            if not present and not campaign.items:
                skipped[campaign.name] = f"none of its categories ({', '.join(absent)}) is in the items file"
                log.warning("%s skipped: %s", where, skipped[campaign.name])
                continue
            log.warning("%s: categories %s are not in the items file; it targets the rest", where, ", ".join(absent))
            campaign = campaign.model_copy(update={"categories": present})
        kept.append(campaign)
    return kept, skipped


def target_mask(campaign: Campaign, item_ids: np.ndarray, items: pd.DataFrame) -> np.ndarray:
    """Which catalogue items (in model index order) the campaign promotes."""
    table = items.set_index(items["item_id"].astype(str))
    wanted = set(campaign.items)
    if campaign.categories:
        categories = set(campaign.categories)
        wanted |= {i for i, cats in table["categories"].items() if categories & set(cats)}
    return np.isin(np.asarray(item_ids).astype(str), list(wanted))
