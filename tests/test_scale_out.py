"""Beyond one machine, for real: a PostgreSQL server (Debian's binaries) holding the Optuna studies that
two tune workers share, and an MLflow tracking server with its backend store in PostgreSQL that every
stage, the registry and `mindshare promote` talk to over HTTP. Also the scale bench's own pieces on
small data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

import optuna
import pytest
from mlflow import MlflowClient

from postgres_server import free_port, start_postgres
from stage_project import project_env, run, write_params

pytestmark = pytest.mark.e2e
SYNTHETIC = {"n_users": 300, "n_items": 150, "n_interactions": 8000, "n_categories": 6, "seed": 5}


@pytest.fixture(scope="module")
def postgres():
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tracking_server(postgres, tmp_path_factory):
    """`mlflow server` with runs and the registry in PostgreSQL and artifacts proxied to a folder."""
    backend = postgres.create_database("mlflow")
    artifacts = tmp_path_factory.mktemp("mlflow-artifacts")
    port = free_port()
    log = open(artifacts.parent / "mlflow-server.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend, "--artifacts-destination",
         str(artifacts), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:"
                                                                        f"{os.environ.get('PATH', '')}"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if server.poll() is not None or time.time() > deadline:
            server.kill()
            pytest.fail(f"mlflow server did not come up: {(artifacts.parent / 'mlflow-server.log').read_text()[-800:]}")
        time.sleep(0.5)
    yield url
    server.terminate()
    server.wait(timeout=30)
    log.close()


def test_two_workers_share_a_postgres_study_and_every_stage_logs_to_a_database_backed_server(
        postgres, tracking_server, tmp_path):
    postgres.create_database("optuna")
    studies = postgres.url("optuna", "postgresql")  # as people write it: the driver is chosen for them
    write_params(tmp_path, ingest={"source": "synthetic", "synthetic": SYNTHETIC}, models=["item_knn", "svd"],
                 tune={"n_trials": 10, "storage": studies}, campaigns=[])
    env = {**project_env(tmp_path), "MLFLOW_TRACKING_URI": tracking_server}

    def stage(*args: str) -> None:
        result = run(tmp_path, sys.executable, "-m", f"mindshare.stages.{args[0]}", *args[1:], env=env)
        assert result.returncode == 0, f"{args}: {result.stderr[-2000:]}"

    for name in ("ingest", "prepare", "features"):
        stage(name)
    # two workers (on two machines they would run the same command) fill one study in PostgreSQL
    command = [sys.executable, "-m", "mindshare.stages.tune", "svd", "--worker"]
    workers = [subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err[-2000:]
    stage("tune", "svd")  # the pipeline's own tune stage finds the study complete and writes the result
    summary = json.loads((tmp_path / "tuning/svd.json").read_text())
    study = optuna.load_study(study_name=summary["study"], storage=postgres.url("optuna"))
    finished = [
        t for t in study.trials if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    ]
    assert 10 <= len(finished) <= 11
    assert len({t.user_attrs["mindshare.worker"] for t in finished}) == 2  # both workers ran trials
    assert summary["best_value"] == pytest.approx(study.best_value)
    stage("tune", "item_knn")
    for name in ("item_knn", "svd"):
        stage("train", name)
    stage("evaluate")
    stage("register")

    client = MlflowClient(tracking_uri=tracking_server)
    versions = client.search_model_versions("name = 'mindshare'")
    assert len(versions) == 2
    challenger = client.get_model_version_by_alias("mindshare", "challenger")
    promoted = run(tmp_path, sys.executable, "-m", "mindshare.cli", "promote", "--reason", "scale-out test", env=env)
    assert promoted.returncode == 0, promoted.stderr
    assert client.get_model_version_by_alias("mindshare", "production").version == challenger.version
    answer = run(
        tmp_path, sys.executable, "-m", "mindshare.cli", "recommend", "--user", "1", "-k", "5", "--json", env=env
    )
    assert answer.returncode == 0, answer.stderr
    assert len(json.loads(answer.stdout)["items"]) == 5
    # the server's store really is the PostgreSQL database: runs, trials and versions are rows there
    import psycopg

    with psycopg.connect(postgres.url("mlflow", "postgresql")) as connection:
        runs = connection.execute("SELECT count(*) FROM runs").fetchone()[0]
        registered = connection.execute("SELECT count(*) FROM model_versions").fetchone()[0]
    assert registered == 2
    assert runs >= 10 + 6 + 2 + 3  # trials of both studies, stages, evaluate's parent and nested runs
    assert not (tmp_path / "mlflow.db").exists()  # nothing went to a local store
    # the same store read straight from the database (no server): what the server wrote is there
    direct = {**env, "MLFLOW_TRACKING_URI": postgres.url("mlflow", "postgresql")}
    listed = run(tmp_path, sys.executable, "-m", "mindshare.cli", "models", env=direct)
    assert listed.returncode == 0, listed.stderr
    assert "production" in listed.stdout and "challenger" in listed.stdout


def test_scale_bench_runs_every_stage_and_reports_time_and_memory(tmp_path):
    """The bench's own machinery at a size CI affords (the figures come from `mindshare bench scale`)."""
    out = tmp_path / "scale.json"
    result = run(
        tmp_path,
        sys.executable,
        "-m",
        "mindshare.cli",
        "bench",
        "scale",
        "--rows",
        "20000,40000",
        "--sample-users",
        "100",
        "--json",
        str(out),
        "--plot",
        str(tmp_path / "scale.png"),
        "--workdir",
        str(tmp_path / "work"),
        env=project_env(tmp_path),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    stages = [
        "generate",
        "ingest",
        "prepare",
        "features",
        "train@item_knn",
        "train@svd",
        "evaluate",
        "register",
        "total",
    ]
    assert [(r["rows"], r["stage"]) for r in report["results"]] == [(n, s) for n in (20000, 40000) for s in stages]
    for row in report["results"]:
        assert row["seconds"] > 0 and 50 < row["peak_rss_mb"] < 8192
    for rows in (20000, 40000):  # the total is the pipeline's: ingest to register, not the data's generation
        steps = [r for r in report["results"] if r["rows"] == rows]
        assert steps[-1]["seconds"] == pytest.approx(sum(r["seconds"] for r in steps[1:-1]), abs=0.01)
    assert list(report["growth_exponents"]) == ["20000-40000"]
    assert set(report["growth_exponents"]["20000-40000"]) == set(stages)
    assert (tmp_path / "scale.png").stat().st_size > 10_000
    assert "growth exponent" in result.stdout
    evaluation = json.loads((tmp_path / "work/rows-40000/reports/evaluation.json").read_text())
    assert set(evaluation["models"]) == {"item_knn", "svd"}
    metrics = json.loads((tmp_path / "work/rows-40000/reports/metrics.json").read_text())
    assert metrics["svd"]["users_evaluated"] <= 100 and metrics["svd"]["ndcg_at_10"] > 0.01
