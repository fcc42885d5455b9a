"""Tuning: search spaces from params, and real Optuna studies run by the real tune stage as
subprocesses on a synthetic project: MLflow layout, kill-and-resume, two workers, determinism."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient

from mindshare.errors import MindshareError
from mindshare.project.params import check_settings
from mindshare.settings import Settings
from mindshare.tuning.settings import tune_settings

from stage_project import project_env, run_stage, write_params

SYNTHETIC = {"n_users": 200, "n_items": 120, "n_interactions": 5000, "n_categories": 6, "seed": 3}
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def _params(**tune) -> Settings:
    """Settings with these `tune` values, checked as params.yaml is (schema and the families' parameters)."""
    return check_settings(Settings.checked({"ingest": {"source": "synthetic"}, "models": ["svd", "baseline"],
                                            "register": {"primary_metric": "ndcg_at_10"},
                                            "model_params": {"svd": {"factors": 8}}, "tune": tune}))


@pytest.mark.parametrize("space, message", [
    ({"factors": {"type": "number", "low": 1, "high": 2}}, "space.factors.type is 'number'; input should be"),
    ({"factors": {"type": "int", "low": 9, "high": 2}}, "low < high"),
    ({"regularization": {"type": "float", "low": 0, "high": 2, "log": True}}, "log range needs low > 0"),
    ({"factors": {"type": "int", "low": 1, "high": 8, "lo": 2}}, "unknown key"),
    ({"similarity": {"type": "categorical", "choices": []}}, "non-empty 'choices'"),
    ({"no_such_knob": {"type": "int", "low": 1, "high": 8}}, "not a parameter of svd"),
])
def test_bad_search_spaces_are_refused_with_one_line(space, message):
    with pytest.raises(MindshareError, match=message):
        tune_settings(_params(families={"svd": {"space": space}}), "svd")


def test_settings_checks_and_study_names():
    with pytest.raises(MindshareError, match="tune.pruner"):
        tune_settings(_params(pruner="hyperband"), "svd")
    with pytest.raises(MindshareError, match="unknown key 'tune.n_trail'; did you mean 'n_trials'"):
        tune_settings(_params(n_trail=3), "svd")
    space = {"factors": {"type": "int", "low": 4, "high": 32, "log": True}}
    settings = tune_settings(_params(n_trials=5, families={"svd": {"space": space}}), "svd")
    assert settings.n_trials == 5 and settings.direction == "maximize"
    wider = tune_settings(_params(n_trials=5, families={"svd": {"space": {**space, "factors": {
        "type": "int", "low": 4, "high": 64}}}}), "svd")
    more_trials = tune_settings(_params(n_trials=9, families={"svd": {"space": space}}), "svd")
    assert settings.study_name("fp") != wider.study_name("fp")  # a changed space is a new study
    assert settings.study_name("fp") != settings.study_name("other data")
    assert settings.study_name("fp") == more_trials.study_name("fp")  # more trials continue the study
    rating = tune_settings(_params(families={"baseline": {"metric": "rmse"}}), "baseline")
    assert rating.direction == "minimize"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tune")
    write_params(folder, ingest={"source": "synthetic", "synthetic": SYNTHETIC})
    for stage in ("ingest", "prepare"):
        result = run_stage(folder, stage)
        assert result.returncode == 0, result.stderr
    return folder


def _set_tune(folder: Path, **tune) -> None:
    import yaml

    params = yaml.safe_load((folder / "params.yaml").read_text())
    params["tune"] = {**params["tune"], **tune}
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _study(folder: Path, journal: str) -> optuna.Study:
    from optuna.storages.journal import JournalFileBackend

    if "://" in journal:
        storage = optuna.storages.RDBStorage(journal.replace(":///", f":///{folder}/"))
    else:
        storage = optuna.storages.JournalStorage(JournalFileBackend(str(folder / journal)))
    names = [s.study_name for s in optuna.get_all_study_summaries(storage) if s.study_name.startswith("svd-")]
    assert len(names) == 1, names
    return optuna.load_study(study_name=names[0], storage=storage)


@pytest.mark.integration
def test_tune_stage_writes_best_params_and_nests_trials_in_mlflow(project):
    _set_tune(project, n_trials=4, storage="studies/a.journal")
    result = run_stage(project, "tune", "svd")
    assert result.returncode == 0, result.stderr
    best = json.loads((project / "tuning/svd.json").read_text())
    assert best["trials"]["complete"] + best["trials"]["pruned"] == 4
    assert set(best["best_params"]) == {"factors", "regularization", "alpha"}
    study = _study(project, "studies/a.journal")
    assert study.trials[0].params == {"factors": 24, "regularization": 20.0, "alpha": 5.0}  # the defaults first
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    study_run = client.get_run(best["mlflow_run_id"])
    assert study_run.data.tags["mindshare.study"] == best["study"]
    assert "best_valid_ndcg_at_10" in study_run.data.metrics
    assert {a.path for a in client.list_artifacts(study_run.info.run_id, "optuna")} >= {
        "optuna/optimisation_history.png"
    }
    trials = client.search_runs(
        [study_run.info.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{study_run.info.run_id}'"
    )
    assert len(trials) == 4
    assert (study_run.data.params["family"], study_run.data.params["algorithm"]) == (
        "svd", "implicit ALS matrix factorisation")
    assert "model.factors" in study_run.data.params and not {"None", "{}", "[]"} & set(study_run.data.params.values())
    splits = json.loads((project / "reports/prepare.json").read_text())["splits"]
    for run in (study_run, client.get_run(trials[0].info.run_id)):  # the splits the study saw, by fingerprint
        assert {(i.dataset.name, i.dataset.digest) for i in run.inputs.dataset_inputs} == {
            (name, splits[name]["fingerprint"]) for name in ("train", "valid")}
    for trial in trials:
        assert trial.data.tags["mindshare.trial_state"] in ("complete", "pruned")
        assert "duration_seconds" in trial.data.metrics
        assert set(trial.data.params) == {"family", "algorithm", "model.factors", "model.regularization",
                                          "model.alpha"}  # what it tuned; the rest is the study run's
    # the same settings again: the study is complete, nothing runs, the result is the same
    again = run_stage(project, "tune", "svd")
    assert again.returncode == 0 and json.loads((project / "tuning/svd.json").read_text()) == best


def test_a_journal_lock_left_by_a_killed_process_can_be_seen_as_stale(tmp_path, monkeypatch):
    """The journal's lock is a symlink to the journal: it must resolve (a relative one in a subfolder dangles, and
    Optuna's stale-lock release, which reads the lock's mtime through it, then never fires)."""
    from mindshare.tuning.study import open_storage

    monkeypatch.chdir(tmp_path)
    lock = open_storage("studies/held.journal")._backend._lock
    lock.acquire()  # held, as by a process killed mid-write
    assert os.path.exists(lock._lock_file)  # follows the symlink: the journal is found
    lock.release()


def test_only_trials_of_dead_local_workers_are_failed_and_queued_again(monkeypatch):
    """A trial is running a moment before its worker names itself on it: a second worker starting then must
    leave it alone (failing it made its own worker crash telling its result, in CI)."""
    import socket

    from mindshare.tuning import study as study_module

    settings = tune_settings(_params(), "svd")
    study = optuna.create_study(storage=optuna.storages.InMemoryStorage(), direction="maximize")
    study.ask()  # running, its worker not yet named on it
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout.strip()
    dead = study.ask()
    dead.set_user_attr(study_module.WORKER_ATTR, f"{socket.gethostname()}:{dead_pid}")
    alive = study.ask()
    alive.set_user_attr(study_module.WORKER_ATTR, f"{socket.gethostname()}:{os.getpid()}")
    elsewhere = study.ask()
    elsewhere.set_user_attr(study_module.WORKER_ATTR, f"another-host:{dead_pid}")

    def states():
        return [t.state.name for t in study.get_trials(deepcopy=False)]

    study_module.prepare_study(study, settings)
    assert states() == ["RUNNING", "FAIL", "RUNNING", "RUNNING", "WAITING"]  # the dead one, queued again
    monkeypatch.setattr(study_module, "UNCLAIMED_GRACE_S", -1)  # as if the unnamed trial were long started
    study_module.prepare_study(study, settings)
    assert states() == ["FAIL", "FAIL", "RUNNING", "RUNNING", "WAITING", "WAITING"]


def test_a_trial_another_worker_finished_first_is_dropped_and_the_study_goes_on():
    """Two workers on one SQLite file can claim the same queued trial; the second to finish cannot record it (Optuna
    raises "Cannot tell a COMPLETE trial"). Here the other worker is played by the storage itself."""
    from mindshare.tuning.study import optimize_to_total

    study = optuna.create_study(storage=optuna.storages.InMemoryStorage(), direction="maximize")
    calls = []

    def objective(trial):
        calls.append(trial.number)
        if len(calls) == 2:  # finished elsewhere while this worker still ran it
            study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.COMPLETE, [0.5])
        return float(trial.number)

    optimize_to_total(study, objective, 5)
    states = [t.state for t in study.get_trials(deepcopy=False)]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 5 and len(calls) == 5
    assert study.trials[1].value == 0.5  # the other worker's result kept


@pytest.mark.integration
def test_a_killed_study_resumes_without_rerunning_finished_trials(project):
    _set_tune(project, n_trials=40, storage="studies/killed.journal")
    process = subprocess.Popen(
        [sys.executable, "-m", "mindshare.stages.tune", "svd"],
        cwd=project,
        env=project_env(project),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline, done_before = time.time() + 120, []
    while time.time() < deadline:
        time.sleep(0.2)
        if (project / "studies/killed.journal").exists():
            done_before = [t for t in _study(project, "studies/killed.journal").trials if t.state in FINISHED]
            if len(done_before) >= 3:
                break
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_before = [t for t in _study(project, "studies/killed.journal").trials if t.state in FINISHED]
    assert 3 <= len(done_before) < 40, "the kill came too late to test a resume"
    result = run_stage(project, "tune", "svd")
    assert result.returncode == 0, result.stderr
    after = _study(project, "studies/killed.journal").trials
    assert sum(t.state in FINISHED for t in after) == 40
    for trial in done_before:  # finished trials kept, not run again
        assert after[trial.number].state == trial.state and after[trial.number].value == trial.value
    assert sum(t.state == optuna.trial.TrialState.RUNNING for t in after) == 0


@pytest.mark.integration
@pytest.mark.parametrize("storage", ["studies/shared.journal", "sqlite:///studies/shared.db"])
def test_two_workers_share_one_study(project, storage):
    """The journal file (local processes) and a database URL (the way to several machines)."""
    (project / "studies").mkdir(exist_ok=True)
    _set_tune(project, n_trials=12, storage=storage)
    outputs = {path: path.stat().st_mtime_ns for path in (project / "tuning").glob("*.json")}
    command = [sys.executable, "-m", "mindshare.cli", "tune", "--model", "svd", "--worker"]
    workers = [
        subprocess.Popen(
            command, cwd=project, env=project_env(project), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
    trials = _study(project, storage).trials
    finished = [t for t in trials if t.state in FINISHED]
    assert 12 <= len(finished) <= 13  # each worker stops once the study has 12; one may be mid-trial then
    assert len({t.user_attrs["mindshare.worker"] for t in finished}) == 2
    assert {
        path: path.stat().st_mtime_ns for path in (project / "tuning").glob("*.json")
    } == outputs  # workers write none


@pytest.mark.integration
def test_same_seed_same_trials(project):
    values = []
    for journal in ("studies/run1.journal", "studies/run2.journal"):
        _set_tune(project, n_trials=5, storage=journal)
        assert run_stage(project, "tune", "svd").returncode == 0
        values.append([(t.params, t.value, t.state) for t in _study(project, journal).trials])
    assert values[0] == values[1]


def test_steps_of_a_fit_are_scored_on_a_sample_of_valid_users(monkeypatch):
    """A pruning decision needs a rough figure: at scale a step is scored on at most STEP_USERS valid users;
    the trial's own figure on all of them (and on small data the two are the same set)."""
    from mindshare.data.interactions import Interactions
    from mindshare.data.split import split_random_per_user
    from mindshare.data.synthetic import SyntheticSpec, generate_synthetic
    from mindshare.models import make_model
    from mindshare.tuning import study

    frame, items = generate_synthetic(SyntheticSpec(n_users=120, n_items=60, n_interactions=2400, seed=1))
    split = split_random_per_user(frame, 0.2, 0.2, seed=0)
    train, valid = split.train, split.valid
    model = make_model("item_knn").fit(Interactions.from_frame(train))
    whole = study.ValidationData(model.train_, valid, items)
    full_figure = whole.score(model, "ndcg_at_10")
    assert whole.score(model, "ndcg_at_10", step=True) == full_figure and whole._sets["step"][1] is valid
    monkeypatch.setattr(study, "STEP_USERS", 30)
    sampled = study.ValidationData(model.train_, valid, items)
    assert sampled.score(model, "ndcg_at_10") == full_figure
    sampled.score(model, "ndcg_at_10", step=True)
    assert sampled._sets["step"][1]["user_id"].nunique() == 30
