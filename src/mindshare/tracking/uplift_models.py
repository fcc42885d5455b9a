"""An uplift model in MLflow: logged as a pyfunc (features in, each person's predicted effect out) in its run
`uplift@<campaign>` and registered as a version of `<register.model_name>-uplift-<campaign>`, the newest with
the alias `challenger`, as the recommenders are. Its `requirements.txt` is derived from what it imports
(tracking/requirements.py), so MLflow's own tools can serve it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterable

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from mindshare.models.storage import load_model_file
from mindshare.tracking.aliases import CHALLENGER
from mindshare.tracking.requirements import model_requirements
from mindshare.tracking.runs import flatten_params
from mindshare.tracking.store import (
    GIT_COMMIT_TAG,
    STAGE_TAG,
    configure_tracking,
    git_commit,
    process_tags,
    use_experiment,
)

ENTRY = "mindshare.tracking.uplift_models"


class UpliftPyfunc(mlflow.pyfunc.PythonModel):
    """The uplift stage's learner: a DataFrame with the columns it learned from in, `uplift` out."""

    def load_context(self, context) -> None:
        self.learner = load_model_file(context.artifacts["model"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        features = model_input[self.learner.features_].astype(float)
        return pd.DataFrame({"uplift": self.learner.predict(features)})


def log_uplift_run(campaign: str, experiment: str, model_name: str, model_path: Path, features: list[str],
                   params: dict[str, Any], metrics: dict[str, float], artifacts: Iterable[Path]) -> tuple[str, str]:
    """The run `uplift@<campaign>` with the model logged and registered; (run id, registered version)."""
    configure_tracking()
    use_experiment(experiment)
    tags = {STAGE_TAG: "uplift", GIT_COMMIT_TAG: git_commit(), **process_tags(), "mindshare.campaign": campaign}
    package_dir = Path(sys.modules["mindshare"].__file__).parent
    with mlflow.start_run(run_name=f"uplift@{campaign}", tags=tags) as run:
        mlflow.log_params(flatten_params(params))
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
        for path in artifacts:
            mlflow.log_artifact(str(path))
        info = mlflow.pyfunc.log_model(
            name="uplift_model", python_model=UpliftPyfunc(), artifacts={"model": str(model_path)},
            signature=ModelSignature(inputs=Schema([ColSpec("double", f) for f in features]),
                                     outputs=Schema([ColSpec("double", "uplift")])),
            input_example=pd.DataFrame({f: [0.0] for f in features}), code_paths=[str(package_dir)],
            pip_requirements=model_requirements(model_path, ENTRY))
    client = mlflow.MlflowClient()
    registered = f"{model_name}-uplift-{campaign}"
    try:
        client.get_registered_model(registered)
    except mlflow.exceptions.MlflowException:
        client.create_registered_model(registered, description=f"Who buys because of campaign '{campaign}'s "
                                       "message: the uplift stage's learner (predicted effect per person).")
    version = client.create_model_version(registered, info.model_uri, run_id=run.info.run_id, model_id=info.model_id,
                                          tags={"mindshare.campaign": campaign})
    client.set_registered_model_alias(registered, CHALLENGER, version.version)
    return run.info.run_id, str(version.version)
