"""Interactions, de-duplication, k-core and the three split protocols on tiny tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mindshare.data.interactions import Interactions
from mindshare.data.pseudonymise import pseudonymise
from mindshare.data.split import (
    drop_exact_duplicates,
    k_core,
    relevant_mask,
    split_global_time,
    split_leave_last_n,
    split_random_per_user,
)
from mindshare.errors import MindshareError


def test_interactions_maps_and_matrix(tiny):
    assert tiny.n_users == 4 and tiny.n_items == 5
    assert list(tiny.user_index(["u3", "nobody"])) == [2, -1]
    assert tiny.matrix.nnz == 9
    assert list(tiny.item_popularity()) == [2, 3, 2, 1, 1]  # a b c d e


def test_latest_rating_wins():
    frame = pd.DataFrame({"user_id": ["u", "u"], "item_id": ["i", "i"], "timestamp": [2, 1], "rating": [5.0, 1.0]})
    assert Interactions.from_frame(frame).matrix[0, 0] == 5.0


def test_duplicates_and_k_core(tiny_frame):
    doubled = pd.concat([tiny_frame, tiny_frame.iloc[:2]], ignore_index=True)
    kept, dropped = drop_exact_duplicates(doubled)
    assert dropped == 2 and len(kept) == len(tiny_frame)
    core, dropped = k_core(tiny_frame, min_user=2, min_item=2)
    # u4 (1 row) goes; then item d (1 user) goes; u3 keeps b, c
    assert dropped == 2
    assert set(core["item_id"]) == {"a", "b", "c"}


def _many(n_users=50, per_user=10):
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "user_id": np.repeat([f"u{i}" for i in range(n_users)], per_user),
        "item_id": [f"i{j}" for j in rng.integers(0, 1000, n_users * per_user)],
        "timestamp": rng.integers(0, 10_000, n_users * per_user),
    })


def test_random_per_user_ratios_and_seed():
    frame = _many()
    split = split_random_per_user(frame, test_ratio=0.2, valid_ratio=0.1, seed=1)
    assert len(split.train) + len(split.valid) + len(split.test) == len(frame)
    assert (split.test.groupby("user_id").size() == 2).all()
    assert (split.valid.groupby("user_id").size() == 1).all()
    again = split_random_per_user(frame, test_ratio=0.2, valid_ratio=0.1, seed=1)
    pd.testing.assert_frame_equal(split.test, again.test)
    other = split_random_per_user(frame, test_ratio=0.2, valid_ratio=0.1, seed=2)
    assert not split.test.equals(other.test)


def test_split_does_not_depend_on_pseudonym_key():
    frame = _many()
    a, b = frame.copy(), frame.copy()
    a["user_id"] = pseudonymise(frame["user_id"], b"key-one")
    b["user_id"] = pseudonymise(frame["user_id"], b"key-two")
    sa = split_random_per_user(a, 0.2, 0.1, seed=3)
    sb = split_random_per_user(b, 0.2, 0.1, seed=3)
    assert sa.test["timestamp"].tolist() == sb.test["timestamp"].tolist()


def test_leave_last_n_takes_latest():
    frame = pd.DataFrame({"user_id": ["u"] * 4 + ["v"], "item_id": list("abcde"), "timestamp": [4, 1, 3, 2, 9]})
    split = split_leave_last_n(frame, n_test=1, n_valid=1)
    assert split.test["item_id"].tolist() == ["a"]
    assert split.valid["item_id"].tolist() == ["c"]
    assert sorted(split.train["item_id"]) == ["b", "d", "e"]  # v has too few rows: all train


def test_global_time_cut():
    frame = pd.DataFrame({"user_id": list("abcdefghij"), "item_id": "x", "timestamp": range(10)})
    split = split_global_time(frame, test_ratio=0.2, valid_ratio=0.1)
    assert split.test["timestamp"].tolist() == [8, 9]
    assert split.valid["timestamp"].tolist() == [7]


@pytest.mark.parametrize("ratio", [0.0, 1.0, 1.5, -0.1])
def test_ratio_outside_unit_interval_is_refused(ratio):
    with pytest.raises(MindshareError, match="test_ratio"):
        split_random_per_user(_many(), test_ratio=ratio, valid_ratio=0.0, seed=0)


def test_relevance_threshold():
    test = pd.DataFrame({"rating": [5.0, 3.0, 4.0]})
    assert relevant_mask(test, 4.0).tolist() == [True, False, True]
    assert relevant_mask(test, None).all()


def test_pseudonyms_are_keyed_and_stable():
    a = pseudonymise(["1", "2", "1"], b"k")
    assert a[0] == a[2] != a[1]
    assert pseudonymise(["1"], b"other")[0] != a[0]
    assert "1" not in a[0]
