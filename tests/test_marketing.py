"""Segments, campaign checks, audience selection (exclusions, budget, control, frequency cap),
reasons and offline lift, on small hand-made data with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mindshare.data.interactions import Interactions
from mindshare.errors import MindshareError
from mindshare.evaluation import activity_bucket, breakdown
from mindshare.features.segments import SegmentSettings, describe, segment_users
from mindshare.marketing.audience import CampaignScores, choose_audience, offline_lift, reasons, score_campaigns
from mindshare.marketing.campaigns import Campaign, check_campaigns, target_mask
from mindshare.models.cold_start import ColdStartPolicy
from mindshare.settings import Settings, checked_block

ITEMS = pd.DataFrame({"item_id": ["a", "b", "c", "d"], "title": ["A", "B", "C", "D"],
                      "categories": [["Drama"], ["Drama", "War"], ["Comedy"], ["Western"]]})


def _runnable(campaigns: list[Campaign], items) -> list[Campaign]:
    """The campaigns `check_campaigns` lets run."""
    return check_campaigns(campaigns, items)[0]


def test_segments_find_planted_groups_and_describe_them():
    rng = np.random.default_rng(0)
    heavy = pd.DataFrame({"user_n_interactions": rng.normal(300, 20, 60), "user_recency_days": rng.normal(2, 1, 60),
                          "user_share_cat_Drama": rng.normal(0.8, 0.05, 60)})
    light = pd.DataFrame({"user_n_interactions": rng.normal(10, 2, 90), "user_recency_days": rng.normal(200, 20, 90),
                          "user_share_cat_Drama": rng.normal(0.1, 0.05, 90)})
    profiles = pd.concat([heavy, light], ignore_index=True).clip(lower=0)
    result = segment_users(profiles, SegmentSettings(k_min=2, k_max=5))
    assert result.k == 2
    assert set(result.labels[:60]) == {1} and set(result.labels[60:]) == {0}  # numbered by size
    words = dict(zip(result.summary["segment"], result.summary["description"]))
    assert "frequent" in words[1] and "recent" in words[1] and "loves Drama" in words[1]
    assert "occasional" in words[0] and "lapsed" in words[0]
    assert result.silhouette["k"].tolist() == [2, 3, 4, 5]
    with pytest.raises(MindshareError, match="k_min is 1; input should be greater than or equal to 2"):
        checked_block(SegmentSettings, {"k_min": 1}, "features.segments")
    assert describe(profiles.mean(), profiles) == "regular"


def test_breakdown_by_activity_segment_and_cold_start():
    assert activity_bucket(np.array([1, 5, 6, 20, 21, 500]), [5, 20]).tolist() == \
        ["1_5", "1_5", "6_20", "6_20", "21_plus", "21_plus"]
    per_user = pd.DataFrame({"user_id": ["u1", "u2", "u3"], "train_interactions": [2, 30, 40],
                             "ndcg_at_10": [0.0, 0.5, 1.0]})
    table = breakdown(per_user, pd.Series({"u1": 0, "u2": 1, "u3": 1}), [5], 3)
    rows = {(r.group_type, r.group): (r.users, r.ndcg_at_10) for r in table.itertuples()}
    assert rows[("cold_start", "yes")] == (1, 0.0)
    assert rows[("segment", "1")] == (2, 0.75)
    assert rows[("activity", "6_plus")] == (2, 0.75)


@pytest.mark.parametrize("entry, message", [
    ({"name": "x", "items": ["zzz"], "budget": 5}, "item 'zzz' is not in the items file"),
    ({"name": "x", "categories": ["Westerns"], "budget": 5}, "category 'Westerns' .*did you mean 'Western'"),
    ({"name": "x", "categories": ["comedy"], "budget": 5}, "category 'comedy' .*did you mean 'Comedy'"),
    ({"name": "x", "items": ["a"], "budget": 0}, "budget is 0"),
    ({"name": "x", "items": ["a"], "budget": 5, "template": "{{ reason"}, "template error"),
    ({"name": "x", "items": ["a"], "budget": 5, "template": "{{ nickname }}"}, "template error"),
    ({"name": "x", "budget": 5}, "give target items or categories"),
    ({"name": "x", "items": ["a"], "budget": 5, "control_share": 1.5}, "control_share"),
])
def test_bad_campaigns_name_the_campaign(entry, message):
    with pytest.raises(MindshareError, match=message) as error:
        _runnable(_campaigns([entry]), ITEMS)
    assert "campaign 'x'" in str(error.value) and "\n" not in str(error.value)


def test_a_campaign_whose_categories_the_data_lacks_is_skipped_or_narrowed(caplog):
    """The shipped sample's genres on a shop's catalogue: not a mistake, so the other campaigns run."""
    entries = [{"name": "opera", "categories": ["Opera"], "budget": 5},
               {"name": "war", "categories": ["War", "Sci-Fi"], "budget": 5},
               {"name": "items", "categories": ["Opera"], "items": ["a"], "budget": 5}]
    kept, skipped = check_campaigns(_campaigns(entries), ITEMS)
    assert [c.name for c in kept] == ["war", "items"]
    assert kept[0].categories == ["War"] and kept[1].categories == []
    assert "Opera" in skipped["opera"] and set(skipped) == {"opera"}
    assert "campaign 'opera' skipped" in caplog.text
    assert _runnable(_campaigns(entries), ITEMS) == kept


def test_target_mask_by_items_and_categories():
    campaign = _runnable(_campaigns([{"name": "war", "categories": ["War"], "items": ["d"], "budget": 3}]),
                               ITEMS)[0]
    assert target_mask(campaign, np.array(["d", "c", "b", "a"]), ITEMS).tolist() == [True, False, True, False]


def _campaigns(entries: list[dict]) -> list[Campaign]:
    """Campaigns as params.yaml gives them, through the settings schema (one line naming the campaign)."""
    minimal = {"ingest": {"source": "synthetic"}, "models": ["popularity"]}
    return Settings.checked({**minimal, "campaigns": entries}).campaigns


def _campaign(budget=3, control_share=0.0, min_score=0.0) -> Campaign:
    return Campaign(name="c", items=["a"], budget=budget, min_score=min_score, control_share=control_share,
                    template="{{ reason }}")


def test_audience_respects_exclusions_budget_cap_and_control():
    scores = CampaignScores(np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.0]), np.zeros((6, 3), dtype=np.int64))
    interacted = np.array([True, False, False, False, False, False])
    suppressed = np.array([False, True, False, False, False, False])
    targeted = np.array([0, 0, 1, 0, 0, 0])  # user 2 is already in another audience
    audience = choose_audience(_campaign(budget=2), scores, interacted, suppressed, targeted, frequency_cap=1, seed=0)
    assert audience.users.tolist() == [3, 4]
    assert audience.counts["excluded_already_interacted"] == 1 and audience.counts["excluded_suppressed"] == 1
    assert audience.counts["excluded_frequency_cap"] == 1 and audience.counts["not_recommended"] == 1
    big = choose_audience(_campaign(budget=100, control_share=0.25), CampaignScores(np.arange(1.0, 41.0),
                          np.zeros((40, 3), dtype=np.int64)), np.zeros(40, bool), np.zeros(40, bool),
                          np.zeros(40, int), 1, seed=0)
    assert len(big.users) == 40 and big.control.sum() == 10
    floor = choose_audience(_campaign(min_score=30.5), CampaignScores(np.arange(1.0, 41.0),
                            np.zeros((40, 3), dtype=np.int64)), np.zeros(40, bool), np.zeros(40, bool),
                            np.zeros(40, int), 1, seed=0)
    assert floor.counts["below_min_score"] == 30 and floor.users.tolist() == [39, 38, 37]



def test_every_campaign_is_scored_from_one_ranking_of_each_user_and_none_without_campaigns():
    from mindshare.models import make_model

    frame = pd.DataFrame({"user_id": ["u1", "u1", "u2", "u2", "u3", "u4", "u4"],
                          "item_id": ["a", "b", "b", "c", "a", "c", "d"]})
    model = make_model("item_knn", {"n_neighbours": 3}).fit(Interactions.from_frame(frame))
    calls = []
    ranked = model.recommend
    model.recommend = lambda users, k=10, exclude_seen=True: calls.append(len(users)) or ranked(users, k, exclude_seen)
    targets = [target_mask(Campaign(name=n, items=items, budget=2), model.train_.item_ids, ITEMS)
               for n, items in (("one", ["d"]), ("two", ["a", "c"]))]
    both = score_campaigns(model, targets, pool=3)
    assert calls == [4]  # four users ranked once for both campaigns
    for target, scores in zip(targets, both):
        (alone,) = score_campaigns(model, [target], pool=3)
        np.testing.assert_array_equal(scores.score, alone.score)
        np.testing.assert_array_equal(scores.top_targets, alone.top_targets)
    assert both[0].score.tolist() != both[1].score.tolist()
    calls.clear()
    assert score_campaigns(model, [], pool=3) == [] and calls == []  # no campaign: nobody is ranked

def test_reasons_pick_the_most_similar_history_items():
    frame = pd.DataFrame({"user_id": ["u1", "u1", "u2", "u2", "u3", "u3", "u3"],
                          "item_id": ["a", "b", "a", "c", "a", "c", "d"], "timestamp": range(7)})
    data = Interactions.from_frame(frame)
    c = data.item_index(["c"])[0]
    picked = reasons(data, np.array([0]), np.array([c]), n=1)  # u1 liked a and b; c co-occurs with a
    assert data.item_ids[picked[0]].tolist() == ["a"]


def test_offline_lift_against_random_and_active():
    class Chosen:
        users = np.array([0, 1])
        eligible = np.array([True, True, True, True])

    hits = np.array([True, False, False, False])
    activity = np.array([1, 1, 5, 9])
    lift = offline_lift(Chosen, hits, activity)
    assert lift["audience_hit_rate"] == 0.5 and lift["random_hit_rate"] == 0.25 and lift["active_hit_rate"] == 0.0
    assert lift["lift_vs_random"] == 2.0 and lift["lift_vs_active"] == float("inf")


def test_holdout_users_split_and_the_new_user_answer():
    from mindshare.data.split import split_holdout_users
    from mindshare.evaluation import new_user_metrics

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"user_id": np.repeat([f"u{i}" for i in range(50)], 6),
                          "item_id": rng.choice(["a", "b", "c", "d", "e"], 300), "timestamp": range(300)})
    frame = frame.drop_duplicates(["user_id", "item_id"], ignore_index=True)
    split = split_holdout_users(frame, test_ratio=0.2, valid_ratio=0.1, seed=1)
    assert not set(split.test["user_id"]) & set(split.train["user_id"]) and len(split.test)
    assert not set(split.valid["user_id"]) - set(split.train["user_id"])
    train = Interactions.from_frame(split.train)
    policy = ColdStartPolicy(train)
    scores = new_user_metrics(policy, split.test, k=2)
    assert scores["new_users_users"] == split.test["user_id"].nunique()
    popular = train.item_ids[np.argsort(-train.item_popularity(), kind="stable")[:2]]
    expected = split.test.groupby("user_id")["item_id"].apply(lambda items: len(set(items) & set(popular)) / 2).mean()
    assert scores["new_users_precision_at_2"] == pytest.approx(expected)
    assert scores["new_users_precision_at_2"] == scores["new_users_popular_precision_at_2"]  # no demographics
    assert new_user_metrics(policy, split.train, k=2) == {"new_users_users": 0.0}


def test_campaign_results_keep_each_members_group_outcomes_and_send_time_profile():
    from mindshare.marketing.campaign_results import people_at_send, results_with_features
    from mindshare.uplift.campaign import uplift_features

    audience = pd.DataFrame({"user_id": ["a", "b", "c"], "group": ["treatment", "control", "treatment"],
                             "score": [0.9, 0.5, 0.1], "reason": ["x", "y", "z"]})
    profiles = pd.DataFrame({"interactions": [3, 8, 1], "segment_name": ["s", "t", "s"]},
                            index=pd.Index(["a", "b", "c"], name="user_id"))
    people = people_at_send(audience, profiles)
    assert list(people.columns) == ["user_id", "group", "score", "profile_interactions"]  # numbers only
    joined = pd.DataFrame({"user_id": ["c", "a"], "group": ["treatment"] * 2, "sent": [1, 1], "opened": [0, 1],
                           "clicked": [0, 1], "converted": [0, 1], "item_id": ["i", "j"]})
    table = results_with_features(joined, people)
    assert table["user_id"].tolist() == ["a", "c"] and table["treated"].tolist() == [1, 1]
    assert table["value"].tolist() == [0.0, 0.0] and table["profile_interactions"].tolist() == [3, 1]
    assert list(uplift_features(table).columns) == ["score", "profile_interactions"]
    assert list(people_at_send(audience, None).columns) == ["user_id", "group", "score"]


def test_a_results_value_column_is_read_as_a_number_or_refused_naming_the_line(tmp_path):
    from mindshare.errors import MindshareError
    from mindshare.marketing.feedback import read_results

    good = tmp_path / "good.csv"
    good.write_text("user_id,sent,opened,clicked,converted,value\nu1,1,1,1,1,12.5\nu2,1,0,0,0,\n")
    assert read_results(good)["value"].tolist() == [12.5, 0.0]
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,sent,opened,clicked,converted,value\nu1,1,1,1,1,12.5\nu2,1,0,0,1,-3\n")
    with pytest.raises(MindshareError, match="bad.csv, line 3: column 'value' has '-3"):
        read_results(bad)


def test_targeting_by_uplift_takes_the_most_persuadable_and_never_those_a_message_puts_off():
    from mindshare.marketing.uplift_targeting import expected_incremental, predicted_uplift, priority

    scores = CampaignScores(np.array([9.0, 8.0, 7.0, 6.0, 5.0, 4.0]), np.zeros((6, 3), dtype=np.int64))
    uplift = np.array([-0.2, 0.0, 0.05, 0.3, 0.1, 0.2])  # the best-scored are sure things or sleeping dogs
    none = np.zeros(6, bool)
    audience = choose_audience(_campaign(budget=3), scores, none, none, np.zeros(6, int), 1, 0, priority=uplift)
    assert audience.users.tolist() == [3, 5, 4] and audience.counts["no_expected_effect"] == 2
    assert audience.priority.tolist() == [0.3, 0.2, 0.1] and audience.scores.tolist() == [6.0, 4.0, 5.0]
    figures = expected_incremental(uplift, audience.users, ~none, scores.score)
    assert figures["expected_incremental"] == pytest.approx(0.6)
    assert figures["expected_incremental_by_score"] == pytest.approx(-0.15)  # users 0, 1, 2
    assert figures["expected_incremental_random"] == pytest.approx(np.mean(uplift) * 3)
    valued = Campaign(name="v", items=["a"], budget=3, target="incremental_value", value_per_conversion=50.0,
                      cost_per_contact=6.0)
    assert priority(valued, uplift).tolist() == pytest.approx([-16.0, -6.0, -3.5, 9.0, -1.0, 4.0])

    class Learner:
        features_ = ["score", "profile_orders"]

        def predict(self, x):
            return x["profile_orders"].to_numpy() - x["score"].to_numpy()

    profiles = pd.DataFrame({"orders": [1, 2], "name": ["x", "y"]}, index=pd.Index(["u1", "u2"], name="user_id"))
    got = predicted_uplift(valued, Learner(), np.array([0.5, 0.25]), profiles, np.array(["u1", "u2"]))
    assert got.tolist() == [0.5, 1.75]
    Learner.features_ = ["score", "profile_visits"]
    with pytest.raises(MindshareError, match="campaign 'v': its uplift model learned from 'profile_visits'"):
        predicted_uplift(valued, Learner(), np.array([0.5, 0.25]), profiles, np.array(["u1", "u2"]))
