"""The cold-start policy (models/cold_start.py), the splits that measure it, demographics reading and
the served model's use of it."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from mindshare.data.interactions import Interactions
from mindshare.data.movielens import read_movielens_users
from mindshare.data.schema import RawTable, canonical_users
from mindshare.data.split import split_holdout_items, split_holdout_users
from mindshare.data.synthetic import SyntheticSpec, generate_synthetic, generate_synthetic_users
from mindshare.errors import MindshareError
from mindshare.evaluation import new_item_metrics, new_user_metrics
from mindshare.features.tables import build_feature_tables
from mindshare.models import make_model
from mindshare.models.cold_start import (
    DEMOGRAPHIC,
    MODEL,
    NEW_ITEM,
    POPULAR,
    SEGMENT_BLEND,
    ColdStartPolicy,
    ColdStartSettings,
)
from mindshare.settings import checked_block


def _frame(rows):
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])


def test_demographic_group_gets_its_own_favourites_and_small_groups_fall_back():
    # women like a, men like b; c is popular with everyone
    rows = [(f"f{i}", "a", i) for i in range(6)] + [(f"m{i}", "b", i) for i in range(4)]
    rows += [(u, "c", 100) for u in [f"f{i}" for i in range(6)] + [f"m{i}" for i in range(4)]]
    train = Interactions.from_frame(_frame(rows))
    users = pd.DataFrame({"user_id": [f"f{i}" for i in range(6)] + [f"m{i}" for i in range(4)] + ["new_f"],
                          "gender": ["F"] * 6 + ["M"] * 4 + ["F"], "age_group": ["25_34"] * 11})
    policy = ColdStartPolicy(train, ColdStartSettings(demographic_min_users=5, demographic_prior=1.0), users)
    groups = policy.groups_of_users(["new_f", "nobody"])
    assert groups[0] >= 0 and groups[1] == -1
    items, _, basis = policy.new_users(groups, k=2)
    assert train.item_ids[items[0]].tolist() == ["c", "a"] and basis[0] == DEMOGRAPHIC
    assert basis[1] == POPULAR
    men = policy.group_of(["M"], ["25_34"])  # 4 men < 5: too small
    assert men[0] == -1
    assert policy.group_of(["F"], ["25_34"])[0] == groups[0]


def test_segment_blend_for_little_history_fades_with_history():
    spec = SyntheticSpec(n_users=300, n_items=80, n_interactions=6000, seed=3)
    interactions, items = generate_synthetic(spec)
    user_table, item_table = build_feature_tables(interactions, items)
    train = Interactions.from_frame(interactions).with_features(user_table, item_table)
    model = make_model("item_knn", {}).fit(train)
    policy = ColdStartPolicy(train, ColdStartSettings(max_interactions=5, segment_prior=5.0))
    counts = np.diff(train.matrix.indptr)
    users = np.arange(train.n_users)
    items_out, scores, basis = policy.recommend(model, users, k=10)
    little = counts <= 5
    assert little.any() and (~little).any()
    assert (basis[little] == SEGMENT_BLEND).all() and (basis[~little] == MODEL).all()
    plain, _ = model.recommend(users[~little], k=10)
    assert (items_out[~little] == plain).all()
    for row, user in zip(items_out[little], users[little]):
        shown = row[row >= 0]
        assert len(shown) == len(set(shown)) == 10  # each item once, the list full
        assert not set(shown) & set(train.matrix[user].indices)  # nothing already seen
    assert (np.diff(scores[little], axis=1) <= 1e-12).all()  # best first
    off = ColdStartPolicy(train, ColdStartSettings(segment_prior=0.0)).recommend(model, users, k=10)
    assert (off[2] == MODEL).all()


def test_new_items_are_ranked_by_the_users_categories():
    rows = [("u1", "a", 1), ("u1", "b", 2), ("u2", "c", 3), ("u2", "d", 4), ("u3", "a", 5), ("u3", "c", 6)]
    catalogue = pd.DataFrame({"item_id": ["a", "b", "c", "d", "x_new", "y_new", "z_plain"],
                              "title": list("abcdxyz"),
                              "categories": [["Drama"], ["Drama"], ["Comedy"], ["Comedy"], ["Drama"], ["Comedy"], []]})
    frame = _frame(rows)
    train = Interactions.from_frame(frame).with_features(*build_feature_tables(frame, catalogue))
    policy = ColdStartPolicy(train, catalogue=catalogue)
    assert policy.new_item_ids_.tolist() == ["x_new", "y_new"]  # an item without categories cannot be matched
    affinity = policy.new_item_affinity(train.user_index(["u1", "u2"]))
    assert affinity[0].argmax() == 0 and affinity[1].argmax() == 1
    test = _frame([("u1", "x_new", 9), ("u2", "y_new", 9)])
    scores = new_item_metrics(policy, test, k=1)
    assert scores["new_items_users"] == 2 and scores["new_items_precision_at_1"] == 1.0
    assert scores["new_items_unpersonalised_precision_at_1"] == 0.5


def test_holdout_splits():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user_id": np.repeat([f"u{i}" for i in range(40)], 10),
                          "item_id": [f"i{j}" for j in rng.integers(0, 60, 400)], "timestamp": rng.permutation(400)})
    frame = frame.drop_duplicates(["user_id", "item_id"], ignore_index=True)
    split = split_holdout_users(frame, test_ratio=0.25, valid_ratio=0.1, seed=0, given=3)
    held = set(split.test["user_id"])
    assert held
    for user in held:
        rows = frame[frame["user_id"] == user].sort_values("timestamp")
        assert set(split.train.loc[split.train["user_id"] == user, "item_id"]) == set(rows["item_id"][:3])
        assert user not in set(split.valid["user_id"])
    with pytest.raises(MindshareError, match="holdout_given"):
        split_holdout_users(frame, 0.25, 0.1, 0, given=-1)
    items = split_holdout_items(frame, test_ratio=0.2, valid_ratio=0.1, seed=0)
    assert len(items.train) + len(items.valid) + len(items.test) == len(frame)
    new = set(items.test["item_id"]) - set(items.train["item_id"]) - set(items.valid["item_id"])
    assert new  # whole items held out
    assert not new & set(items.train["item_id"])
    assert len(set(items.test["user_id"]) & set(items.train["user_id"])) > 30  # the usual test rows stay


def test_synthetic_demographics_make_the_demographic_answer_better():
    spec = SyntheticSpec(n_users=2000, n_items=300, n_interactions=40000, seed=1)
    interactions, _ = generate_synthetic(spec)
    users = canonical_users(RawTable(generate_synthetic_users(spec), "synthetic users"))
    split = split_holdout_users(interactions, test_ratio=0.2, valid_ratio=0.0, seed=0)
    policy = ColdStartPolicy(Interactions.from_frame(split.train), ColdStartSettings(), users)
    scores = new_user_metrics(policy, split.test, k=10)
    assert scores["new_users_with_demographics"] == scores["new_users_users"] > 300
    assert scores["new_users_ndcg_at_10"] > scores["new_users_popular_ndcg_at_10"]


def test_movielens_demographics_are_read_offline(tmp_path):
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    (folder / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n")
    users = canonical_users(read_movielens_users(folder))
    assert users.to_dict("list") == {"user_id": ["1", "2"], "gender": ["M", "F"], "occupation": ["technician", "other"],
                                     "age_group": ["18_24", "50_55"]}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ml-1m/users.dat", "1::F::1::10::48067\n2::M::56::16::70072\n")
    (tmp_path / "ml-1m.zip").write_bytes(buffer.getvalue())
    users = canonical_users(read_movielens_users(tmp_path / "ml-1m.zip"))
    assert users["age_group"].tolist() == ["under_18", "56_plus"] and "zip" not in users
    assert read_movielens_users(tmp_path / "ml-1m.zip") is not None
    empty = tmp_path / "none"
    empty.mkdir()
    assert read_movielens_users(empty) is None
    (folder / "u.user").write_text("1|old|M|technician|85711\n")
    with pytest.raises(MindshareError, match=r"u.user, line 1: column 'age'"):
        canonical_users(read_movielens_users(folder))


def test_served_model_uses_the_policy(tmp_path):
    from mindshare.data.pseudonymise import pseudonymise
    from mindshare.tracking.pyfunc import RecommenderPyfunc

    spec = SyntheticSpec(n_users=300, n_items=80, n_interactions=6000, seed=3)
    interactions, items = generate_synthetic(spec)
    users = canonical_users(RawTable(generate_synthetic_users(spec), "synthetic users"))
    key = b"k"
    raw_known = interactions["user_id"].iloc[0]
    frame = interactions[interactions["item_id"].isin(items["item_id"].iloc[:70])].assign(
        user_id=lambda f: pseudonymise(f["user_id"], key))  # the last 10 items are new
    train = Interactions.from_frame(frame).with_features(*build_feature_tables(frame, items))
    wrapper = RecommenderPyfunc()
    wrapper.recommender = make_model("item_knn", {}).fit(train)
    users["user_id"] = pseudonymise(users["user_id"], key)
    wrapper._prepare(items, key, users, ColdStartSettings(demographic_min_users=5))
    out = wrapper.predict(None, pd.DataFrame({"user_id": [raw_known, "stranger", "stranger2"], "k": [10, 5, 5],
                                              "gender": [None, "F", None], "age": [None, 30, None]}))
    mine = out[out["user_id"] == raw_known]
    assert len(mine) == 10 and mine["basis"].iloc[-1] == NEW_ITEM
    assert mine["item_id"].iloc[-1] not in set(frame["item_id"])
    assert out.loc[out["user_id"] == "stranger", "basis"].eq(DEMOGRAPHIC).all()
    assert out.loc[out["user_id"] == "stranger2", "basis"].eq(POPULAR).all()
    assert out.loc[out["user_id"] != raw_known, "cold_start"].all()


def test_bad_cold_start_params():
    with pytest.raises(MindshareError, match="cold_start: segment_prior is -1"):
        checked_block(ColdStartSettings, {"segment_prior": -1}, "cold_start")
    with pytest.raises(MindshareError, match="unknown key 'segment_weight'; did you mean 'segment_prior'"):
        checked_block(ColdStartSettings, {"segment_weight": 1}, "cold_start")


def test_auto_segment_prior_is_chosen_on_valid():
    from mindshare.models.cold_start import DEFAULT_SEGMENT_PRIOR, SEGMENT_PRIOR_GRID, choose_segment_prior
    from mindshare.tuning.study import ValidationData

    assert choose_segment_prior({"users": 30, "ndcg": {"0.0": 0.30, "5.0": 0.20, "20.0": 0.30}}) == 0.0
    assert choose_segment_prior({"users": 30, "ndcg": {"0.0": 0.10, "5.0": 0.20}}) == 5.0
    assert choose_segment_prior({"users": 5, "ndcg": {"0.0": 0.30}}) is None and choose_segment_prior({}) is None
    assert ColdStartSettings().resolved().segment_prior == DEFAULT_SEGMENT_PRIOR
    assert ColdStartSettings().resolved(1.0).segment_prior == 1.0
    assert ColdStartSettings(segment_prior=2).resolved(1.0).segment_prior == 2  # a number stays
    spec = SyntheticSpec(n_users=400, n_items=100, n_interactions=8000, seed=5)
    interactions, items = generate_synthetic(spec)
    split = split_holdout_users(interactions, test_ratio=0.3, valid_ratio=0.0, seed=0, given=2)
    frame = split.train
    train = Interactions.from_frame(frame).with_features(*build_feature_tables(frame, items))
    data = ValidationData(train, split.test, items)
    model = make_model("item_knn", {}).fit(train)
    data.score(model, "ndcg_at_10")
    scores = data.segment_prior_scores(model)
    assert scores["users"] > 20 and set(scores["ndcg"]) == {str(p) for p in SEGMENT_PRIOR_GRID}
    assert scores["ndcg"]["0.0"] > 0


def test_every_users_top_n_is_the_same_answered_in_batches():
    """data/recommendations.parquet's table: batches of users (bounded memory, progress) change no row."""
    from mindshare.marketing.recommendations import top_n_table

    interactions, items = generate_synthetic(SyntheticSpec(n_users=250, n_items=80, n_interactions=5000, seed=5))
    user_table, item_table = build_feature_tables(interactions, items)
    train = Interactions.from_frame(interactions).with_features(user_table, item_table)
    model = make_model("item_knn", {}).fit(train)
    policy = ColdStartPolicy(train, ColdStartSettings(max_interactions=5, segment_prior=5.0))
    whole = top_n_table(model, policy, items, 10)
    batched = top_n_table(model, policy, items, 10, users_per_batch=7)
    pd.testing.assert_frame_equal(batched, whole)
    assert whole["user_id"].nunique() == train.n_users and set(whole["basis"]) >= {MODEL, SEGMENT_BLEND}
