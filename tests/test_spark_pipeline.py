"""`engine: spark` end to end on a shop's messy export: the real `dvc repro` through Spark Connect (a local[2] server
started once for the module, which every stage connects to: the client path a cluster takes) with ingest
(cleaning, pseudonyms), the split and the features on Spark, svd fitted by Spark MLlib's ALS (its Optuna trials
too), the other families on the driver on a seeded sample of users
(`driver_fit: sample`), evaluation's and the audience's lists ranked by Spark's executors, the real MLflow registry;
the registered version answers through `mindshare recommend` and `mindshare serve`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid

import pandas as pd
import pytest
import requests
from mlflow import MlflowClient

from mindshare.data.pseudonymise import pseudonym
from mindshare.data.shop_example import COLUMNS, EVENT_WEIGHTS, ShopSpec, write_shop_export

from live_server import free_port, stop_group, wait_for
from spark_engine import require_spark, start_connect_server
from stage_project import copy_repo, project_env, run, write_params

pytestmark = pytest.mark.e2e
MODELS = ["popularity", "item_knn", "svd_spark"]
DRIVER_SAMPLE = 120  # of the export's 200 customers


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    require_spark()
    folder = tmp_path_factory.mktemp("spark-project")
    copy_repo(folder)
    export = folder / "data/raw/shop.csv"
    export.parent.mkdir(parents=True, exist_ok=True)
    _, _, items_path = write_shop_export(ShopSpec.of_size(6000, seed=5), export)
    ingest = {"source": "events", "path": "data/raw/shop.csv", "columns": COLUMNS, "timestamp_format": "mixed",
              "event_weights": EVENT_WEIGHTS, "items_path": f"data/raw/{items_path.name}", "rating_scale": None,
              "dataset_name": "shop", "item_columns": {"item_id": "sku", "title": "product", "categories": "category",
                                                       "price": "unit_price"}}
    params = write_params(folder, ingest=ingest)
    tune = params["tune"]
    tune["families"] = {"popularity": {}, "item_knn": {"n_trials": 2, **tune["families"]["item_knn"]},
                        "svd_spark": {"n_trials": 2, **tune["families"]["svd"]}}
    env = {**project_env(folder), "SPARK_CONNECT_AUTHENTICATE_TOKEN": uuid.uuid4().hex}  # the server's and stages'
    port = free_port()
    server = start_connect_server(port, env)
    write_params(folder, ingest=params["ingest"], engine="spark", models=MODELS, tune=tune, campaigns=[],
                 spark={"remote": f"sc://localhost:{port}", "shuffle_partitions": 4, "driver_fit": "sample",
                        "driver_sample_users": DRIVER_SAMPLE, "rank_min_users": 20})
    subprocess.run(["git", "add", "-A"], cwd=folder, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "spark"], cwd=folder,
                   check=True)
    try:
        result = run(folder, "dvc", "repro", env=env, timeout=1200)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        yield folder, env, result.stdout + result.stderr
    finally:
        stop_group(server)


def test_ingest_and_the_split_are_written_by_spark_and_read_by_the_local_stages(project):
    folder, _, said = project
    ingested = json.loads((folder / "reports/ingest.json").read_text())
    assert ingested["dropped"]["missing_user_id"] > 0 and ingested["repaired"]["float_user_id"] > 0
    interactions = pd.read_parquet(folder / "data/interim/interactions.parquet")
    assert (folder / "data/interim/interactions.parquet").is_dir() and len(interactions) == ingested["counts"]["rows"]
    assert interactions["user_id"].str.fullmatch(r"[0-9a-f]{20}").all()  # pseudonyms only
    prepare = json.loads((folder / "reports/prepare.json").read_text())
    train = folder / "data/processed/train.parquet"
    assert train.is_dir() and any(train.glob("*.parquet"))  # a Parquet dataset, as Spark writes
    assert len(pd.read_parquet(train)) == prepare["counts"]["train_rows"] > 0
    assert sum(prepare["counts"][f"{n}_rows"] for n in ("train", "valid", "test")) == \
        len(interactions) - prepare["dropped"]["exact_duplicate"]
    features = json.loads((folder / "reports/features.json").read_text())  # aggregates and K-means on Spark
    assert features["users"] == len(pd.read_parquet(folder / "data/features/users.parquet")) > 0
    assert features["segments"] >= 2 and "user_share_cat_category_01" in features["user_columns"]
    fit = json.loads((folder / "models/svd_spark/fit.json").read_text())
    assert fit["params"]["algorithm"] == "spark_als" and "driver_sample_users" not in fit
    assert fit["n_users"] > DRIVER_SAMPLE  # Spark's ALS fits every user
    for name in ("popularity", "item_knn"):  # the driver's families: the seeded sample of users alone
        on_driver = json.loads((folder / f"models/{name}/fit.json").read_text())
        assert on_driver["driver_sample_users"] == DRIVER_SAMPLE >= on_driver["n_users"] > DRIVER_SAMPLE * 0.9
    metrics = json.loads((folder / "reports/metrics.json").read_text())
    assert metrics["svd_spark"]["ndcg_at_10"] > metrics["popularity"]["ndcg_at_10"]
    assert metrics["svd_spark"]["users_evaluated"] == metrics["item_knn"]["users_evaluated"] <= DRIVER_SAMPLE
    evaluation = json.loads((folder / "reports/evaluation.json").read_text())  # the gate knows it was a sample
    assert evaluation["mindshare.split_fingerprint"].startswith(prepare["split_fingerprint"] + "-users-")
    assert re.search(r"ranked \d+ users \(k=\d+\) on Spark's executors", said)  # evaluate's, the audience's lists
    client = MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("mindshare-shop").experiment_id])
    study = json.loads((folder / "tuning/svd_spark.json").read_text())
    assert study["trials"]["complete"] == 2 and study["trials"]["failed"] == 0
    assert len([r for r in runs if r.data.tags.get("mlflow.parentRunId") == study["mlflow_run_id"]]) == 2


def test_the_registered_version_answers_from_the_cli_and_the_server(project):
    folder, env, _ = project
    cli = [sys.executable, "-m", "mindshare.cli"]
    assert run(folder, *cli, "promote", "--reason", "spark engine", env=env).returncode == 0
    customers = pd.read_csv(folder / "data/raw/shop.csv", dtype=str)["customer_id"].dropna()
    customers = customers[~customers.str.endswith(".0")].value_counts().index  # the most active first, as written
    known = set(pd.read_parquet(folder / "data/recommendations.parquet")["user_id"])  # the registered model's users
    customer = next(c for c in customers if pseudonym(c, env["MINDSHARE_PSEUDONYM_KEY"].encode()) in known)
    answer = run(folder, *cli, "recommend", "--user", customer, "-k", "5", "--json", env=env)
    assert answer.returncode == 0, answer.stderr
    items = json.loads(answer.stdout)["items"]
    assert len(items) == 5 and not json.loads(answer.stdout)["cold_start"]
    port = free_port()
    server = subprocess.Popen([*cli, "serve", "--port", str(port), "--open-recommend"], cwd=folder, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/health", server)
        served = requests.get(f"http://127.0.0.1:{port}/recommend/{customer}", params={"k": 5}, timeout=30)
        assert served.status_code == 200, served.text
        assert [i["item_id"] for i in served.json()["items"]] == [i["item_id"] for i in items]
    finally:
        server.terminate()
        server.communicate(timeout=20)
