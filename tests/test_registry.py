"""Registry, promotion gate, rollback stack and the pyfunc, on a real SQLite MLflow store."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from mindshare.data.interactions import Interactions
from mindshare.data.pseudonymise import pseudonymise
from mindshare.errors import MindshareError, PolicyRefusal
from mindshare.models.popularity import Popularity
from mindshare.tracking import registry
from mindshare.tracking.pyfunc import log_recommender
from mindshare.tracking.store import (
    DATA_FINGERPRINT_TAG,
    FAMILY_TAG,
    GIT_COMMIT_TAG,
    SPLIT_FINGERPRINT_TAG,
    configure_tracking,
    use_experiment,
)

pytestmark = pytest.mark.integration  # real stages, stores, servers or Spark: make test, not make check

KEY = "registry-test-key"


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("MINDSHARE_PSEUDONYM_KEY", KEY)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MINDSHARE_USER", "tester")
    configure_tracking(tmp_path)
    use_experiment("registry-test", tmp_path)
    raw_users = ["alice", "alice", "bob", "carol", "carol", "carol"]
    frame = pd.DataFrame({"user_id": pseudonymise(raw_users, KEY.encode()), "item_id": list("abacbd"),
                          "timestamp": range(6)})
    model = Popularity().fit(Interactions.from_frame(frame))
    model.save(tmp_path / "model.pkl")
    items = pd.DataFrame({"item_id": list("abcd"), "title": ["A", "B", "C", "D"], "categories": [[]] * 4})
    items.to_parquet(tmp_path / "items.parquet")
    uris = []
    for _ in range(3):
        with mlflow.start_run() as run:
            uris.append((run.info.run_id, log_recommender(tmp_path / "model.pkl", tmp_path / "items.parquet")))
    client = MlflowClient()
    yield client, uris


def _candidates(uris, values, data="d1", split="s1"):
    return [
        registry.Candidate(family=f"family{i}", model_uri=uri, run_id=run_id, metrics={"ndcg_at_10": value},
                           tags={DATA_FINGERPRINT_TAG: data, SPLIT_FINGERPRINT_TAG: split})
        for i, ((run_id, uri), value) in enumerate(zip(uris, values))
    ]


def _log_metrics(client, candidates):
    """As evaluate does: a candidate's figures are the metrics of its source run."""
    for candidate in candidates:
        for name, value in candidate.metrics.items():
            client.log_metric(candidate.run_id, name, value)


def test_register_gate_promote_rollback(store):
    client, uris = store
    result = registry.register_candidates(client, "m", _candidates(uris, [0.30, 0.20, 0.25]), "ndcg_at_10")
    assert result["versions"] == {"family0": "1", "family1": "2", "family2": "3"}
    assert str(client.get_model_version_by_alias("m", "challenger").version) == "1"
    assert client.get_model_version("m", "1").description == (
        "family0: ndcg_at_10 0.3000 on the test split (test digest s1)")
    described = registry.Candidate(family="svd", model_uri="", run_id="", metrics={
        "ndcg_at_10": 0.3, "ndcg_at_10_ci_low": 0.28, "ndcg_at_10_ci_high": 0.32},
        tags={"mindshare.dataset": "ml-latest-small", "mindshare.split_protocol": "random_per_user",
              SPLIT_FINGERPRINT_TAG: "0123456789abcdef"})
    assert registry.describe_candidate(described, "ndcg_at_10") == (
        "svd: ndcg_at_10 0.3000 (95% CI 0.2800-0.3200) on the test split (data set ml-latest-small, "
        "split random_per_user, test digest 0123456789abcdef)")

    first = registry.promote(client, "m", "first", settings=registry.PromotionSettings(tolerance=0.01))
    assert (first["from"], first["to"], first["who"]) == (None, "1", "tester")
    with pytest.raises(PolicyRefusal, match="already in production"):
        registry.promote(client, "m", "again")
    with pytest.raises(PolicyRefusal, match="worse than production"):
        registry.promote(client, "m", "worse", version="2", settings=registry.PromotionSettings(tolerance=0.01))
    assert str(client.get_model_version_by_alias("m", "production").version) == "1"
    registry.promote(client, "m", "close enough", version="3", settings=registry.PromotionSettings(tolerance=0.06))
    forced = registry.promote(client, "m", "forced", version="2", force=True,
                              settings=registry.PromotionSettings(tolerance=0.0))
    assert forced["forced"] is True

    assert registry.rollback(client, "m", "bad")["to"] == "3"
    assert registry.rollback(client, "m", "worse still")["to"] == "1"
    with pytest.raises(PolicyRefusal, match="nothing to roll back"):
        registry.rollback(client, "m", "again")
    actions = [(e["action"], e["from"], e["to"]) for e in registry.history(client, "m")]
    assert actions == [("promote", None, "1"), ("promote", "1", "3"), ("promote", "3", "2"),
                       ("rollback", "2", "3"), ("rollback", "3", "1")]
    listed = {r["version"]: r["aliases"] for r in registry.describe_versions(client, "m")}
    assert listed[1] == "challenger,production"


