"""Serving: the web app (`mindshare serve`, a real uvicorn process) and `mlflow models serve` on the
registered pyfunc, both on 127.0.0.1, against a real SQLite registry; schemathesis fuzzes the app's
OpenAPI description; a promote switches the served version without a restart."""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from mlflow import MlflowClient

from mindshare.data.interactions import Interactions
from mindshare.data.pseudonymise import pseudonymise
from mindshare.data.schema import RawTable, canonical_users
from mindshare.data.split import split_random_per_user
from mindshare.data.synthetic import SyntheticSpec, generate_synthetic, generate_synthetic_users
from mindshare.features.tables import build_feature_tables
from mindshare.models import make_model
from mindshare.models.cold_start import ColdStartSettings
from mindshare.serving.answers import Answers, VersionInfo
from mindshare.tracking import registry
from mindshare.tracking.pyfunc import log_recommender
from mindshare.tracking.store import (
    DATA_FINGERPRINT_TAG,
    FAMILY_TAG,
    SPLIT_FINGERPRINT_TAG,
    configure_tracking,
    use_experiment,
)

REPO = Path(__file__).resolve().parents[1]
KEY = "serving-test-key"
SPEC = SyntheticSpec(n_users=200, n_items=80, n_interactions=4000, seed=11, user_prefix="cust-")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.stderr.read() if process.stderr else ''}")
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {seconds} s")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project folder with params.yaml, items, users, a test split and two registered versions
    (item_knn, popularity); production is version 1."""
    folder = tmp_path_factory.mktemp("serving")
    env = {**os.environ, "MINDSHARE_PSEUDONYM_KEY": KEY, "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
           "MINDSHARE_USER": "tester"}
    old = {k: os.environ.get(k) for k in ("MINDSHARE_PSEUDONYM_KEY", "MLFLOW_TRACKING_URI", "MINDSHARE_USER")}
    os.environ.update({k: env[k] for k in old})
    interactions, items = generate_synthetic(SPEC)
    users = canonical_users(RawTable(generate_synthetic_users(SPEC), "users"))
    users["user_id"] = pseudonymise(users["user_id"], KEY.encode())
    interactions["user_id"] = pseudonymise(interactions["user_id"], KEY.encode())
    split = split_random_per_user(interactions, 0.2, 0.0, seed=0)
    for name, frame in (("interim/items", items), ("interim/users", users), ("processed/test", split.test)):
        (folder / f"data/{name}.parquet").parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(folder / f"data/{name}.parquet", index=False)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["ingest"] = {**params["ingest"], "source": "synthetic", "synthetic": {
        k: getattr(SPEC, k) for k in ("n_users", "n_items", "n_interactions", "n_categories", "seed", "user_prefix")}}
    params["campaigns"] = [{"name": "first", "categories": ["category_01"], "budget": 20, "control_share": 0.2,
                            "template": "{{ reason }}"}]
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    train = Interactions.from_frame(split.train).with_features(*build_feature_tables(split.train, items))
    configure_tracking(folder)
    use_experiment("serving-test", folder)
    candidates = []
    for family in ("item_knn", "popularity"):
        model = make_model(family, {}).fit(train)
        model.save(folder / f"{family}.pkl")
        with mlflow.start_run(tags={FAMILY_TAG: family}) as run:
            uri = log_recommender(folder / f"{family}.pkl", folder / "data/interim/items.parquet",
                                  users_path=folder / "data/interim/users.parquet",
                                  cold_start=ColdStartSettings(demographic_min_users=5))
        candidates.append(registry.Candidate(family=family, model_uri=uri, run_id=run.info.run_id,
                                             metrics={"ndcg_at_10": 0.3 if family == "item_knn" else 0.1},
                                             tags={DATA_FINGERPRINT_TAG: "d", SPLIT_FINGERPRINT_TAG: "s"}))
    client = MlflowClient()
    registry.register_candidates(client, "mindshare", candidates, "ndcg_at_10")
    registry.promote(client, "mindshare", "first")
    yield folder, env, split
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def server(project):
    folder, env, _ = project
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "mindshare.cli", "serve", "--port", str(port),
                                "--poll-seconds", "0.5", "--max-batch", "50"], cwd=folder, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    wait_for(f"{base}/health", process)
    yield base
    process.terminate()
    process.wait(timeout=20)


def _wrapper():
    return mlflow.pyfunc.load_model("models:/mindshare@production").unwrap_python_model()


def test_answers_are_the_pyfuncs(project):
    _, _, split = project
    wrapper = _wrapper()
    answers = Answers(wrapper, VersionInfo("mindshare", "1", "production", "item_knn", "", ""), max_k=50)
    raw = ["cust-1", "cust-7", "nobody", "stranger"]
    for k in (1, 5, 10, 50):
        frame = wrapper.predict(None, pd.DataFrame({"user_id": raw, "k": [k] * 4, "gender": [None, None, None, "F"],
                                                    "age": [None, None, None, 30]}))
        for user, gender, age in zip(raw, [None, None, None, "F"], [None, None, None, 30]):
            served = answers.recommend(user, k, gender, age)
            expected = frame[frame["user_id"] == user]
            assert [i["item_id"] for i in served["items"]] == expected["item_id"].tolist(), (user, k)
            assert [i["basis"] for i in served["items"]] == expected["basis"].tolist()
            assert np.allclose([i["score"] for i in served["items"]], expected["score"].to_numpy())
            assert served["cold_start"] == bool(expected["cold_start"].all())
    assert {i["basis"] for i in answers.recommend("stranger", 5, "F", 30)["items"]} == {"demographic"}


def test_the_web_app(server):
    one = requests.get(f"{server}/recommend/cust-1", params={"k": 5}).json()
    assert one["user_id"] == "cust-1" and not one["cold_start"] and len(one["items"]) == 5
    assert one["model"] == {"name": "mindshare", "version": "1", "alias": "production"}
    cold = requests.get(f"{server}/recommend/someone-new").json()
    assert cold["cold_start"] and len(cold["items"]) == 10 and cold["items"][0]["basis"] == "popular"
    batch = requests.post(f"{server}/recommend", json={"users": [{"user_id": "cust-1"}, {"user_id": "x", "k": 3}],
                                                       "k": 5}).json()
    assert [len(r["items"]) for r in batch["results"]] == [5, 3]
    assert batch["results"][0]["items"] == one["items"]
    version = requests.get(f"{server}/version").json()
    assert version["version"] == "1" and version["family"] == "item_knn" and version["alias"] == "production"
    assert requests.get(f"{server}/health").json() == {"status": "ok", "version": "1"}
    audience = requests.get(f"{server}/audience/first", params={"budget": 10}).json()
    assert len(audience["audience"]) == 10 and audience["summary"]["audience"] == 10
    assert all(len(m["user_id"]) == 20 for m in audience["audience"])  # pseudonyms only


@pytest.mark.parametrize(
    "method, path, body, status",
    [
        ("get", "/recommend/cust-1?k=0", None, 422),
        ("get", "/recommend/cust-1?k=101", None, 422),
        ("get", "/recommend/cust-1?k=ten", None, 422),
        ("get", "/recommend/cust-1?age=-4", None, 422),
        ("post", "/recommend", "{not json", 422),
        ("post", "/recommend", {"users": []}, 422),
        ("post", "/recommend", {"users": [{"user_id": ""}]}, 422),
        ("post", "/recommend", {"users": [{"user_id": "a", "k": 500}]}, 422),
        ("post", "/recommend", {"users": [{"user_id": str(i)} for i in range(51)]}, 422),  # over --max-batch
        ("post", "/recommend", {"users": [{"user_id": "a", "age": False}]}, 422),  # found by schemathesis
        ("post", "/recommend", {"users": [{"user_id": 17}]}, 422),
        ("post", "/recommend", {"users": [{"user_id": "a"}], "k": True}, 422),
        ("get", "/audience/no-such-campaign", None, 404),
        ("get", "/audience/first?budget=0", None, 422),
        ("get", "/nothing-here", None, 404),
    ],
)
def test_client_mistakes_get_a_4xx_with_one_line(server, method, path, body, status):
    kwargs = {"data": body} if isinstance(body, str) else {"json": body} if body is not None else {}
    if isinstance(body, str):
        kwargs["headers"] = {"content-type": "application/json"}
    response = getattr(requests, method)(f"{server}{path}", **kwargs)
    assert response.status_code == status, response.text
    message = response.json().get("error") or response.json().get("detail")
    assert isinstance(message, str) and "\n" not in message


def test_recommend_reads_a_local_store_without_mlflow(project):
    """The production version read straight from the SQLite registry and loaded from its files answers as
    MLflow's pyfunc does, in a process that never imports MLflow; MLFLOW_REGISTRY_URI falls back to the client."""
    from mindshare.tracking.local_registry import load_local, local_version

    folder, env, _ = project
    uri = os.environ["MLFLOW_TRACKING_URI"]
    expected = MlflowClient().get_model_version_by_alias("mindshare", "production")
    found = local_version(uri, "mindshare", "production")
    assert found is not None and found.version == str(expected.version) and found.run_id == expected.run_id
    request = pd.DataFrame({"user_id": ["cust-1", "cust-7", "nobody", "stranger"], "k": [5, 3, 4, 2],
                            "gender": [None, None, None, "F"], "age": [None, None, None, 30]})
    pd.testing.assert_frame_equal(load_local(found).answer_frame(request), _wrapper().predict(None, request))
    assert local_version(uri, "mindshare", "no-such-alias") is None
    assert local_version("postgresql+psycopg://u@localhost/db", "mindshare", "production") is None
    script = ("import sys; from mindshare.cli.parser import main; code = main(['recommend', '--user', 'cust-1', "
              "'-k', '3', '--json']); assert 'mlflow' not in sys.modules, 'imported MLflow'; sys.exit(code)")
    direct = subprocess.run([sys.executable, "-c", script], cwd=folder, env=env, capture_output=True, text=True)
    assert direct.returncode == 0, direct.stderr
    via_client = subprocess.run([sys.executable, "-m", "mindshare.cli", "recommend", "--user", "cust-1", "-k", "3",
                                 "--json"], cwd=folder, env={**env, "MLFLOW_REGISTRY_URI": uri},
                                capture_output=True, text=True)
    assert via_client.returncode == 0, via_client.stderr
    assert json.loads(direct.stdout) == json.loads(via_client.stdout)
    assert [i["item_id"] for i in json.loads(direct.stdout)["items"]] == \
        _wrapper().predict(None, pd.DataFrame({"user_id": ["cust-1"], "k": [3]}))["item_id"].tolist()


