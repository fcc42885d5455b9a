"""Each family on tiny matrices where the right neighbours, factors or ranking are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from mindshare.data.interactions import Interactions
from mindshare.errors import MindshareError
from mindshare.models import MODEL_FAMILIES, make_model
from mindshare.models.baseline import Baseline
from mindshare.models.biased_mf import fit_biased_als
from mindshare.models.ease import EASE, prune_to_largest
from mindshare.models.neighbours import top_k_similarities
from mindshare.models.svd import SVD
from mindshare.models.user_knn import UserKNN


def _ratings(rows) -> Interactions:
    return Interactions.from_frame(pd.DataFrame(
        {"user_id": [u for u, _, _ in rows], "item_id": [i for _, i, _ in rows], "rating": [r for _, _, r in rows],
         "timestamp": range(len(rows))}))


def test_baseline_biases_by_hand():
    data = _ratings([("u", "a", 4.0), ("u", "b", 2.0)])
    exact = Baseline(reg_user=0, reg_item=0, iterations=1).fit(data)
    assert exact.predict_ratings(np.array([0, 0]), np.array([0, 1])) == pytest.approx([4.0, 2.0])
    shrunk = Baseline(reg_user=0, reg_item=1, iterations=1).fit(data)
    assert shrunk.item_bias_ == pytest.approx([0.5, -0.5])  # (4 - 3) / (1 + 1)
    assert shrunk.predict_ratings(np.array([-1]), np.array([-1])) == pytest.approx([3.0])  # unknown: the mean


def test_similarities_by_hand():
    binary = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 1]], dtype=float))
    jaccard = top_k_similarities(binary, "jaccard", 5, 0.0, 10**6)
    assert jaccard[0, 1] == pytest.approx(1 / 3)  # |{0}| / (2 + 2 - 1)
    rated = sp.csr_matrix(np.array([[5, 3, 0], [4, 0, 2]], dtype=float))
    pearson = top_k_similarities(rated, "pearson", 5, 0.0, 10**6)
    assert pearson[0, 1] == pytest.approx(0.5)  # centred [1, -1, .], [1, ., -1]: 1 / (sqrt 2 sqrt 2)
    cosine = top_k_similarities(binary, "cosine", 5, 0.0, 10**6)
    assert cosine[0, 1] == pytest.approx(0.5) and cosine[0, 0] == 0


def test_block_size_does_not_change_similarities(tiny):
    one_block = top_k_similarities(tiny.matrix, "cosine", 2, 1.0, 10**6).toarray()
    tiny_blocks = top_k_similarities(tiny.matrix, "cosine", 2, 1.0, 5).toarray()  # one row at a time
    assert np.allclose(one_block, tiny_blocks)


def test_user_knn_by_hand(tiny):
    model = UserKNN(n_neighbours=10, shrinkage=0.0).fit(tiny)
    u1, u2, u3 = tiny.user_index(["u1", "u2", "u3"])
    assert model.neighbours_[u2, u1] == pytest.approx(2 / np.sqrt(6), rel=1e-6)
    items, scores = model.recommend(np.array([u2]), k=2)
    c, d = tiny.item_index(["c", "d"])
    assert list(items[0]) == [c, d]
    # score(c) = cos(u2,u1) + cos(u2,u3) = 2/sqrt(6) + 1/sqrt(6); score(d) = cos(u2,u3)
    assert scores[0] == pytest.approx([3 / np.sqrt(6), 1 / np.sqrt(6)], rel=1e-6)


@pytest.mark.parametrize("family", ["user_knn", "item_knn"])
def test_knn_rating_prediction_matches_a_plain_loop(family):
    rng = np.random.default_rng(0)
    rows = [(f"u{u}", f"i{i}", float(rng.integers(1, 6))) for u in range(12) for i in range(10) if rng.random() < 0.5]
    data = _ratings(rows)
    model = make_model(family, {"n_neighbours": 3, "rating_shrinkage": 0.5}).fit(data)
    dense = data.matrix.toarray()
    sims = model.neighbours_.toarray()
    users, items = np.repeat(np.arange(data.n_users), data.n_items), np.tile(np.arange(data.n_items), data.n_users)
    got = model.predict_ratings(users, items)
    for u, i, value in zip(users, items, got):
        base = model.baseline_.predict_ratings(np.array([u]), np.array([i]))[0]
        if family == "user_knn":
            pairs = [(sims[u, v], dense[v, i] - model.baseline_.predict_ratings(np.array([v]), np.array([i]))[0])
                     for v in range(data.n_users) if sims[u, v] != 0 and dense[v, i] != 0]
        else:
            pairs = [(sims[i, j], dense[u, j] - model.baseline_.predict_ratings(np.array([u]), np.array([j]))[0])
                     for j in range(data.n_items) if sims[i, j] != 0 and dense[u, j] != 0]
        weight = sum(abs(s) for s, _ in pairs)
        expected = base + (sum(s * r for s, r in pairs) / (weight + 0.5) if pairs else 0.0)
        assert value == pytest.approx(expected, rel=1e-5)


def test_ease_matches_the_closed_form(tiny):
    model = EASE(l2=1.0).fit(tiny)
    x = tiny.binary().toarray().astype(np.float64)
    inverse = np.linalg.inv(x.T @ x + np.eye(x.shape[1]))
    expected = -inverse / np.diag(inverse)[None, :]
    np.fill_diagonal(expected, 0.0)
    assert np.allclose(model.weights_, expected, atol=1e-5)


def test_ease_above_max_items_solves_the_head_and_scores_the_tail_by_scaled_knn():
    """A catalogue larger than max_items: EASE among the most interacted items, calibrated item-kNN columns for
    the rest, every item still ranked."""
    from mindshare.data.synthetic import SyntheticSpec, generate_synthetic
    from mindshare.models.neighbours import top_k_similarities

    frame, _ = generate_synthetic(SyntheticSpec(n_users=300, n_items=120, n_interactions=5000, seed=2))
    data = Interactions.from_frame(frame)
    model = EASE(l2=50.0, max_items=80, keep=0, tail_neighbours=20).fit(data)
    x = data.binary()
    popularity = np.asarray(x.sum(axis=0)).ravel()
    head = np.sort(np.lexsort((np.arange(data.n_items), -popularity))[:80])
    assert len(model.tail_items_) == data.n_items - 80 and not np.isin(model.tail_items_, head).any()
    weights = model.weights_.toarray()
    alone = EASE(l2=50.0, keep=0).fit(_columns(data, head))
    assert np.allclose(weights[np.ix_(head, head)], alone.weights_, atol=1e-5)  # the head is EASE itself
    knn = top_k_similarities(x.T.tocsr(), "cosine", 20, 10.0, 10**7).toarray()
    tail = model.tail_items_
    assert model.tail_scale_ > 0
    assert np.allclose(weights[:, tail], model.tail_scale_ * knn[tail].T, atol=1e-6)  # the tail is scaled kNN
    items, scores = model.recommend(np.arange(data.n_users), k=10)
    assert np.isin(items, tail).any() and np.isfinite(scores).all()
    bounded = EASE(l2=50.0, max_items=80, keep=0, tail_neighbours=20, max_candidates=100).fit(data)
    candidates = np.argsort(-popularity, kind="stable")[:100]
    tail_columns = bounded.weights_.toarray()[:, tail]
    assert tail_columns.any() and not tail_columns[np.setdiff1d(np.arange(data.n_items), candidates)].any()
    assert np.allclose(bounded.weights_.toarray()[:, head], weights[:, head])  # the head does not move


def test_neighbours_of_a_smaller_size_are_cut_from_a_larger_one():
    from mindshare.models.neighbours import check_neighbours, keep_top_k_per_row

    rng = np.random.default_rng(1)
    columns = sp.csr_matrix((rng.random((60, 400)) < 0.2).astype(np.float32))
    wide = top_k_similarities(columns, "cosine", 30, 5.0, 10_000)
    for k in (1, 7, 30):
        cut, direct = keep_top_k_per_row(wide, k), top_k_similarities(columns, "cosine", k, 5.0, 10_000)
        assert np.array_equal(np.diff(cut.indptr), np.diff(direct.indptr))
        assert np.allclose(np.sort(cut.toarray(), axis=1), np.sort(direct.toarray(), axis=1))  # ties may swap
    for bad in ("many", 0, 2.5, True):
        with pytest.raises(MindshareError, match="n_neighbours"):
            check_neighbours(bad)


def test_clearly_better_needs_more_than_two_standard_errors_of_the_paired_differences():
    from mindshare.models.item_knn import clearly_better

    kept = np.linspace(0, 1, 100)
    assert clearly_better(kept + 0.01, kept)  # every user better: no noise at all
    noisy = kept + np.where(np.arange(100) % 2 == 0, 0.3, -0.28)  # +0.01 on average, sd 0.29: SE 0.029
    assert not clearly_better(noisy, kept)
    assert not clearly_better(kept, kept) and not clearly_better(kept[:1] + 1, kept[:1])


def test_item_knn_auto_chooses_the_size_that_ranks_held_out_items_best(monkeypatch):
    """"auto" fits as the integer it chose, reports it, and chooses by the data: one neighbour ranks far worse
    than thirty here, fifty better than every other item; sizes beyond the catalogue collapse to every other item."""
    from mindshare.data.synthetic import SyntheticSpec, generate_synthetic
    from mindshare.models import item_knn

    frame, _ = generate_synthetic(SyntheticSpec(n_users=600, n_items=80, n_interactions=12000, seed=5))
    data = Interactions.from_frame(frame)
    monkeypatch.setattr(item_knn, "AUTO_SIZES", (1, 30))
    auto = item_knn.ItemKNN(n_neighbours="auto").fit(data)
    assert auto.fit_facts() == {"n_neighbours_used": 30}
    fixed = item_knn.ItemKNN(n_neighbours=30).fit(data)
    assert np.array_equal(auto.neighbours_.toarray(), fixed.neighbours_.toarray())
    users = np.arange(data.n_users)
    assert np.array_equal(auto.score(users, users % data.n_items), fixed.score(users, users % data.n_items))
    monkeypatch.setattr(item_knn, "AUTO_SIZES", (50, 79))  # and not always the largest: 79 is every other item
    assert item_knn.ItemKNN(n_neighbours="auto").fit(data).n_neighbours_ == 50
    monkeypatch.setattr(item_knn, "AUTO_SIZES", (100, 200))
    assert item_knn.ItemKNN(n_neighbours="auto").fit(data).n_neighbours_ == data.n_items - 1


def test_item_knn_above_max_candidates_draws_neighbours_from_the_most_interacted_items():
    """Neighbours among the most interacted items with the same similarity values; every item still scored;
    a catalogue within the bound gives the unbounded model."""
    from mindshare.data.synthetic import SyntheticSpec, generate_synthetic
    from mindshare.models.item_knn import ItemKNN

    frame, _ = generate_synthetic(SyntheticSpec(n_users=300, n_items=120, n_interactions=5000, seed=3))
    data = Interactions.from_frame(frame)
    whole = ItemKNN(n_neighbours=119, max_candidates=None).fit(data)
    assert np.array_equal(ItemKNN(n_neighbours=119, max_candidates=120).fit(data).neighbours_.toarray(),
                          whole.neighbours_.toarray())
    bounded = ItemKNN(n_neighbours=119, max_candidates=40).fit(data)
    most_interacted = np.argsort(-np.diff(data.matrix.T.tocsr().indptr), kind="stable")[:40]
    neighbours = bounded.neighbours_.toarray()
    assert set(np.unique(bounded.neighbours_.indices)) <= set(most_interacted)
    assert np.allclose(neighbours[:, most_interacted], whole.neighbours_.toarray()[:, most_interacted], atol=1e-6)
    assert (np.diff(bounded.neighbours_.indptr) > 0).sum() > 100  # tail items keep head neighbours
    scores = bounded.score(np.zeros(data.n_items, dtype=np.int64), np.arange(data.n_items))
    assert np.isfinite(scores).all() and (scores > 0).sum() > 60


def _columns(data: Interactions, columns: np.ndarray) -> Interactions:
    """Only these item columns of `data`, as a family would see a catalogue of them alone."""
    import scipy.sparse as sp

    matrix = sp.csr_matrix(data.matrix[:, columns])
    return Interactions(data.user_ids, data.item_ids[columns], matrix, data.has_ratings)


def test_ease_keeps_the_weights_that_matter_most(tiny):
    weights = np.array([[0, 3, -1], [2, 0, 0.5], [-4, 0.1, 0]], dtype=np.float32)
    # importance |w_ji| * scale_j: [[0, 3, 1], [8, 0, 2], [2, 0.05, 0]]; the 3 largest are 8, 3, 2 and the tie 2
    kept = prune_to_largest(weights, 1, np.array([1.0, 4.0, 0.5], dtype=np.float32))
    assert sp.issparse(kept) and kept.dtype == np.float32
    assert np.array_equal(kept.toarray(), np.array([[0, 3, 0], [2, 0, 0.5], [-4, 0, 0]], dtype=np.float32))
    assert prune_to_largest(weights, 0, np.ones(3, dtype=np.float32)) is weights  # keep 0: dense
    pruned, dense = EASE(l2=1.0, keep=2).fit(tiny), EASE(l2=1.0, keep=0).fit(tiny)
    assert sp.issparse(pruned.weights_) and pruned.weights_.nnz <= 2 * tiny.n_items + tiny.n_items
    users = np.arange(tiny.n_users)
    items = np.zeros(tiny.n_users, dtype=np.int64)
    x = tiny.binary().toarray()
    assert np.allclose(pruned.score(users, items), x @ pruned.weights_.toarray()[:, 0], atol=1e-5)
    assert dense.score(users, items).shape == (tiny.n_users,)


def test_truncated_svd_recovers_a_block_structure():
    # two taste groups: users 0-2 like items 0-2, users 3-5 like items 3-5; each user misses one item
    dense = np.zeros((6, 6))
    dense[:3, :3] = 1
    dense[3:, 3:] = 1
    dense[0, 2] = dense[3, 5] = 0
    frame = pd.DataFrame([(f"u{u}", f"i{i}", 0) for u, i in zip(*np.nonzero(dense))],
                         columns=["user_id", "item_id", "timestamp"])
    data = Interactions.from_frame(frame)
    model = SVD(algorithm="truncated", factors=2).fit(data)
    items, _ = model.recommend(data.user_index(["u0", "u3"]), k=1)
    assert data.item_ids[items[:, 0]].tolist() == ["i2", "i5"]


def test_biased_als_fits_a_low_rank_rating_matrix():
    rng = np.random.default_rng(1)
    truth = 3 + rng.normal(size=(40, 2)) @ rng.normal(size=(2, 30)) * 0.5
    mask = rng.random(truth.shape) < 0.6
    ratings = sp.csr_matrix(np.where(mask, truth, 0))
    fitted = fit_biased_als(ratings, factors=2, reg=0.001, iterations=30, seed=0, cg_steps=3)
    rows, cols = np.nonzero(mask)
    assert np.sqrt(np.mean((fitted.predict(rows, cols) - truth[rows, cols]) ** 2)) < 0.05


def test_svd_refusals(tiny):
    with pytest.raises(MindshareError, match="algorithm 'magic'"):
        SVD(algorithm="magic").fit(tiny)
    with pytest.raises(MindshareError, match="needs ratings"):
        SVD(algorithm="biased_als").fit(tiny)


def test_ials_hands_its_own_defaults_or_the_given_values_to_implicit(tiny):
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    rendle = SVD(algorithm="ials").fit(tiny)
    assert (rendle.factors_, rendle.regularization_, rendle.alpha_, rendle.iterations_) == (256, 48.0, 8.0, 15)
    assert rendle.item_factors_.shape == (tiny.n_items, 256)
    assert SVD().fit(tiny).alpha_ == 5.0  # implicit_als keeps its alpha
    given = SVD(algorithm="ials", factors=3, regularization=0.5, alpha=2.0, iterations=4, seed=1).fit(tiny)
    direct = AlternatingLeastSquares(factors=3, regularization=0.5, alpha=2.0, iterations=4, random_state=1)
    with threadpool_limits(1, "blas"):
        direct.fit(tiny.binary().tocsr(), show_progress=False)
    assert np.allclose(given.user_factors_, direct.user_factors)
    assert np.allclose(given.item_factors_, direct.item_factors)


def test_implicit_als_is_rendles_ials_with_nu_0():
    """svd.py's mapping: Rendle's loss sum_S (y - 1)^2 + alpha0 sum_all y^2 + lambda (|W|^2 + |H|^2) is implicit's
    with alpha = 1 + 1/alpha0, regularization = lambda * alpha; its scores are implicit's / (1 + alpha0)."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    x = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 0, 1], [0, 0, 1, 1], [1, 1, 1, 0]], dtype=np.float64)
    alpha0, lam, k = 0.25, 0.5, 2
    rng = np.random.default_rng(0)
    w, h = rng.normal(size=(5, k)), rng.normal(size=(4, k))
    implicit = AlternatingLeastSquares(factors=k, regularization=lam * 5.0, alpha=5.0, use_cg=False, iterations=3,
                                       dtype=np.float64)
    scale = np.sqrt(1 + alpha0)  # y = y' / (1 + alpha0): each factor matrix divided by its square root
    implicit.user_factors, implicit.item_factors = w * scale, h * scale
    for _ in range(3):  # Rendle's ALS, exactly: each row's normal equations
        for rows, fixed, out in ((x, h, w), (x.T, w, h)):
            for r, row in enumerate(rows):
                seen = fixed[row > 0]
                out[r] = np.linalg.solve(alpha0 * fixed.T @ fixed + seen.T @ seen + lam * np.eye(k), seen.sum(0))
    with threadpool_limits(1, "blas"):
        implicit.fit(sp.csr_matrix(x), show_progress=False)
    assert np.allclose(w @ h.T, implicit.user_factors @ implicit.item_factors.T / (1 + alpha0), atol=1e-10)


