"""The splits as MLflow dataset inputs, on a real SQLite store: fingerprint digests, schema, counts, no rows."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from mindshare.data.fingerprint import frame_fingerprint
from mindshare.data.split import split_summary
from mindshare.errors import MindshareError
from mindshare.tracking.datasets import column_type, log_split_inputs, split_datasets
from mindshare.tracking.store import configure_tracking, use_experiment

USERS = ["3f9a0c1d2e", "77b1e2a4c9", "a0c4d5e6f7"]  # pseudonyms, as prepare writes them


def _splits() -> dict[str, pd.DataFrame]:
    train = pd.DataFrame({"user_id": USERS * 2, "item_id": list("abcabd"), "rating": [4.0, 3.5, 5.0, 2.0, 4.5, 1.0],
                          "timestamp": range(6)})
    valid = pd.DataFrame({"user_id": USERS[:2], "item_id": ["c", "d"], "rating": [3.0, 4.0], "timestamp": [6, 7]})
    test = pd.DataFrame({"user_id": USERS, "item_id": ["d", "c", "a"], "rating": [5.0, 2.5, 4.0],
                         "timestamp": [8, 9, 10], "relevant": [True, False, True]})
    return {"train": train, "valid": valid, "test": test}


def test_summary_counts_and_fingerprint():
    test = _splits()["test"]
    summary = split_summary(test)
    columns = summary.pop("columns")
    assert summary == {"fingerprint": frame_fingerprint(test), "rows": 3, "users": 3, "items": 3}
    assert {name: column_type(dtype).name for name, dtype in columns.items()} == {  # 'object' or 'str' (pandas 3)
        "user_id": "string", "item_id": "string", "rating": "double", "timestamp": "long", "relevant": "boolean"}
    assert [column_type(t).name for t in ("int64", "int32", "uint8", "float64", "float32", "bool", "str", "category",
                                          "datetime64[ns]")] == [
        "long", "integer", "integer", "double", "float", "boolean", "string", "string", "datetime"]


def test_runs_show_the_splits_they_used(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    configure_tracking(tmp_path)
    use_experiment("datasets-test", tmp_path)
    summaries = {name: split_summary(frame) for name, frame in _splits().items()}
    with mlflow.start_run() as run:
        log_split_inputs(run.info.run_id, split_datasets(summaries))
    inputs = MlflowClient().get_run(run.info.run_id).inputs.dataset_inputs
    by_name = {i.dataset.name: i for i in inputs}
    assert set(by_name) == {"train", "valid", "test"}
    contexts = {name: {t.key: t.value for t in i.tags}["mlflow.data.context"] for name, i in by_name.items()}
    assert contexts == {"train": "train", "valid": "validation", "test": "test"}
    for name, entry in by_name.items():
        dataset = entry.dataset
        assert dataset.digest == summaries[name]["fingerprint"]
        assert json.loads(dataset.source) == {"uri": f"data/processed/{name}.parquet"}
        assert json.loads(dataset.profile) == {k: summaries[name][k] for k in ("rows", "users", "items")}
        columns = json.loads(dataset.schema)["mlflow_colspec"]
        assert [c["name"] for c in columns] == list(summaries[name]["columns"])
        stored = json.dumps([dataset.name, dataset.source, dataset.schema, dataset.profile])
        assert not any(user in stored for user in USERS)  # metadata only: no row, no id
    assert json.loads(by_name["test"].dataset.schema)["mlflow_colspec"][-1] == {
        "type": "boolean", "name": "relevant", "required": True}


def test_an_old_prepare_report_says_how_to_refresh_it():
    with pytest.raises(MindshareError, match="no summary of the valid split.*dvc repro prepare"):
        split_datasets({"train": split_summary(_splits()["train"])}, ("train", "valid"))
    with pytest.raises(MindshareError, match="train, valid, test"):
        split_datasets(None)
