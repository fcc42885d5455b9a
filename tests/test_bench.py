"""`mindshare bench ranking` and `bench rating` on a tiny MovieLens-layout folder the test writes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mindshare.bench import RANKING_MODELS, RATING_MODELS
from mindshare.bench.ranking import run_ranking_bench
from mindshare.cli import main
from mindshare.data.interactions import Interactions

pytestmark = pytest.mark.integration  # real stages, stores, servers or Spark: make test, not make check


@pytest.fixture
def movielens(tmp_path):
    rng = np.random.default_rng(0)
    n = 1500
    frame = pd.DataFrame({"userId": rng.integers(1, 61, n), "movieId": rng.integers(1, 81, n),
                          "rating": rng.integers(1, 11, n) / 2, "timestamp": rng.integers(0, 10**6, n)})
    folder = tmp_path / "ml-tiny"
    folder.mkdir()
    frame.to_csv(folder / "u.data", sep="\t", header=False, index=False)  # the 100k layout
    return folder


def test_bench_ranking_writes_every_key(movielens, tmp_path, capsys):
    out = tmp_path / "ranking.json"
    assert main(["bench", "ranking", "--data", str(movielens), "--seeds", "0,1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["protocol"] == "ranking" and report["dataset"] == "ml-tiny"
    # no u.item here: no words for content; svd_spark (Spark's ALS) only when asked for by name
    assert set(report["results"]) == set(RANKING_MODELS) - {"content", "svd_spark"}
    for name, result in report["results"].items():
        assert {"ndcg_at_10", "precision_at_10", "recall_at_10", "map", "fit_seconds"} <= set(result)
        assert [r["seed"] for r in result["per_seed"]] == [0, 1]
        assert 0 <= result["ndcg_at_10"] <= 1
        assert result["recall_at_10"] <= result["recall_at_50"] <= 1  # the family's own 50 hold its 10
        if RANKING_MODELS[name]["family"] in ("lightgbm", "mlp"):
            assert result["recall_at_50"] <= result["pool_recall"] + 1e-9, name  # its 50 come from its pool
            for run in result["per_seed"]:  # what it ranked by: its learner, or its prior (a base's score column)
                assert run["ranks_by"] == "learner" if not run["fallback"] else run["ranks_by"].startswith("score_")
            assert result["fallback_seeds"] == [r["seed"] for r in result["per_seed"] if r["fallback"]]
        else:
            assert "pool_recall" not in result, name
    assert "item_knn_ease" in capsys.readouterr().out


def test_pool_recall_counts_the_test_items_in_the_union_of_the_bases_lists():
    from mindshare.bench.ranking import pool_recall
    from mindshare.evaluation import build_test_set
    from mindshare.models.lightgbm_ranker import LightGBMRanker

    class Fixed:  # a base that always offers the same items
        def __init__(self, items, train):
            self.items, self.train_ = np.array(items), train

        def recommend(self, users, k, exclude_seen=True):
            return np.tile(self.items[:k], (len(users), 1)), np.zeros((len(users), min(k, len(self.items))))

    train = Interactions.from_frame(pd.DataFrame({"user_id": ["a", "b", "c", "c", "c", "c"],
                                                  "item_id": ["0", "1", "2", "3", "4", "5"]}))
    reranker = LightGBMRanker(n_candidates=1)
    reranker.train_ = train
    index = dict(zip(["2", "3", "4", "5"], train.item_index(["2", "3", "4", "5"])))
    reranker.bases_ = [Fixed([index["2"]], train), Fixed([index["3"]], train)]
    # user a's test items 2, 3, 4 (two in the pool), user b's 5 and an item unknown to train (none in it)
    test = pd.DataFrame({"user_id": ["a", "a", "a", "b", "b"], "item_id": ["2", "3", "4", "5", "new"]})
    assert pool_recall(reranker, build_test_set(train, test)) == pytest.approx((2 / 3 + 0 / 2) / 2)


def test_bench_rating_writes_every_key(movielens, tmp_path):
    out = tmp_path / "rating.json"
    assert main(["bench", "rating", "--data", str(movielens), "--folds", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["results"]) == set(RATING_MODELS)
    for result in report["results"].values():
        assert {"rmse", "mae", "fit_seconds"} <= set(result) and len(result["per_fold"]) == 2
        assert 0 < result["rmse"] < 5


def test_ranking_protocol_merges_duplicates_and_counts_unseen_items():
    # user a: 4 distinct items (one duplicated) -> round(0.75 * 4) = 3 in train, 1 in test
    frame = pd.DataFrame({"user_id": ["a"] * 5 + ["b"] * 4, "item_id": ["1", "2", "3", "4", "4", "1", "2", "3", "5"],
                          "timestamp": range(9)})
    result = run_ranking_bench(frame, ["popularity"], [0])["popularity"]["per_seed"][0]
    assert result["users"] == 2.0


def test_bench_refuses_bad_arguments(movielens, capsys):
    assert main(["bench", "ranking", "--data", str(movielens), "--models", "deep"]) == 2
    assert main(["bench", "ranking", "--data", str(movielens), "--seeds", "x"]) == 2
    assert main(["bench", "rating", "--data", str(movielens / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("mindshare bench: error:") for line in err)


def test_bench_ease_keep_measures_the_curve_against_dense(movielens, tmp_path, capsys):
    out = tmp_path / "keep.json"
    assert main(["bench", "ease-keep", "--data", str(movielens), "--keeps", "2,0", "--seeds", "0",
                 "--json", str(out)]) == 0
    results = json.loads(out.read_text())["results"]
    assert set(results) == {"2", "0"} and results["0"]["loss_vs_dense"] == 0.0
    assert results["2"]["megabytes"] < results["0"]["megabytes"]
    assert results["2"]["loss_vs_dense"] == pytest.approx(results["0"]["ndcg_at_10"] - results["2"]["ndcg_at_10"])
    assert "dense" in capsys.readouterr().out
    assert main(["bench", "ease-keep", "--data", str(movielens), "--keeps", "-1"]) == 2


def test_bench_reads_an_events_files_items_file(tmp_path, capsys):
    rng = np.random.default_rng(1)
    n = 800
    events = pd.DataFrame({"customer": rng.integers(1, 41, n), "sku": rng.integers(1, 31, n).astype(str),
                           "ts": rng.integers(0, 10**6, n)})
    events.to_csv(tmp_path / "events.csv", index=False)
    words = ["red shoe", "blue shoe", "red hat", "green hat", "blue scarf"]
    pd.DataFrame({"sku": [str(i) for i in range(1, 31)], "name": [words[i % 5] for i in range(30)]}).to_csv(
        tmp_path / "products.csv", index=False)
    args = ["bench", "ranking", "--data", str(tmp_path / "events.csv"), "--columns",
            "user_id=customer,item_id=sku,timestamp=ts", "--models", "content", "--seeds", "0"]
    assert main(args) == 2  # without the items file: no words
    assert "no item text" in capsys.readouterr().err
    out = tmp_path / "content.json"
    assert main([*args, "--items", str(tmp_path / "products.csv"), "--item-columns", "item_id=sku,title=name",
                 "--json", str(out)]) == 0
    assert json.loads(out.read_text())["results"]["content"]["ndcg_at_10"] > 0
    assert main(["bench", "ranking", "--data", str(tmp_path / "events.csv"), "--items", str(tmp_path / "none.csv"),
                 "--columns", "user_id=customer,item_id=sku,timestamp=ts"]) == 2


def test_bench_ranking_temporal_scores_the_last_days_with_repeats(tmp_path, capsys):
    from mindshare.data.synthetic import scaled_spec, write_synthetic_events

    events, items = tmp_path / "shop.parquet", tmp_path / "shop_items.parquet"
    write_synthetic_events(scaled_spec(30_000, seed=2), events, items)
    out = tmp_path / "temporal.json"
    assert main(["bench", "ranking", "--data", str(events), "--items", str(items), "--protocol", "temporal",
                 "--test-days", "30", "--models", "popularity,own_items,buy_again,item_knn", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    settings, results = report["settings"], report["results"]
    assert settings["split"] == "temporal" and settings["test_days"] == 30 and settings["repeat"]["include"]
    assert set(results) == {"popularity", "own_items", "buy_again", "item_knn"}
    for result in results.values():
        assert {"ndcg_at_10", "recall_at_10", "repeat_hit_share_at_10", "fit_seconds", "users"} <= set(result)
    # where people re-buy, their own items are what they take next: the buy-again family ranks them first
    assert results["own_items"]["repeat_hit_share_at_10"] > results["popularity"]["repeat_hit_share_at_10"]
    assert results["buy_again"]["ndcg_at_10"] > results["item_knn"]["ndcg_at_10"] > results["popularity"]["ndcg_at_10"]
    assert "repeats included (auto" in capsys.readouterr().out
    excluded = tmp_path / "excluded.json"
    assert main(["bench", "ranking", "--data", str(events), "--protocol", "temporal", "--repeat", "exclude",
                 "--models", "own_items,item_knn", "--json", str(excluded)]) == 0
    without = json.loads(excluded.read_text())["results"]
    assert without["item_knn"]["repeat_hit_share_at_10"] == 0.0  # nothing seen is ranked
    assert main(["bench", "ranking", "--data", str(events), "--protocol", "temporal", "--test-days", "0"]) == 2


def test_a_bench_file_adds_keys_measured_once(movielens, tmp_path):
    """The variants of one question live in a bench file (docs/bench-variants.yaml), not in the package."""
    from stage_project import REPO

    out = tmp_path / "variants.json"
    variants = str(REPO / "docs" / "bench-variants.yaml")
    assert main(["bench", "ranking", "--data", str(movielens), "--seeds", "0", "--models-file", variants,
                 "--models", "item_knn,item_knn_200,svd_bpr", "--json", str(out)]) == 0
    assert set(json.loads(out.read_text())["results"]) == {"item_knn", "item_knn_200", "svd_bpr"}
    assert main(["bench", "ranking", "--data", str(movielens), "--models", "item_knn_200"]) == 2  # not without it
    clash = tmp_path / "clash.yaml"
    clash.write_text("ranking:\n  item_knn: {family: item_knn}\n  odd: {family: nope}\n")
    for flags in (["--models-file", str(clash)], ["--models-file", str(tmp_path / "none.yaml")]):
        assert main(["bench", "ranking", "--data", str(movielens), *flags]) == 2