@pytest.mark.parametrize("name", sorted(MODEL_FAMILIES))
def test_every_family_is_deterministic(name):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "user_id": rng.integers(0, 30, 400).astype(str),
            "item_id": rng.integers(0, 25, 400).astype(str),
            "rating": rng.integers(1, 6, 400).astype(float),
            "timestamp": range(400),
        }
    )
    frame = frame.drop_duplicates(["user_id", "item_id"])
    words = pd.Series({str(i): f"genre{i % 5} mood{i % 3}" for i in range(25)})  # for the content family
    data = Interactions.from_frame(frame).with_item_text(words)
    first = make_model(name).fit(data).recommend(np.arange(data.n_users), k=5)
    second = make_model(name).fit(data).recommend(np.arange(data.n_users), k=5)
    assert (first[0] == second[0]).all()
    assert np.allclose(first[1], second[1], equal_nan=True)


def test_svd_biased_predicts_ratings_and_ranks():
    rows = [(f"u{u}", f"i{i}", float(1 + (u + i) % 5)) for u in range(10) for i in range(8) if (u * i) % 3]
    model = SVD(algorithm="biased_als").fit(_ratings(rows))
    assert model.predicts_ratings
    assert model.predict_ratings(np.array([0, -1]), np.array([1, -1])).shape == (2,)
    items, _ = model.recommend(np.arange(3), k=2)
    assert items.shape == (3, 2)


