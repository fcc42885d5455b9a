"""New items: matched on words where the data has item text, else on categories."""

import numpy as np
import pandas as pd

from mindshare.data.interactions import Interactions
from mindshare.features.tables import build_feature_tables
from mindshare.models.cold_start import ColdStartPolicy
from mindshare.models.new_items import CATEGORIES, WORDS, new_items_of


def test_new_items_are_matched_on_the_words_of_a_users_items(tiny):
    # u4 saw only "cooking show"; u1 saw space war, space opera, love story
    catalogue = pd.DataFrame({"item_id": ["f", "g", "h"], "title": ["cooking contest", "space station", "zzz"]})
    new = new_items_of(tiny, catalogue)
    assert new.basis == WORDS
    assert new.ids.tolist() == ["f", "g"]  # "zzz" has no word the training items know
    u1, u4 = tiny.user_index(["u1", "u4"])
    affinity = new.affinity(np.array([u1, u4]))
    assert affinity[0, 1] > affinity[0, 0] == 0.0  # u1: the space station, not the cooking contest
    assert affinity[1, 0] > affinity[1, 1] == 0.0  # u4: the other way round
    policy = ColdStartPolicy(tiny, catalogue=catalogue)
    assert policy.new_item_ids_.tolist() == ["f", "g"]
    ids, _ = policy.new_item_choices(np.array([u4]))
    assert ids[0, 0] == "f"


def test_without_item_text_new_items_are_matched_on_categories(tiny_frame):
    items = pd.DataFrame({"item_id": list("abcde") + ["f"],
                          "categories": [["war"], ["war"], ["love"], ["love"], ["food"], ["food"]]})
    train = Interactions.from_frame(tiny_frame).with_features(*build_feature_tables(tiny_frame, items))
    new = new_items_of(train, items)
    assert new.basis == CATEGORIES and new.ids.tolist() == ["f"]
    u4 = train.user_index(["u4"])
    assert new.affinity(u4)[0, 0] == 1.0  # all of u4's interactions are in food
    assert new_items_of(train, items[items["item_id"] != "f"]) is None


def test_bench_cold_start_reports_new_items_by_words_and_by_categories_alone():
    from mindshare.bench.cold_start import format_cold_start, run_cold_start_bench
    from mindshare.data.synthetic import SyntheticSpec, generate_synthetic

    frame, items = generate_synthetic(SyntheticSpec(n_users=120, n_items=80, n_interactions=3000, seed=1))
    results = run_cold_start_bench(frame, items, None, ["popularity"], [0])
    for name in ("new_items", "new_items_by_categories"):
        assert results[name]["new_items_users"] > 0
    # the titles ("Item 17") hold no word shared by two items beyond "item", the categories are words too
    assert results["new_items"]["new_items"] == results["new_items_by_categories"]["new_items"]
    text = format_cold_start(results, ["popularity"], 3)
    assert "matched on words where the catalogue has text" in text and "matched on categories alone" in text
