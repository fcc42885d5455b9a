"""`answer_users`: a model fitted for some users alone answers them exactly as a model fitted for everyone, and
refuses the others (a tuning trial is scored on a sample of users; a re-ranker's holdout fold asks about its own)."""

from __future__ import annotations

import numpy as np
import pytest

from mindshare.data.interactions import Interactions
from mindshare.data.synthetic import SyntheticSpec, generate_synthetic
from mindshare.errors import MindshareError
from mindshare.models import make_model
from mindshare.models.user_knn import UserKNN


@pytest.fixture(scope="module")
def data() -> Interactions:
    frame, _ = generate_synthetic(SyntheticSpec(n_users=200, n_items=120, n_interactions=5000, seed=3))
    return Interactions.from_frame(frame)


def test_user_knn_for_some_users_answers_them_as_the_whole_model_and_refuses_the_others(data):
    some = np.arange(0, data.n_users, 3)
    whole = UserKNN(n_neighbours=20, max_candidates=150).fit(data)
    part = UserKNN(n_neighbours=20, max_candidates=150)
    part.answer_users = some
    part.fit(data)
    assert part.neighbours_[some].nnz == whole.neighbours_[some].nnz > 0
    assert part.neighbours_.nnz == part.neighbours_[some].nnz  # nothing computed for the others
    assert (part.neighbours_[some] != whole.neighbours_[some]).nnz == 0
    for exclude_seen in (True, False):
        assert all((a == b).all() for a, b in zip(part.recommend(some, 10, exclude_seen),
                                                   whole.recommend(some, 10, exclude_seen)))
    items = np.arange(len(some)) % data.n_items
    assert (part.score(some, items) == whole.score(some, items)).all()
    with pytest.raises(MindshareError, match="user index 1 is not one of them"):
        part.recommend(np.array([0, 1]), 10)
    with pytest.raises(MindshareError, match="answer_users"):
        part.score(np.array([1]), np.array([0]))


def test_a_reranker_for_some_users_ranks_them_as_the_whole_model(data):
    settings = dict(base_models=("user_knn", "item_knn"), rating_models=("baseline",), holdout_folds=2,
                    n_estimators=30, early_stopping_rounds=10, n_jobs=1, max_groups=60)
    some = np.arange(1, data.n_users, 2)
    whole = make_model("lightgbm", settings).fit(data)
    part = make_model("lightgbm", settings)
    part.answer_users = some
    part.fit(data)  # the memo keys differ by answer_users: the folds are fitted again, for their users alone
    assert part.fit_facts() == whole.fit_facts()
    assert all((a == b).all() for a, b in zip(part.recommend(some, 10), whole.recommend(some, 10)))
    assert part.bases_[0].answerable_.sum() == len(some) and whole.bases_[0].answerable_ is None


def test_a_rerankers_base_params_reach_its_bases_in_the_folds_and_the_final_fit(data):
    settings = dict(base_models=("item_knn", "popularity"), rating_models=("baseline",), holdout_folds=1,
                    n_estimators=20, early_stopping_rounds=5, n_jobs=1, max_groups=60)
    plain = make_model("lightgbm", settings).fit(data)
    tuned = make_model("lightgbm", dict(settings, base_params={"item_knn": {"n_neighbours": 7}})).fit(data)
    assert plain.bases_[0].n_neighbours != 7 and tuned.bases_[0].n_neighbours == 7
    assert tuned.bases_[0].neighbours_.getnnz(axis=1).max() <= 7  # not the memo of the plain fit
    assert plain.fit_facts()["prior_ndcg"] != tuned.fit_facts()["prior_ndcg"]  # the folds' bases changed too


def test_a_rerankers_auto_base_chooses_once_and_every_later_fit_takes_the_choice(data, monkeypatch):
    """"auto" is probed in the base's first fit (a holdout fold); the other folds, the final fit and the rater of
    the same family take the size it chose, so a re-ranker pays for one probe."""
    from mindshare.models import item_knn

    probes: list[int] = []
    chosen_size = item_knn.ItemKNN._chosen_size

    def counting(self, train):
        probes.append(train.matrix.nnz)
        return chosen_size(self, train)

    monkeypatch.setattr(item_knn.ItemKNN, "_chosen_size", counting)
    monkeypatch.setattr(item_knn, "AUTO_SIZES", (5, 60))
    settings = dict(base_models=("item_knn", "popularity"), rating_models=("baseline", "item_knn"), holdout_folds=2,
                    n_estimators=20, early_stopping_rounds=5, n_jobs=1,
                    base_params={"item_knn": {"n_neighbours": "auto"}})
    model = make_model("lightgbm", settings).fit(_copy(data))
    assert len(probes) == 1 and probes[0] < data.matrix.nnz  # in the first fold, on its rest of the data
    used = model.bases_[0].n_neighbours_
    assert used in (5, 60) and model.fit_facts()["bases"] == {"item_knn": {"n_neighbours_used": used}}
    assert model.raters_[1].n_neighbours_ == used


def test_tuning_trials_of_a_reranker_score_the_bases_once_and_rank_as_an_unshared_fit(data, monkeypatch):
    """Trials (answer_users set, one train object) share the candidates' features: only the learner differs;
    each trial ranks as a fit on a train object of its own would."""
    from mindshare.models.reranker import CandidateReranker

    settings = dict(base_models=("user_knn", "item_knn"), rating_models=("baseline",), holdout_folds=2,
                    n_estimators=30, early_stopping_rounds=10, n_jobs=1, max_groups=60)
    some = np.arange(0, data.n_users, 3)
    pool, calls = CandidateReranker._pool, []
    monkeypatch.setattr(CandidateReranker, "_pool", lambda self, users: calls.append(len(users)) or pool(self, users))

    def trial(learning_rate: float, train: Interactions):
        model = make_model("lightgbm", dict(settings, learning_rate=learning_rate))
        model.answer_users = some
        model.fit(train)
        return model.recommend(some, 10), model.validation_ndcg_["learned"]

    shared = _copy(data)
    trials = [trial(rate, shared) for rate in (0.05, 0.3)]
    assert calls == [len(some)]  # the second trial reused the first one's candidates
    assert trials[0][1] != trials[1][1]  # the learners differ (each may still rank by its prior)
    for rate, (answer, learned) in zip((0.05, 0.3), trials):
        alone, alone_learned = trial(rate, _copy(data))
        assert all((a == b).all() for a, b in zip(answer, alone)) and learned == alone_learned
    assert len(calls) == 3


def _copy(data: Interactions) -> Interactions:
    """The same interactions in a new object: nothing memoised."""
    return Interactions(data.user_ids, data.item_ids, data.matrix.copy(), data.has_ratings)
