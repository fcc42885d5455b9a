"""The one model contract, checked on every family (and every SVD algorithm) fitted once on seeded data.

recommend(users, k, exclude_seen) on a batch -> (items int64, scores float32) of shape (users, k), best
first, -1 / -inf padding; exclude_seen=False may return seen items (or the family refuses it with a
MindshareError its docstring states); a top k is the first k of a longer top; score(users, items) of
a pair does not depend on the other pairs asked for. Re-rankers rank by their learner only where it clearly
beats their prior on a check held out of their fit data (they rank by their prior, a base family, instead).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from mindshare.data.interactions import Interactions
from mindshare.data.synthetic import SyntheticSpec, generate_synthetic
from mindshare.errors import MindshareError
from mindshare.features.item_text import item_documents
from mindshare.features.tables import build_feature_tables
from mindshare.models import MODEL_FAMILIES, make_model
from mindshare.models.candidates import (
    base_scores,
    generate_candidates,
    place_in_pool,
    score_pool,
    standardise_against_pool,
)
from mindshare.models.mlp import MLPRanker
from mindshare.models.popularity import Popularity
from mindshare.models.reranker import clearly_better
from mindshare.models.svd import ALGORITHMS, SVD

from spark_engine import require_spark

SMALL_RERANKER = dict(base_models=("item_knn", "svd"), rating_models=("baseline", "item_knn"), holdout_folds=2)
FAST = {  # keep each fit to about a second on the data below
    "lightgbm": dict(SMALL_RERANKER, n_estimators=40, early_stopping_rounds=10, n_jobs=1),
    "mlp": dict(SMALL_RERANKER, epochs=10),
    "svd:bpr": dict(iterations=30),
}
SPECS = sorted(MODEL_FAMILIES) + [f"svd:{a}" for a in ALGORITHMS if a != SVD().algorithm]


def make_spec(spec: str):
    family, _, algorithm = spec.partition(":")
    params = dict(FAST.get(spec, {}), **({"algorithm": algorithm} if algorithm else {}))
    return make_model(family, params)


@pytest.fixture(scope="module")
def data() -> Interactions:
    frame, items = generate_synthetic(SyntheticSpec(n_users=150, n_items=100, n_interactions=4000, seed=5))
    train = Interactions.from_frame(frame).with_features(*build_feature_tables(frame, items))
    return train.with_item_text(item_documents(items))  # titles and categories: the content family's words


@pytest.fixture(scope="module")
def fitted(data):
    """spec -> the model fitted on `data`, each fitted once per module."""
    cache: dict = {}

    def get(spec: str):
        if spec == "svd:spark_als":
            require_spark()  # a local Spark session (tests/spark_engine.py: where it skips, where it fails)
        if spec not in cache:
            cache[spec] = make_spec(spec).fit(data)
        return cache[spec]

    return get


@pytest.fixture(params=SPECS)
def model(request, fitted):
    return fitted(request.param)


def _seen(data: Interactions, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Whether each (users[r], items[r, c]) is a training interaction; False for item -1."""
    rows = np.broadcast_to(users[:, None], items.shape)
    seen = data.matrix[rows.ravel(), np.maximum(items, 0).ravel()]
    return (np.asarray(seen).reshape(items.shape) != 0) & (items >= 0)


def _recommend_all_items(model, users: np.ndarray, k: int):
    """recommend(exclude_seen=False), or None where the family refuses it as its docstring says."""
    try:
        return model.recommend(users, k=k, exclude_seen=False)
    except MindshareError as refusal:
        family = type(model)
        docs = (family.__doc__, family.recommend.__doc__, sys.modules[family.__module__].__doc__)
        doc = " ".join(d or "" for d in docs)
        assert "exclude_seen=False" in doc, f"{model.name} refuses exclude_seen=False without saying so: {refusal}"
        return None


