"""A registered version loads where MLflow's own tools would serve it: a fresh virtual environment built from the
version's `requirements.txt` and nothing else (no mindshare install, no project venv), keyed by the documented
deployment secret `MINDSHARE_PSEUDONYM_KEY`. Real MLflow SQLite store and registry; real pip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from mindshare.data.interactions import Interactions
from mindshare.data.pseudonymise import pseudonymise
from mindshare.data.synthetic import SyntheticSpec, generate_synthetic
from mindshare.features.tables import build_feature_tables
from mindshare.models.item_knn import ItemKNN
from mindshare.models.lightgbm_ranker import LightGBMRanker
from mindshare.tracking.pyfunc import log_recommender
from mindshare.tracking.requirements import model_requirements
from mindshare.tracking.store import configure_tracking, use_experiment

pytestmark = pytest.mark.integration  # real stages, stores, servers or Spark: make test, not make check

KEY = "deployment-test-key-0123456789abcdef"
LOAD_AND_ANSWER = """
import json, sys
import mlflow, pandas as pd
asked = pd.DataFrame(json.loads(sys.argv[2]))
answers = {}
for uri in sys.argv[1].split(","):
    answers[uri] = mlflow.pyfunc.load_model(uri).predict(asked).to_dict(orient="list")
print(json.dumps(answers))
"""


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("deployment")
    frame, items = generate_synthetic(SyntheticSpec(n_users=120, n_items=80, n_interactions=3000, seed=5))
    raw_users = frame["user_id"].astype(str)
    frame["user_id"] = pseudonymise(raw_users, KEY.encode())
    data = Interactions.from_frame(frame).with_features(*build_feature_tables(frame, items))
    items.to_parquet(folder / "items.parquet")
    env = {"MINDSHARE_PSEUDONYM_KEY": KEY, "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}"}
    saved = os.environ.copy()
    os.environ.update(env)
    try:
        configure_tracking(folder)
        use_experiment("deployment-test", folder)
        uris = {}
        for name, model in {
            "item_knn": ItemKNN(n_neighbours=20),
            "lightgbm": LightGBMRanker(base_models=("item_knn", "svd"), rating_models=(), learn="ranking",
                                       n_estimators=30, early_stopping_rounds=10, n_jobs=1),
        }.items():
            model.fit(data).save(folder / f"{name}.pkl")
            with mlflow.start_run():
                logged = log_recommender(folder / f"{name}.pkl", folder / "items.parquet")
            version = mlflow.register_model(logged, f"deployment-{name}")
            uris[name] = f"models:/deployment-{name}/{version.version}"
        in_process = {uri: mlflow.pyfunc.load_model(uri).predict(_ask(raw_users)).to_dict(orient="list")
                      for uri in uris.values()}
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return folder, env, uris, in_process, raw_users


def _ask(raw_users: pd.Series) -> pd.DataFrame:
    known = raw_users.drop_duplicates().head(2).tolist()
    return pd.DataFrame({"user_id": [*known, "someone-new"], "k": [5, 5, 5]})


def test_the_logged_requirements_name_what_each_model_imports(registered):
    folder, *_ = registered
    lightgbm = {line.split("==")[0].lower() for line in model_requirements(folder / "lightgbm.pkl")}
    knn = {line.split("==")[0].lower() for line in model_requirements(folder / "item_knn.pkl")}
    assert {"mlflow", "numpy", "scipy", "pandas", "pyarrow", "pydantic", "lightgbm"} <= lightgbm
    assert "lightgbm" not in knn and {"mlflow", "numpy", "scipy", "pandas"} <= knn


def test_a_registered_version_answers_from_a_venv_built_from_its_own_requirements_alone(registered, tmp_path):
    folder, env, uris, in_process, raw_users = registered
    environment = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(environment)
    python = environment / "bin" / "python"
    for uri in uris.values():
        with_tracking = {**os.environ, **env}
        requirements = subprocess.run(
            [sys.executable, "-c", "import sys, mlflow; print(mlflow.artifacts.download_artifacts(sys.argv[1]))", uri],
            env=with_tracking, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        installed = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                                    "--no-compile", "-r", str(Path(requirements) / "requirements.txt")],
                                   capture_output=True, text=True)  # no .pyc up front: a third of pip's time
        assert installed.returncode == 0, installed.stderr[-2000:]
    clean_env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", str(tmp_path)), **env}
    answered = subprocess.run(
        [str(python), "-c", LOAD_AND_ANSWER, ",".join(uris.values()), _ask(raw_users).to_json(orient="columns")],
        env=clean_env, cwd=tmp_path, capture_output=True, text=True)
    assert answered.returncode == 0, answered.stderr[-3000:]
    answers = json.loads(answered.stdout.strip().splitlines()[-1])
    assert "mindshare" not in subprocess.run([str(python), "-m", "pip", "list"], capture_output=True,
                                             text=True).stdout.lower().split()
    for uri, expected in in_process.items():
        assert answers[uri]["item_id"] == expected["item_id"], uri
        assert answers[uri]["basis"] == expected["basis"], uri
        assert len(answers[uri]["item_id"]) == 15
