"""Evaluate any model on a test split with the same code: the full catalogue, minus seen items where the
repeat policy excludes them (data/repeats.py).

Relevant items of a user are the distinct items of their test interactions marked `relevant` (where seen
items are excluded: those not already in train). Users not in train (cold users) are counted and left to
the cold-start breakdown; relevant items unknown to train stay in the denominator (no model here can
recommend them). Hits on items the user had are told from hits on new ones (`repeat_hit_share_at_k`,
`new_item_recall_at_k`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mindshare import metrics
from mindshare.data.interactions import Interactions
from mindshare.metrics.ranking import hit_matrix
from mindshare.models.base import Recommender
from mindshare.models.cold_start import ColdStartPolicy


@dataclass
class TestSet:
    users: np.ndarray  # train indices of the evaluated users
    relevant: sp.csr_matrix  # (len(users), n_items) relevant known items
    n_relevant: np.ndarray  # relevant items per user, unknown items included
    counts: dict[str, int]
    exclude_seen: bool = True  # lists leave out what each user had (and so does `relevant`)
    n_relevant_new: np.ndarray | None = None  # relevant items per user that the user had not had

    def __post_init__(self) -> None:
        if self.n_relevant_new is None:
            self.n_relevant_new = self.n_relevant


def build_test_set(train: Interactions, test: pd.DataFrame, exclude_seen: bool = True) -> TestSet:
    """The users to evaluate and their relevant items; items they had in `train` count where `exclude_seen` is
    False (the repeat policy includes them)."""
    users = train.user_index(test["user_id"])
    items = train.item_index(test["item_id"])
    relevant = test["relevant"].to_numpy(dtype=bool) if "relevant" in test else np.ones(len(test), dtype=bool)
    known_user = users >= 0
    seen = np.zeros(len(test), dtype=bool)
    both = known_user & (items >= 0)
    seen[both] = np.asarray(train.matrix[users[both], items[both]]).ravel() != 0
    use = relevant & known_user & (~seen if exclude_seen else True)
    pairs = pd.DataFrame({"u": users[use], "i": items[use], "seen": seen[use]}).drop_duplicates(["u", "i"])
    eval_users, rows = np.unique(pairs["u"].to_numpy(), return_inverse=True)
    n_relevant = np.bincount(rows, minlength=len(eval_users))
    n_relevant_new = np.bincount(rows, ~pairs["seen"].to_numpy(), minlength=len(eval_users)).astype(np.int64)
    known = pairs["i"].to_numpy() >= 0
    matrix = sp.csr_matrix(
        (np.ones(known.sum(), dtype=bool), (rows[known], pairs["i"].to_numpy()[known])),
        shape=(len(eval_users), train.n_items),
    )
    counts = {
        "test_rows": int(len(test)),
        "test_rows_relevant": int(relevant.sum()),
        "test_rows_cold_user": int((~known_user).sum()),
        "test_rows_unknown_item": int((known_user & (items < 0)).sum()),
        "test_rows_seen_in_train": int(seen.sum()),
        "test_users_cold": int(test.loc[~known_user, "user_id"].nunique()),
        "users_evaluated": int(len(eval_users)),
        "test_relevant_repeat_items": int(pairs["seen"].sum()),
    }
    return TestSet(users=eval_users, relevant=matrix, n_relevant=n_relevant, counts=counts, exclude_seen=exclude_seen,
                   n_relevant_new=n_relevant_new)


def had_before(train: Interactions, users: np.ndarray, recommended: np.ndarray) -> np.ndarray:
    """repeat[r, j]: user users[r] had item recommended[r, j] in `train` (False for item -1)."""
    return hit_matrix(recommended, train.matrix[users].astype(bool))


def item_feature_matrix(train: Interactions, items: pd.DataFrame | None) -> sp.csr_matrix:
    """Item features for diversity: one-hot categories where items have them, else user columns."""
    if items is not None and "categories" in items and items["categories"].map(len).sum() > 0:
        frame = items[["item_id", "categories"]].explode("categories").dropna()
        rows = train.item_index(frame["item_id"])
        cats, _ = pd.factorize(frame["categories"])
        ok = rows >= 0
        return sp.csr_matrix((np.ones(ok.sum()), (rows[ok], cats[ok])), shape=(train.n_items, cats.max() + 1))
    return train.matrix.T.tocsr()


@dataclass
class Evaluation:
    metrics: dict[str, float]
    curves: pd.DataFrame  # k, precision, recall
    per_user: pd.DataFrame  # user_id, then each ranking metric at the largest k for that user


def evaluate_model(model: Recommender, test_set: TestSet, ks: list[int], curve_k: int,
                   item_features: sp.csr_matrix, test: pd.DataFrame | None = None,
                   policy: ColdStartPolicy | None = None, intervals: bool = True) -> Evaluation:
    """Ranking metrics at each k in `ks`, precision/recall curves for k = 1..curve_k, beyond-accuracy at
    max(ks). With a cold-start `policy`, users with little history get its answer (as when served), and
    `cold_start_model_only_*` says what the model alone would have scored for them. `intervals=False`
    leaves out the bootstrap intervals (a tuning trial needs the figure alone)."""
    train = model.train_
    max_k = max(max(ks), curve_k)
    n_rel = test_set.n_relevant
    out: dict[str, float] = {}
    exclude_seen = test_set.exclude_seen
    if policy is None:
        recommended, _ = model.recommend(test_set.users, k=max_k, exclude_seen=exclude_seen)
    else:
        recommended, _, _ = policy.recommend(model, test_set.users, k=max_k, exclude_seen=exclude_seen)
        little = policy.has_little_history(test_set.users)
        out["cold_start_segment_prior"] = float(policy.settings.segment_prior)
        if little.any():
            alone, _ = model.recommend(test_set.users[little], k=max(ks), exclude_seen=exclude_seen)
            alone_metrics = metrics.per_user(hit_matrix(alone, test_set.relevant[little]), n_rel[little], max(ks))
            out.update(
                {f"cold_start_model_only_{name}": float(values.mean()) for name, values in alone_metrics.items()}
            )
    hits = hit_matrix(recommended, test_set.relevant)
    for k in ks:
        out[f"precision_at_{k}"] = metrics.precision_at_k(hits, k)
        out[f"recall_at_{k}"] = metrics.recall_at_k(hits, n_rel, k)
        out[f"ndcg_at_{k}"] = metrics.ndcg_at_k(hits, n_rel, k)
        out[f"map_at_{k}"] = metrics.map_at_k(hits, n_rel, k)
        out[f"hit_rate_at_{k}"] = metrics.hit_rate_at_k(hits, k)
        out[f"mrr_at_{k}"] = metrics.mrr_at_k(hits, k)
    main_k = max(ks)
    out["map"] = metrics.map_at_k_over_relevant(hits, n_rel, main_k)
    per_user = metrics.per_user(hits, n_rel, main_k)
    for name, values in per_user.items():  # 95% bootstrap intervals over users
        if intervals:
            out[f"{name}_ci_low"], out[f"{name}_ci_high"] = metrics.bootstrap_ci(values)
    repeat = had_before(train, test_set.users, recommended[:, :main_k])
    out[f"repeat_hit_share_at_{main_k}"] = metrics.repeat_hit_share_at_k(hits, repeat, main_k)
    if test_set.n_relevant_new.any():  # else undefined: no user had a new item to find
        out[f"new_item_recall_at_{main_k}"] = metrics.new_item_recall_at_k(hits, repeat, test_set.n_relevant_new,
                                                                          main_k)
    top = recommended[:, :main_k]
    popularity = train.item_popularity()
    out[f"coverage_at_{main_k}"] = metrics.catalogue_coverage(top, train.n_items)
    out[f"novelty_at_{main_k}"] = metrics.novelty(top, popularity, train.n_users)
    out[f"diversity_at_{main_k}"] = metrics.intra_list_diversity(top, item_features)
    out[f"mean_popularity_at_{main_k}"] = metrics.mean_popularity(top, popularity)
    if model.predicts_ratings and test is not None and "rating" in test:
        users, items = train.user_index(test["user_id"]), train.item_index(test["item_id"])
        known = (users >= 0) & (items >= 0)
        predicted = model.predict_ratings(users[known], items[known])
        out["rmse"] = metrics.rmse(test["rating"].to_numpy()[known], predicted)
        out["mae"] = metrics.mae(test["rating"].to_numpy()[known], predicted)
    curve_ks = np.arange(1, curve_k + 1)
    curves = pd.DataFrame(
        {
            "k": curve_ks,
            "precision": [metrics.precision_at_k(hits, int(k)) for k in curve_ks],
            "recall": [metrics.recall_at_k(hits, n_rel, int(k)) for k in curve_ks],
        }
    )
    users = pd.DataFrame(
        {
            "user_id": train.user_ids[test_set.users],
            "train_interactions": np.diff(train.matrix.indptr)[test_set.users],
            **per_user,
        }
    )
    return Evaluation(metrics=out, curves=curves, per_user=users)


def activity_bucket(counts: np.ndarray, edges: list[int]) -> np.ndarray:
    """Labels '1_5', '6_20', ..., '101_plus' for upper bucket edges [5, 20, 100] (MLflow-safe names)."""
    edges = sorted(int(e) for e in edges)
    lows = [1] + [e + 1 for e in edges]
    labels = [f"{lo}_{hi}" for lo, hi in zip(lows, edges)] + [f"{lows[-1]}_plus"]
    return np.asarray(labels, dtype=object)[np.searchsorted(edges, counts, side="left")]


def breakdown(
    per_user: pd.DataFrame, segments: pd.Series | None, activity_edges: list[int], cold_start_max: int
) -> pd.DataFrame:
    """Mean of every per-user metric by segment, by activity bucket (training interactions) and for
    cold-start users (at most `cold_start_max` training interactions): group_type, group, users, metrics."""
    metric_columns = [c for c in per_user.columns if c not in ("user_id", "train_interactions")]
    groups = {
        "activity": activity_bucket(per_user["train_interactions"].to_numpy(), activity_edges),
        "cold_start": np.where(per_user["train_interactions"].to_numpy() <= cold_start_max, "yes", "no"),
    }
    if segments is not None:
        groups["segment"] = segments.reindex(per_user["user_id"]).fillna(-1).astype(int).astype(str).to_numpy()
    tables = []
    for group_type, labels in groups.items():
        table = per_user[metric_columns].groupby(labels).agg("mean")
        table.insert(0, "users", pd.Series(labels).value_counts().reindex(table.index).to_numpy())
        tables.append(table.rename_axis("group").reset_index().assign(group_type=group_type))
    out = pd.concat(tables, ignore_index=True)
    return out[["group_type", "group", "users", *metric_columns]]


def breakdown_metrics(table: pd.DataFrame, metric_names: list[str]) -> dict[str, float]:
    """Flat names for MLflow and metrics.json: cold_start_<metric>, segment_<s>_<metric>, activity_<b>_<metric>."""
    out: dict[str, float] = {}
    for row in table.itertuples(index=False):
        if row.group_type == "cold_start":
            if row.group != "yes":
                continue
            prefix = "cold_start"
        else:
            prefix = f"{row.group_type}_{row.group}"
        out[f"{prefix}_users"] = float(row.users)
        for name in metric_names:
            out[f"{prefix}_{name}"] = float(getattr(row, name))
    return out


def _relevant_pairs(test: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    relevant = test["relevant"].to_numpy(dtype=bool) if "relevant" in test else np.ones(len(test), dtype=bool)
    return test.loc[rows & relevant, ["user_id", "item_id"]].drop_duplicates()


def _ranking_metrics(
    prefix: str, top: np.ndarray, rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int, k: int
) -> dict[str, float]:
    """Mean ndcg/precision/recall@k of rankings `top` (n_rows x k column indices) against the relevant
    (row, column) pairs."""
    relevant = sp.csr_matrix((np.ones(len(rows), dtype=bool), (rows, cols)), shape=(n_rows, n_cols))
    n_relevant = np.bincount(rows, minlength=n_rows)
    per_user = metrics.per_user(hit_matrix(top, relevant), n_relevant, k)
    return {
        f"{prefix}_{name}_at_{k}": float(per_user[f"{name}_at_{k}"].mean()) for name in ("ndcg", "precision", "recall")
    }


def new_user_metrics(policy: ColdStartPolicy, test: pd.DataFrame, k: int) -> dict[str, float]:
    """How the cold-start policy serves test users absent from train (the holdout_users split makes
    them): `new_users_*` with demographics where known, `new_users_popular_*` with recent popularity
    alone (the baseline), `new_users_users` and `new_users_with_demographics`."""
    train = policy.train
    pairs = _relevant_pairs(test, train.user_index(test["user_id"]) < 0)
    if pairs.empty:
        return {"new_users_users": 0.0}
    codes, uniques = pd.factorize(pairs["user_id"], sort=False)
    items = train.item_index(pairs["item_id"])
    known = items >= 0  # items new to train cannot be hit; they stay in the denominator via a dummy column
    cols = np.where(known, items, train.n_items)
    groups = policy.groups_of_users(uniques)
    top, _, _ = policy.new_users(groups, k)
    popular, _, _ = policy.new_users(np.full(len(uniques), -1), k)
    return {
        **_ranking_metrics("new_users", top, codes, cols, len(uniques), train.n_items + 1, k),
        **_ranking_metrics("new_users_popular", popular, codes, cols, len(uniques), train.n_items + 1, k),
        "new_users_users": float(len(uniques)),
        "new_users_with_demographics": float((groups >= 0).sum()),
    }


def new_item_metrics(policy: ColdStartPolicy, test: pd.DataFrame, k: int) -> dict[str, float]:
    """How well known users' affinity ranks the catalogue's new items (no training interactions; the
    holdout_items split makes them): for each known test user with a relevant new item, all new items
    ranked by their categories' match to the user (`new_items_*`) against overall category popularity
    (`new_items_unpersonalised_*`)."""
    train = policy.train
    new = pd.Index(policy.new_item_ids_)
    users = train.user_index(test["user_id"])
    pairs = _relevant_pairs(test, (users >= 0) & test["item_id"].astype(str).isin(new).to_numpy())
    if pairs.empty or not len(new):
        return {"new_items_users": 0.0, "new_items": float(len(new))}
    codes, uniques = pd.factorize(pairs["user_id"], sort=False)
    cols = new.get_indexer(pairs["item_id"].astype(str))
    take = min(k, len(new))
    affinity = policy.new_item_affinity(train.user_index(uniques))
    personal = np.argsort(-affinity, axis=1, kind="stable")[:, :take]
    overall = np.tile(np.argsort(-policy.unpersonalised_new_item_scores(), kind="stable")[:take], (len(uniques), 1))
    pad = ((0, 0), (0, k - take))
    return {
        **_ranking_metrics(
            "new_items", np.pad(personal, pad, constant_values=-1), codes, cols, len(uniques), len(new), k
        ),
        **_ranking_metrics(
            "new_items_unpersonalised", np.pad(overall, pad, constant_values=-1), codes, cols, len(uniques), len(new), k
        ),
        "new_items_users": float(len(uniques)),
        "new_items": float(len(new)),
    }