@pytest.mark.parametrize("k", [7, 500])
def test_shapes_dtypes_order_and_padding(model, data, k):
    users = np.array([0, 5, 5, 17, data.n_users - 1])
    items, scores = model.recommend(users, k=k)
    assert items.shape == scores.shape == (len(users), k)
    assert items.dtype == np.int64 and scores.dtype == np.float32
    assert ((items >= -1) & (items < data.n_items)).all()
    assert ((items == -1) == np.isneginf(scores)).all()
    assert not np.isnan(scores).any()
    assert (np.diff(np.where(np.isneginf(scores), -1e30, scores), axis=1) <= 0).all()  # best first, padding last
    assert (items[1] == items[2]).all() and (scores[1] == scores[2]).all()  # a repeated user, the same answer
    for row in items:
        assert len(set(row[row >= 0])) == (row >= 0).sum()  # no item twice
    if k > data.n_items:
        assert (items[:, data.n_items:] == -1).all()
    else:
        assert (items >= 0).all()  # every user has more than k unseen items here
    empty_items, empty_scores = model.recommend(np.array([], dtype=np.int64), k=k)
    assert empty_items.shape == empty_scores.shape == (0, k)
    pair_scores = model.score(np.array([0, 5]), np.array([3, 4]))
    assert pair_scores.shape == (2,) and pair_scores.dtype == np.float32


def test_exclude_seen_false_can_return_seen_items(model, data):
    users = np.arange(data.n_users)
    items, scores = model.recommend(users, k=10)
    assert not _seen(data, users, items).any()
    everything = _recommend_all_items(model, users, 10)
    if everything is None:
        return
    all_items, all_scores = everything
    seen = _seen(data, users, all_items)
    assert seen.any(), f"{model.name} never returns a seen item with exclude_seen=False"
    # exclude_seen only filters: a row's unseen items score as the exclude_seen=True list starts
    for row in range(len(users)):
        unseen_scores = all_scores[row][~seen[row] & (all_items[row] >= 0)]
        assert unseen_scores == pytest.approx(scores[row, :len(unseen_scores)], rel=1e-5, abs=1e-6)


