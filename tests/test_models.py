"""The model contract on tiny matrices with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from mindshare.errors import MindshareError
from mindshare.models import MODEL_FAMILIES, make_model
from mindshare.models.item_knn import ItemKNN
from mindshare.models.popularity import Popularity


def test_popularity_ranks_by_users_and_excludes_seen(tiny):
    model = Popularity().fit(tiny)
    items, scores = model.recommend(np.array([1]), k=3)  # u2 saw a, b
    ids = tiny.item_ids[items[0]]
    assert list(ids) == ["c", "d", "e"]  # c (2 users), then d, e (1 user, ties by index)
    assert list(scores[0]) == [2.0, 1.0, 1.0]
    all_items, _ = model.recommend(np.array([1]), k=3, exclude_seen=False)
    assert list(tiny.item_ids[all_items[0]]) == ["b", "a", "c"]


def test_item_knn_cosine_by_hand(tiny):
    model = ItemKNN(n_neighbours=10, shrinkage=0.0).fit(tiny)
    # columns: a={u1,u2}, b={u1,u2,u3}, c={u1,u3}, d={u3}; cos(a,b) = 2/sqrt(2*3)
    a, b, c, d = tiny.item_index(["a", "b", "c", "d"])
    assert model.neighbours_[a, b] == pytest.approx(2 / np.sqrt(6), rel=1e-6)
    assert model.neighbours_[a, a] == 0
    # u2 (a, b): score(c) = sim(a,c) + sim(b,c) = 1/2 + 2/sqrt(6); score(d) = 0 + 1/sqrt(3)
    u2 = tiny.user_index(["u2"])
    got = model.score(np.repeat(u2, 2), np.array([c, d]))
    assert got == pytest.approx([0.5 + 2 / np.sqrt(6), 1 / np.sqrt(3)], rel=1e-6)
    items, scores = model.recommend(u2, k=2)
    assert list(items[0]) == [c, d]
    assert scores[0] == pytest.approx(got, rel=1e-6)


def test_item_knn_keeps_top_neighbours_only(tiny):
    model = ItemKNN(n_neighbours=1, shrinkage=0.0).fit(tiny)
    assert (np.diff(model.neighbours_.indptr) <= 1).all()


def test_shrinkage_lowers_similarity(tiny):
    plain = ItemKNN(shrinkage=0.0).fit(tiny).neighbours_.toarray()
    shrunk = ItemKNN(shrinkage=10.0).fit(tiny).neighbours_.toarray()
    assert (shrunk <= plain + 1e-9).all() and shrunk.sum() < plain.sum()


@pytest.mark.parametrize("name", sorted(MODEL_FAMILIES))
def test_contract_batched_equals_one_by_one_and_save_load(name, tiny, tmp_path):
    model = make_model(name).fit(tiny)
    users = np.arange(tiny.n_users)
    items, scores = model.recommend(users, k=3)
    for u in users:
        one_items, one_scores = model.recommend(np.array([u]), k=3)
        assert (one_items[0] == items[u]).all()
    finite = items >= 0
    pair_scores = model.score(np.repeat(users, 3)[finite.ravel()], items[finite])
    assert pair_scores == pytest.approx(scores[finite], rel=1e-4, abs=1e-6)
    seen = tiny.matrix.toarray() > 0
    assert not seen[np.repeat(users, 3)[finite.ravel()], items[finite]].any()
    model.save(tmp_path / "m.pkl")
    again = type(model).load(tmp_path / "m.pkl")
    assert (again.recommend(users, k=3)[0] == items).all()


def test_k_larger_than_unseen_pads_with_minus_one(tiny):
    items, scores = Popularity().fit(tiny).recommend(np.array([0]), k=4)  # u1 saw 3 of 5
    assert list(items[0][2:]) == [-1, -1] and np.isneginf(scores[0][2:]).all()


def test_unknown_model_and_param_are_refused():
    with pytest.raises(MindshareError, match="unknown model 'nope'"):
        make_model("nope")
    with pytest.raises(MindshareError, match="model_params.item_knn.neighbourz"):
        make_model("item_knn", {"neighbourz": 3})


def test_optional_capabilities_are_declared_on_the_base_class(tiny):
    """fit_facts and feature_importances exist on every family: nothing for most, what the fit decided for some."""
    from mindshare.models import make_model

    popularity = make_model("popularity", {}).fit(tiny)
    assert popularity.fit_facts() == {} and popularity.feature_importances() is None
    assert "n_neighbours_used" in make_model("item_knn", {"n_neighbours": 2}).fit(tiny).fit_facts()
