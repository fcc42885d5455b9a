"""The pieces that let the pipeline hold at tens of millions of rows: the chunked synthetic source,
the events file it writes, column-wise pseudonymisation, the evaluation sample, sparse user shares."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from mindshare.data import synthetic
from mindshare.data.pseudonymise import pseudonymise, pseudonymise_column
from mindshare.errors import MindshareError
from mindshare.evaluation.on_test import sample_test_users
from mindshare.features.categories import top_categories
from mindshare.features.users import build_user_features
from mindshare.settings import Settings

from stage_project import REPO


def test_scaled_spec_has_the_default_shape():
    spec = synthetic.scaled_spec(20_000_000, seed=3)
    assert (spec.n_users, spec.n_items, spec.n_interactions, spec.seed) == (200_000, 50_000, 20_000_000, 3)


def test_the_log_is_drawn_in_chunks_seeded_and_complete(monkeypatch):
    spec = synthetic.scaled_spec(40_000, seed=1)
    whole = synthetic.draw_synthetic(spec, merge_repeats=False)
    monkeypatch.setattr(synthetic, "CHUNK_ROWS", 3_000)  # 14 chunks, the last one short
    chunked = synthetic.draw_synthetic(spec, merge_repeats=False)
    again = synthetic.draw_synthetic(spec, merge_repeats=False)
    assert len(chunked.users) == 40_000 and np.array_equal(chunked.items, again.items)  # seeded
    assert chunked.users.dtype == np.int32 and chunked.items.dtype == np.int32
    for drawn in (whole, chunked):  # every row written: no slot of the preallocated arrays left unset
        assert drawn.users.min() >= 0 and drawn.users.max() < spec.n_users
        assert drawn.items.min() >= 0 and drawn.items.max() < spec.n_items
        assert drawn.rating.min() >= 0.5 and drawn.rating.max() <= 5.0
        assert np.all(np.diff(drawn.timestamp) >= 0)
    # the same model whatever the chunking: popularity is power-law and agrees between the two draws
    top = np.argsort(-np.bincount(whole.items, minlength=spec.n_items))[:20]
    top_chunked = np.argsort(-np.bincount(chunked.items, minlength=spec.n_items))[:20]
    assert len(set(top) & set(top_chunked)) >= 15
    counts = np.sort(np.bincount(whole.items, minlength=spec.n_items))[::-1]
    assert counts[: spec.n_items // 10].sum() > 0.3 * counts.sum()


def test_merged_log_keeps_one_row_per_user_and_item():
    frame, items = synthetic.generate_synthetic(synthetic.SyntheticSpec(n_interactions=5000, seed=2))
    assert not frame.duplicated(["user_id", "item_id"]).any()
    assert frame["user_id"].dtype == "str" and len(items) == 400


def test_events_file_has_every_draw_in_row_groups(tmp_path):
    spec = synthetic.scaled_spec(30_000, seed=4)
    rows = synthetic.write_synthetic_events(spec, tmp_path / "events.parquet", tmp_path / "items.parquet",
                                            chunk_rows=7_000)
    events = pq.ParquetFile(tmp_path / "events.parquet")
    assert rows == events.metadata.num_rows == 30_000  # repeats kept: exactly N events
    assert events.metadata.num_row_groups == 5
    frame = events.read().to_pandas()
    items = pd.read_parquet(tmp_path / "items.parquet")
    assert list(frame.columns) == ["user_id", "item_id", "timestamp", "price"]
    assert frame["user_id"].nunique() <= spec.n_users and set(frame["item_id"]) <= set(items["item_id"])
    price = items.set_index("item_id")["price"]
    assert np.allclose(frame["price"].to_numpy(), price.reindex(frame["item_id"]).to_numpy())
    assert frame.duplicated(["user_id", "item_id"]).any()  # people buy the same thing again
    assert items["categories"].str.contains("|", regex=False).all()


def test_pseudonymise_column_equals_pseudonymise_and_keeps_the_index():
    ids = pd.Series(["7", "x", "7", "ü"], index=[10, 11, 12, 13])
    column = pseudonymise_column(ids, b"key")
    assert list(column.index) == [10, 11, 12, 13]
    assert list(column) == list(pseudonymise(ids, b"key"))


def test_evaluation_sample_is_seeded_whole_users_and_independent_of_pseudonyms():
    test = pd.DataFrame({"user_id": np.repeat([f"u{i}" for i in range(50)], 3), "item_id": np.arange(150).astype(str)})
    sample = sample_test_users(test, 10, seed=0)
    assert sample["user_id"].nunique() == 10 and len(sample) == 30  # all rows of each chosen user
    assert sample.equals(sample_test_users(test, 10, seed=0))
    assert not sample.equals(sample_test_users(test, 10, seed=1))
    renamed = test.assign(user_id=test["user_id"].map(lambda u: f"other-key-{u}"))
    assert list(sample_test_users(renamed, 10, seed=0).index) == list(sample.index)
    assert sample_test_users(test, None) is test and sample_test_users(test, 500) is test


@pytest.mark.parametrize("value", [0, -5, "many", 2.5, True])
def test_bad_sample_size_is_refused(value):
    import yaml

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["evaluate"]["sample_users"] = value
    with pytest.raises(MindshareError, match="evaluate.sample_users"):
        Settings.checked(params)


def test_user_category_shares_and_top_categories_are_counted_per_interaction():
    items = pd.DataFrame({"item_id": ["a", "b", "c"], "categories": [["x"], ["x", "y"], []]})
    train = pd.DataFrame({"user_id": ["u", "u", "u", "v", "v"], "item_id": ["a", "b", "b", "c", "b"],
                          "timestamp": [1, 2, 3, 4, 5]})
    assert top_categories(train["item_id"].value_counts(), items, 5) == ["x", "y"]  # x: 4 interactions, y: 3
    shares = build_user_features(train, items, ["x", "y"])
    assert shares.loc["u", "user_share_cat_x"] == pytest.approx(1.0)
    assert shares.loc["u", "user_share_cat_y"] == pytest.approx(2 / 3)
    assert shares.loc["v", "user_share_cat_x"] == pytest.approx(0.5) and shares.loc[
        "v", "user_share_cat_y"
    ] == pytest.approx(0.5)
