"""The forward-in-time protocol and the repeat policy: hand-made logs with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mindshare import metrics
from mindshare.data.interactions import Interactions
from mindshare.data.repeats import decide_repeats, repeat_share, split_windows, window_repeat_share
from mindshare.data.split import DAY, split_interactions, split_temporal
from mindshare.errors import MindshareError
from mindshare.evaluation.protocol import build_test_set, had_before
from mindshare.settings import RepeatSettings, Settings, SplitSettings


def _log(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    """(user, item, day) rows; the time is the day in seconds."""
    return pd.DataFrame({"user_id": [r[0] for r in rows], "item_id": [r[1] for r in rows],
                         "timestamp": (np.array([r[2] for r in rows]) * DAY).astype(np.int64)})


SHOP = _log([("a", "milk", 0), ("a", "milk", 7), ("a", "bread", 8), ("b", "tea", 1), ("b", "milk", 20),
             ("a", "milk", 21), ("c", "jam", 22), ("a", "eggs", 29), ("b", "tea", 30), ("d", "tea", 30)])


def test_the_temporal_split_cuts_the_last_days_back_from_the_latest_event():
    split = split_temporal(SHOP, test_days=5, valid_days=10)  # test after day 25, valid after day 15
    assert sorted(split.test["timestamp"] // DAY) == [29, 30, 30]
    assert sorted(split.valid["timestamp"] // DAY) == [20, 21, 22]
    assert sorted(split.train["timestamp"] // DAY) == [0, 1, 7, 8]


def test_windows_that_cover_the_whole_log_are_one_line():
    with pytest.raises(MindshareError, match=r"test_days \+ valid_days \(20 \+ 20\) cover the whole log \(30.0 days"):
        split_temporal(SHOP, test_days=20, valid_days=20)


def test_auto_is_temporal_for_event_logs_and_per_user_for_ratings_logs():
    def protocol(source: str, **split) -> str:
        values = {"ingest": {"source": source, "path": "log.csv"}, "models": ["popularity"],
                  "prepare": {"split": split}}
        return Settings.checked(values).split_protocol

    assert protocol("events") == "temporal"
    assert protocol("movielens") == protocol("synthetic") == "random_per_user"  # ratings logs
    assert protocol("events", protocol="leave_last_n") == "leave_last_n"
    with pytest.raises(ValueError, match="resolve"):
        split_interactions(SHOP, SplitSettings())


def test_the_repeat_share_counts_later_days_of_a_pair_once_a_day():
    # distinct (user, item, day): 10; pairs: 7 -> 3 later days (a's milk twice, b's tea once)
    assert repeat_share(SHOP) == pytest.approx(0.3)
    same_day = _log([("a", "x", 1.0), ("a", "x", 1.5), ("a", "y", 2)])  # a view and a purchase on one day
    assert repeat_share(same_day) == 0.0
    assert repeat_share(SHOP.iloc[:0]) == 0.0


def test_a_windows_repeat_share_is_over_the_distinct_items_of_people_with_history():
    history, window = SHOP.iloc[:4], SHOP.iloc[4:]
    # known users a, b in the window: (b, milk) new, (a, milk) had, (a, eggs) new, (b, tea) had; c, d new people
    assert window_repeat_share(history, window) == pytest.approx(0.5)


def test_the_policy_follows_the_share_under_auto_and_the_setting_otherwise():
    assert decide_repeats(RepeatSettings(), 0.3).include
    decided = decide_repeats(RepeatSettings(min_share=0.5), 0.3)
    assert not decided.include and decided.reason == "auto: the fit data's repeat share 0.300 is below min_share 0.5"
    assert decide_repeats(RepeatSettings(policy="include"), 0.0).include
    assert not decide_repeats(RepeatSettings(policy="exclude"), 0.9).include


def test_prepare_reports_each_windows_dates_people_and_repeats():
    split = split_temporal(SHOP, test_days=5, valid_days=10)
    windows = split_windows("temporal", SplitSettings(protocol="temporal", test_days=5, valid_days=10),
                            {name: getattr(split, name) for name in ("train", "valid", "test")})
    assert windows["valid"]["users_with_history"] == 2 and windows["valid"]["users_new"] == 1  # a, b; c
    assert windows["test"]["users_new"] == 1 and windows["test"]["rows"] == 3  # d
    assert windows["test"]["repeat_share"] == pytest.approx(0.5)  # (a, eggs) new, (b, tea) had
    assert windows["cuts"]["test_after"] == "1970-01-26 00:00:00"


def test_seen_items_are_relevant_only_where_the_policy_includes_them():
    split = split_temporal(SHOP, test_days=5, valid_days=10)
    fit = Interactions.from_frame(pd.concat([split.train, split.valid], ignore_index=True))
    excluded = build_test_set(fit, split.test, exclude_seen=True)
    included = build_test_set(fit, split.test, exclude_seen=False)
    # a's eggs (an item new to the fit data: in the denominator only); b's tea was had
    assert excluded.relevant.sum() == 0 and list(excluded.n_relevant) == list(excluded.n_relevant_new) == [1]
    assert included.relevant.sum() == 1 and list(included.n_relevant) == [1, 1]
    assert list(included.n_relevant_new) == [1, 0] and included.counts["test_relevant_repeat_items"] == 1
    users = included.users
    recommended = np.array([[fit.item_index(["milk"])[0], -1], [fit.item_index(["tea"])[0], -1]])
    assert had_before(fit, users, recommended).tolist() == [[True, False], [True, False]]


def test_repeat_and_explore_metrics_by_hand():
    hits = np.array([[1, 0, 1]], dtype=bool)
    repeat = np.array([[1, 1, 0]], dtype=bool)
    assert metrics.repeat_hit_share_at_k(hits, repeat, 3) == 0.5
    assert metrics.new_item_recall_at_k(hits, repeat, np.array([2]), 3) == 0.5
    assert metrics.repeat_hit_share_at_k(hits, repeat, 1) == 1.0
    assert np.isnan(metrics.new_item_recall_at_k(hits, repeat, np.array([0]), 3))
    assert metrics.repeat_hit_share_at_k(np.zeros((1, 3), dtype=bool), repeat, 3) == 0.0


# --- the buy-again family -----------------------------------------------------------------------------------
def _fitted_buy_again(**params):
    from mindshare.models.buy_again import BuyAgain

    log = _log([("a", "x", 0), ("a", "x", 10), ("a", "y", 10), ("b", "y", 5)])
    return BuyAgain(**params).fit(Interactions.from_frame(log))


def test_buy_again_weighs_each_event_by_its_age_by_hand():
    model = _fitted_buy_again(half_life_days=10.0, alpha=1.0)
    # a: x = 0.5 (10 days old) + 1, y = 1 -> 0.6, 0.4 of a's weight; b: y alone
    scores = model.score(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]))
    np.testing.assert_allclose(scores, [0.6, 0.4, 0.0, 1.0], atol=1e-5)
    plain = _fitted_buy_again(half_life_days=None, alpha=1.0)  # own most-taken items: x twice, y once
    np.testing.assert_allclose(plain.score(np.array([0, 0]), np.array([0, 1])), [2 / 3, 1 / 3], atol=1e-5)


def test_buy_again_blends_in_the_nearest_users_histories_by_hand():
    model = _fitted_buy_again(half_life_days=10.0, alpha=0.5, n_neighbours=1, shrinkage=0.0)
    # a's one neighbour is b (the only other user): a's scores 0.5 * (0.6, 0.4) + 0.5 * (0, 1)
    np.testing.assert_allclose(model.score(np.array([0, 0]), np.array([0, 1])), [0.3, 0.7], atol=1e-5)
    items, _ = model.recommend(np.array([0]), k=2, exclude_seen=False)
    assert items.tolist() == [[1, 0]]


def test_buy_again_refuses_settings_out_of_range_in_one_line():
    with pytest.raises(MindshareError, match=r"alpha is 1.5; it must be in \[0, 1\]"):
        _fitted_buy_again(alpha=1.5)
    with pytest.raises(MindshareError, match="half_life_days is 0"):
        _fitted_buy_again(half_life_days=0)


# --- the synthetic shop's re-purchases ------------------------------------------------------------------------
def test_the_synthetic_shop_rebuys_staples_on_their_cycles_and_keeps_its_size():
    from mindshare.data.synthetic import draw_synthetic, scaled_spec

    spec = scaled_spec(20_000, seed=3)
    log = draw_synthetic(spec, merge_repeats=False)
    assert len(log.users) == spec.n_interactions and np.all(np.diff(log.timestamp) >= 0)
    frame = pd.DataFrame({"user_id": log.users, "item_id": log.items, "timestamp": log.timestamp})
    assert repeat_share(frame) > 0.3
    without = draw_synthetic(scaled_spec(20_000, seed=3, staple_share=0.0), merge_repeats=False)
    gaps = frame.groupby(["user_id", "item_id"])["timestamp"].diff().dropna() / DAY
    plain = pd.DataFrame({"user_id": without.users, "item_id": without.items, "timestamp": without.timestamp})
    plain_gaps = plain.groupby(["user_id", "item_id"])["timestamp"].diff().dropna() / DAY
    # staples come back after about a cycle: more re-buys at 1-8 weeks than the taste draws alone give
    assert ((gaps > 7) & (gaps < 56)).mean() > ((plain_gaps > 7) & (plain_gaps < 56)).mean()


# --- re-rankers where repeats count -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shop():
    from mindshare.data.synthetic import draw_synthetic, scaled_spec

    log = draw_synthetic(scaled_spec(20_000, seed=4), merge_repeats=False)
    frame = pd.DataFrame({"user_id": log.users.astype(str), "item_id": log.items.astype(str),
                          "timestamp": log.timestamp})
    return split_temporal(frame, test_days=30, valid_days=0)


@pytest.mark.parametrize("family", ["lightgbm", "mlp"])
def test_a_reranker_learns_on_the_last_days_and_ranks_what_people_had_after_a_save(shop, family, tmp_path):
    from mindshare.models import make_model, with_data_policy
    from mindshare.models.base import Recommender
    from mindshare.models.repeat_signals import REPEAT_FEATURES

    fast = {"lightgbm": {"n_estimators": 40, "early_stopping_rounds": 10, "n_jobs": 1}, "mlp": {"epochs": 5}}[family]
    params = with_data_policy(family, {"learn": "ranking", "base_models": ["svd", "item_knn"], "holdout_folds": 2,
                                       **fast}, holdout_days=30, repeats=True)
    assert params["holdout"] == "last_days" and params["repeats"] and params["base_models"][0] == "buy_again"
    train = Interactions.from_frame(shop.train)
    model = make_model(family, params).fit(train)
    assert set(REPEAT_FEATURES) <= set(model.feature_names_)
    users = np.arange(0, train.n_users, 7)
    items, scores = model.recommend(users, k=10, exclude_seen=False)
    assert had_before(train, users, items).any()  # the items people had compete
    model.save(tmp_path / "model.pkl")
    loaded = Recommender.load(tmp_path / "model.pkl")
    assert loaded.train_.events is None  # the event log is never saved
    again, again_scores = loaded.recommend(users, k=10, exclude_seen=False)
    np.testing.assert_array_equal(again, items)
    np.testing.assert_allclose(again_scores, scores, rtol=1e-6)


def test_the_data_policy_leaves_a_models_own_settings_and_the_base_families_alone():
    from mindshare.models import with_data_policy

    assert with_data_policy("item_knn", {"n_neighbours": 5}, 30, True) == {"n_neighbours": 5}
    mine = {"repeats": False, "base_models": ["svd"]}
    assert with_data_policy("lightgbm", mine, 30, True) == mine  # set in params.yaml: theirs
    assert with_data_policy("lightgbm", {}, None, False) == {"repeats": False}  # per-user split: random folds


# --- replenishment campaigns ----------------------------------------------------------------------------------
def test_a_replenishment_campaign_scores_who_is_due_to_rebuy_by_hand():
    from mindshare.marketing.replenishment import replenishment_scores

    history = Interactions.from_frame(_log([
        ("a", "soap", 0), ("a", "soap", 10), ("a", "soap", 20),  # every 10 days, 15 days ago: due (1.5)
        ("b", "soap", 0), ("b", "soap", 10),  # every 10 days, 25 days ago: due (2.5)
        ("c", "soap", 30), ("c", "soap", 34),  # every 4 days, 1 day ago: not yet
        ("d", "soap", 0), ("d", "soap", 1),  # every day, 34 days ago: lapsed, not due
        ("e", "tea", 5), ("e", "soap", 35)]))  # tea is not a target; soap today
    targets = history.item_index(["soap"])
    mask = np.zeros(history.n_items, dtype=bool)
    mask[targets] = True
    scores = replenishment_scores(history, history, mask)
    by_user = dict(zip(history.user_ids, scores.score))
    assert by_user["a"] == pytest.approx(3 / 1.5) and by_user["b"] == pytest.approx(2 / 2.5)
    assert by_user["c"] == by_user["d"] == by_user["e"] == 0.0
    assert scores.top_targets[history.user_index(["a"])[0]].tolist() == [targets[0], -1, -1]


def test_campaigns_follow_the_repeat_policy_and_replenish_the_due(shop):
    from mindshare.marketing.campaign_runs import all_campaigns
    from mindshare.marketing.campaigns import Campaign
    from mindshare.models.popularity import Popularity
    from mindshare.settings import AudienceSettings

    history = Interactions.from_frame(shop.train)
    model = Popularity().fit(history)
    items = pd.DataFrame({"item_id": history.item_ids.astype(str), "title": history.item_ids.astype(str),
                          "categories": [["all"]] * history.n_items})
    campaigns = [Campaign(name="restock", kind="replenish", categories=["all"], budget=50, control_share=0.2),
                 Campaign(name="again", categories=["all"], budget=50, control_share=0.2)]
    runs = all_campaigns(model, campaigns, items, shop.test, AudienceSettings(), exclude_seen=False, history=history)
    (restock, table, row), (_, again_table, again_row) = runs
    assert row["audience"] == 50 and row["control"] == 10 and row["excluded_already_interacted"] == 0
    # everyone chosen took a restocked item before and is due; they re-buy in the test window more than the pool
    assert row["audience_hit_rate"] > row["random_hit_rate"]
    assert again_row["audience"] == 50 and again_row["excluded_already_interacted"] == 0  # repeats included
    assert not set(table["user_id"]) & set(again_table["user_id"])  # frequency cap 1 across campaigns
    with pytest.raises(MindshareError, match="kind: replenish.*needs the fit data's events"):
        all_campaigns(model, campaigns[:1], items, shop.test, AudienceSettings(), history=None)


def test_auto_splits_a_log_too_short_for_the_windows_per_user(caplog):
    from mindshare.data.split import protocol_for_span

    auto, days = SplitSettings(test_days=5, valid_days=5), SHOP["timestamp"].to_numpy()
    assert protocol_for_span(auto, "temporal", days) == "temporal"  # 30 days: 10 in windows, 20 to fit on
    short = days[days <= 15 * DAY]
    assert protocol_for_span(auto, "temporal", short) == "random_per_user"
    assert "the log spans 8.0 days, too few" in caplog.text
    explicit = SplitSettings(protocol="temporal", test_days=5, valid_days=5)
    assert protocol_for_span(explicit, "temporal", short) == "temporal"  # asked for: split_temporal says what is wrong
