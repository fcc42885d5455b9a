"""The Spark engine on a standalone cluster (`spark.master: spark://host:port`): a master and a worker started
here from pyspark's own jars, each in its own JVM. Unlike `local[N]`, the executors are processes the worker
launches in their own folders, with nothing of the driver's but what Spark ships: the model files evaluate and
audience rank with, the pseudonymisation key in ingest's tasks, ALS's data. Their Python is the one
`spark.pyspark.python` names, as a cluster's would be (README "Scaling out")."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from live_server import free_port, stop_group, wait_for
from spark_engine import require_spark

pytestmark = pytest.mark.integration  # real stages, stores, servers or Spark: make test, not make check

WORKERS_ALIVE_WITHIN_S = 90
MASTER_UP_WITHIN_S = 180  # a JVM's start on a CI machine busy with the other test worker


def _daemon(tmp_path: Path, name: str, *args: str) -> subprocess.Popen:
    import pyspark

    spark_home = Path(pyspark.__file__).parent
    env = {**os.environ, "SPARK_HOME": str(spark_home), "SPARK_WORKER_DIR": str(tmp_path / "work"),
           "SPARK_LOG_DIR": str(tmp_path)}
    with (tmp_path / f"{name}.log").open("w") as log:  # the daemon writes to its own copy of the descriptor
        return subprocess.Popen([str(spark_home / "bin" / "spark-class"), *args], stdout=log,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _master_ports(log: Path, master: subprocess.Popen) -> tuple[int, int]:
    """The ports the master's RPC and UI listen on, as its log says: Spark moves to the next port when the one asked
    for is taken (a port found free a moment earlier can be taken by then)."""
    deadline = time.monotonic() + MASTER_UP_WITHIN_S
    while True:
        text = log.read_text()
        rpc = re.search(r"Starting Spark master at spark://[^:]+:(\d+)", text)
        ui = re.search(r"Bound MasterWebUI to \S+ and started at http://[^:]+:(\d+)", text)
        if rpc and ui:
            return int(rpc.group(1)), int(ui.group(1))
        assert time.monotonic() < deadline and master.poll() is None, text[-2000:]
        time.sleep(0.3)


def _wait_for_a_worker(ui_port: int, daemons: list, log: Path) -> None:
    """Until the master's UI counts a worker alive; the worker's log if it takes too long or a daemon exits."""
    deadline = time.monotonic() + WORKERS_ALIVE_WITHIN_S
    while True:
        try:
            alive = requests.get(f"http://127.0.0.1:{ui_port}/json/", timeout=2).json().get("aliveworkers", 0)
        except (requests.RequestException, ValueError):
            alive = 0
        if alive >= 1:
            return
        assert time.monotonic() < deadline and all(d.poll() is None for d in daemons), log.read_text()[-2000:]
        time.sleep(0.5)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A standalone master and one worker of 2 cores on this machine, and a driver session on them (any session
    an earlier test left in this process stopped first: Spark keeps one per process)."""
    require_spark()
    from pyspark.sql import SparkSession

    from mindshare.settings import SparkSettings
    from mindshare.spark.session import start_session

    tmp_path = tmp_path_factory.mktemp("cluster")
    daemons = [_daemon(tmp_path, "master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                       "--port", str(free_port()), "--webui-port", str(free_port()))]
    try:
        port, ui_port = _master_ports(tmp_path / "master.log", daemons[0])
        wait_for(f"http://127.0.0.1:{ui_port}/json/", daemons[0])
        daemons.append(_daemon(tmp_path, "worker", "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                               "--cores", "2", "--memory", "2g", "--webui-port", str(free_port()),
                               f"spark://127.0.0.1:{port}"))
        _wait_for_a_worker(ui_port, daemons, tmp_path / "worker.log")
        running = SparkSession.getActiveSession()
        if running is not None:
            running.stop()
        with pytest.MonkeyPatch.context() as env:
            env.delenv("PYSPARK_PYTHON", raising=False)  # what the settings give, not what a local session set
            session = start_session(SparkSettings(master=f"spark://127.0.0.1:{port}", driver_memory="1g",
                                                  shuffle_partitions=4, conf={
                "spark.pyspark.python": sys.executable, "spark.executor.memory": "1g", "spark.ui.enabled": "false",
                "spark.driver.host": "127.0.0.1", "spark.checkpoint.dir": str(tmp_path / "checkpoints")}))
            assert session.sparkContext.master == f"spark://127.0.0.1:{port}"
            assert session.sparkContext.pythonExec == sys.executable  # from spark.pyspark.python
            yield session
            session.stop()
    finally:
        for daemon in daemons:  # with its executors: a process group of its own
            stop_group(daemon)


def test_the_session_runs_on_the_clusters_executors_not_here(cluster):
    """Tasks run in the worker's executor processes, in folders of their own (not this one)."""
    def where(rows):
        for _ in rows:
            pass
        yield os.getpid(), os.getcwd()

    seen = cluster.sparkContext.parallelize(range(8), 4).mapPartitions(where).collect()
    assert os.getpid() not in {pid for pid, _ in seen} and all(Path(cwd) != Path.cwd() for _, cwd in seen)
    assert all("/work/app-" in cwd for _, cwd in seen)  # the worker's application folder


def test_executors_of_a_cluster_rank_with_the_model_spark_ships_them(cluster, tmp_path):
    """The model file reaches the executors through Spark alone; their lists are the model's own."""
    from mindshare.data.interactions import Interactions
    from mindshare.models import make_model
    from mindshare.models.spark_ranking import SparkRanking
    from test_spark import _log

    train = Interactions.from_frame(_log(n_users=600, rows=8000))
    users = np.random.default_rng(1).permutation(train.n_users)[:500]
    for family in ("item_knn", "svd"):
        model = make_model(family, {}).fit(train)
        path = tmp_path / family / "model.pkl"
        path.parent.mkdir()
        model.save(path)
        ranked = SparkRanking(model, path, min_users=100).recommend(users, k=10, exclude_seen=True)
        expected = model.recommend(users, k=10, exclude_seen=True)
        np.testing.assert_array_equal(ranked[0], expected[0])
        np.testing.assert_allclose(ranked[1], expected[1], rtol=1e-6)


def test_ingest_on_a_cluster_pseudonymises_as_the_local_engine(cluster, tmp_path):
    """The cleaning rules and the key travel in the tasks: kept rows, drops and pseudonyms are the local engine's."""
    from mindshare.data.pseudonymise import pseudonymise
    from mindshare.data.sources import read_source_tables
    from mindshare.spark.ingest import ingest_on_spark
    from test_spark import _shop_ingest

    ingest = _shop_ingest(tmp_path)
    local = read_source_tables(ingest)
    expected = local.interactions.assign(user_id=pseudonymise(local.interactions["user_id"], b"cluster key"))
    made = ingest_on_spark(ingest, b"cluster key", set(), lambda columns, top: pd.DataFrame(columns=columns),
                           tmp_path / "out.parquet")
    assert made["dropped"] == local.cleaning.dropped and made["rows"] == len(expected)
    got = pd.read_parquet(tmp_path / "out.parquet")
    assert sorted(got["user_id"].unique()) == sorted(expected["user_id"].unique())


def test_spark_als_fits_on_a_cluster(cluster):
    """ALS's fit runs on the executors (its checkpoints in `spark.checkpoint.dir`); the factors come back whole."""
    from mindshare.data.interactions import Interactions
    from mindshare.models import make_model
    from test_spark import _log

    train = Interactions.from_frame(_log(n_users=300, rows=5000))
    model = make_model("svd", {"algorithm": "spark_als", "factors": 8, "iterations": 5}).fit(train)
    assert model.user_factors_.shape == (train.n_users, 8) and model.item_factors_.shape == (train.n_items, 8)
    assert np.abs(model.user_factors_).sum(axis=1).min() > 0  # every user seen by the cluster
