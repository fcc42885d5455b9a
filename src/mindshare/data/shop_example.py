"""A messy e-commerce export for the README's worked example: `mindshare example-data`.

Built on the synthetic source (users with tastes, power-law popularity): every synthetic draw is a
product view (people come back to the pages of what they like); some lead to a cart and a purchase (more
often when the user likes the item). Staple items are bought again on their own cycles, each re-purchase a
view and a purchase (data/synthetic.py).
Then the mess real exports have: missing customer ids (guest checkouts), customer ids written as
floats ("17850.0"), returns (negative quantity), two date formats, and duplicated lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mindshare.atomic_files import atomic_path
from mindshare.data.synthetic import SyntheticSpec, draw_synthetic, repurchase_chains

COLUMNS = {"user_id": "customer_id", "item_id": "sku", "timestamp": "ts", "event": "event", "quantity": "qty",
           "price": "unit_price", "title": "product"}
EVENT_WEIGHTS = {"view": 1, "cart": 3, "purchase": 5}


@dataclass(frozen=True)
class ShopSpec:
    n_users: int = 2000
    n_items: int = 500
    n_views: int = 60_000
    seed: int = 0
    missing_customer_share: float = 0.03
    float_id_share: float = 0.3
    return_share: float = 0.02
    other_date_format_share: float = 0.3
    duplicate_share: float = 0.01

    @classmethod
    def of_size(cls, n_views: int, seed: int = 0) -> ShopSpec:
        """A shop with `n_views` product views: a customer per 30 views, a product per 120 (at least 10 each)."""
        return cls(n_views=n_views, n_users=max(n_views // 30, 10), n_items=max(n_views // 120, 10), seed=seed)


def make_shop_export(spec: ShopSpec = ShopSpec()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(events export, items file) as a shop would hand them over."""
    synthetic = SyntheticSpec(n_users=spec.n_users, n_items=spec.n_items, n_interactions=spec.n_views, seed=spec.seed)
    drawn = draw_synthetic(synthetic.model_copy(update={"staple_share": 0.0}), merge_repeats=False)  # no chains
    views = pd.DataFrame({"user_id": (drawn.users + 1).astype(str), "item_id": (drawn.items + 1).astype(str),
                          "rating": drawn.rating, "timestamp": drawn.timestamp})
    items = drawn.item_frame
    rng = np.random.default_rng([spec.seed, 3])
    liking = (views["rating"].to_numpy() - 0.5) / 4.5  # 0..1
    carted = rng.random(len(views)) < 0.35 * liking
    bought = carted & (rng.random(len(views)) < 0.6)
    steps = [views.assign(event="view", qty=1),
             views[carted].assign(event="cart", qty=1, timestamp=views["timestamp"][carted] + 60),
             views[bought].assign(event="purchase", qty=rng.integers(1, 4, bought.sum()),
                                  timestamp=views["timestamp"][bought] + 300)]
    first = views[bought].sort_values("timestamp", kind="stable")
    chains = repurchase_chains(synthetic, first["user_id"].astype(int).to_numpy() - 1,
                               first["item_id"].astype(int).to_numpy() - 1, first["timestamp"].to_numpy() + 300,
                               np.random.default_rng([spec.seed, 4]))
    again = first.iloc[chains.source]
    steps += [again.assign(event="view", qty=1, timestamp=chains.times - 300),
              again.assign(event="purchase", qty=rng.integers(1, 4, len(again)), timestamp=chains.times)]
    events = pd.concat(steps, ignore_index=True).sort_values("timestamp", kind="stable", ignore_index=True)
    returned = (events["event"] == "purchase").to_numpy() & (rng.random(len(events)) < spec.return_share * 5)
    returns = events[returned].assign(qty=lambda f: -f["qty"], timestamp=lambda f: f["timestamp"] + 7 * 86_400)
    events = pd.concat([events, returns], ignore_index=True)
    price = items.set_index("item_id")["price"]
    title = items.set_index("item_id")["title"]
    when = pd.to_datetime(events["timestamp"], unit="s")
    other = rng.random(len(events)) < spec.other_date_format_share
    customer = events["user_id"].astype(str).to_numpy(dtype=object)
    as_float = rng.random(len(events)) < spec.float_id_share
    customer[as_float] = [f"{c}.0" for c in customer[as_float]]
    customer[rng.random(len(events)) < spec.missing_customer_share] = ""
    export = pd.DataFrame({
        "order_ref": [f"R{n:07d}" for n in range(len(events))],
        "customer_id": customer,
        "sku": "SKU" + events["item_id"].astype(str),
        "product": events["item_id"].map(title).to_numpy(),
        "qty": events["qty"].to_numpy(),
        "unit_price": events["item_id"].map(price).to_numpy(),
        "ts": np.where(other, when.dt.strftime("%m/%d/%Y %H:%M"), when.dt.strftime("%Y-%m-%d %H:%M:%S")),
        "event": events["event"].to_numpy(),
    })
    export = export.sort_values("ts", key=lambda s: pd.to_datetime(s, format="mixed"), kind="stable", ignore_index=True)
    duplicated = export[rng.random(len(export)) < spec.duplicate_share]
    export = pd.concat([export, duplicated], ignore_index=True)
    items_file = pd.DataFrame({"sku": "SKU" + items["item_id"], "product": items["title"],
                               "category": items["categories"].map("|".join), "unit_price": items["price"]})
    return export, items_file


def write_shop_export(spec: ShopSpec, out: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, Path]:
    """The export to `out` and its items file beside it (`<name>_items.csv`), each written whole or not at
    all: (export, items, items path)."""
    export, items = make_shop_export(spec)
    out = Path(out)
    items_path = out.with_name(f"{out.stem}_items.csv")
    for frame, path in ((export, out), (items, items_path)):
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False)
    return export, items, items_path
