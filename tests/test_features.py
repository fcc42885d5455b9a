"""Feature tables and the re-rankers' building blocks, on tiny data with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mindshare.features.tables import FeatureSettings, build_feature_tables
from mindshare.models.candidates import generate_candidates, split_holdout
from mindshare.models.popularity import Popularity

DAY = 86_400


@pytest.fixture
def log():
    train = pd.DataFrame({
        "user_id": ["a", "a", "a", "b"],
        "item_id": ["x", "y", "z", "x"],
        "timestamp": [0, DAY, 10 * DAY, 10 * DAY],  # 1970-01-01 is a Thursday; day 10 a Sunday
        "rating": [4.0, 2.0, 3.0, 5.0],
    })
    items = pd.DataFrame({"item_id": ["x", "y", "z"], "title": ["X", "Y", "Z"],
                          "categories": [["Drama"], ["Drama", "War"], []], "price": [1.0, 2.0, 3.0]})
    return train, items


def test_user_features_by_hand(log):
    train, items = log
    users, _ = build_feature_tables(train, items, FeatureSettings(max_categories=5))
    a = users.loc["a"]
    assert a["user_n_interactions"] == 3 and a["user_active_days"] == 3
    assert a["user_recency_days"] == 0 and a["user_tenure_days"] == 10
    assert a["user_rating_mean"] == pytest.approx(3.0) and a["user_rating_std"] == pytest.approx(1.0)
    assert a["user_weekend_share"] == pytest.approx(1 / 3)
    assert a["user_share_cat_Drama"] == pytest.approx(2 / 3) and a["user_share_cat_War"] == pytest.approx(1 / 3)
    assert users.loc["b", "user_share_cat_Drama"] == pytest.approx(1.0)


def test_item_features_by_hand(log):
    train, items = log
    _, table = build_feature_tables(train, items, FeatureSettings(max_categories=1, recent_days=5, rating_prior=2.0))
    x = table.loc["x"]
    assert x["item_popularity"] == 2 and x["item_recent_popularity"] == 1 and x["item_age_days"] == 10
    assert x["item_rating_mean"] == pytest.approx((9 + 2 * 3.5) / 4)  # shrunk to the global mean 3.5
    assert x["item_price"] == 1.0 and x["cat_Drama"] == 1.0
    assert "cat_War" not in table  # only the most frequent category is a column


def test_holdout_folds_are_disjoint_and_cover(tiny):
    parts = [split_holdout(tiny, 3, f, seed=0)[1] for f in range(3)]
    total = sum(p.toarray() for p in parts)
    assert total.max() <= 1  # disjoint
    single = np.diff(tiny.matrix.indptr) == 1
    assert (total.sum(axis=1)[~single] == np.diff(tiny.matrix.indptr)[~single]).all()  # every row dealt out
    assert total[single].sum() == 0  # users with one interaction keep it
    rest, held = split_holdout(tiny, 3, 0, seed=0)
    assert (rest.matrix.toarray() + held.toarray() == tiny.matrix.toarray()).all()


def test_candidates_are_the_union_with_ranks(tiny):
    base = Popularity().fit(tiny)
    candidates = generate_candidates([base, base], np.array([1]), n_candidates=2)  # u2 saw a, b
    assert list(tiny.item_ids[candidates.items]) == ["c", "d"]
    assert candidates.ranks.tolist() == [[1, 1], [2, 2]]
