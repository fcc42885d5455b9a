"""A seeded synthetic interaction log: users with latent tastes, power-law item popularity.

Each interaction draws a user (activity is heavy-tailed), a handful of candidate items by
popularity, and keeps the candidate the user likes best (Gumbel-max over taste + noise).
Ratings follow the affinity; categories follow the item's latent factors.

A shop log (every draw an event) also has re-purchases: `staple_share` of the items are staples, each
with its own cycle (median `cycle_days`, log-normal across items); after a customer's first purchase of a
staple they buy it again after about one cycle (gamma-distributed, +-35%) with their own loyalty (Beta
across customers, mean `loyalty`: loyal customers and explorers), until they stop or the log ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mindshare.settings import SyntheticSettings

SyntheticSpec = SyntheticSettings  # the generator's settings (params.yaml ingest.synthetic)

CHUNK_ROWS = 250_000  # draws per chunk: bounds the candidates x factors block (chunk x 32 x 8 float32)


@dataclass(frozen=True)
class SyntheticLog:
    """The drawn log as compact arrays (0-based int32 user and item indices)."""

    users: np.ndarray
    items: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray
    item_frame: pd.DataFrame


def scaled_spec(n_interactions: int, seed: int = 0, **overrides) -> SyntheticSpec:
    """The default shape at any size: N/100 users and N/400 items (20 M -> 200,000 users, 50,000 items)."""
    return SyntheticSpec(n_users=max(n_interactions // 100, 10), n_items=max(n_interactions // 400, 10),
                         n_interactions=n_interactions, seed=seed, **overrides)


def draw_synthetic(spec: SyntheticSpec, merge_repeats: bool = True) -> SyntheticLog:
    """Draw the log in chunks of CHUNK_ROWS from one seeded stream (a log of at most CHUNK_ROWS
    draws is the same whatever the chunking); memory stays O(N) small numbers, never N x candidates.
    `merge_repeats`: keep a user's first draw of an item only (a ratings log); else every draw is an
    event (a shop log, where people buy and view the same thing again)."""
    rng = np.random.default_rng(spec.seed)
    user_taste = rng.normal(size=(spec.n_users, spec.n_factors)).astype(np.float32)
    item_factors = rng.normal(size=(spec.n_items, spec.n_factors)).astype(np.float32)
    item_weight = 1.0 / np.arange(1, spec.n_items + 1) ** 0.9
    item_weight = item_weight[rng.permutation(spec.n_items)]
    item_weight /= item_weight.sum()
    user_weight = rng.pareto(1.5, size=spec.n_users) + 1.0
    user_weight /= user_weight.sum()

    n = spec.n_interactions
    users = np.empty(n, dtype=np.int32)
    items = np.empty(n, dtype=np.int32)
    rating = np.empty(n, dtype=np.float32)
    for start in range(0, n, CHUNK_ROWS):
        size = min(CHUNK_ROWS, n - start)
        chunk_users = rng.choice(spec.n_users, size=size, p=user_weight)
        candidates = rng.choice(spec.n_items, size=(size, spec.candidates_per_draw), p=item_weight)
        # batched (candidates x factors) @ (factors x 1) per draw: BLAS, not einsum's loop
        affinity = np.matmul(item_factors[candidates], user_taste[chunk_users][:, :, None])[..., 0] / np.sqrt(
            spec.n_factors
        )
        chosen = np.argmax(spec.taste_strength * affinity + rng.gumbel(size=affinity.shape), axis=1)
        rows = np.arange(size)
        best = affinity[rows, chosen]
        users[start : start + size] = chunk_users
        items[start : start + size] = candidates[rows, chosen]
        rating[start : start + size] = np.clip(
            np.round((3.0 + 1.2 * best + rng.normal(scale=0.5, size=size)) * 2) / 2, 0.5, 5.0
        )
    timestamps = spec.start_timestamp + np.sort(rng.integers(0, spec.span_days * 86_400, size=n))
    first = (
        ~pd.Series(users.astype(np.int64) * spec.n_items + items).duplicated(keep="first").to_numpy()
        if merge_repeats
        else slice(None)
    )

    category_axes = rng.normal(size=(spec.n_factors, spec.n_categories))
    category_scores = item_factors @ category_axes
    top = np.argsort(-category_scores, axis=1)[:, :2]
    names = np.array([f"category_{c + 1:02d}" for c in range(spec.n_categories)], dtype=object)
    item_frame = pd.DataFrame(
        {
            "item_id": np.arange(1, spec.n_items + 1).astype(str),
            "title": [f"Item {i}" for i in range(1, spec.n_items + 1)],
            "categories": [list(names[row]) for row in top],
            "price": np.round(rng.lognormal(mean=3.0, sigma=0.6, size=spec.n_items), 2),
        }
    )
    if merge_repeats:
        return SyntheticLog(users[first], items[first], rating[first].astype(np.float64),
                            timestamps[first].astype(np.int64), item_frame)
    users, items, rating, timestamps = with_repurchases(spec, users, items, rating, timestamps)
    return SyntheticLog(users, items, rating.astype(np.float64), timestamps.astype(np.int64), item_frame)


MAX_CYCLES = 10_000  # a safety bound on the re-purchase chains' steps (a chain ends when the log does)


@dataclass(frozen=True)
class Repurchases:
    source: np.ndarray  # for each re-purchase, the index of the first purchase it repeats
    times: np.ndarray  # int64 seconds


def repurchase_chains(spec: SyntheticSpec, users: np.ndarray, items: np.ndarray, times: np.ndarray,
                      rng: np.random.Generator) -> Repurchases:
    """The re-purchases that follow each customer's first purchase of a staple (the events `users`, `items`,
    `times`, in time order), by the module's model; drawn from `rng`."""
    staple = rng.random(spec.n_items) < spec.staple_share
    cycle_seconds = spec.cycle_days * 86_400 * rng.lognormal(0.0, 0.5, size=spec.n_items)
    concentration = 4.0  # Beta(m c, (1 - m) c): a spread of loyal customers and explorers
    loyalty = rng.beta(spec.loyalty * concentration, (1 - spec.loyalty) * concentration, size=spec.n_users)
    end = spec.start_timestamp + spec.span_days * 86_400
    pairs = users.astype(np.int64) * spec.n_items + items
    source = np.flatnonzero(~pd.Series(pairs).duplicated(keep="first").to_numpy() & staple[items])
    chain_time = times[source].astype(np.float64)
    sources, chain_times = [], []
    for _ in range(MAX_CYCLES):
        again = rng.random(len(source)) < loyalty[users[source]]
        chain_time = chain_time + cycle_seconds[items[source]] * rng.gamma(8.0, 1 / 8.0, size=len(source))
        alive = again & (chain_time < end)
        source, chain_time = source[alive], chain_time[alive]
        if not len(source):
            break
        sources.append(source)
        chain_times.append(chain_time.astype(np.int64))
    if not sources:
        return Repurchases(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
    return Repurchases(np.concatenate(sources), np.concatenate(chain_times))


def with_repurchases(spec: SyntheticSpec, users: np.ndarray, items: np.ndarray, rating: np.ndarray,
                     timestamps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The drawn events plus re-purchase chains of staple items (see the module), then a seeded sample of
    `n_interactions` of them in time order: the log keeps its size, each event has the same chance to stay."""
    rng = np.random.default_rng([spec.seed, 4])  # its own stream: the drawn events do not change
    chains = repurchase_chains(spec, users, items, timestamps, rng)
    all_users = np.concatenate([users, users[chains.source]])
    all_items = np.concatenate([items, items[chains.source]])
    all_rating = np.concatenate([rating, rating[chains.source]])
    all_times = np.concatenate([timestamps.astype(np.int64), chains.times])
    keep = np.sort(rng.choice(len(all_users), size=min(spec.n_interactions, len(all_users)), replace=False))
    order = keep[np.argsort(all_times[keep], kind="stable")]
    return all_users[order], all_items[order], all_rating[order], all_times[order]


def _id_text(indices: np.ndarray, prefix: str = ""):
    """1-based ids as text (pyarrow: no Python string per row)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.cast(pa.array(indices.astype(np.int64) + 1), pa.string())
    return pc.binary_join_element_wise(prefix, text, "") if prefix else text


def generate_synthetic(spec: SyntheticSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (interactions, items) with raw user ids "<user_prefix>1".. and item ids "1"..; duplicate
    (user, item) draws are merged."""
    drawn = draw_synthetic(spec)
    interactions = pd.DataFrame(
        {
            "user_id": _id_text(drawn.users, spec.user_prefix).to_pandas(),
            "item_id": _id_text(drawn.items).to_pandas(),
            "rating": drawn.rating,
            "timestamp": drawn.timestamp,
        }
    )
    return interactions, drawn.item_frame


def write_synthetic_events(
    spec: SyntheticSpec, events_path: Path, items_path: Path, chunk_rows: int = 1_000_000
) -> int:
    """The synthetic log as a shop export would arrive: every draw an event (repeats kept, so exactly
    `n_interactions` rows), a Parquet file written one row group at a time (user_id, item_id,
    timestamp, price), and an items file (item_id, title, categories 'A|B', price). Returns the rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    drawn = draw_synthetic(spec, merge_repeats=False)
    prices = drawn.item_frame["price"].to_numpy()
    schema = pa.schema(
        [("user_id", pa.string()), ("item_id", pa.string()), ("timestamp", pa.int64()), ("price", pa.float64())]
    )
    events_path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(events_path, schema) as writer:
        for start in range(0, len(drawn.users), chunk_rows):
            part = slice(start, start + chunk_rows)
            writer.write_table(
                pa.table(
                    [
                        _id_text(drawn.users[part], spec.user_prefix),
                        _id_text(drawn.items[part]),
                        pa.array(drawn.timestamp[part]),
                        pa.array(prices[drawn.items[part]]),
                    ],
                    schema=schema,
                )
            )
    items = drawn.item_frame.assign(categories=drawn.item_frame["categories"].map("|".join))
    items.to_parquet(items_path, index=False)
    return len(drawn.users)


def generate_synthetic_users(spec: SyntheticSpec) -> pd.DataFrame:
    """Demographics for the synthetic users, tied to their tastes (gender to the first latent factor, age
    group to the second) so that demographic cold start has something to find; display names for
    messages. Drawn from a second seeded stream: the interactions do not change."""
    user_taste = np.random.default_rng(spec.seed).normal(size=(spec.n_users, spec.n_factors))
    rng = np.random.default_rng([spec.seed, 1])
    gender = np.where(user_taste[:, 0] + rng.normal(scale=0.5, size=spec.n_users) > 0, "F", "M")
    ages = np.clip(38 + 12 * user_taste[:, 1] + rng.normal(scale=4, size=spec.n_users), 14, 80).round()
    return pd.DataFrame(
        {
            "user_id": np.char.add(spec.user_prefix, np.arange(1, spec.n_users + 1).astype(str)).astype(object),
            "gender": gender.astype(object),
            "age": ages,
            "display_name": [f"Customer {n}" for n in range(1, spec.n_users + 1)],
        }
    )
