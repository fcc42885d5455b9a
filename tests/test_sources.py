"""Sources read offline from files the tests write: every MovieLens layout, a zip, ISO dates."""

from __future__ import annotations

import zipfile

import pandas as pd
import pytest

from mindshare.data.movielens import read_movielens
from mindshare.data.schema import RawTable, canonical_interactions, canonical_items
from mindshare.data.synthetic import SyntheticSpec, generate_synthetic
from mindshare.errors import MindshareError


def _check(folder):
    ratings, items = read_movielens(folder)
    frame = canonical_interactions(ratings, (0.5, 5.0))
    assert frame["user_id"].tolist() == ["1", "2"]
    assert frame["item_id"].tolist() == ["10", "20"]
    assert frame["rating"].tolist() == [4.0, 3.5]
    assert frame["timestamp"].dtype == "int64"
    catalogue = canonical_items(items).set_index("item_id")
    assert catalogue.loc["10", "categories"] == ["Comedy", "Drama"]
    return catalogue


def test_ratings_csv_layout(tmp_path):
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,10,4.0,100\n2,20,3.5,200\n")
    (tmp_path / "movies.csv").write_text(
        'movieId,title,genres\n10,"Film, The (1999)",Comedy|Drama\n20,B,(no genres listed)\n'
    )
    catalogue = _check(tmp_path)
    assert catalogue.loc["10", "title"] == "Film, The (1999)" and catalogue.loc["20", "categories"] == []


def test_ratings_dat_layout(tmp_path):
    (tmp_path / "ratings.dat").write_text("1::10::4::100\n2::20::3.5::200\n")
    (tmp_path / "movies.dat").write_bytes("10::Caf\xe9 (1999)::Comedy|Drama\n20::B::Action\n".encode("latin-1"))
    assert _check(tmp_path).loc["10", "title"] == "Café (1999)"


def test_u_data_layout(tmp_path):
    (tmp_path / "u.data").write_text("1\t10\t4\t100\n2\t20\t3.5\t200\n")
    flags = ["0"] * 19
    comedy_drama = flags.copy()
    comedy_drama[5], comedy_drama[8] = "1", "1"
    (tmp_path / "u.item").write_text(
        "10|A (1995)|01-Jan-1995||http://x|"
        + "|".join(comedy_drama)
        + "\n20|B (1996)|||http://y|"
        + "|".join(flags)
        + "\n"
    )
    _check(tmp_path)


def test_zip_with_top_folder(tmp_path):
    archive = tmp_path / "ml.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ml-x/ratings.csv", "userId,movieId,rating,timestamp\n1,10,4.0,100\n2,20,3.5,200\n")
        zf.writestr("ml-x/movies.csv", "movieId,title,genres\n10,A,Comedy|Drama\n20,B,Action\n")
    _check(archive)


def test_broken_zip_and_missing_path(tmp_path):
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(MindshareError, match="not a readable zip"):
        read_movielens(tmp_path / "bad.zip")
    with pytest.raises(MindshareError, match="no such file or folder"):
        read_movielens(tmp_path / "absent")
    with pytest.raises(MindshareError, match="no MovieLens ratings file"):
        read_movielens(tmp_path)


def test_iso_dates_and_formats():
    frame = pd.DataFrame(
        {"user_id": ["1", "2"], "item_id": ["a", "b"], "timestamp": ["1970-01-02T00:00:00Z", "1970-01-01 00:01:00"]}
    )
    assert canonical_interactions(RawTable(frame, "f.csv")).timestamp.tolist() == [86_400, 60]
    dated = frame.assign(timestamp=["02/01/1970", "01/01/1970"])
    out = canonical_interactions(RawTable(dated, "f.csv"), timestamp_format="%d/%m/%Y")
    assert out.timestamp.tolist() == [86_400, 0]


def test_synthetic_is_seeded_and_canonical():
    spec = SyntheticSpec(n_users=50, n_items=30, n_interactions=500, seed=3)
    a, items = generate_synthetic(spec)
    b, _ = generate_synthetic(spec)
    pd.testing.assert_frame_equal(a, b)
    assert not a.duplicated(["user_id", "item_id"]).any()
    canonical = canonical_interactions(RawTable(a, "synthetic"), (0.5, 5.0))
    assert len(canonical) == len(a)
    assert set(a["item_id"]) <= set(items["item_id"])


def test_movielens_tags_and_years_become_item_features(tmp_path):
    from mindshare.data.schema import canonical_interactions, canonical_items
    from mindshare.features.tables import FeatureSettings, build_feature_tables

    folder = tmp_path / "ml-latest"
    folder.mkdir()
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4,100\n2,1,3,200\n2,2,5,300\n")
    (folder / "movies.csv").write_text(
        'movieId,title,genres\n1,Heat (1995),Action|Crime\n2,"Up, Up (2009)",Animation\n'
    )
    (folder / "tags.csv").write_text('userId,movieId,tag,timestamp\n1,1,Heist,10\n2,1,heist ,11\n2,2,"Pixar, fun",12\n')
    ratings, items = read_movielens(folder)
    items = canonical_items(items)
    assert items["tags"].tolist() == [["heist"], ["pixar, fun"]]
    _, table = build_feature_tables(canonical_interactions(ratings), items, FeatureSettings(max_tags=5))
    assert (
        table.loc["1", "tag_heist"] == 1 and table.loc["2", "tag_pixar_fun"] == 1 and table.loc["2", "tag_heist"] == 0
    )
    assert table["item_year"].tolist() == [1995, 2009]
    dat = tmp_path / "ml-10m"
    dat.mkdir()
    (dat / "ratings.dat").write_text("1::1::4::100\n")
    (dat / "movies.dat").write_text("1::Heat (1995)::Action\n")
    (dat / "tags.dat").write_text("1::1::heist::10\n")
    assert canonical_items(read_movielens(dat)[1])["tags"].tolist() == [["heist"]]
