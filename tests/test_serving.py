"""Serving: the web app (`mindshare serve`, a real uvicorn process) and `mlflow models serve` on the
registered pyfunc, both on 127.0.0.1, against a real SQLite registry; schemathesis fuzzes the app's
OpenAPI description (with and without an API key); a promote switches the served version without a restart;
API keys guard /audience and /admin/reload (and /recommend on request), rotated by file without a restart."""

from __future__ import annotations

import itertools
import json
import logging
import os
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
from mindshare.errors import MindshareError
from mindshare.features.tables import build_feature_tables
from mindshare.models import make_model
from mindshare.models.cold_start import ColdStartSettings
from mindshare.serving.answers import Answers, VersionInfo
from mindshare.serving.api_keys import API_KEYS_ENV, NO_KEYS, ApiKeys, parse_keys, read_key_file
from mindshare.tracking import registry
from mindshare.tracking.pyfunc import log_recommender
from mindshare.tracking.store import (
    DATA_FINGERPRINT_TAG,
    FAMILY_TAG,
    SPLIT_FINGERPRINT_TAG,
    configure_tracking,
    use_experiment,
)

from live_server import free_port, wait_for

REPO = Path(__file__).resolve().parents[1]
KEY = "serving-test-key"
API_KEYS = ("api-key-old-7f3a", "api-key-new-91c2")  # two at once: a rotation in progress
AUTH = {"Authorization": f"Bearer {API_KEYS[0]}"}
SPEC = SyntheticSpec(n_users=200, n_items=80, n_interactions=4000, seed=11, user_prefix="cust-")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project folder with params.yaml, items, users, a test split and two registered versions
    (item_knn, popularity); production is version 1."""
    folder = tmp_path_factory.mktemp("serving")
    env = {**os.environ, "MINDSHARE_PSEUDONYM_KEY": KEY, "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
           "MINDSHARE_USER": "tester", API_KEYS_ENV: f"{API_KEYS[0]}, {API_KEYS[1]}"}
    old = {k: os.environ.get(k) for k in ("MINDSHARE_PSEUDONYM_KEY", "MLFLOW_TRACKING_URI", "MINDSHARE_USER",
                                          API_KEYS_ENV)}
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


def start_server(folder: Path, env: dict, *flags: str) -> tuple[str, subprocess.Popen]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "mindshare.cli", "serve", "--port", str(port),
                                "--poll-seconds", "0.5", "--max-batch", "50", *flags], cwd=folder, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    wait_for(f"{base}/health", process)
    return base, process


def stop_server(process: subprocess.Popen) -> str:
    """Stop the server; what it wrote to stderr (its log)."""
    process.terminate()
    _, stderr = process.communicate(timeout=20)
    return stderr


@pytest.fixture(scope="module")
def server(project):
    folder, env, _ = project
    base, process = start_server(folder, env)
    yield base
    assert not any(key in stop_server(process) for key in API_KEYS)  # keys never reach the log


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
    audience = requests.get(f"{server}/audience/first", params={"budget": 10}, headers=AUTH).json()
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
        ("post", "/events", {"events": [{"kind": "click", "request_id": "r", "time": True}]}, 422),  # schemathesis
        ("post", "/events", {"events": [{"kind": "conversion", "user_id": "a", "item_id": "i", "value": False}]}, 422),
        ("get", "/audience/no-such-campaign", None, 404),
        ("get", "/audience/first?budget=0", None, 422),
        ("get", "/nothing-here", None, 404),
    ],
)
def test_client_mistakes_get_a_4xx_with_one_line(server, method, path, body, status):
    kwargs = {"data": body} if isinstance(body, str) else {"json": body} if body is not None else {}
    kwargs["headers"] = {**AUTH, "content-type": "application/json"} if isinstance(body, str) else AUTH
    response = getattr(requests, method)(f"{server}{path}", **kwargs)
    assert response.status_code == status, response.text
    message = response.json().get("error") or response.json().get("detail")
    assert isinstance(message, str) and "\n" not in message


def test_protected_endpoints_need_a_key(server):
    """/audience and /admin/reload: no key 401 (WWW-Authenticate: Bearer), a wrong key 403, either configured
    key in either header form 200; /health, /version, /docs, /openapi.json and /recommend need none."""
    for method, path in (("get", "/audience/first?budget=5"), ("post", "/admin/reload")):
        call = getattr(requests, method)
        missing = call(f"{server}{path}")
        assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer", missing.text
        for wrong in ({"Authorization": "Bearer not-a-key"}, {"X-API-Key": "not-a-key"},
                      {"Authorization": f"Bearer {API_KEYS[0][:-1]}"}, {"Authorization": f"Basic {API_KEYS[0]}"}):
            refused = call(f"{server}{path}", headers=wrong)
            assert refused.status_code == (401 if "Basic" in wrong.get("Authorization", "") else 403), wrong
            assert list(refused.json()) == ["error"] and "\n" not in refused.json()["error"]
            assert not any(key[:-1] in refused.text for key in API_KEYS) and "not-a-key" not in refused.text
        for key in API_KEYS:
            for sent in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
                assert call(f"{server}{path}", headers=sent).status_code == 200, (path, sent)
    for path in ("/health", "/version", "/docs", "/openapi.json", "/recommend/cust-1"):
        assert requests.get(f"{server}{path}").status_code == 200, path
    assert requests.post(f"{server}/recommend", json={"users": [{"user_id": "cust-1"}]}).status_code == 200
    schemes = requests.get(f"{server}/openapi.json").json()
    assert set(schemes["components"]["securitySchemes"]) == {"bearerKey", "apiKeyHeader"}
    assert schemes["paths"]["/audience/{campaign}"]["get"]["security"] == [{"bearerKey": []}, {"apiKeyHeader": []}]
    assert "security" not in schemes["paths"]["/recommend/{user_id}"]["get"]


def test_a_rotated_key_file_takes_effect_on_reload(project, server):
    folder, _, _ = project
    file = folder / ".mindshare" / "api_keys"
    file.parent.mkdir(exist_ok=True)
    rotated = "api-key-from-the-file-5d0e"

    def audience(key: str) -> int:
        return requests.get(f"{server}/audience/first", params={"budget": 5}, headers={"X-API-Key": key}).status_code

    try:
        file.write_text(f"# rotated in by the test\n{rotated}  # the new one\n")
        file.chmod(0o600)
        assert audience(rotated) == 403  # not read yet
        assert requests.post(f"{server}/admin/reload", headers=AUTH).status_code == 200
        assert audience(rotated) == 200 and audience(API_KEYS[1]) == 200  # the file's keys and the environment's
        file.write_text("# nothing here now\n")
        reloaded = requests.post(f"{server}/admin/reload", headers={"Authorization": f"Bearer {rotated}"})
        assert reloaded.status_code == 200  # let in by the file's key, which the reload then drops
        assert audience(rotated) == 403 and audience(API_KEYS[0]) == 200
    finally:
        file.unlink(missing_ok=True)
        requests.post(f"{server}/admin/reload", headers=AUTH)


def test_recommend_needs_a_key_with_the_flag(project):
    folder, env, _ = project
    base, process = start_server(folder, env, "--recommend-needs-key")
    try:
        one, batch = f"{base}/recommend/cust-1", f"{base}/recommend"
        body = {"users": [{"user_id": "cust-1"}]}
        assert requests.get(one).status_code == 401 and requests.post(batch, json=body).status_code == 401
        assert requests.get(one, headers={"X-API-Key": "wrong"}).status_code == 403
        assert requests.get(one, headers=AUTH).status_code == 200
        assert requests.post(batch, json=body, headers={"X-API-Key": API_KEYS[1]}).status_code == 200
        assert requests.get(f"{base}/health").status_code == 200
        paths = requests.get(f"{base}/openapi.json").json()["paths"]
        assert paths["/recommend/{user_id}"]["get"]["security"] == [{"bearerKey": []}, {"apiKeyHeader": []}]
    finally:
        log = stop_server(process)
    assert not any(key in log for key in API_KEYS)


def test_no_keys_configured_means_closed(project):
    """Without MINDSHARE_API_KEYS and a key file, protected endpoints answer 403 saying how to set keys (logged
    once at start); the open ones answer."""
    folder, env, _ = project
    assert not (folder / ".mindshare" / "api_keys").exists()
    base, process = start_server(folder, {k: v for k, v in env.items() if k != API_KEYS_ENV})
    try:
        for headers in ({}, AUTH):
            refused = requests.get(f"{base}/audience/first", headers=headers)
            assert refused.status_code == 403 and refused.json() == {"error": NO_KEYS}
            assert requests.post(f"{base}/admin/reload", headers=headers).status_code == 403
        assert requests.get(f"{base}/recommend/cust-1").status_code == 200
    finally:
        log = stop_server(process)
    assert log.count("no API keys configured") == 1, log


def test_key_files_comments_and_permissions(tmp_path, monkeypatch, caplog):
    assert parse_keys(" a, b ,,c ", ",") == ["a", "b", "c"]
    file = tmp_path / "api_keys"
    file.write_text("# keys of the shop\nfirst\n\n  second # rotated in on Monday\n")
    file.chmod(0o600)
    with caplog.at_level(logging.WARNING):
        assert read_key_file(file) == ["first", "second"]
    assert not caplog.records
    file.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        read_key_file(file)
    assert "readable by others than its owner" in caplog.text and "first" not in caplog.text
    assert read_key_file(tmp_path / "absent") == []
    monkeypatch.setenv(API_KEYS_ENV, "third,first")
    keys = ApiKeys.from_environment(file)
    assert keys.configured == 3  # the same key twice counts once
    assert [keys.matches(k) for k in ("first", "second", "third", "fourth", "", "firs")] == [True] * 3 + [False] * 3
    file.write_bytes(b"first\nsecret-\xff\n")  # not UTF-8: refused, naming the file, not its content
    with pytest.raises(MindshareError, match=r"api_keys: the API key file cannot be read \(UnicodeDecodeError\)"):
        keys.load()
    assert keys.configured == 3 and keys.matches("second")  # the keys in force stay
    monkeypatch.delenv(API_KEYS_ENV)
    file.unlink()
    assert keys.load() == 0 and not keys.matches("first")


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
    assert requests.post(f"{server}/admin/reload", headers=AUTH).json()["version"] == "1"  # or at once, on request


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
    yield schemathesis.openapi.from_asgi("/openapi.json", create_app(holder, max_batch=20,
                                                                     keys=ApiKeys.from_environment()))
    os.chdir(here)


@pytest.mark.parametrize("headers", [{}, AUTH], ids=["without a key", "with a key"])
def test_schemathesis_finds_no_server_errors_or_schema_violations(api_schema, headers):
    """Every operation of the OpenAPI description, fuzzed with valid and invalid requests: no 5xx,
    invalid ones refused with a 4xx, every response as documented; without a key the protected
    operations answer 401 or 403 as documented, with one they answer."""
    from schemathesis import GenerationMode

    failures, statuses = [], {}
    for result, mode in itertools.product(api_schema.get_all_operations(), GenerationMode):
        operation = result.ok()

        @given(case=operation.as_strategy(mode))
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case):
            response = case.call_and_validate(headers=dict(headers))  # a copy: schemathesis adds to it
            statuses.setdefault(operation.label, set()).add(response.status_code)

        try:
            fuzz()
        except Unsatisfiable:  # an operation without parameters has no invalid request to make
            assert mode is GenerationMode.NEGATIVE
        except Exception as error:  # gather every operation's finding, then fail once
            failures.append(f"{operation.label} ({mode.value}): {str(error).strip()[:600]}")
    assert not failures, "\n".join(failures)
    for label in ("GET /audience/{campaign}", "POST /admin/reload"):  # the key, or its absence, decided
        assert statuses[label] & {401, 403} == (set() if headers else statuses[label]), (label, statuses[label])
    assert (200 in statuses["POST /admin/reload"]) == bool(headers)


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