def test_neighbours_drawn_from_a_sample_are_the_full_similarities_restricted_to_it():
    """user_knn above max_candidates users: neighbours among the most active, the same similarity values."""
    from mindshare.data.synthetic import SyntheticSpec, generate_synthetic
    from mindshare.models.neighbours import top_k_similarities
    from mindshare.models.user_knn import UserKNN

    frame, _ = generate_synthetic(SyntheticSpec(n_users=200, n_items=80, n_interactions=3000, seed=4))
    rows = Interactions.from_frame(frame).matrix.tocsr()
    full = top_k_similarities(rows, "cosine", 199, 10.0, 10**7).toarray()
    among = np.arange(0, 200, 3)
    sampled = top_k_similarities(rows, "cosine", 199, 10.0, 10**7, among=among).toarray()
    assert not sampled[:, np.setdiff1d(np.arange(200), among)].any()
    assert np.allclose(sampled[:, among], full[:, among], atol=1e-6)
    assert np.array_equal(top_k_similarities(rows, "jaccard", 20, 1.0, 5000, among=np.arange(200)).toarray(),
                          top_k_similarities(rows, "jaccard", 20, 1.0, 5000).toarray())
    model = UserKNN(max_candidates=50).fit(Interactions.from_frame(frame))
    most_active = np.argsort(-np.diff(model.train_.matrix.indptr), kind="stable")[:50]
    assert set(np.unique(model.neighbours_.indices)) <= set(most_active)


