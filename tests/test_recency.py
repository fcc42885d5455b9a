"""Time features of the re-rankers, checked by hand on a tiny log."""

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mindshare.data.interactions import Interactions
from mindshare.models import recency
from mindshare.models.candidates import _price_vs_usual


def tiny_log() -> Interactions:
    # u0: a at 1, b at 2, c at 9 (latest); u1: a at 3, c at 8; u2: b at 5 and again at 7
    rows = [("u0", "a", 1), ("u0", "b", 2), ("u0", "c", 9), ("u1", "a", 3), ("u1", "c", 8), ("u2", "b", 5),
            ("u2", "b", 7)]
    return Interactions.from_frame(pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]))


def test_times_hold_each_pairs_latest_interaction_and_follow_a_part_of_the_matrix():
    data = tiny_log()
    assert data.times.toarray().tolist() == [[1, 2, 9], [3, 0, 8], [0, 7, 0]]
    part = data.matrix.copy()
    part[0, 2] = 0
    part.eliminate_zeros()
    assert data.with_matrix(part).times.toarray().tolist() == [[1, 2, 0], [3, 0, 8], [0, 7, 0]]


def test_time_context_by_hand(monkeypatch):
    monkeypatch.setattr(recency, "N_TIME_BINS", 2)  # median of the times 1,2,9,3,8,7 is 5: bins {1,2,3}, {7,8,9}
    monkeypatch.setattr(recency, "N_RECENT", 1)
    context = recency.time_context(tiny_log())
    np.testing.assert_allclose(context.user_bins, [[2 / 3, 1 / 3], [0.5, 0.5], [0.0, 1.0]], rtol=1e-6)
    # early bin: u0, u1 active (a twice, b once); late bin: all three (c twice, b once)
    np.testing.assert_allclose(context.item_bin_share, [[1.0, 0.0], [0.5, 1 / 3], [0.0, 2 / 3]], rtol=1e-6)
    np.testing.assert_allclose(context.item_share, [2 / 3, 2 / 3, 2 / 3], rtol=1e-6)
    # latest items: u0 c, u1 c, u2 b, each weighted 1 / sqrt(its 2 users)
    w = 1 / np.sqrt(2)
    np.testing.assert_allclose(context.recent.toarray(), [[0, 0, w], [0, 0, w], [0, w, 0]], rtol=1e-6)


def test_time_features_by_hand(monkeypatch):
    monkeypatch.setattr(recency, "N_TIME_BINS", 2)
    monkeypatch.setattr(recency, "N_RECENT", 1)
    context = recency.time_context(tiny_log())
    columns, names = recency.time_features(context, np.array([0, 2]), np.array([0, 0]))
    values = dict(zip(names, columns))
    # u0 with a: 2/3 * 1 + 1/3 * 0; u2 with a: 0 * 1 + 1 * 0
    np.testing.assert_allclose(values["pair_time_matched_popularity"],
                               np.log([2 / 3 + recency.FLOOR, recency.FLOOR]), rtol=1e-5)
    np.testing.assert_allclose(values["pair_item_trend"], np.log(recency.FLOOR) - np.log(2 / 3 + recency.FLOOR),
                               rtol=1e-5)
    # u0's latest is c: c and a share u0 and u1 -> 2 / sqrt(2 * 2); u2's latest is b: b and a share u0 -> 1 / 2
    np.testing.assert_allclose(values["pair_recent_cooccurrence"], [1.0, 0.5], rtol=1e-5)


def test_recent_cooccurrence_is_the_same_block_by_block(monkeypatch):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user_id": rng.integers(0, 40, 400).astype(str),
                          "item_id": rng.integers(0, 30, 400).astype(str), "timestamp": rng.integers(0, 10_000, 400)})
    context = recency.time_context(Interactions.from_frame(frame))
    users, items = rng.integers(0, 40, 300), rng.integers(0, 30, 300)
    whole = recency.recent_cooccurrence(context, users, items)
    monkeypatch.setattr(recency, "SCORE_BLOCK_FLOATS", 30 * 3)  # three users per block
    assert np.allclose(recency.recent_cooccurrence(context, users, items), whole)
    assert whole.max() > 0


def test_data_without_times_has_no_time_context():
    frame = pd.DataFrame({"user_id": ["u0", "u1"], "item_id": ["a", "a"]})
    assert recency.time_context(Interactions.from_frame(frame)) is None


def test_price_against_the_users_usual_price():
    binary = sp.csr_matrix(np.array([[1, 0, 0], [0, 0, 1]], dtype=np.float32))  # u1 bought only an unpriced item
    price = np.array([10.0, 100.0, 0.0], dtype=np.float32)
    got = _price_vs_usual(binary, price, np.array([0, 1]), np.array([1, 1]))
    np.testing.assert_allclose(got, [np.log(101) - np.log(11), 0.0], rtol=1e-6)


def test_the_re_rankers_signals_choose_the_optional_features():
    from mindshare.errors import MindshareError
    from mindshare.models.candidates import generate_candidates, pair_features
    from mindshare.models.lightgbm_ranker import LightGBMRanker
    from mindshare.models.popularity import Popularity

    data = tiny_log()
    base = Popularity().fit(data)
    candidates = generate_candidates([base], np.arange(data.n_users), 2, exclude_seen=False)
    _, with_time = pair_features([base], data, candidates, signals=("time",))
    _, without = pair_features([base], data, candidates, signals=())
    assert set(with_time) - set(without) == {"pair_time_matched_popularity", "pair_time_matched_vs_overall",
                                            "pair_item_trend", "pair_recent_cooccurrence"}
    try:
        LightGBMRanker(signals=["weather"]).fit(data)
    except MindshareError as error:
        assert "signals has 'weather'" in str(error)
    else:
        raise AssertionError("an unknown signal was accepted")
