"""The MLflow pyfunc of a recommender: raw user ids in, top-k items out.

Input: a DataFrame with `user_id` (the raw id a person knows), optional `k` (default 10) and, for
people not seen in training, optional `gender` and `age` (used when the users table does not know them).
Output: one row per recommendation: `user_id`, `rank`, `item_id`, `title`, `score`, `cold_start`
(True when the user has no training history) and `basis`, where the item came from: `model`,
`segment_blend` (little history: blended with their segment's favourites), `demographic` or `popular`
(new users), `new_item` (an item without interactions yet, matching the user's categories). The
policy is models/cold_start.py with params.yaml `cold_start`, the same as `evaluate` measured.
Raw ids are hashed with the key read at load time from `MINDSHARE_PSEUDONYM_KEY` (the deployment's
secret; or the key file) and never stored in the model. The logged `requirements.txt` names every library
the model imports (tracking/requirements.py), so MLflow's own tools can build its environment.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from mindshare.data.pseudonymise import current_fingerprint
from mindshare.models.served import OUTPUT_COLUMNS, ServedRecommender, exclude_seen_of, model_key
from mindshare.settings import ColdStartSettings, checked_block
from mindshare.tracking.requirements import model_requirements

INPUT_SCHEMA = Schema([ColSpec("string", "user_id"), ColSpec("long", "k", required=False),
                       ColSpec("string", "gender", required=False), ColSpec("long", "age", required=False)])
OUTPUT_TYPES = {"user_id": "string", "rank": "long", "item_id": "string", "title": "string", "score": "double",
                "cold_start": "boolean", "basis": "string"}
OUTPUT_SCHEMA = Schema([ColSpec(OUTPUT_TYPES[name], name) for name in OUTPUT_COLUMNS])
EXAMPLE_INPUT = pd.DataFrame({"user_id": ["example-user"], "k": [3]})


class RecommenderPyfunc(ServedRecommender, mlflow.pyfunc.PythonModel):
    """A `ServedRecommender` loaded by MLflow: the fitted model, the item catalogue, the demographics and
    the cold-start policy's settings are the logged model's artifacts and config."""

    def load_context(self, context) -> None:
        settings = checked_block(ColdStartSettings, (context.model_config or {}).get("cold_start"),
                                 "the model's cold_start settings")
        self.load_files(context.artifacts["model"], context.artifacts["items"], context.artifacts.get("users"),
                        settings, model_key(context.model_config), exclude_seen_of(context.model_config))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.answer_frame(model_input)


def log_recommender(
    model_path: Path,
    items_path: Path,
    name: str = "model",
    users_path: Path | None = None,
    cold_start: ColdStartSettings = ColdStartSettings(),
    exclude_seen: bool = True,
) -> str:
    """Log a saved recommender as a pyfunc in the active run; return its model URI. Of the users table
    only pseudonymised ids, gender and age group go in (no names)."""
    package_dir = Path(sys.modules["mindshare"].__file__).parent
    with tempfile.TemporaryDirectory() as folder:
        artifacts = {"model": str(model_path), "items": str(items_path)}
        if users_path is not None and Path(users_path).exists():
            users = pd.read_parquet(users_path)
            kept = users[[c for c in ("user_id", "gender", "age_group") if c in users.columns]]
            artifacts["users"] = str(Path(folder) / "users.parquet")
            kept.to_parquet(artifacts["users"], index=False)
        info = mlflow.pyfunc.log_model(
            name=name,
            python_model=RecommenderPyfunc(),
            artifacts=artifacts,
            model_config={"cold_start": cold_start.model_dump(), "exclude_seen": bool(exclude_seen),
                          "key_fingerprint": current_fingerprint()},
            signature=ModelSignature(inputs=INPUT_SCHEMA, outputs=OUTPUT_SCHEMA),
            input_example=EXAMPLE_INPUT,
            code_paths=[str(package_dir)],
            pip_requirements=model_requirements(model_path),
        )
    return info.model_uri