@pytest.mark.parametrize("family", ["user_knn", "item_knn", "item_knn_ease"])
def test_pair_scores_are_the_same_in_chunks(family, monkeypatch):
    """Scoring many candidate pairs gathers sparse rows slice by slice (bounded memory); the scores do not move."""
    from mindshare.data.synthetic import SyntheticSpec, generate_synthetic
    from mindshare.models import base, make_model

    frame, _ = generate_synthetic(SyntheticSpec(n_users=150, n_items=90, n_interactions=3000, seed=6))
    model = make_model(family).fit(Interactions.from_frame(frame))
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, model.train_.n_users, 5000), rng.integers(0, model.train_.n_items, 5000)
    whole = model.score(users, items)
    monkeypatch.setattr(base, "PAIR_CHUNK_ENTRIES", 3000)
    assert np.array_equal(model.score(users, items), whole)


def test_user_knn_pair_scores_are_bit_for_bit_the_row_products():
    """The gathered pair scores equal the sparse row product they replace (a re-ranker's features do not move)."""
    from mindshare.data.synthetic import SyntheticSpec, generate_synthetic
    from mindshare.models.user_knn import UserKNN

    frame, _ = generate_synthetic(SyntheticSpec(n_users=300, n_items=400, n_interactions=20000, seed=3))
    model = UserKNN(n_neighbours=200).fit(Interactions.from_frame(frame))
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, model.train_.n_users, 20000), rng.integers(0, model.train_.n_items, 20000)
    product = model.neighbours_[users].multiply(model.item_vectors_[items]).sum(axis=1)
    assert np.array_equal(model.score(users, items), np.asarray(product, dtype=np.float32).ravel())
