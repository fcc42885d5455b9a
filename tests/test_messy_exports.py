"""Messy exports: every rule of ingest.cleaning, JSON lines, event weights, `mindshare inspect`."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from mindshare.data.events import load_events, read_table
from mindshare.data.interactions import Interactions
from mindshare.errors import MindshareError
from mindshare.settings import IngestSettings, checked_block

MESSY = (
    "customer,sku,qty,when,event\n"
    "17850.0,A1,2,2010-12-01 08:26:00,purchase\n"  # float-looking id: repaired
    ",A2,1,2010-12-01 08:27:00,purchase\n"  # missing user: dropped
    "17850,A3,-1,2010-12-02 09:00:00,purchase\n"  # a return: dropped
    "13047,A1,1,12/03/2010 10:15,view\n"  # another date format
    "13047,,1,2010-12-03 10:16:00,view\n"  # missing item: dropped
    "13047,A1,1,2010-12-03 10:17:00,cart\n"
    "13047,A2,1,not a date,view\n"
)
COLUMNS = {"user_id": "customer", "item_id": "sku", "quantity": "qty", "timestamp": "when", "event": "event"}
WEIGHTS = {"view": 1, "cart": 3, "purchase": 5}


def _load(tmp_path, text=MESSY, suffix=".csv", **ingest):
    path = tmp_path / f"export{suffix}"
    path.write_text(text)
    return load_events(read_table(path, COLUMNS), _ingest(**{"timestamp_format": "mixed", "event_weights": WEIGHTS,
                                                             **ingest}))


def _ingest(**values) -> IngestSettings:
    """ingest settings as params.yaml would give them (checked by the settings schema)."""
    return checked_block(IngestSettings, {"source": "events", "path": "export.csv", "rating_scale": None, **values},
                         "params.yaml: ingest")


def test_every_messy_row_is_kept_repaired_or_dropped_and_counted(tmp_path):
    interactions, report = _load(tmp_path, cleaning={"unparseable_timestamp": "drop"})
    assert report.dropped == {
        "missing_user_id": 1,
        "missing_item_id": 1,
        "negative_quantity": 1,
        "unparseable_timestamp": 1,
    }
    assert report.repaired == {"float_user_id": 1}
    assert interactions["user_id"].tolist() == ["17850", "13047", "13047"]
    assert interactions["weight"].tolist() == [5.0, 1.0, 3.0]
    assert interactions["timestamp"].iloc[1] == pd.Timestamp("2010-12-03 10:15", tz="UTC").timestamp()
    matrix = Interactions.from_frame(interactions).matrix.toarray()
    assert sorted(matrix.ravel().tolist()) == [4.0, 5.0]  # 13047 viewed (1) and carted (3) A1: they add up


def test_rules_can_refuse_with_the_files_line(tmp_path):
    with pytest.raises(MindshareError, match=r"export.csv, line 8: column 'timestamp' has 'not a date'"):
        _load(tmp_path)  # unparseable_timestamp: error (the default); line numbers survive the drops above
    with pytest.raises(MindshareError, match=r"line 3: column 'user_id'.*ingest.cleaning.missing_user_id"):
        _load(tmp_path, cleaning={"missing_user_id": "error"})
    with pytest.raises(MindshareError, match=r"line 4: column 'quantity' has '-1', a return"):
        _load(tmp_path, cleaning={"negative_quantity": "error", "unparseable_timestamp": "drop"})
    with pytest.raises(MindshareError, match=r"column 'event' has 'view', an event type not in"):
        _load(tmp_path, event_weights={"purchase": 5}, cleaning={"unparseable_timestamp": "drop"})
    kept, report = _load(
        tmp_path, cleaning={"negative_quantity": "keep", "float_ids": "keep", "unparseable_timestamp": "drop"}
    )
    assert "17850.0" in set(kept["user_id"]) and "negative_quantity" not in report.dropped
    with pytest.raises(MindshareError, match="unknown key 'cleaning.typos'"):
        _ingest(cleaning={"typos": "drop"})
    with pytest.raises(MindshareError, match="cleaning.float_ids is 'drop'"):
        _ingest(cleaning={"float_ids": "drop"})
    with pytest.raises(MindshareError, match="event_weights.view is -1"):
        _load(tmp_path, event_weights={"view": -1})


def test_zero_weight_events_are_dropped_and_counted(tmp_path):
    _, report = _load(
        tmp_path, event_weights={"view": 0, "cart": 3, "purchase": 5}, cleaning={"unparseable_timestamp": "drop"}
    )
    assert report.dropped["event_weight_zero"] == 1  # the view with a bad date was dropped first


def test_json_lines(tmp_path):
    rows = [
        {"customer": 17850.0, "sku": "A1", "qty": 2, "when": "2010-12-01T08:26:00", "event": "purchase"},
        {"customer": "13047", "sku": "B2", "qty": 1, "when": "2010-12-02T08:26:00", "event": "view"},
    ]
    interactions, report = _load(tmp_path, "".join(json.dumps(r) + "\n" for r in rows), ".jsonl")
    assert interactions["user_id"].tolist() == ["17850", "13047"] and report.repaired == {"float_user_id": 1}
    (tmp_path / "broken.jsonl").write_text('{"customer": 1\n')
    with pytest.raises(MindshareError, match="broken.jsonl, line 1: not JSON"):
        read_table(tmp_path / "broken.jsonl", COLUMNS)


def _inspect(tmp_path, *args):
    return subprocess.run(
        [sys.executable, "-m", "mindshare.cli", "inspect", *args], capture_output=True, text=True, cwd=tmp_path
    )


def test_inspect_reports_what_the_pipeline_would_see(tmp_path):
    (tmp_path / "export.csv").write_text(MESSY)
    result = _inspect(
        tmp_path,
        "--data",
        "export.csv",
        "--columns",
        "user_id=customer,item_id=sku,quantity=qty,timestamp=when,event=event",
        "--timestamp-format",
        "mixed",
        "--cleaning",
        "unparseable_timestamp=drop",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for needle in (
        "rows read: 7",
        "rows kept: 3",
        "users: 2",
        "items: 1",
        "missing_user_id: 1",
        "negative_quantity: 1",
        "float_user_id: 1",
        "density",
        "2010-12-01",
        "customer",
    ):
        assert needle in out, (needle, out)
    canonical = tmp_path / "canonical.csv"
    canonical.write_text("user_id,item_id,timestamp\n1,10,100\n2,10,200\n")
    assert "rows kept: 2" in _inspect(tmp_path, "--data", "canonical.csv").stdout


@pytest.mark.parametrize(
    "name, content, needle",
    [
        ("empty.csv", "", "empty"),
        ("header.csv", "customer,sku,when\n", "header but no rows"),
        ("nouser.csv", "sku,when\nA,100\n", "'user_id' is missing"),
        ("dates.csv", "customer,sku,when\n1,A,yesterday\n", "line 2: column 'timestamp'"),
        ("latin.csv", b"customer,sku,when\n1,caf\xe9,100\n", "not valid utf-8"),
        ("broken.zip", b"PK\x03\x04 not really", "not a readable zip"),
        ("absent.csv", None, "no such file"),
    ],
)
def test_inspect_refuses_unusable_input_in_one_line(tmp_path, name, content, needle):
    if content is not None:
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = _inspect(tmp_path, "--data", name, "--columns", "user_id=customer,item_id=sku,timestamp=when")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert needle in result.stderr and "Traceback" not in result.stderr


def test_inspect_recognises_movielens_layouts(tmp_path):
    folder = tmp_path / "ml"
    folder.mkdir()
    (folder / "ratings.dat").write_text("1::10::4::978300760\n2::10::3::978300761\n2::11::5::978300762\n")
    result = _inspect(tmp_path, "--data", "ml")
    assert result.returncode == 0 and "MovieLens" in result.stdout and "rows kept: 3" in result.stdout
    assert np.isclose(float(result.stdout.split("density: ")[1].split()[0].rstrip("%")), 75.0)


def test_json_lines_errors_name_the_files_line(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(
        '{"customer": 1, "sku": "A", "when": 100}\n\n{"customer": null, "sku": "B", "when": 200}\n'
        '{"customer": 2, "sku": "C", "when": "soon"}\n'
    )
    with pytest.raises(MindshareError, match=r"events.jsonl, line 3: column 'user_id'"):
        load_events(read_table(path, COLUMNS), _ingest(cleaning={"missing_user_id": "error"}))
    with pytest.raises(MindshareError, match=r"events.jsonl, line 4: column 'timestamp' has 'soon'"):
        load_events(read_table(path, COLUMNS), _ingest())
    path.write_text('{"customer": 1}\n[1, 2]\n')
    with pytest.raises(MindshareError, match="line 2: not a JSON object"):
        read_table(path, COLUMNS)
    path.write_text('{"customer": 1, "sku": "A", "when": 1e30}\n')
    with pytest.raises(MindshareError, match="line 1: column 'timestamp'"):
        load_events(read_table(path, COLUMNS), _ingest())


SHOP_ROWS = (
    "customer,sku,when,Description,Category,UnitPrice\n"
    "1,A1,2010-12-01 08:00:00,WHITE MUG,kitchen,2.5\n"
    "2,A1,2010-12-01 09:00:00,White mug ,kitchen,2.5\n"  # a typo on one row: the most frequent wins
    "3,A1,2010-12-01 10:00:00,WHITE MUG,kitchen|gifts,3.0\n"
    "1,B2,2010-12-02 08:00:00,RED LAMP,home,10\n"
    "2,B2,2010-12-02 09:00:00,LAMP RED,home,10\n"  # a tie with RED LAMP: the first seen wins
    "3,C3,not a date,TEA TIN,kitchen,1\n"  # dropped by the cleaning rules: so is its item
    "4,D4,2010-12-03 08:00:00,,,1\n"  # an item its rows never describe: its id as title
)
DROP_BAD_DATES = {"unparseable_timestamp": "drop"}
SHOP_COLUMNS = {"user_id": "customer", "item_id": "sku", "timestamp": "when", "title": "Description",
                "categories": "Category", "price": "UnitPrice"}


def test_item_columns_in_the_log_give_the_item_table_its_most_frequent_values(tmp_path):
    from mindshare.data.events import load_events_and_items

    path = tmp_path / "shop.csv"
    path.write_text(SHOP_ROWS)
    raw = read_table(path, SHOP_COLUMNS)
    interactions, items, report = load_events_and_items(raw, _ingest(cleaning=DROP_BAD_DATES))
    assert report.dropped == {"unparseable_timestamp": 1}
    items = items.set_index("item_id")
    assert list(items.index) == ["A1", "B2", "D4"]
    assert items["title"].tolist() == ["WHITE MUG", "RED LAMP", "D4"]
    assert items["categories"].tolist() == [["kitchen"], ["home"], []]
    assert items.loc["A1", "price"] == 2.5 and items.loc["B2", "price"] == 10
    assert set(interactions["item_id"]) == set(items.index)


def test_a_log_without_item_columns_gives_no_item_table_and_ingest_accepts_the_mapping(tmp_path):
    from mindshare.data.events import load_events_and_items
    from mindshare.data.sources import read_source_tables

    path = tmp_path / "shop.csv"
    path.write_text(SHOP_ROWS)
    plain = {k: v for k, v in SHOP_COLUMNS.items() if k in ("user_id", "item_id", "timestamp")}
    assert load_events_and_items(read_table(path, plain), _ingest(cleaning=DROP_BAD_DATES))[1] is None
    tables = read_source_tables(_ingest(path=str(path), columns=SHOP_COLUMNS, cleaning=DROP_BAD_DATES))
    assert dict(zip(tables.items["item_id"], tables.items["title"])) == {"A1": "WHITE MUG", "B2": "RED LAMP",
                                                                        "D4": "D4"}
    with pytest.raises(MindshareError, match="unknown key 'name'"):
        read_table(path, {**plain, "name": "Description"})


def test_example_data_writes_the_synthetic_shop_log_and_its_items(tmp_path):
    from mindshare.cli import main

    out = tmp_path / "log.parquet"
    assert main(["example-data", "--synthetic", "--rows", "2000", "--out", str(out)]) == 0
    events, items = pd.read_parquet(out), pd.read_parquet(tmp_path / "log_items.parquet")
    assert len(events) == 2000 and list(events.columns) == ["user_id", "item_id", "timestamp", "price"]
    assert set(events["item_id"]) <= set(items["item_id"]) and items["categories"].str.contains("category_").all()
    assert main(["example-data", "--synthetic", "--out", str(tmp_path / "log.csv")]) == 2
