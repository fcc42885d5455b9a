"""The splits a run used, as MLflow dataset inputs, so that the runs table's Dataset column and the run page
show which data a model saw: name, digest (the split's fingerprint), schema, counts and the DVC path.
Metadata only: no row, and so no id, pseudonymised or not, goes to the tracking store."""

from __future__ import annotations

import json
from typing import Any

from mlflow.data.dataset_source_registry import get_dataset_source_from_json
from mlflow.data.meta_dataset import MetaDataset
from mlflow.entities import DatasetInput, InputTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, DataType, Schema
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

from mindshare import layout
from mindshare.errors import MindshareError

CONTEXTS = {"train": "train", "valid": "validation", "test": "test"}  # the input's context, as the UI shows it
PROFILE_KEYS = ("rows", "users", "items")


class SplitDataset(MetaDataset):
    """A MetaDataset with a profile (row, user and item counts): MetaDataset itself logs none."""

    def __init__(self, name: str, digest: str, schema: Schema, profile: dict[str, Any]) -> None:
        source = get_dataset_source_from_json(json.dumps({"uri": layout.split_path(name).as_posix()}), "local")
        super().__init__(source, name=name, digest=digest, schema=schema)
        self._profile = profile

    @property
    def profile(self) -> dict[str, Any]:
        return self._profile

    def to_dict(self) -> dict[str, str]:
        return {**super().to_dict(), "profile": json.dumps(self._profile)}


def column_type(dtype: str) -> DataType:
    """The MLflow type of a pandas dtype name ('int64' -> long); text, categories and the rest are strings."""
    for prefix, kind in (("bool", DataType.boolean), ("int64", DataType.long), ("uint64", DataType.long),
                         ("int", DataType.integer), ("uint", DataType.integer), ("float64", DataType.double),
                         ("float", DataType.float), ("datetime", DataType.datetime)):
        if dtype.lower().startswith(prefix):
            return kind
    return DataType.string


def split_datasets(summaries: dict[str, dict] | None, names: tuple[str, ...] = layout.SPLITS) -> list[SplitDataset]:
    """The named splits from prepare's report (`splits`: fingerprint, counts and column dtypes of each)."""
    missing = [name for name in names if name not in (summaries or {})]
    if missing:
        raise MindshareError(f"{layout.PREPARE_REPORT}: no summary of the {', '.join(missing)} split (an older "
                             "prepare wrote it); run `dvc repro prepare` (or `make run`) again")
    return [SplitDataset(name, summaries[name]["fingerprint"],
                         Schema([ColSpec(column_type(t), c) for c, t in summaries[name]["columns"].items()]),
                         {key: summaries[name][key] for key in PROFILE_KEYS}) for name in names]


def log_split_inputs(run_id: str, datasets: list[SplitDataset]) -> None:
    """Each split as an input of the run, with its context (train, validation, test)."""
    inputs = [DatasetInput(dataset._to_mlflow_entity(), tags=[InputTag(MLFLOW_DATASET_CONTEXT,
                                                                        CONTEXTS[dataset.name])])
              for dataset in datasets]
    client = MlflowClient()
    try:
        client.log_inputs(run_id, datasets=inputs)
    except MlflowException:  # two workers storing the same new split at once: the loser finds it stored now
        client.log_inputs(run_id, datasets=inputs)
