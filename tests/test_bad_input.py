"""Each bad input is a file the test writes; the real stage must exit 2 with one line naming it,
and leave no output behind. Duplicates and unknown items are kept going but counted."""

from __future__ import annotations

import json

import pytest

from stage_project import run_stage, write_params

pytestmark = pytest.mark.integration  # real stages, stores, servers or Spark: make test, not make check

HEADER = "user,item,score,when\n"
COLUMNS = {"user_id": "user", "item_id": "item", "rating": "score", "timestamp": "when"}


def _events(tmp_path, content: bytes | str, **params):
    data = tmp_path / "events.csv"
    data.write_bytes(content if isinstance(content, bytes) else content.encode())
    ingest = {"source": "events", "path": str(data), "columns": COLUMNS, **params.pop("ingest", {})}
    write_params(tmp_path, ingest=ingest, **params)
    return data


def _assert_refused(tmp_path, result, *needles):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not (tmp_path / "data/interim/interactions.parquet").exists()
    assert not list((tmp_path / "data").glob("**/*.tmp")) if (tmp_path / "data").exists() else True


@pytest.mark.parametrize(
    "content, needles",
    [
        ("user,item,score\n1,10,4\n", ["events.csv", "'timestamp' is missing"]),
        ("", ["events.csv", "empty"]),
        (HEADER, ["events.csv", "header but no rows"]),
        (HEADER + "1,10,4,100\n2,11,3,yesterday\n", ["events.csv, line 3", "'timestamp'", "yesterday"]),
        (HEADER + "1,10,4,100\n2,11,,200\n", ["events.csv, line 3", "'rating'", "not a number"]),
        (HEADER + "1,10,five,100\n", ["events.csv, line 2", "'rating'", "five"]),
        (HEADER + "1,10,4,100\n1,11,7,200\n", ["events.csv, line 3", "outside the scale"]),
        (HEADER.encode() + b"1,10,4,100\n2,caf\xe9,3,200\n", ["events.csv", "line 3", "not valid utf-8"]),
    ],
    ids=["missing-column", "empty", "header-only", "bad-timestamp", "nan-rating", "text-rating", "rating-scale",
         "not-utf8"],
)
def test_bad_events_file_is_refused(tmp_path, content, needles):
    _events(tmp_path, content)
    _assert_refused(tmp_path, run_stage(tmp_path, "ingest"), *needles)


def test_missing_movielens_column(tmp_path):
    folder = tmp_path / "ml"
    folder.mkdir()
    (folder / "ratings.csv").write_text("userId,movieId,rating\n1,1,4.0\n")
    write_params(tmp_path, ingest={"source": "movielens", "path": str(folder)})
    _assert_refused(tmp_path, run_stage(tmp_path, "ingest"), "ratings.csv", "'timestamp' is missing")


def test_unknown_model_in_params(tmp_path):
    _events(tmp_path, HEADER + "1,10,4,100\n", models=["popularity", "deep_magic"])
    _assert_refused(tmp_path, run_stage(tmp_path, "ingest"), "params.yaml", "unknown model 'deep_magic'")


def test_split_ratio_outside_unit_interval(tmp_path):
    _events(tmp_path, HEADER + "1,10,4,100\n", prepare={"split": {"protocol": "random_per_user", "test_ratio": 1.5,
                                                                  "valid_ratio": 0.1, "leave_last_n": 1,
                                                                  "valid_last_n": 1, "seed": 1}})
    _assert_refused(tmp_path, run_stage(tmp_path, "ingest"), "params.yaml", "test_ratio is 1.5", "less than 1")


def test_duplicates_dropped_and_unknown_items_counted(tmp_path):
    rows = "".join(f"{u},{i},4,{100 + u * 10 + i}\n" for u in range(1, 6) for i in range(1, 5))
    items = tmp_path / "items.csv"
    items.write_text("item_id,title,categories\n1,One,A|B\n2,Two,B\n")  # items 3 and 4 are missing
    _events(tmp_path, HEADER + rows + "1,1,4,111\n1,1,4,111\n", ingest={"items_path": str(items)})
    assert run_stage(tmp_path, "ingest").returncode == 0
    ingest = json.loads((tmp_path / "reports/ingest.json").read_text())
    assert ingest["counts"]["interactions_with_unknown_item"] == 10  # 5 users x items 3, 4
    result = run_stage(tmp_path, "prepare")
    assert result.returncode == 0, result.stderr
    prepare = json.loads((tmp_path / "reports/prepare.json").read_text())
    assert prepare["dropped"]["exact_duplicate"] == 2
    counts = prepare["counts"]
    assert counts["train_rows"] + counts["valid_rows"] + counts["test_rows"] == counts["rows_in"] - 2


@pytest.mark.parametrize("campaign, needle, stage", [
    ({"name": "promo", "items": ["no-such-item"], "budget": 10}, "item 'no-such-item'", "audience"),
    ({"name": "promo", "categories": ["category_01"], "budget": 0}, "budget is 0", "ingest"),
    ({"name": "promo", "categories": ["category_01"], "budget": 5, "template": "Hi {{ name"}, "template error",
     "ingest"),
])
def test_bad_campaign_stops_the_audience_stage(tmp_path, campaign, needle, stage):
    """A mistake params.yaml shows by itself stops every stage up front; one that needs the data (an item
    the catalogue lacks) stops the audience stage before it writes anything."""
    write_params(tmp_path, ingest={"source": "synthetic", "synthetic": {"n_users": 30, "n_items": 20,
                                                                     "n_interactions": 300, "seed": 1}},
                 campaigns=[campaign])
    if stage == "audience":
        assert run_stage(tmp_path, "ingest").returncode == 0
    result = run_stage(tmp_path, stage)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "campaign 'promo'" in lines[0] and needle in lines[0], result.stderr
    assert not (tmp_path / "data/audiences").exists()
