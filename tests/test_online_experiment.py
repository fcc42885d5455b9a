"""An online experiment end to end against a real `mindshare serve` process on 127.0.0.1 and a real SQLite
registry: production popularity, challenger item_knn (better offline), A/B at half the users; `mindshare
simulate` replays test users; the exposure and event logs fill (pseudonyms only); `experiment status`
says the challenger is better; `promote --online` promotes it through the gate and ends the experiment;
interleaving answers credit each item to its version; `outcomes --online` takes a batch export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pandas as pd
import pyarrow.parquet as pq
import pytest
import requests
import yaml
from mlflow import MlflowClient

from mindshare import layout
from mindshare.data.interactions import Interactions
from mindshare.data.pseudonymise import pseudonymise
from mindshare.data.split import split_random_per_user
from mindshare.data.synthetic import SyntheticSpec, generate_synthetic
from mindshare.features.tables import build_feature_tables
from mindshare.marketing.online_log import EVENT_SCHEMA, EXPOSURE_SCHEMA, read_exposures, read_log, write_rows
from mindshare.models import make_model
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
KEY = "online-experiment-test-key"
API_KEY = "online-experiment-api-key-4f1d9b"
WITH_KEY = {"X-API-Key": API_KEY}
SPEC = SyntheticSpec(n_users=1000, n_items=80, n_interactions=20_000, seed=11, user_prefix="cust-")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """popularity (version 2) in production, item_knn (version 1) the challenger, A/B on half the users."""
    folder = tmp_path_factory.mktemp("online")
    env = {**os.environ, "MINDSHARE_PSEUDONYM_KEY": KEY, "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
           "MINDSHARE_USER": "tester", "MINDSHARE_API_KEYS": API_KEY}
    old = {k: os.environ.get(k) for k in ("MINDSHARE_PSEUDONYM_KEY", "MLFLOW_TRACKING_URI", "MINDSHARE_USER")}
    os.environ.update({k: env[k] for k in old})
    interactions, items = generate_synthetic(SPEC)
    interactions["user_id"] = pseudonymise(interactions["user_id"], KEY.encode())
    split = split_random_per_user(interactions, 0.25, 0.0, seed=0)
    for path, frame in ((layout.ITEMS, items), (layout.split_path("test"), split.test),
                        (layout.split_path("train"), split.train)):
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(folder / path, index=False)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["ingest"] = {**params["ingest"], "source": "synthetic", "synthetic": {
        k: getattr(SPEC, k) for k in ("n_users", "n_items", "n_interactions", "n_categories", "seed", "user_prefix")}}
    params["campaigns"] = []
    params["online"] = {**params["online"], "challenger_share": 0.5, "method": "ab", "log_flush_seconds": 0.2}
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    train = Interactions.from_frame(split.train).with_features(*build_feature_tables(split.train, items))
    configure_tracking(folder)
    use_experiment("online-test", folder)
    candidates = []
    for family, offline in (("item_knn", 0.3), ("popularity", 0.1)):
        make_model(family, {}).fit(train).save(folder / f"{family}.pkl")
        with mlflow.start_run(tags={FAMILY_TAG: family}) as run:
            mlflow.log_metric("coverage_at_10", 0.5)
            uri = log_recommender(folder / f"{family}.pkl", folder / layout.ITEMS)
        candidates.append(registry.Candidate(family=family, model_uri=uri, run_id=run.info.run_id,
                                             metrics={"ndcg_at_10": offline, "coverage_at_10": 0.5},
                                             tags={DATA_FINGERPRINT_TAG: "d", SPLIT_FINGERPRINT_TAG: "s"}))
    client = MlflowClient()
    registry.register_candidates(client, "mindshare", candidates, "ndcg_at_10")  # item_knn: challenger
    registry.promote(client, "mindshare", "start with popularity", version="2", force=True)
    yield folder, env
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def server(project):
    folder, env = project
    port = free_port()
    log = folder / "server.log"  # its stderr: a pipe read only at the end would fill with audit lines
    with open(log, "w") as handle:
        process = subprocess.Popen([sys.executable, "-m", "mindshare.cli", "serve", "--port", str(port),
                                    "--poll-seconds", "0.5"], cwd=folder, env=env,
                                   stdout=subprocess.DEVNULL, stderr=handle, text=True)
    process.log_path = log
    base = f"http://127.0.0.1:{port}"
    wait_for(f"{base}/health", process, seconds=120)
    yield base
    process.terminate()
    process.wait(timeout=30)


def cli(folder: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mindshare.cli", *args], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=600)


def test_an_ab_experiment_from_traffic_to_promotion(project, server):
    folder, env = project
    version = requests.get(f"{server}/version", headers=WITH_KEY).json()
    assert version["version"] == "2" and version["experiment"] == {"challenger_version": "1", "method": "ab",
                                                                   "challenger_share": 0.5}
    one = requests.get(f"{server}/recommend/cust-1?k=5", headers=WITH_KEY).json()
    again = requests.get(f"{server}/recommend/cust-1?k=5", headers=WITH_KEY).json()
    assert one["arm"] == again["arm"] and one["request_id"] != again["request_id"]  # sticky arm, new request
    assert {item["version"] for item in one["items"]} == {"1" if one["arm"] == "challenger" else "2"}
    assert requests.post(f"{server}/events", json={"events": [{"kind": "click", "request_id": one["request_id"]}]}
                         ).status_code == 401  # moving an experiment needs a key

    simulated = cli(folder, env, "simulate", "--server", server, "--visits", "2500", "--rate", "1000", "--seed", "1")
    assert simulated.returncode == 0, simulated.stderr
    time.sleep(1.0)  # the server's log writers flush every 0.2 s
    exposures = read_exposures(folder / layout.EXPOSURES)
    events = read_log(folder / layout.ONLINE_EVENTS, EVENT_SCHEMA)
    assert exposures["request_id"].nunique() >= 2500 and len(events) > 0
    assert not exposures["user_id"].str.startswith("cust-").any()  # pseudonyms only
    assert set(exposures["arm"]) == {"production", "challenger"}
    assert (folder / layout.EXPOSURES).glob("date=*/hour=*/part-*.parquet")

    status = cli(folder, env, "experiment", "status", "--json")
    assert status.returncode == 0, status.stderr
    payload = json.loads(status.stdout)
    assert payload["verdict"]["decision"] == "better", payload
    assert {row["arm"] for row in payload["arms"]} == {"production", "challenger"}
    run = mlflow.search_runs(search_all_experiments=True, filter_string="tags.mlflow.runName = 'online@v1'",
                             output_format="list")
    assert run and "online_p_value" in run[0].data.metrics

    bogus = [{"time": time.time(), "request_id": f"bogus-{i}", "user_id": f"{i:020x}", "method": "ab",
              "arm": "challenger", "k": 1, "items": ["item-1"], "credits": ["challenger"], "versions": ["1"]}
             for i in range(3000)]  # 3,000 challenger users nobody assigned: the arms no longer split 50/50
    write_rows(folder / layout.EXPOSURES, bogus, EXPOSURE_SCHEMA)
    refused = cli(folder, env, "promote", "--online", "--reason", "steered")
    assert refused.returncode == 1 and "sample ratio MISMATCH" in refused.stdout + refused.stderr, refused.stdout
    assert "sample ratio MISMATCH" in cli(folder, env, "experiment", "status", "--no-log").stdout
    for part in (folder / layout.EXPOSURES).rglob("part-*.parquet"):
        table = pq.read_table(part)
        if any(str(r).startswith("bogus-") for r in table.column("request_id").to_pylist()):
            part.unlink()
    promoted = cli(folder, env, "promote", "--online", "--reason", "won online")
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    assert "sample ratio" not in promoted.stdout
    assert "online ctr (ab" in promoted.stdout and ": better" in promoted.stdout
    client = MlflowClient()
    assert str(client.get_model_version_by_alias("mindshare", "production").version) == "1"
    last = registry.history(client, "mindshare")[-1]
    assert last["online"]["decision"] == "better" and last["online"]["challenger"] == "1"
    assert yaml.safe_load((folder / "params.yaml").read_text())["online"]["challenger_share"] == 0
    deadline = time.time() + 30
    while (requests.get(f"{server}/version", headers=WITH_KEY).json()["experiment"] is not None
           and time.time() < deadline):
        time.sleep(0.2)
    served = requests.get(f"{server}/version", headers=WITH_KEY).json()
    assert served["version"] == "1" and served["experiment"] is None


def test_interleaving_credits_each_item_and_outcomes_take_a_batch(project, server):
    folder, env = project
    client = MlflowClient()
    client.set_registered_model_alias("mindshare", "challenger", "2")  # popularity challenges item_knn now
    params = yaml.safe_load((folder / "params.yaml").read_text())
    params["online"].update(challenger_share=0.9, method="interleaving")
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    reloaded = requests.post(f"{server}/admin/reload", headers={"X-API-Key": API_KEY})
    assert reloaded.status_code == 200 and reloaded.json()["experiment"]["method"] == "interleaving"
    answers = [requests.get(f"{server}/recommend/cust-{n}?k=10", headers=WITH_KEY).json() for n in range(40)]
    mixed = [a for a in answers if a["arm"] == "interleaved"]
    assert mixed and all({i["version"] for i in a["items"]} <= {"1", "2"} for a in mixed)
    assert any({i["version"] for i in a["items"]} == {"1", "2"} for a in mixed)  # both versions placed items
    export = pd.DataFrame({"request_id": [mixed[0]["request_id"], ""], "user_id": ["", "cust-3"],
                           "item_id": [mixed[0]["items"][0]["item_id"], "item-7"], "kind": ["click", "conversion"],
                           "value": [0.0, 12.5]})
    export.to_csv(folder / "events.csv", index=False)
    before = len(read_log(folder / layout.ONLINE_EVENTS, EVENT_SCHEMA))
    outcomes = cli(folder, env, "outcomes", "--online", "events.csv")
    assert outcomes.returncode == 0, outcomes.stderr
    after = read_log(folder / layout.ONLINE_EVENTS, EVENT_SCHEMA)
    assert len(after) == before + 2 and "cust-3" not in set(after["user_id"])
    simulated = cli(folder, env, "simulate", "--server", server, "--visits", "2000", "--rate", "1000", "--seed", "2")
    assert simulated.returncode == 0, simulated.stderr
    time.sleep(1.0)
    status = cli(folder, env, "experiment", "status", "--json", "--no-log")
    assert status.returncode == 0, status.stderr
    payload = json.loads(status.stdout)
    assert payload["method"] == "interleaving" and payload["challenger"] == "2"
    assert payload["verdict"]["decision"] == "worse", payload  # popularity loses to item_knn, user by user
    assert "interleaved" in {row["arm"] for row in payload["arms"]}
    assert cli(folder, env, "experiment", "stop").returncode == 2  # a reason is required
    stopped = cli(folder, env, "experiment", "stop", "--reason", "enough")
    assert stopped.returncode == 0 and yaml.safe_load((folder / "params.yaml").read_text())["online"][
        "challenger_share"] == 0
    bad = pd.DataFrame({"kind": ["click"], "item_id": ["x"]})
    bad.to_csv(folder / "bad.csv", index=False)
    refused = cli(folder, env, "outcomes", "--online", "bad.csv")
    assert refused.returncode == 2 and "bad.csv" in refused.stderr and "Traceback" not in refused.stderr
