"""Replenishment campaigns (`kind: replenish`): the customers due to re-buy the campaign's items.

From the fit data's events (models/repeat_signals.py), for each customer and target item they took: how
long since they last took it against their usual interval for it (their own where they took it on two days
or more, else the item's median over its repeat customers). A pair is due when that ratio lies in DUE_RANGE:
a cycle has passed, and not so many that they have plainly stopped. A customer's score is, over their due
target items, the largest days-taken / ratio (frequent re-buyers, just due, first); their most due items are
the message's items. The audience is then chosen as for any campaign: within budget, with a random control
group, so that the campaign's lift is measured.
"""

from __future__ import annotations

import numpy as np

from mindshare.data.interactions import Interactions
from mindshare.marketing.audience import TOP_TARGETS, CampaignScores
from mindshare.models.repeat_signals import repeat_context

DUE_RANGE = (1.0, 3.0)  # elapsed / usual interval


def replenishment_scores(history: Interactions, train: Interactions, targets: np.ndarray) -> CampaignScores:
    """Each of `train`'s users scored for the target items (a mask over `train`'s items) they are due to re-buy,
    from `history` (the fit data with its event log; ids matched to `train`'s indices). 0: nothing due."""
    score = np.zeros(train.n_users)
    top = np.full((train.n_users, TOP_TARGETS), -1, dtype=np.int64)
    context = repeat_context(history)
    if context is None:
        return CampaignScores(score, top)
    pairs = context.days_taken.tocoo()
    users, items = train.user_index(history.user_ids[pairs.row]), train.item_index(history.item_ids[pairs.col])
    known = (users >= 0) & (items >= 0)
    known[known] = targets[items[known]]
    rows, cols, n_days = pairs.row[known], pairs.col[known], pairs.data[known]
    first = np.asarray(context.first[rows, cols]).ravel()
    last = np.asarray(context.last[rows, cols]).ravel()
    usual = np.where(n_days >= 2, (last - first) / np.maximum(n_days - 1, 1), context.item_interval[cols])
    ratio = np.divide(context.now - last, usual, out=np.zeros_like(usual), where=usual > 0)
    due = (ratio >= DUE_RANGE[0]) & (ratio <= DUE_RANGE[1])
    users, items = users[known][due], items[known][due]
    value = n_days[due] / ratio[due]
    order = np.lexsort((items, -value, users))  # by user, most due first
    users, items, value = users[order], items[order], value[order]
    starts = np.searchsorted(users, users)
    position = np.arange(len(users)) - starts
    best = position == 0
    score[users[best]] = value[best]
    kept = position < TOP_TARGETS
    top[users[kept], position[kept]] = items[kept]
    return CampaignScores(score, top)
