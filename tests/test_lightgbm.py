"""The LightGBM hybrid on seeded synthetic data: contract, no leakage of seen items, ratings."""

from __future__ import annotations

import numpy as np
import pytest

from mindshare.data.interactions import Interactions
from mindshare.data.synthetic import SyntheticSpec, generate_synthetic
from mindshare.errors import MindshareError
from mindshare.features.tables import build_feature_tables
from mindshare.models.lightgbm_ranker import LightGBMRanker

SMALL = dict(base_models=("item_knn", "svd"), rating_models=("baseline", "item_knn"), n_estimators=40,
             early_stopping_rounds=10, n_jobs=1)


@pytest.fixture(scope="module")
def data():
    frame, items = generate_synthetic(SyntheticSpec(n_users=200, n_items=120, n_interactions=6000, seed=3))
    return Interactions.from_frame(frame).with_features(*build_feature_tables(frame, items))


@pytest.fixture(scope="module")
def model(data):
    return LightGBMRanker(**SMALL).fit(data)


def test_recommend_contract(model, data):
    users = np.arange(data.n_users)
    items, scores = model.recommend(users, k=10)
    assert items.shape == (data.n_users, 10)
    seen = data.matrix.toarray() != 0
    rows = np.repeat(users, 10)
    valid = items.ravel() >= 0
    assert not seen[rows[valid], items.ravel()[valid]].any()
    assert (np.diff(scores, axis=1)[np.isfinite(scores[:, 1:])] <= 1e-6).all()  # best first
    one, _ = model.recommend(users[5:6], k=10)
    assert (one[0] == items[5]).all()
    assert model.score(rows[valid][:50], items.ravel()[valid][:50]) == pytest.approx(
        scores.ravel()[valid][:50], rel=1e-5
    )


def test_feature_importances_and_ratings(model, data):
    table = model.feature_importances()
    assert set(table["model"]) == {"ranking", "rating"}
    assert any(f.startswith("cat_") for f in table["feature"]) and "pair_category_affinity" in set(table["feature"])
    predicted = model.predict_ratings(np.array([0, 1, -1]), np.array([0, 1, 0]))
    assert predicted.shape == (3,) and np.isfinite(predicted).all()


def test_deterministic_and_save_load(model, data, tmp_path):
    again = LightGBMRanker(**SMALL).fit(data)
    users = np.arange(20)
    assert (again.recommend(users, k=5)[0] == model.recommend(users, k=5)[0]).all()
    model.save(tmp_path / "m.pkl")
    loaded = LightGBMRanker.load(tmp_path / "m.pkl")
    assert (loaded.recommend(users, k=5)[0] == model.recommend(users, k=5)[0]).all()


def test_a_family_both_base_and_rater_is_fitted_and_saved_once(model, data, tmp_path):
    shared = next(b for b in model.bases_ if b.name == "item_knn")
    assert any(rater is shared for rater in model.raters_)
    model.save(tmp_path / "m.pkl")
    loaded = LightGBMRanker.load(tmp_path / "m.pkl")
    assert any(rater is next(b for b in loaded.bases_ if b.name == "item_knn") for rater in loaded.raters_)


def test_learn_rating_only_cannot_rank(data):
    rating_only = LightGBMRanker(**{**SMALL, "learn": "rating"}).fit(data)
    with pytest.raises(MindshareError, match="cannot rank"):
        rating_only.recommend(np.arange(3), k=5)
    with pytest.raises(MindshareError, match="learn 'sideways'"):
        LightGBMRanker(learn="sideways").fit(data)


@pytest.mark.parametrize("max_groups, expected", [
    (None, (5, None)),      # no cap: every fold, every user
    (5_000, (5, None)),     # the shipped cap on a small log: unchanged
    (600, (3, None)),       # 200 users: 3 folds of all of them
    (500, (3, 166)),        # 3 folds, then a sample of 166 per fold
    (150, (1, 150)),        # many users for the cap: one fold (one refit of the bases), a sample of them
])
def test_training_groups_are_bounded_by_max_groups(data, max_groups, expected):
    assert LightGBMRanker(**SMALL, max_groups=max_groups)._training_groups(data, 5) == expected


def test_a_sample_of_users_per_fold_trains_the_ranker(data):
    """The cap draws a seeded sample of each fold's users: fewer training groups, the same contract."""
    capped = LightGBMRanker(**SMALL, learn="ranking", max_groups=80).fit(data)
    n_used, per_fold = capped._training_groups(data, 5)
    assert (n_used, per_fold) == (1, 80)
    key = next(k for k in data._memo if k[0] == "ranking" and per_fold in k)
    _, parts, _ = data._memo[key]  # (check, training folds, bases)
    assert len(np.unique(parts[0][2])) <= 80
    items, _ = capped.recommend(np.arange(10), k=5)
    assert items.shape == (10, 5) and (items >= 0).all()


def test_threads_capped_by_omp_num_threads(monkeypatch):
    from mindshare.models.lightgbm_ranker import capped_threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert capped_threads(2) == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert (capped_threads(2), capped_threads(-1)) == (1, 1)
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert capped_threads(2) == 2


def test_rating_rows_are_bounded_by_max_rating_rows(data):
    counts = np.diff(data.matrix.indptr)
    per_fold = int(counts[counts > 1].sum()) // 5
    for cap in (None, 1_000_000, per_fold * 5):  # no cap, the shipped cap on a small log, exactly every rating
        assert LightGBMRanker(**SMALL, max_rating_rows=cap)._rating_folds(data, 5) == (5, None)
    assert LightGBMRanker(**SMALL, max_rating_rows=per_fold * 2)._rating_folds(data, 5) == (2, per_fold)
    assert LightGBMRanker(**SMALL, max_rating_rows=300)._rating_folds(data, 5) == (1, 300)


def test_the_rating_learner_takes_a_sample_of_the_held_out_ratings(data, monkeypatch):
    """Under the cap the regressor sees every fold's held-out ratings; over it, fewer folds and a seeded sample."""
    rows: list[int] = []
    fit_regressor = LightGBMRanker._fit_regressor

    def counting(self, x, y, x_stop, y_stop, names):
        rows.append(len(y) + len(y_stop))
        return fit_regressor(self, x, y, x_stop, y_stop, names)

    monkeypatch.setattr(LightGBMRanker, "_fit_regressor", counting)
    counts = np.diff(data.matrix.indptr)
    whole = LightGBMRanker(**SMALL, learn="rating", max_rating_rows=None).fit(data)
    capped = LightGBMRanker(**SMALL, learn="rating", max_rating_rows=300).fit(data)
    assert rows == [int(counts[counts > 1].sum()), 300]
    users, items = np.arange(20), np.arange(20)
    assert np.isfinite(capped.predict_ratings(users, items)).all()
    assert not np.allclose(capped.predict_ratings(users, items), whole.predict_ratings(users, items))
