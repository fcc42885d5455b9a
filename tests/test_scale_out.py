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
import yaml
from mlflow import MlflowClient

from postgres_server import free_port, start_postgres
from stage_project import REPO, project_env, run, write_params

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
    families = yaml.safe_load((REPO / "params.yaml").read_text())["tune"]["families"]
    families["item_knn"] = {**families["item_knn"], "n_trials": 3}  # the shared study is svd's
    write_params(tmp_path, ingest={"source": "synthetic", "synthetic": SYNTHETIC}, models=["item_knn", "svd"],
                 tune={"n_trials": 6, "storage": studies, "families": families}, campaigns=[])
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
    assert 6 <= len(finished) <= 7
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
    assert runs >= 6 + 3 + 6  # trials of both studies, the stages' runs
    assert not (tmp_path / "mlflow.db").exists()  # nothing went to a local store
    # the same store read straight from the database (no server): what the server wrote is there
    direct = {**env, "MLFLOW_TRACKING_URI": postgres.url("mlflow", "postgresql")}
    listed = run(tmp_path, sys.executable, "-m", "mindshare.cli", "models", env=direct)
    assert listed.returncode == 0, listed.stderr
    assert "production" in listed.stdout and "challenger" in listed.stdout


def test_scale_bench_runs_every_stage_and_reports_time_and_memory(tmp_path):
    """The shipped pipeline at the size CI affords, two families untuned (the figures come from `mindshare bench
    scale`): every step of dvc.yaml including audience, each family's cost and quality."""
    out = tmp_path / "scale.json"
    result = run(
        tmp_path,
        sys.executable,
        "-m",
        "mindshare.cli",
        "bench",
        "scale",
        "--rows",
        "10000",
        "--params",
        str(REPO / "params.yaml"),
        "--models",
        "popularity,item_knn",
        "--no-tune",
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
    steps = [
        "generate",
        "ingest",
        "prepare",
        "features",
        "train@popularity",
        "train@item_knn",
        "evaluate",
        "register",
        "uplift",
        "audience",
        "total",
    ]
    assert [r["stage"] for r in report["results"]] == steps and {r["rows"] for r in report["results"]} == {10000}
    for row in report["results"]:
        assert row["seconds"] > 0 and 50 < row["peak_rss_mb"] < 8192
    # the total is the pipeline's: ingest to audience, not the data's generation
    assert report["results"][-1]["seconds"] == pytest.approx(
        sum(r["seconds"] for r in report["results"][1:-1]), abs=0.01
    )
    assert report["settings"]["models"] == ["popularity", "item_knn"] and report["settings"]["tuned"] is False
    assert report["growth_exponents"] == {}  # one size: no pair
    families = report["families"]["10000"]
    for model in ("popularity", "item_knn"):
        assert families[model]["skipped"] is None and families[model]["tune_seconds"] is None
        assert families[model]["train_seconds"] > 0 and 0 < families[model]["ndcg_at_10"] <= 1
    quality = report["quality"]["10000"]
    assert quality["best_model"] in ("popularity", "item_knn") and quality["best"] >= 0
    assert quality["best"] == max(quality["popularity"], quality["item_knn"])
    assert (tmp_path / "scale.png").stat().st_size > 10_000
    assert "train@item_knn" in result.stdout and "s per 1M rows" in result.stdout
    assert f"ndcg_at_10 on test at 10,000 rows: best {quality['best_model']}" in result.stdout
    work = tmp_path / "work/rows-10000"
    assert (work / "reports/audience.json").exists() and not (work / "tuning").exists()
    shipped = yaml.safe_load((REPO / "params.yaml").read_text())
    used = yaml.safe_load((work / "params.yaml").read_text())
    assert used["tune"] == shipped["tune"] and used["model_params"] == shipped["model_params"]

    # a run cut off after register: --resume keeps the measured steps' figures and runs audience alone
    saved = json.loads((work / "steps.json").read_text())
    assert list(saved["steps"]) == steps[:-1]
    del saved["steps"]["audience"]
    (work / "steps.json").write_text(json.dumps(saved))
    arguments = ["-m", "mindshare.cli", "bench", "scale", "--rows", "10000", "--params", str(REPO / "params.yaml"),
                 "--models", "popularity,item_knn", "--no-tune", "--workdir", str(tmp_path / "work"), "--resume"]
    resumed = run(tmp_path, sys.executable, *arguments, "--json", str(out), env=project_env(tmp_path))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    again = json.loads(out.read_text())
    assert again["resumed"] == {"10000": steps[:-2]}
    before = {r["stage"]: r for r in report["results"]}
    after = {r["stage"]: r for r in again["results"]}
    assert all(after[s] == before[s] for s in steps[:-2]) and after["audience"]["ended"] >= before["audience"]["ended"]
    ran = [line.split()[1] for line in resumed.stdout.splitlines() if line.strip().startswith("10,000")]
    assert ran == ["resumed:", "audience"]  # the progress lines: nothing else ran again
    assert again["quality"] == report["quality"]
    # other settings than the workspace was measured with: refused, nothing run
    other = run(tmp_path, sys.executable, *arguments, "--seed", "1", env=project_env(tmp_path))
    assert other.returncode == 2 and "was measured with other settings" in other.stderr
    assert other.stderr.count("\n") == 1


def test_resume_puts_the_optuna_journal_back_as_the_last_measured_step_left_it(tmp_path):
    from mindshare import layout
    from mindshare.bench.scale import JOURNAL_AT_LAST_STEP, measured_steps, save_steps
    from mindshare.errors import MindshareError

    journal = tmp_path / layout.OPTUNA_JOURNAL
    journal.parent.mkdir()
    identity = {"params": {"models": ["svd"]}, "seed": 0}
    save_steps(tmp_path, identity, {"features": {"seconds": 1.0}})  # no journal yet: nothing kept
    assert not (tmp_path / JOURNAL_AT_LAST_STEP).exists()
    journal.write_text("trial 1 of the cut-off tune step\n")
    (journal.parent / "studies.journal.lock").mkdir()  # what the killed process held
    assert measured_steps(tmp_path, identity) == {"features": {"seconds": 1.0}}
    assert not journal.exists() and not (journal.parent / "studies.journal.lock").exists()

    journal.write_text("tune@svd's trials\n")
    save_steps(tmp_path, identity, {"features": {"seconds": 1.0}, "tune@svd": {"seconds": 2.0}})
    journal.write_text("tune@svd's trials\ntrial 1 of the cut-off tune@lightgbm\n")
    assert list(measured_steps(tmp_path, identity)) == ["features", "tune@svd"]
    assert journal.read_text() == "tune@svd's trials\n"
    with pytest.raises(MindshareError, match="measured with other settings"):
        measured_steps(tmp_path, {**identity, "seed": 1})
    assert measured_steps(tmp_path / "elsewhere", identity) == {}


def test_scale_bench_params_are_the_shipped_ones_with_ingest_models_and_sample_set():
    """Only ingest, models and (when given) evaluate.sample_users differ from the shipped file."""
    from mindshare.bench.scale import checked, parse_models, workspace_params

    shipped = yaml.safe_load((REPO / "params.yaml").read_text())
    models = parse_models("item_knn,rp3beta", shipped)  # rp3beta: in model_params, not in the shipped models
    params = workspace_params(shipped, 50_000, models, 300)
    changed = {key for key in shipped.keys() | params.keys() if shipped.get(key) != params.get(key)}
    assert changed == {"ingest", "models", "evaluate"}
    assert params["models"] == ["item_knn", "rp3beta"]
    assert {k for k in shipped["evaluate"] if shipped["evaluate"][k] != params["evaluate"][k]} == {"sample_users"}
    assert params["evaluate"]["sample_users"] == 300
    ingest = params["ingest"]
    assert (ingest["source"], ingest["path"], ingest["items_path"], ingest["dataset_name"]) == (
        "events",
        "data/raw/events.parquet",
        "data/raw/items.parquet",
        "synthetic-shop-50000",
    )
    assert ingest["rating_scale"] is None and ingest["cleaning"] == shipped["ingest"]["cleaning"]
    settings = checked(params, "derived")  # a valid params.yaml for the stages
    assert settings.ingest.name == "synthetic-shop-50000" and settings.evaluate.sample_users == 300
    # no flags: only ingest differs, and the shipped file itself is untouched
    plain = workspace_params(shipped, 10_000, parse_models(None, shipped))
    assert {key for key in shipped if shipped[key] != plain[key]} == {"ingest"}
    assert shipped == yaml.safe_load((REPO / "params.yaml").read_text())


def test_scale_bench_on_the_spark_engine_sets_spark_on_two_local_cores_and_svd_by_spark_als():
    """`bench scale --engine spark`'s workspace (its runs: docs/benchmarks.md, "Scale"; the Spark engine's pipeline
    end to end: tests/test_spark_pipeline.py)."""
    from mindshare.bench.scale import checked, workspace_params

    shipped = yaml.safe_load((REPO / "params.yaml").read_text())
    params = workspace_params(shipped, 10_000, ["popularity", "svd"], engine="spark")
    assert params["engine"] == "spark" and params["spark"]["master"] == "local[2]"
    assert params["spark"]["driver_fit"] == "all" and params["model_params"]["svd"]["algorithm"] == "spark_als"
    assert checked(params, "derived").engine == "spark"


def test_a_steps_memory_counts_its_child_processes_as_a_spark_jvm_is_counted():
    """A stage's peak memory is its whole process tree's: a Spark stage's JVM and Python workers are its children."""
    import os
    import subprocess
    import sys

    from mindshare.bench.scale import tree_rss_mb

    alone = tree_rss_mb(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "import sys, time; b = bytearray(300 * 2**20); "
                              "b[::4096] = b'x' * len(b[::4096]); print('ready', flush=True); time.sleep(30)"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        assert tree_rss_mb(os.getpid()) > alone + 250  # the child's 300 MB, touched page by page
    finally:
        child.kill()
        child.wait()


def test_scale_bench_refuses_unknown_models_naming_the_closest():
    from mindshare.bench.scale import parse_models
    from mindshare.errors import MindshareError

    shipped = yaml.safe_load((REPO / "params.yaml").read_text())
    with pytest.raises(MindshareError, match=r"--models: 'item_nn' is in neither .*did you mean 'item_knn'\?"):
        parse_models("popularity,item_nn", shipped)
    with pytest.raises(MindshareError, match="--models: give at least one"):
        parse_models(" , ", shipped)


def test_scale_bench_steps_follow_dvc_yaml_and_tune_is_left_out_on_request():
    from mindshare.bench.scale import pipeline_steps, step_command

    assert pipeline_steps(["popularity", "svd"], tune=True) == [
        "generate",
        "ingest",
        "prepare",
        "features",
        "tune@popularity",
        "tune@svd",
        "train@popularity",
        "train@svd",
        "evaluate",
        "register",
        "uplift",
        "audience",
    ]
    assert not any(s.startswith("tune@") for s in pipeline_steps(["svd"], tune=False))
    assert step_command("tune@svd", 10_000, 0)[1:] == ["-m", "mindshare.stages.tune", "svd"]
    assert step_command("audience", 10_000, 0)[1:] == ["-m", "mindshare.stages.audience"]
    dvc_stages = list(yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"])
    ran = list(dict.fromkeys(s.partition("@")[0] for s in pipeline_steps(["svd"], tune=True)))
    assert ran == ["generate", *dvc_stages]


def test_scale_bench_families_report_a_family_that_skipped_itself(tmp_path):
    """A family that skipped itself (fit.json carries the reason; evaluation.json leaves it out) is reported with
    the reason and no metric; one missing from evaluation.json without a reason is still reported."""
    from mindshare.bench.scale import family_report, quality_report

    (tmp_path / "models/baseline").mkdir(parents=True)
    (tmp_path / "models/baseline/fit.json").write_text(json.dumps({"family": "baseline", "skipped": "no ratings"}))
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports/evaluation.json").write_text(
        json.dumps({"models": {"popularity": {"metrics": {"ndcg_at_10": 0.25}}}, "skipped": {"baseline": "no ratings"}})
    )
    (tmp_path / "reports/registry.json").write_text(json.dumps({"challenger_family": "popularity"}))
    timed = {
        f"{stage}@{m}": {"seconds": 1.5, "peak_rss_mb": 300.0}
        for stage in ("tune", "train")
        for m in ("popularity", "baseline", "svd")
    }
    families = family_report(tmp_path, ["popularity", "baseline", "svd"], timed, "ndcg_at_10")
    assert families["popularity"] == {
        "tune_seconds": 1.5,
        "train_seconds": 1.5,
        "tune_peak_rss_mb": 300.0,
        "train_peak_rss_mb": 300.0,
        "ndcg_at_10": 0.25,
        "skipped": None,
    }
    assert (families["baseline"]["ndcg_at_10"], families["baseline"]["skipped"]) == (None, "no ratings")
    assert families["svd"]["ndcg_at_10"] is None and "evaluation.json" in families["svd"]["skipped"]
    assert quality_report(tmp_path, families, "ndcg_at_10") == {
        "best_model": "popularity",
        "best": 0.25,
        "popularity": 0.25,
        "item_knn": None,
    }


def _size_report(rows: int, seconds: float, **settings) -> dict:
    """A bench scale report of one size: two steps and the total, as run_scale_command writes it."""
    steps = [{"rows": rows, "stage": stage, "seconds": seconds * share, "peak_rss_mb": 100.0}
             for stage, share in (("ingest", 0.25), ("train@svd", 0.75), ("total", 1.0))]
    return {"settings": {"params": "params.yaml", "models": ["svd"], "tuned": True, "sample_users": 20000,
                         "primary_metric": "ndcg_at_10", "seed": 0, **settings},
            "machine": {"cores": 2}, "results": steps, "growth_exponents": {},
            "families": {str(rows): {"svd": {"ndcg_at_10": 0.1, "skipped": None}}},
            "quality": {str(rows): {"best_model": "svd", "best": 0.1, "popularity": 0.05, "item_knn": None}}}


def test_combine_puts_reports_of_other_sizes_side_by_side_and_refuses_a_mismatch(tmp_path, capsys):
    """`bench scale --combine`: each size's report, one table, exponents across sizes (4x rows, 8x seconds: 1.5);
    reports of other settings or of a size given twice are refused with exit 2, naming the file."""
    from mindshare.bench.scale import run_combine_command
    from mindshare.cli import main

    paths = []
    for rows, seconds in ((4_000_000, 80.0), (1_000_000, 10.0)):
        paths.append(str(tmp_path / f"{rows}.json"))
        (tmp_path / f"{rows}.json").write_text(json.dumps(_size_report(rows, seconds)))
    report = run_combine_command(paths, str(tmp_path / "all.json"), None)
    assert [r["rows"] for r in report["results"]] == [1_000_000] * 3 + [4_000_000] * 3
    assert report["growth_exponents"] == {"1000000-4000000": {"ingest": 1.5, "train@svd": 1.5, "total": 1.5}}
    assert set(report["quality"]) == {"1000000", "4000000"} and len(report["sources"]) == 2
    assert json.loads((tmp_path / "all.json").read_text())["growth_exponents"] == report["growth_exponents"]
    assert "4,000,000 rows" in capsys.readouterr().out
    (tmp_path / "other.json").write_text(json.dumps(_size_report(2_000_000, 20.0, seed=1)))
    for extra, message in ((str(tmp_path / "other.json"), "seed"), (paths[0], "4,000,000 rows"),
                           (str(tmp_path / "missing.json"), "cannot read")):
        assert main(["bench", "scale", "--combine", f"{paths[0]},{extra}"]) == 2
        assert message in capsys.readouterr().err
