"""`mindshare prune` on a real SQLite MLflow store: old pipeline runs go with their nested runs, logged models,
registered versions and files; those the registry still needs (an alias, the promotion history) stay."""

from __future__ import annotations

import re

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import ViewType

from mindshare.cli.parser import main
from mindshare.tracking import registry
from mindshare.tracking.retention import human_size
from mindshare.tracking.store import FAMILY_TAG, STAGE_TAG, configure_tracking, use_experiment

pytestmark = pytest.mark.integration  # real stages, stores, servers or Spark: make test, not make check

EXPERIMENT = "prune-test"
FAMILIES = ("popularity", "svd")


class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, model_input: list[str], params=None) -> list[str]:
        return model_input


@pytest.fixture
def store(tmp_path, monkeypatch):
    """Four pipeline runs, oldest first, each with a nested run per family (an artifact and a logged model),
    and an older `ingest` stage run. Registry: run 0 made version 1 (in the promotion history, no alias
    left), run 1 version 2 (nothing holds it), run 2 version 3 (aliases challenger and production)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MINDSHARE_USER", "tester")
    configure_tracking(tmp_path)
    experiment_id = use_experiment(EXPERIMENT, tmp_path)
    with mlflow.start_run(run_name="ingest", tags={STAGE_TAG: "ingest"}) as stage:
        mlflow.log_text("rows: 6", "counts.txt")
    runs = []
    for number in range(4):
        with mlflow.start_run(run_name="pipeline", tags={STAGE_TAG: "evaluate"}) as parent:
            children = []
            for family in FAMILIES:
                with mlflow.start_run(run_name=family, nested=True, tags={FAMILY_TAG: family}) as child:
                    mlflow.log_text(f"run {number} {family}\n" * 200, "per_user_metrics.txt")
                    info = mlflow.pyfunc.log_model(name="model", python_model=Echo(), pip_requirements=["mlflow"])
                    children.append((child.info.run_id, info.model_uri))
        runs.append((parent.info.run_id, children))
    client = MlflowClient()

    def register(number: int) -> None:
        run_id, uri = runs[number][1][0]
        registry.register_candidates(client, "m", [registry.Candidate(
            family="popularity", model_uri=uri, run_id=run_id, metrics={"ndcg_at_10": 0.1 * number})],
            "ndcg_at_10")

    register(0)
    registry.promote(client, "m", "first")
    register(1)
    register(2)
    client.set_registered_model_alias("m", "production", "3")  # moved by hand, as in the UI: not in the history
    yield client, experiment_id, runs, stage.info.run_id, tmp_path / "mlruns"


def _prune(capsys, *flags: str) -> tuple[int, str, str]:
    code = main(["prune", "--experiment", EXPERIMENT, *flags])
    out, err = capsys.readouterr()
    return code, out, err


def _size(text: str, verb: str) -> float:
    number, unit = re.search(rf"{verb} ([\d.]+) (bytes|KB|MB|GB)", text).groups()
    return float(number) * {"bytes": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}[unit]


def _all_run_ids(client: MlflowClient, experiment_id: str) -> set[str]:
    return {r.info.run_id for r in client.search_runs([experiment_id], run_view_type=ViewType.ALL)}


def test_prune_keeps_newest_and_what_the_registry_needs(store, capsys):
    client, experiment_id, runs, stage_run, artifacts = store
    every = _all_run_ids(client, experiment_id)
    assert len(every) == 4 * 3 + 1
    removed = [runs[1][0]] + [child for child, _ in runs[1][1]]
    removed_models = [uri.removeprefix("models:/") for _, uri in runs[1][1]]

    code, out, _ = _prune(capsys, "--keep", "1", "--dry-run")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"{EXPERIMENT}: 4 pipeline run(s); keeping the newest 1"
    assert [line.split()[:3] for line in lines[1:4]] == [
        ["kept", "pipeline", runs[2][0][:8]], ["would", "remove", "pipeline"], ["kept", "pipeline", runs[0][0][:8]]]
    assert runs[1][0][:8] in lines[2] and "2 families" in lines[2]
    assert "(m version 3: alias challenger, production)" in lines[1]
    assert "(m version 1: in the promotion history)" in lines[3]
    assert "would delete registered version m 2" in out
    assert _size(out, "would free") > 0
    assert _all_run_ids(client, experiment_id) == every  # the dry run deleted nothing
    assert all((artifacts / run_id).is_dir() for run_id in removed[1:])
    assert {str(v.version) for v in client.search_model_versions("name = 'm'")} == {"1", "2", "3"}

    code, out, _ = _prune(capsys, "--keep", "1")
    assert code == 0
    assert f"removed      pipeline {runs[1][0][:8]}" in out
    assert "deleted registered version m 2" in out
    assert _size(out, "freed") > 0
    assert _all_run_ids(client, experiment_id) == every - set(removed)  # gone for good, not merely deleted
    assert not any((artifacts / name).exists() for name in removed)
    assert not any((artifacts / "models" / model_id).exists() for model_id in removed_models)
    kept_models = [uri.removeprefix("models:/") for number in (0, 2, 3) for _, uri in runs[number][1]]
    assert all((artifacts / "models" / model_id / "artifacts" / "MLmodel").is_file() for model_id in kept_models)
    assert (artifacts / runs[0][1][0][0] / "artifacts" / "per_user_metrics.txt").is_file()
    assert stage_run in _all_run_ids(client, experiment_id)  # stage runs are not pipeline runs
    assert {str(v.version) for v in client.search_model_versions("name = 'm'")} == {"1", "3"}

    code, out, _ = _prune(capsys, "--keep", "1")
    assert code == 0 and out.splitlines()[-1] == "nothing to prune: every older run is protected"
    code, out, _ = _prune(capsys, "--keep", "5")
    assert code == 0 and out.splitlines()[-1] == "nothing to prune"
    code = main(["prune", "--keep", "1", "--experiment", "prune-tset"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "did you mean 'prune-test'?" in err


def test_keep_below_one_is_a_one_line_error(capsys):
    code, out, err = _prune(capsys, "--keep", "0")  # refused before the store is opened
    assert (code, out) == (2, "")
    assert err == "mindshare prune: error: --keep is 0; give a whole number >= 1 (the newest runs to keep)\n"


def test_human_size():
    assert [human_size(n) for n in (812, 42189, 3 * 1024**2, int(1.25 * 1024**3))] == [
        "812 bytes", "41.2 KB", "3.0 MB", "1.2 GB"]


def test_prune_deletes_versions_holding_a_forgotten_person_unless_an_alias_needs_them(store, capsys):
    """Version 1 is in the promotion history, version 3 holds production: both flagged by `forget`. However new
    their runs, prune deletes version 1 and its logged model (the history does not keep a forgotten person), keeps
    version 3 and says why; a rollback to the deleted version is refused in one line."""
    from mindshare.errors import PolicyRefusal
    from mindshare.tracking.erasure import ERASURE_TAG

    client, experiment_id, runs, _, artifacts = store
    client.set_registered_model_alias("m", "production", "1")
    registry.promote(client, "m", "second", version="2", force=True)  # history: 1 -> 2; rollback would go to 1
    client.set_registered_model_alias("m", "production", "3")
    for version in ("1", "3"):
        client.set_model_version_tag("m", version, ERASURE_TAG, "2026-12-06")
    model_of_1 = client.get_model_version("m", "1").source.removeprefix("models:/")
    assert model_of_1.startswith("m-"), model_of_1
    every = _all_run_ids(client, experiment_id)

    code, out, _ = _prune(capsys, "--keep", "4", "--dry-run")
    assert code == 0 and "would delete registered version m 1 and its logged model" in out
    assert "kept registered version m 3 although it holds a forgotten person (m version 3: alias" in out
    assert {str(v.version) for v in client.search_model_versions("name = 'm'")} == {"1", "2", "3"}

    code, out, _ = _prune(capsys, "--keep", "4")
    assert code == 0 and "deleted registered version m 1 and its logged model" in out
    assert {str(v.version) for v in client.search_model_versions("name = 'm'")} == {"2", "3"}
    assert not (artifacts / "models" / model_of_1).exists()  # the pickle is gone from the disk
    assert _all_run_ids(client, experiment_id) == every  # every pipeline run is among the newest 4: all kept
    client.set_registered_model_alias("m", "production", "2")  # back where the history says it is
    with pytest.raises(PolicyRefusal, match="version 1, the one production replaced, was deleted"):
        registry.rollback(client, "m", "back")