def test_version_tags_stay_short_and_figures_stay_on_the_run(store):
    client, uris = store
    run_id, uri = uris[0]
    metrics = {**{f"segment_{i}_ndcg_at_10": i / 100 for i in range(40)},
               "ndcg_at_10": 0.3, "ndcg_at_10_ci_low": 0.28, "ndcg_at_10_ci_high": 0.32}
    lineage = {DATA_FINGERPRINT_TAG: "0123456789abcdef", SPLIT_FINGERPRINT_TAG: "fedcba9876543210",
               GIT_COMMIT_TAG: "0" * 40 + "-dirty", "mindshare.dataset": "ml-latest-small",
               "mindshare.split_protocol": "random_per_user", "mindshare.pipeline_run_id": run_id}
    candidate = registry.Candidate("item_knn_ease", uri, run_id, metrics, lineage)
    _log_metrics(client, [candidate])
    registry.register_candidates(client, "m", [candidate], "ndcg_at_10")
    version = client.get_model_version("m", "1")
    assert set(version.tags) == {FAMILY_TAG, registry.PRIMARY_METRIC_TAG, registry.PRIMARY_VALUE_TAG, *lineage}
    assert max(len(value) for value in version.tags.values()) < 100, version.tags
    assert registry.run_metrics(client, version)["segment_39_ndcg_at_10"] == 0.39  # the figures: on the run
    assert version.description == ("item_knn_ease: ndcg_at_10 0.3000 (95% CI 0.2800-0.3200) on the test split "
                                   "(data set ml-latest-small, split random_per_user, test digest fedcba9876543210)")


def test_gate_needs_same_split_or_reevaluation(store):
    client, uris = store
    registry.register_candidates(client, "m", _candidates(uris[:1], [0.30]), "ndcg_at_10")
    registry.promote(client, "m", "first")
    registry.register_candidates(client, "m", _candidates(uris[1:2], [0.31], split="s2"), "ndcg_at_10")
    with pytest.raises(PolicyRefusal, match="different data or splits"):
        registry.promote(client, "m", "new split", reevaluate=lambda prod, cand: None)
    with pytest.raises(PolicyRefusal, match="worse than production"):
        registry.promote(
            client, "m", "new split", reevaluate=lambda prod, cand: registry.Measured({"ndcg_at_10": 0.50})
        )
    event = registry.promote(
        client, "m", "new split", reevaluate=lambda prod, cand: registry.Measured({"ndcg_at_10": 0.305})
    )
    assert event["to"] == "2"


def _per_user(values_by_run: dict):
    def lookup(version):
        values = values_by_run.get(version.run_id)
        return (
            None
            if values is None
            else pd.DataFrame({"user_id": [f"u{i}" for i in range(len(values))], "ndcg_at_10": values})
        )

    return lookup


def test_guardrails_and_significant_lead_each_reported(store):
    client, uris = store
    candidates = _candidates(uris[:2], [0.30, 0.32])
    candidates[0].metrics["coverage_at_10"] = 0.50
    candidates[1].metrics["coverage_at_10"] = 0.30  # better ndcg, much narrower catalogue
    _log_metrics(client, candidates)  # the gate reads the guardrail metrics from the source runs
    registry.register_candidates(client, "m", candidates[:1], "ndcg_at_10")
    registry.promote(client, "m", "first")
    registry.register_candidates(client, "m", candidates[1:], "ndcg_at_10")
    strict = registry.PromotionSettings(tolerance=0.0, guardrails={"coverage_at_10": 0.05})
    with pytest.raises(registry.GateRefusal) as refused:
        registry.promote(client, "m", "narrow", settings=strict)
    assert [c.split()[0] for c in refused.value.checks] == ["ok", "FAIL"]
    assert "guardrail coverage_at_10" in refused.value.checks[1] and "allowed 0.05" in refused.value.checks[1]

    rng = np.random.default_rng(0)
    base = rng.random(400)
    noisy = {uris[0][0]: base, uris[1][0]: base + rng.normal(0, 0.3, 400) * 0.1}  # no real lead
    lead_needed = registry.PromotionSettings(require_significant_lead=True)
    with pytest.raises(registry.GateRefusal) as refused:
        registry.promote(client, "m", "lead?", settings=lead_needed, per_user=_per_user(noisy))
    assert "not significant" in refused.value.checks[-1]
    clear = {uris[0][0]: base, uris[1][0]: base + 0.05}
    event = registry.promote(client, "m", "clear lead", settings=lead_needed, per_user=_per_user(clear))
    assert event["to"] == "2" and "significant" in event["checks"][-1]