def test_promote_and_rollback_switch_the_served_version_without_a_restart(project, server):
    folder, env, _ = project
    cli = [sys.executable, "-m", "mindshare.cli"]

    def served_version():
        return requests.get(f"{server}/version").json()["version"]

    promoted = subprocess.run([*cli, "promote", "--version", "2", "--force", "--reason", "try popularity"], cwd=folder,
                              env=env, capture_output=True, text=True)
    assert promoted.returncode == 0, promoted.stderr
    deadline = time.time() + 30
    while served_version() != "2" and time.time() < deadline:
        assert requests.get(f"{server}/recommend/cust-1").status_code == 200  # never an error while it loads
        time.sleep(0.1)
    assert served_version() == "2" and requests.get(f"{server}/version").json()["family"] == "popularity"
    rolled = subprocess.run([*cli, "rollback", "--reason", "back"], cwd=folder, env=env, capture_output=True, text=True)
    assert rolled.returncode == 0, rolled.stderr
    assert requests.post(f"{server}/admin/reload").json()["version"] == "1"  # or at once, on request


def test_mlflow_models_serve_answers_the_registered_pyfunc(project):
    folder, env, _ = project
    port = free_port()
    process = subprocess.Popen([str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m",
                                "models:/mindshare@production", "--env-manager", "local", "--host", "127.0.0.1",
                                "--port", str(port)], cwd=folder, stdout=subprocess.PIPE,
                               env={**env, "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"},  # it runs uvicorn
                               stderr=subprocess.PIPE, text=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/ping", process, seconds=120)
        body = {"dataframe_split": {"columns": ["user_id", "k"], "data": [["cust-1", 3], ["nobody", 2]]}}
        response = requests.post(f"http://127.0.0.1:{port}/invocations", json=body, timeout=30)
        assert response.status_code == 200, response.text
        rows = pd.DataFrame(response.json()["predictions"])
        assert rows.groupby("user_id").size().to_dict() == {"cust-1": 3, "nobody": 2}
        assert rows.loc[rows["user_id"] == "nobody", "cold_start"].all()
        assert not rows.loc[rows["user_id"] == "cust-1", "cold_start"].any()
        assert set(rows.columns) >= {"item_id", "title", "score", "basis", "rank"}
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def api_schema(project):
    """The app in-process (ASGI) on the project, for schemathesis."""
    import schemathesis

    from mindshare.serving.app import ModelHolder, create_app

    folder, _, _ = project
    here = os.getcwd()
    os.chdir(folder)  # the audience endpoint reads params.yaml and data/ from the project
    holder = ModelHolder("mindshare", max_k=20, poll_seconds=3600)
    holder.refresh()
    yield schemathesis.openapi.from_asgi("/openapi.json", create_app(holder, max_batch=20))
    os.chdir(here)


def test_schemathesis_finds_no_server_errors_or_schema_violations(api_schema):
    """Every operation of the OpenAPI description, fuzzed with valid and invalid requests: no 5xx,
    invalid ones refused with a 4xx, every response as documented."""
    from schemathesis import GenerationMode

    failures = []
    for result, mode in itertools.product(api_schema.get_all_operations(), GenerationMode):
        operation = result.ok()

        @given(case=operation.as_strategy(mode))
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case):
            case.call_and_validate()

        try:
            fuzz()
        except Unsatisfiable:  # an operation without parameters has no invalid request to make
            assert mode is GenerationMode.NEGATIVE
        except Exception as error:  # gather every operation's finding, then fail once
            failures.append(f"{operation.label} ({mode.value}): {str(error).strip()[:600]}")
    assert not failures, "\n".join(failures)


