"""What a campaign sends: one rendered message per treatment user, and the audience file."""

from __future__ import annotations

import pandas as pd

from mindshare.marketing.campaigns import Campaign, render_message
from mindshare.safe_text import formula_safe


def audience_csv(table: pd.DataFrame) -> str:
    """The audience as CSV; list columns joined with '|', text cells formula-safe (safe_text.formula_safe; ids
    as they are)."""
    lists = ["top_item_ids", "top_items", "reason_items"]
    joined = table.assign(**{c: table[c].map("|".join) for c in lists})
    return formula_safe(joined, keep=("user_id", "top_item_ids")).to_csv(index=False)


def messages(campaign: Campaign, table: pd.DataFrame, names: pd.Series | None = None) -> list[dict]:
    """One rendered message per treatment user (the control group gets none); `name` is the display
    name where the users file has one (`names`: by pseudonymised user id), else None."""
    out = []
    names = names if names is not None else pd.Series(dtype=object)
    for row in table[table["group"] == "treatment"].itertuples(index=False):
        name = names.get(row.user_id)
        context = {
            "user_id": row.user_id,
            "name": None if pd.isna(name) else name,
            "campaign": campaign.name,
            "channel": campaign.channel,
            "reason": row.reason,
            "reason_items": row.reason_items,
            "top_items": row.top_items,
        }
        out.append(
            {
                "user_id": row.user_id,
                "campaign": campaign.name,
                "channel": campaign.channel,
                "items": row.top_item_ids,
                "message": render_message(campaign, context),
            }
        )
    return out
