"""Faults, with real files and real processes: params.yaml mistakes, CLI argument mistakes, an
unreachable tracking store, a stage killed part-way (SIGKILL) and its orphaned MLflow run."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import pytest

from stage_project import project_env, run, run_stage, write_params

pytestmark = pytest.mark.integration  # real stages, stores, servers or Spark: make test, not make check

SYNTHETIC = {"source": "synthetic", "synthetic": {"n_users": 120, "n_items": 60, "n_interactions": 2500,
                                                  "n_categories": 6, "seed": 3}}


def _one_line(result, *needles):
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    "overrides, needles",
    [
        ({"modles": ["popularity"]}, ["unknown key 'modles'", "did you mean 'models'"]),
        ({"prepare": {"split": {"protocol": "random_per_user", "test_ratio": 0.2, "valid_ratio": 0.1, "seed": "x"}}},
         ["prepare.split.seed is 'x'"]),
        ({"ingest": {"path": "no/such/folder", "source": "movielens", "release": None}}, ["no/such/folder", "no such"]),
        ({"ingest": {"pth": "x"}}, ["unknown key 'ingest.pth'", "did you mean 'path'"]),
        ({"models": ["popularity", "deep_magic"]}, ["deep_magic"]),
        ({"evaluate": {"ks": "ten"}}, ["evaluate.ks"]),
        ({"cold_start": {"segment_prior": "lots"}}, ["cold_start.segment_prior"]),
        ({"ingest": {**SYNTHETIC, "cleaning": {"float_ids": "fix"}}}, ["ingest.cleaning.float_ids"]),
    ],
)
def test_params_mistakes_are_one_line(tmp_path, overrides, needles):
    write_params(tmp_path, **overrides)
    _one_line(run_stage(tmp_path, "ingest"), *needles)
    assert not (tmp_path / "data/interim").exists()


@pytest.mark.parametrize(
    "args, needle",
    [
        (["recommend"], "--user"),
        (["recommend", "--user", "1", "-k", "x"], "invalid int value"),
        (["bench", "nonsense"], "invalid choice"),
        (["bench", "ranking"], "required: --data"),
        (["bench", "ranking", "--data", "x", "--rows", "10"], "unrecognized arguments: --rows 10"),
        (["nosuchcommand"], "invalid choice"),
        (["inspect", "--data", "x.csv", "--columns", "user_id"], "not name=value"),
        (["serve", "--max-k", "0"], "--max-k"),
    ],
)
def test_cli_mistakes_are_one_line(tmp_path, args, needle):
    write_params(tmp_path, ingest=SYNTHETIC)
    _one_line(run(tmp_path, sys.executable, "-m", "mindshare.cli", *args), needle)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "uri, needle",
    [
        ("http://127.0.0.1:{closed_port}", "does not answer"),  # the port is chosen when the test runs
        ("sqlite:////no/such/folder/mlflow.db", "does not exist"),
        ("ftp://somewhere", "unknown kind of store"),
    ],
)
def test_unreachable_tracking_store_stops_before_any_output(tmp_path, uri, needle):
    write_params(tmp_path, ingest=SYNTHETIC)
    uri = uri.format(closed_port=_closed_port())
    env = {**project_env(tmp_path), "MLFLOW_TRACKING_URI": uri}
    started = time.perf_counter()
    result = run(tmp_path, sys.executable, "-m", "mindshare.stages.ingest", env=env)
    _one_line(result, "MLFLOW_TRACKING_URI", needle)
    assert not (tmp_path / "data").exists()  # no half-state
    assert time.perf_counter() - started < 60
    promote = run(tmp_path, sys.executable, "-m", "mindshare.cli", "promote", "--reason", "x", env=env)
    _one_line(promote, "MLFLOW_TRACKING_URI")


def _running_runs(folder) -> list[tuple[str, str]]:
    with sqlite3.connect(folder / "mlflow.db") as db:
        return db.execute("select run_uuid, name from runs where status = 'RUNNING'").fetchall()


def test_a_killed_stage_leaves_outputs_intact_and_its_run_is_marked_killed(tmp_path):
    write_params(tmp_path, ingest=SYNTHETIC, models=["popularity", "item_knn"],
                 tune={"n_trials": 1, "pruner": "none", "seed": 0, "storage": None, "timeout": None, "metric": None,
                       "families": {}})
    for stage in ("ingest", "prepare", "features"):
        assert run_stage(tmp_path, stage).returncode == 0
    for name in ("popularity", "item_knn"):
        assert run_stage(tmp_path, "tune", name).returncode == 0
        assert run_stage(tmp_path, "train", name).returncode == 0
    first = run_stage(tmp_path, "evaluate")
    assert first.returncode == 0, first.stderr
    before = {p: p.read_bytes() for p in (tmp_path / "reports").glob("*.json")}
    process = subprocess.Popen([sys.executable, "-m", "mindshare.stages.evaluate"], cwd=tmp_path,
                               env=project_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not any(name == "pipeline" for _, name in _running_runs(tmp_path)) and time.time() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    orphan = [run_id for run_id, name in _running_runs(tmp_path) if name == "pipeline"]
    assert orphan, "the evaluate run should be left RUNNING by the kill"
    assert {p: p.read_bytes() for p in (tmp_path / "reports").glob("*.json")} == before  # atomic writes
    assert not list(tmp_path.glob("**/.*.tmp"))
    again = run_stage(tmp_path, "evaluate")  # the next stage run marks the orphan and completes
    assert again.returncode == 0, again.stderr
    assert "marked" in again.stderr and "KILLED" in again.stderr
    with sqlite3.connect(tmp_path / "mlflow.db") as db:
        status = db.execute("select status from runs where run_uuid = ?", (orphan[0],)).fetchone()[0]
    assert status == "KILLED"
    assert not _running_runs(tmp_path)


def test_a_long_stage_says_it_is_alive(caplog):
    """At scale a stage is never silent for long: the heartbeat logs elapsed time and peak memory."""
    import logging
    import time

    from mindshare.stages.runner import heartbeat

    with caplog.at_level(logging.INFO):
        done = heartbeat("train", every=0.05)
        time.sleep(0.3)
        done.set()
    lines = [r.getMessage() for r in caplog.records if r.name == "mindshare.stages.train"]
    assert lines and all(line.startswith("still running:") and "peak memory" in line for line in lines)