def test_same_seeds_give_the_same_served_answers(project):
    """Two fits with the same data and seeds, each served: identical answers, scores included."""
    _, _, split = project
    wrapper = _wrapper()
    answers = []
    for _ in range(2):
        train = wrapper.recommender.train_
        refit = make_model("svd", {"seed": 3}).fit(train)
        wrapper.recommender = refit
        wrapper._prepare(pd.read_parquet("data/interim/items.parquet") if Path("data/interim/items.parquet").exists()
                         else pd.DataFrame({"item_id": train.item_ids, "title": train.item_ids}), wrapper.key_,
                         None, ColdStartSettings())
        answers.append(Answers(wrapper, VersionInfo("m", "1", "production", "svd", "", ""), max_k=20))
    users = ["cust-1", "cust-2", "cust-50", "nobody"]
    assert [answers[0].recommend(u, 20) for u in users] == [answers[1].recommend(u, 20) for u in users]


def test_bench_serve_runs_and_reports(project):
    """A smoke run of the load benchmark (figures come from `mindshare bench serve` itself, not a test)."""
    folder, env, _ = project
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mindshare.cli",
            "bench",
            "serve",
            "--seconds",
            "1",
            "--clients",
            "5",
            "--rate",
            "20",
            "--json",
            "serve.json",
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((folder / "serve.json").read_text())
    assert report["closed"]["errors"] == 0 and report["open"]["errors"] == 0 and report["closed"]["requests"] > 0
    assert report["closed"]["switch"] == {"promote_exit": 0, "rollback_exit": 0, "to_version": "2"}
    assert "p99 ms" in result.stdout
