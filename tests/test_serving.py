"""Serving: the web app (`mindshare serve`, a real uvicorn process) and `mlflow models serve` on the
registered pyfunc, both on 127.0.0.1, against a real SQLite registry; schemathesis fuzzes the app's
OpenAPI description (with and without an API key); a promote switches the served version without a restart;
API keys with scopes guard /recommend, /events, /audience and /admin/reload, rotated by file without a restart."""

from __future__ import annotations

import itertools
import json
import logging
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
from starlette.exceptions import HTTPException

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
from mindshare.serving.api_keys import (
    API_KEYS_ENV,
    NO_KEYS,
    SCOPES,
    ApiKeys,
    key_bits,
    key_id,
    parse_keys,
    read_key_file,
)
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

pytestmark = pytest.mark.integration  # real stages, stores, servers or Spark: make test, not make check

REPO = Path(__file__).resolve().parents[1]
KEY = "serving-test-key"
API_KEYS = ("api-key-old-7f3a9c1e5b2d4a6f", "api-key-new-91c2d8e0b7f3a5c4")  # two at once: a rotation in progress
EVENTS_ONLY = "events-only-key-3b9d1f7a2c6e"  # a key with one scope
ALL = "recommend events audience admin"
AUTH = {"Authorization": f"Bearer {API_KEYS[0]}"}
SPEC = SyntheticSpec(n_users=200, n_items=80, n_interactions=4000, seed=11, user_prefix="cust-")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project folder with params.yaml, items, users, a test split and two registered versions
    (item_knn, popularity); production is version 1."""
    folder = tmp_path_factory.mktemp("serving")
    env = {**os.environ, "MINDSHARE_PSEUDONYM_KEY": KEY, "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
           "MINDSHARE_USER": "tester", API_KEYS_ENV: f"{API_KEYS[0]} {ALL}, {API_KEYS[1]} {ALL}, {EVENTS_ONLY} events"}
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
    log = folder / f"server-{port}.log"  # its stderr: a pipe read only at the end would fill with audit lines
    with open(log, "w") as handle:
        process = subprocess.Popen([sys.executable, "-m", "mindshare.cli", "serve", "--port", str(port),
                                    "--poll-seconds", "0.5", "--max-batch", "50", *flags], cwd=folder, env=env,
                                   stdout=subprocess.DEVNULL, stderr=handle, text=True)
    process.log_path = log
    base = f"http://127.0.0.1:{port}"
    wait_for(f"{base}/health", process)
    return base, process


def stop_server(process: subprocess.Popen) -> str:
    """Stop the server; what it wrote to stderr (its log)."""
    process.terminate()
    process.wait(timeout=20)
    return process.log_path.read_text()


@pytest.fixture(scope="module")
def server(project):
    folder, env, _ = project
    base, process = start_server(folder, env)
    yield base
    requests.get(f"{base}/recommend/cust-1", headers=AUTH)  # three protected calls, then the audit lines they left
    requests.get(f"{base}/recommend/cust-1", headers={"X-API-Key": EVENTS_ONLY})
    requests.post(f"{base}/admin/reload")
    log = stop_server(process)
    assert not any(key in log for key in (*API_KEYS, EVENTS_ONLY))  # keys never reach the log
    audit = [line for line in log.splitlines() if "mindshare.audit" in line]  # one line per protected call:
    assert any(f"key={key_id(API_KEYS[0])} route=GET /recommend/{{user_id}} status=200 client=127.0.0.1" in line
               for line in audit), audit[:5]  # the key's id, never the key; the route; the status; the client
    assert any(f"key={key_id(EVENTS_ONLY)} route=GET /recommend/{{user_id}} status=403" in line for line in audit)
    assert any("key=- route=POST /admin/reload status=401" in line for line in audit)


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
    one = requests.get(f"{server}/recommend/cust-1", params={"k": 5}, headers=AUTH).json()
    assert one["user_id"] == "cust-1" and not one["cold_start"] and len(one["items"]) == 5
    assert one["model"] == {"name": "mindshare", "version": "1", "alias": "production"}
    cold = requests.get(f"{server}/recommend/someone-new", headers=AUTH).json()
    assert cold["cold_start"] and len(cold["items"]) == 10 and cold["items"][0]["basis"] == "popular"
    batch = requests.post(f"{server}/recommend", json={"users": [{"user_id": "cust-1"}, {"user_id": "x", "k": 3}],
                                                       "k": 5}, headers=AUTH).json()
    assert [len(r["items"]) for r in batch["results"]] == [5, 3]
    assert batch["results"][0]["items"] == one["items"]
    version = requests.get(f"{server}/version", headers=AUTH).json()
    assert version["version"] == "1" and version["family"] == "item_knn" and version["alias"] == "production"
    assert requests.get(f"{server}/version").json() == {"name": "mindshare", "version": "1"}  # no key: no more
    health = requests.get(f"{server}/health").json()
    assert health["status"] == "ok" and health["version"] == "1" and health["registry_checked_seconds_ago"] < 60
    assert health["logs"]["exposures"] == {"written": 0, "dropped": 0, "failed": 0, "queued": 0}  # no experiment runs
    audience = requests.get(f"{server}/audience/first", params={"budget": 10}, headers=AUTH).json()
    assert len(audience["audience"]) == 10 and audience["summary"]["audience"] == 10
    assert all(len(m["user_id"]) == 20 for m in audience["audience"])  # pseudonyms only


@pytest.mark.parametrize(
    "method, path, body, status",
    [
        ("get", "/recommend/cust-1?k=0", None, 422),
        ("get", "/recommend/cust-1?pseudonymised=true", None, 422),  # not a pseudonym's form
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


def test_protected_endpoints_need_a_key_with_their_scope(server):
    """/recommend, /events, /audience and /admin/reload: no key 401 (WWW-Authenticate: Bearer), a wrong key 403, a key
    without the route's scope 403, either full key in either header form 200; /health, /version (name and version
    only), /docs and /openapi.json need none."""
    calls = (("get", "/recommend/cust-1", None), ("post", "/recommend", {"users": [{"user_id": "cust-1"}]}),
             ("get", "/audience/first?budget=5", None), ("post", "/admin/reload", None))
    for method, path, body in calls:
        call = getattr(requests, method)
        missing = call(f"{server}{path}", json=body)
        assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer", missing.text
        for wrong in ({"Authorization": "Bearer not-a-key"}, {"X-API-Key": "not-a-key"},
                      {"Authorization": f"Bearer {API_KEYS[0][:-1]}"}, {"Authorization": f"Basic {API_KEYS[0]}"},
                      {"X-API-Key": EVENTS_ONLY}):
            refused = call(f"{server}{path}", headers=wrong, json=body)
            assert refused.status_code == (401 if "Basic" in wrong.get("Authorization", "") else 403), wrong
            assert list(refused.json()) == ["error"] and "\n" not in refused.json()["error"]
            assert not any(key[:-1] in refused.text for key in (*API_KEYS, EVENTS_ONLY))
        for key in API_KEYS:
            for sent in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
                assert call(f"{server}{path}", headers=sent, json=body).status_code == 200, (path, sent)
    scoped = requests.get(f"{server}/recommend/cust-1", headers={"X-API-Key": EVENTS_ONLY})
    assert scoped.json()["error"].endswith("does not have the 'recommend' scope")
    answer = requests.get(f"{server}/recommend/cust-1", headers=AUTH).json()
    event = {"events": [{"kind": "click", "request_id": answer["request_id"]}]}
    assert requests.post(f"{server}/events", json=event, headers={"X-API-Key": EVENTS_ONLY}).status_code == 200
    for path in ("/health", "/version", "/docs", "/openapi.json"):
        assert requests.get(f"{server}{path}").status_code == 200, path
    schemes = requests.get(f"{server}/openapi.json").json()
    assert set(schemes["components"]["securitySchemes"]) == {"bearerKey", "apiKeyHeader"}
    for path, method in (("/audience/{campaign}", "get"), ("/recommend/{user_id}", "get"), ("/recommend", "post")):
        assert schemes["paths"][path][method]["security"] == [{"bearerKey": []}, {"apiKeyHeader": []}]


def test_bodies_over_the_limit_and_hostile_hosts_are_refused_before_anything_is_read(server):
    big = b'{"users": [' + b'{"user_id": "x"},' * 70_000 + b'{"user_id": "y"}]}'  # about 1.2 MB
    for headers in ({}, AUTH):  # refused before the key is even looked at
        sent = {**headers, "content-type": "application/json"}
        refused = requests.post(f"{server}/recommend", data=big, headers=sent)
        assert refused.status_code == 413 and "larger than 1048576 bytes" in refused.json()["error"]

    def chunks():  # no Content-Length: counted as it arrives
        yield b'{"users": ['
        for _ in range(70_000):
            yield b'{"user_id": "x"},'
        yield b'{"user_id": "y"}]}'

    streamed = requests.post(f"{server}/events", data=chunks(), headers={**AUTH, "content-type": "application/json"})
    assert streamed.status_code == 413
    for host in ("evil.example.com", "attacker.test:8080", "127.0.0.1.nip.io"):  # DNS rebinding names
        rebound = requests.get(f"{server}/recommend/cust-1", headers={**AUTH, "Host": host})
        assert rebound.status_code == 400, host
    assert requests.get(f"{server}/health", headers={"Host": "localhost"}).status_code == 200


def test_a_rotated_key_file_takes_effect_without_a_restart(project, server):
    """The key file is re-read when it changes (by every worker, within seconds) and at once on /admin/reload."""
    folder, _, _ = project
    file = folder / ".mindshare" / "api_keys"
    file.parent.mkdir(exist_ok=True)
    rotated = "api-key-from-the-file-5d0e8a"

    def audience(key: str) -> int:
        return requests.get(f"{server}/audience/first", params={"budget": 5}, headers={"X-API-Key": key}).status_code

    def within_seconds(key: str, status: int) -> bool:
        deadline = time.time() + 10
        while time.time() < deadline:
            if audience(key) == status:
                return True
            time.sleep(0.3)
        return False

    try:
        file.write_text(f"# rotated in by the test\n{rotated} audience  # the new one\n")
        file.chmod(0o600)
        assert within_seconds(rotated, 200)  # no reload asked for
        assert audience(API_KEYS[1]) == 200  # the file's keys and the environment's
        assert requests.post(f"{server}/admin/reload", headers={"X-API-Key": rotated}).status_code == 403  # no admin
        file.write_text("# nothing here now\n")
        assert requests.post(f"{server}/admin/reload", headers=AUTH).status_code == 200
        assert audience(rotated) == 403 and audience(API_KEYS[0]) == 200
    finally:
        file.unlink(missing_ok=True)
        requests.post(f"{server}/admin/reload", headers=AUTH)


def test_an_open_recommend_is_for_loopback_only(project):
    """(and --max-concurrency: a request beyond the limit of open connections is answered 503, not queued)"""
    folder, env, _ = project
    base, process = start_server(folder, env, "--open-recommend", "--max-concurrency", "2")
    try:
        one, batch = f"{base}/recommend/cust-1", f"{base}/recommend"
        assert requests.get(one).status_code == 200
        assert requests.post(batch, json={"users": [{"user_id": "cust-1"}]}).status_code == 200
        assert requests.get(f"{base}/audience/first").status_code == 401  # the rest stays protected
        assert "security" not in requests.get(f"{base}/openapi.json").json()["paths"]["/recommend/{user_id}"]["get"]
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))):  # an idle client holds one of the two places
            time.sleep(0.5)
            busy = requests.get(one)
            assert busy.status_code == 503, busy.text
        deadline = time.time() + 10
        while requests.get(one).status_code == 503 and time.time() < deadline:  # its place is free again
            time.sleep(0.2)
        assert requests.get(one).status_code == 200
    finally:
        stop_server(process)
    for flags, said in ((["--host", "10.1.2.3", "--open-recommend"], "loopback --host only"),
                        (["--host", "0.0.0.0"], "give --allowed-hosts")):
        refused = subprocess.run([sys.executable, "-m", "mindshare.cli", "serve", *flags], cwd=folder, env=env,
                                 capture_output=True, text=True, timeout=120)
        assert refused.returncode == 2 and said in refused.stderr and len(refused.stderr.splitlines()) == 1
    no_keys = {k: v for k, v in env.items() if k != API_KEYS_ENV}
    refused = subprocess.run([sys.executable, "-m", "mindshare.cli", "serve", "--host", "10.1.2.3"], cwd=folder,
                             env=no_keys, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "without API keys" in refused.stderr


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
        assert requests.get(f"{base}/recommend/cust-1").status_code == 403
        assert requests.get(f"{base}/version").json()["name"] == "mindshare"
    finally:
        log = stop_server(process)
    assert log.count("no API keys configured") == 1, log


def test_key_files_scopes_strength_comments_and_permissions(tmp_path, monkeypatch, caplog):
    first, second, third = "first-key-0123456789abcdef", "second-key-0123456789abcdef", "third-key-0123456789abcdef"
    assert parse_keys(f" {first}, {second} events,,{third} ", ",") == [first, second, third]
    caplog.clear()  # the entries without scopes above each said they have every scope
    file = tmp_path / "api_keys"
    file.write_text(f"# keys of the shop\n{first} recommend events\n\n  {second} audience, admin # rotated in\n")
    file.chmod(0o600)
    with caplog.at_level(logging.WARNING):
        entries = read_key_file(file)
    assert [(e.key, set(e.scopes)) for e in entries] == [(first, {"recommend", "events"}),
                                                        (second, {"audience", "admin"})]
    assert [e.where for e in entries] == [f"{file} line 2", f"{file} line 4"]
    assert not caplog.records
    file.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        read_key_file(file)
    assert "readable by others than its owner" in caplog.text and first not in caplog.text
    assert read_key_file(tmp_path / "absent") == []
    monkeypatch.setenv(API_KEYS_ENV, f"{third},{first} audience")
    keys = ApiKeys.from_environment(file)
    assert keys.configured == 3  # the same key twice counts once, with the scopes of both
    assert keys.find(first)[1] == {"recommend", "events", "audience"} and keys.find(third)[1] == set(SCOPES)
    assert keys.check(first, "events") == key_id(first) and len(key_id(first)) == 8
    with pytest.raises(HTTPException) as refused:
        keys.check(second, "recommend")
    assert refused.value.status_code == 403 and second not in refused.value.detail
    assert [keys.matches(k) for k in (first, second, third, "fourth", "", first[:-1])] == [True] * 3 + [False] * 3
    for weak in ("short", "0123456789abcdef0123456789abcde", "g" * 21):  # under 128 bits: 31 hex, 21 base64
        file.write_text(f"{first}\n{weak} recommend\n")
        with pytest.raises(MindshareError, match=r"api_keys line 2: the API key is too weak") as error:
            keys.load()
        assert weak not in str(error.value)
    assert key_bits("0123456789abcdef0123456789abcdef") == 128 and key_bits("g" * 22) == 132
    file.write_text(f"{first} recommend everything\n")
    with pytest.raises(MindshareError, match="api_keys line 1: unknown scope 'everything'"):
        keys.load()
    file.write_bytes(b"first\nsecret-\xff\n")  # not UTF-8: refused, naming the file, not its content
    with pytest.raises(MindshareError, match=r"api_keys: the API key file cannot be read \(UnicodeDecodeError\)"):
        keys.load()
    assert keys.configured == 3 and keys.matches(second)  # the keys in force stay
    monkeypatch.delenv(API_KEYS_ENV)
    file.unlink()
    assert keys.load() == 0 and not keys.matches(first)


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
        assert requests.get(f"{server}/recommend/cust-1", headers=AUTH).status_code == 200  # never an error meanwhile
        time.sleep(0.1)
    assert served_version() == "2" and requests.get(f"{server}/version", headers=AUTH).json()["family"] == "popularity"
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

    from mindshare.serving.app import create_app
    from mindshare.serving.holder import ModelHolder

    folder, _, _ = project
    here = os.getcwd()
    os.chdir(folder)  # the audience endpoint reads params.yaml and data/ from the project
    holder = ModelHolder("mindshare", max_k=20, poll_seconds=3600)
    holder.refresh()
    app = create_app(holder, max_batch=20, keys=ApiKeys.from_environment(), allowed_hosts=("testserver", "localhost"))
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    os.chdir(here)


@pytest.mark.parametrize("headers", [{}, AUTH], ids=["without a key", "with a key"])
def test_schemathesis_finds_no_server_errors_or_schema_violations(api_schema, headers):
    """Every operation of the OpenAPI description, fuzzed with valid and invalid requests: no 5xx,
    invalid ones refused with a 4xx, every response as documented; without a key the protected
    operations answer 401 or 403 as documented, with one they answer."""
    from schemathesis import GenerationMode
    from schemathesis.checks import positive_data_acceptance

    failures, statuses = [], {}
    for result, mode in itertools.product(api_schema.get_all_operations(), GenerationMode):
        operation = result.ok()

        @given(case=operation.as_strategy(mode))
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case):
            # two rules a static schema cannot say: an event's time against the clock (at most 300 s ahead, within
            # the logs' retention), and a user_id's form when `pseudonymised=true`; schema-valid data breaking
            # them is rightly refused there
            dynamic = ("POST /events", "GET /recommend/{user_id}")
            excluded = [positive_data_acceptance] if operation.label in dynamic else []
            response = case.call_and_validate(headers=dict(headers), excluded_checks=excluded)  # a copy of headers
            statuses.setdefault(operation.label, set()).add(response.status_code)

        try:
            fuzz()
        except Unsatisfiable:  # an operation without parameters has no invalid request to make
            assert mode is GenerationMode.NEGATIVE
        except Exception as error:  # gather every operation's finding, then fail once
            failures.append(f"{operation.label} ({mode.value}): {str(error).strip()[:600]}")
    assert not failures, "\n".join(failures)
    for label in ("GET /audience/{campaign}", "POST /admin/reload", "GET /recommend/{user_id}", "POST /recommend",
                  "POST /events"):  # the key, or its absence, decided (a body that is not JSON is refused first)
        if headers:
            assert not statuses[label] & {401, 403}, (label, statuses[label])
        else:
            assert statuses[label] & {401, 403} and not any(200 <= s < 300 for s in statuses[label]), label
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
