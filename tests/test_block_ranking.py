"""Long lists ranked in blocks by this machine's processes (engine: local): the model's own lists, in the users'
order; a worker's failure in one line naming the file; the settings that say how many processes."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from mindshare.data.interactions import Interactions
from mindshare.errors import MindshareError
from mindshare.models import block_ranking, make_model
from mindshare.models.block_ranking import ProcessRanking
from mindshare.settings import Settings

pytestmark = pytest.mark.integration  # real stages, stores, servers or Spark: make test, not make check


def _train(n_users: int = 900, n_items: int = 150, rows: int = 12_000, seed: int = 0) -> Interactions:
    rng = np.random.default_rng(seed)
    users = rng.zipf(1.5, size=rows) % n_users
    return Interactions.from_frame(pd.DataFrame({
        "user_id": [f"u{u}" for u in users], "item_id": [f"i{i}" for i in rng.zipf(1.3, size=rows) % n_items],
        "timestamp": np.arange(rows, dtype=np.int64), "rating": rng.integers(1, 6, size=rows).astype(np.float64)}))


def _assert_same_lists(ranked, expected) -> None:
    np.testing.assert_array_equal(ranked[0], expected[0])
    np.testing.assert_allclose(ranked[1], expected[1], rtol=1e-6)  # float32 sums in other block sizes
    assert ranked[1].dtype == expected[1].dtype


def test_lists_ranked_by_local_processes_are_the_models_own(tmp_path, monkeypatch):
    """Over more blocks than processes, finishing in any order; a re-ranker with its bases; and a file saved again
    under the same name while the processes live: each list is the model's own as the file is now."""
    monkeypatch.setattr(block_ranking, "USERS_PER_TASK", 60)  # 12 blocks on 2 processes
    train = _train()
    users = np.random.default_rng(0).permutation(train.n_users)[:700]
    path = tmp_path / "model.pkl"
    reranker = {"base_models": ["item_knn", "svd"], "rating_models": ["baseline"], "holdout_folds": 2,
                "n_estimators": 20}
    for version, (family, params) in enumerate([("item_knn", {}), ("svd", {"factors": 8}),
                                                ("svd", {"factors": 4, "seed": 3}), ("lightgbm", reranker)]):
        model = make_model(family, params).fit(train)
        model.save(path)
        os.utime(path, ns=(1, version))  # saved again: another version of the file, whatever the clock's grain
        ranking = ProcessRanking(model, path, workers=2, min_users=100)
        for exclude_seen in (True, False):
            _assert_same_lists(ranking.recommend(users, k=20, exclude_seen=exclude_seen),
                               model.recommend(users, k=20, exclude_seen=exclude_seen))
    assert list(block_ranking._pools) == [2]  # one pool of 2 processes ranked every model's lists


def test_short_lists_stay_in_process_and_the_rest_is_the_models(monkeypatch):
    monkeypatch.setattr(block_ranking, "_pools", {})
    model = make_model("popularity").fit(_train(n_users=200, rows=2_000))
    ranking = ProcessRanking(model, "no-such-file.pkl", workers=2, min_users=100)
    _assert_same_lists(ranking.recommend(np.arange(50), k=5), model.recommend(np.arange(50), k=5))
    assert block_ranking._pools == {} and ranking.train_ is model.train_


def test_a_workers_failure_is_one_line_naming_the_file(tmp_path):
    model = make_model("popularity").fit(_train(n_users=200, rows=2_000))
    broken = tmp_path / "model.pkl"
    broken.write_bytes(b"not a model")
    with pytest.raises(MindshareError, match=f"^{broken}: ranking in worker processes failed: ") as error:
        ProcessRanking(model, broken, workers=2, min_users=10).recommend(np.arange(100), k=5)
    assert "\n" not in str(error.value)


def test_local_settings_are_checked_in_one_line():
    base = {"ingest": {"source": "synthetic"}, "models": ["popularity"]}
    assert Settings.checked(base).local.workers() == len(os.sched_getaffinity(0))  # auto: this process's cores
    assert Settings.checked({**base, "local": {"rank_workers": 3}}).local.workers() == 3
    for bad, said in [({"rank_workers": 0}, "local.rank_workers is 0; input should be greater than or equal to 1 "
                                            "or input should be 'auto'$"),
                      ({"rank_workers": "all"}, "local.rank_workers is 'all'"),
                      ({"rank_min_user": 5}, "did you mean 'rank_min_users'")]:
        with pytest.raises(MindshareError, match=said) as error:
            Settings.checked({**base, "local": bad})
        assert "\n" not in str(error.value)