def test_score_of_a_pair_does_not_depend_on_the_batch(model, data):
    rng = np.random.default_rng(0)
    users = rng.choice(data.n_users, size=40, replace=False)
    top, _ = model.recommend(users, k=3)
    seen_items = np.array([data.matrix[u].indices[0] for u in users])
    pair_users = np.concatenate([users, users, users, users])
    pair_items = np.concatenate([top[:, 0], top[:, 2], rng.integers(0, data.n_items, len(users)), seen_items])
    batch = model.score(pair_users, pair_items)
    order = rng.permutation(len(pair_users))
    np.testing.assert_allclose(model.score(pair_users[order], pair_items[order]), batch[order], rtol=1e-6, atol=1e-6)
    half = order[: len(order) // 2]
    np.testing.assert_allclose(model.score(pair_users[half], pair_items[half]), batch[half], rtol=1e-6, atol=1e-6)
    for p in order[:6]:
        alone = model.score(pair_users[p : p + 1], pair_items[p : p + 1])
        np.testing.assert_allclose(alone, batch[p : p + 1], rtol=1e-6, atol=1e-6)


def test_score_agrees_with_recommend(model, data):
    users = np.arange(0, data.n_users, 3)
    for exclude_seen in (True, False):
        answer = model.recommend(users, k=10) if exclude_seen else _recommend_all_items(model, users, 10)
        if answer is None:
            continue
        items, scores = answer
        valid = items >= 0
        got = model.score(np.repeat(users, 10)[valid.ravel()], items[valid])
        np.testing.assert_allclose(got, scores[valid], rtol=1e-5, atol=1e-6)


def test_top_k_is_the_first_k_of_a_longer_top(model, data):
    users = np.arange(data.n_users)
    for exclude_seen in (True, False):
        try:
            short = model.recommend(users, k=5, exclude_seen=exclude_seen)
            long = model.recommend(users, k=20, exclude_seen=exclude_seen)
        except MindshareError:
            assert not exclude_seen and _recommend_all_items(model, users[:1], 5) is None
            continue
        assert (short[0] == long[0][:, :5]).all()
        assert (short[1] == long[1][:, :5]).all()


@pytest.mark.parametrize("spec", ["lightgbm", "mlp"])
def test_a_reranker_keeps_its_ranker_only_where_it_beats_its_prior_on_the_check(fitted, spec):
    model = fitted(spec)
    figures = model.validation_ndcg_
    bases = {name: value for name, value in figures.items() if name.startswith("score_")}
    assert set(figures) == {"prior", "learned", *bases} and len(bases) == len(model.bases_)
    prior = model.feature_names_[model.prior_column_]
    first = next(iter(bases))  # the first base family, unless another is clearly better on the check
    assert figures["prior"] == pytest.approx(bases[prior]) and prior in (first, max(bases, key=bases.get))
    if not model.fallback_:
        assert figures["learned"] > figures["prior"]
    assert model.fit_facts()["ranks_by"] == ("learner" if not model.fallback_ else prior)


def test_clearly_better_is_beyond_one_standard_error_of_the_paired_difference():
    rng = np.random.default_rng(0)
    base = rng.random(400)
    assert clearly_better(base + 0.01, base)  # always ahead: no spread at all
    noisy = base + rng.normal(0.0, 0.3, 400)
    difference = noisy - base
    standard_error = difference.std(ddof=1) / np.sqrt(400)
    assert clearly_better(noisy + standard_error * 1.5 - difference.mean(), base)
    assert not clearly_better(noisy + standard_error * 0.5 - difference.mean(), base)
    assert not clearly_better(base, base) and not clearly_better(base - 0.01, base)


def test_a_crippled_mlp_ranks_by_its_prior(data):
    crippled = MLPRanker(**dict(FAST["mlp"], hidden_layers=(1,), epochs=1, learning_rate=1e-7)).fit(data)
    assert crippled.fallback_
    figures = crippled.validation_ndcg_
    best = crippled.feature_names_[crippled.prior_column_]
    assert figures["learned"] <= figures["prior"] and crippled.fit_facts()["ranks_by"] == best
    users = np.arange(data.n_users)
    items, _ = crippled.recommend(users, k=10)
    best_items, _ = crippled.bases_[int(best.split("_")[1])].recommend(users, k=10)  # score_<b>_<family>
    assert (items == best_items).all()


def test_the_prior_is_the_base_family_ranking_the_check_best(data):
    # popularity listed first, but item-kNN ranks the held-out items better: the prior is item-kNN
    model = MLPRanker(**dict(FAST["mlp"], base_models=("popularity", "item_knn"), epochs=1)).fit(data)
    figures = model.fit_facts()["prior_ndcg"]
    assert set(figures) == {"score_0_popularity", "score_1_item_knn"}
    assert figures["score_1_item_knn"] > figures["score_0_popularity"]
    assert model.fit_facts()["prior"] == "score_1_item_knn"
    assert (model._prior_scores(np.eye(4)) == np.eye(4)[:, 2]).all()


def test_a_pair_is_measured_against_its_users_candidates_by_hand(tiny):
    # popularity: a 2, b 3, c 2, d 1, e 1. u2 saw a, b; its top-2 unseen: c (rank 1), d (rank 2)
    base = Popularity().fit(tiny)
    u2 = tiny.user_index(["u2"])
    pool = score_pool([base], generate_candidates([base], u2, n_candidates=2))
    a, b, c, d, e = tiny.item_index(["a", "b", "c", "d", "e"])
    users, items = np.repeat(u2, 5), np.array([b, a, c, d, e])
    seen = np.array([True, True, False, False, False])
    placed = place_in_pool(pool, [base], users, items, seen, n_candidates=2)
    assert placed.ranks[:, 0].tolist() == [1, 2, 1, 2, 3]  # b above c; a after c (equal); e absent
    standardised = standardise_against_pool(pool, base_scores(pool, [base], users, items), users)
    assert standardised[:, 0].tolist() == pytest.approx([3, 1, 1, -1, -1])  # (score - 1.5) / 0.5
