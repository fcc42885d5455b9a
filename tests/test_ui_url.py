"""`mindshare ui`: the URL of the experiment's runs table (Model-training view) on a real SQLite store."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from mindshare.cli import main
from mindshare.errors import MindshareError
from mindshare.tracking.ui import compare_runs_url, experiment_url, model_url

pytestmark = pytest.mark.integration  # real stages, stores, servers or Spark: make test, not make check


@pytest.fixture
def store(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    client = MlflowClient(tracking_uri=uri)
    client.create_experiment("other")
    experiment_id = client.create_experiment("mindshare-shop")
    return client, uri, experiment_id


def test_experiment_url_opens_the_runs_table(store):
    client, _, experiment_id = store
    assert experiment_id != "0"  # not the Default experiment's id by chance
    url = experiment_url(client, "mindshare-shop", "http://127.0.0.1:5001/")
    assert url == f"http://127.0.0.1:5001/#/experiments/{experiment_id}?workflowType=machine_learning"
    with pytest.raises(MindshareError, match=r"no MLflow experiment 'nope' .*run `make run` \(or `dvc repro`\) first"):
        experiment_url(client, "nope", "http://127.0.0.1:5001")


def test_compare_and_model_pages():
    assert compare_runs_url("http://h:1", ["a1", "b2"], ["3"]) == (
        "http://h:1/#/compare-runs?runs=%5B%22a1%22%2C%22b2%22%5D&experiments=%5B%223%22%5D"
        "&workflowType=machine_learning")
    assert model_url("http://h:1/", "my model") == "http://h:1/#/models/my%20model?workflowType=machine_learning"


def test_the_command_prints_how_to_start_the_ui_and_the_url(store, capsys):
    _, uri, experiment_id = store
    assert main(["ui", "--experiment", "mindshare-shop", "--port", "5050"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].strip().endswith(f"mlflow ui --backend-store-uri {uri} --port 5050")
    assert lines[3].strip() == f"http://127.0.0.1:5050/#/experiments/{experiment_id}?workflowType=machine_learning"


def test_no_experiment_or_no_store_is_one_line_and_exit_2(store, tmp_path, monkeypatch, capsys):
    assert main(["ui", "--experiment", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "run `make run` (or `dvc repro`) first" in err[0]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'missing.db'}")
    assert main(["ui", "--experiment", "mindshare-shop"]) == 2
    assert "no tracking store yet" in capsys.readouterr().err
    assert not (tmp_path / "missing.db").exists()  # asking does not create an empty store


def test_the_command_also_prints_the_last_pipelines_comparison_and_the_registered_model(store, capsys):
    client, _, experiment_id = store
    older = client.create_run(experiment_id, run_name="pipeline")
    client.create_run(experiment_id, run_name="svd", tags={"mlflow.parentRunId": older.info.run_id})
    latest = client.create_run(experiment_id, run_name="pipeline")
    nested = [client.create_run(experiment_id, run_name=name, tags={"mlflow.parentRunId": latest.info.run_id})
              for name in ("popularity", "item_knn")]
    client.create_registered_model("shop-model")
    assert main(["--model-name", "shop-model", "ui", "--experiment", "mindshare-shop", "--port", "5050"]) == 0
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    compare = lines[lines.index("the last pipeline's models side by side:") + 1]
    assert compare.startswith("http://127.0.0.1:5050/#/compare-runs?runs=")
    assert all(run.info.run_id in compare for run in nested) and older.info.run_id not in compare
    assert lines[-1] == model_url("http://127.0.0.1:5050", "shop-model")