def test_missing_model_and_version_are_input_errors(store):
    client, _ = store
    with pytest.raises(MindshareError, match="no registered model"):
        registry.promote(client, "absent", "x")
    registry.register_candidates(client, "m", _candidates(store[1][:1], [0.3]), "ndcg_at_10")
    with pytest.raises(MindshareError, match="no version 9"):
        registry.promote(client, "m", "x", version="9")


def test_pyfunc_hashes_raw_ids_and_flags_cold_users(store):
    client, uris = store
    registry.register_candidates(client, "m", _candidates(uris[:1], [0.3]), "ndcg_at_10")
    registry.promote(client, "m", "serve")
    served = mlflow.pyfunc.load_model("models:/m@production")
    out = served.predict(pd.DataFrame({"user_id": ["alice", "stranger"], "k": [2, 2]}))
    alice = out[out["user_id"] == "alice"]
    assert alice["item_id"].tolist() == ["c", "d"]  # a, b seen; c (1 user) then d
    assert not alice["cold_start"].any()
    stranger = out[out["user_id"] == "stranger"]
    assert stranger["item_id"].tolist() == ["a", "b"] and stranger["cold_start"].all()
    assert stranger["title"].tolist() == ["A", "B"]


def test_new_users_get_what_is_popular_lately():
    from mindshare.models.cold_start import ColdStartSettings
    from mindshare.tracking.pyfunc import RecommenderPyfunc

    frame = pd.DataFrame(
        {"user_id": ["u1", "u2", "u3", "u1"], "item_id": ["old", "old", "old", "new"], "timestamp": [1, 2, 3, 4]}
    )
    data = Interactions.from_frame(frame)
    recent = pd.DataFrame({"item_recent_popularity": [0.0, 1.0]}, index=pd.Index(["old", "new"], name="item_id"))
    wrapper = RecommenderPyfunc()
    wrapper.recommender = Popularity().fit(data.with_features(None, recent))
    catalogue = pd.DataFrame({"item_id": ["old", "new"], "title": ["Old", "New"]})
    wrapper._prepare(catalogue, b"k", settings=ColdStartSettings(recent_prior=0.0))
    out = wrapper.predict(None, pd.DataFrame({"user_id": ["someone-new"], "k": [2]}))
    assert out["item_id"].tolist() == ["new", "old"] and out["cold_start"].all()
    wrapper._prepare(catalogue, b"k", settings=ColdStartSettings(recent_prior=10.0))  # a quiet window defers
    out = wrapper.predict(None, pd.DataFrame({"user_id": ["someone-new"], "k": [2]}))
    assert out["item_id"].tolist() == ["old", "new"] and (out["basis"] == "popular").all()


def test_an_evaluation_names_the_sample_of_test_users_it_scored(tmp_path, monkeypatch):
    """evaluate.sample_users below the test users: the split fingerprint names the sample, so the gate re-measures
    production on the candidate's people, and refuses to compare where the workspace samples other ones."""
    import json
    from pathlib import Path

    import yaml

    from mindshare import layout
    from mindshare.project import outputs, promotion
    from mindshare.settings import Settings

    params = yaml.safe_load((Path(__file__).parents[1] / "params.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    layout.split_path("test").parent.mkdir(parents=True)
    pd.DataFrame({"user_id": [f"u{i // 2}" for i in range(12)], "item_id": ["a", "b"] * 6}).to_parquet(
        layout.split_path("test"))
    pd.DataFrame({"item_id": ["a", "b"]}).to_parquet(tmp_path / "items.parquet")
    monkeypatch.setattr(layout, "ITEMS", tmp_path / "items.parquet")
    layout.PREPARE_REPORT.parent.mkdir()
    layout.PREPARE_REPORT.write_text(json.dumps({"split_fingerprint": "s0", "data_fingerprint": "d0"}))

    def named(sample_users, seed=0):
        params["evaluate"].update(sample_users=sample_users, sample_seed=seed)
        layout.PARAMS.write_text(yaml.safe_dump(params))
        return outputs.test_split(Settings.checked(params))

    assert named(None)[1] == named(6)[1] == "s0"  # every test user: the whole split
    test, fingerprint = named(3)
    assert test["user_id"].nunique() == 3 and fingerprint == "s0-test-users-3-seed-0"
    assert named(3, seed=1)[1] == "s0-test-users-3-seed-1"
    scored = []
    monkeypatch.setattr(promotion, "evaluate_on_test", lambda model, evaluate, rows, *rest: scored.append(rows))
    assert promotion.on_current_test(None, "s0-test-users-3-seed-0", None) is None  # params now draw seed 1
    promotion.on_current_test(None, "s0-test-users-3-seed-1", None)
    assert scored[0]["user_id"].nunique() == 3
    assert promotion.on_current_test(None, "s1-test-users-3-seed-1", None) is None  # another split
