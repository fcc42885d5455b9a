"""train@<model>: fit one model family on train (+ valid) with its params.yaml values overlaid by
the best parameters of tune@<model>, and save it with its fit report.

Usage: python -m mindshare.stages.train <model>. Writes models/<model>/model.pkl and fit.json.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import pandas as pd

from mindshare.atomic_files import write_json
from mindshare.data.interactions import Interactions
from mindshare.errors import MindshareError
from mindshare.models import make_model
from mindshare.stages.params import experiment_name, load_params
from mindshare.stages.prepare import REPORT as PREPARE_REPORT
from mindshare.stages.features import load_feature_tables
from mindshare.stages.prepare import fit_frame
from mindshare.stages.runner import run_stage
from mindshare.stages.tune import tuned_params
from mindshare.tracking.runs import log_stage_run
from mindshare.tracking.store import DATA_FINGERPRINT_TAG, FAMILY_TAG

log = logging.getLogger(__name__)
MODELS = Path("models")


def model_dir(name: str) -> Path:
    return MODELS / name


def main() -> None:
    if len(sys.argv) != 2:
        raise MindshareError("usage: python -m mindshare.stages.train <model>")
    name = sys.argv[1]
    params = load_params()
    if name not in params["models"]:
        raise MindshareError(f"params.yaml: model '{name}' is not in 'models'; add it there first")
    model_params = {**((params.get("model_params") or {}).get(name) or {}), **tuned_params(name)}
    model = make_model(name, model_params)
    train = Interactions.from_frame(fit_frame(params["train"]["include_valid"]))
    train = train.with_features(*load_feature_tables())
    started = time.perf_counter()
    model.fit(train)
    fit_seconds = time.perf_counter() - started
    out = model_dir(name)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model.pkl")
    report = {"family": name, "params": model.get_params(), "fit_seconds": round(fit_seconds, 4),
              "n_users": train.n_users, "n_items": train.n_items, "n_interactions": int(train.matrix.nnz)}
    write_json(report, out / "fit.json")
    log.info("fitted %s in %.2f s on %d users x %d items", name, fit_seconds, train.n_users, train.n_items)
    fingerprint = json.loads(PREPARE_REPORT.read_text())["data_fingerprint"]
    log_stage_run(f"train@{name}", experiment_name(params), {"model": model.get_params(), "train": params["train"]},
                  {"fit_seconds": fit_seconds, "n_users": train.n_users, "n_items": train.n_items},
                  {DATA_FINGERPRINT_TAG: fingerprint, FAMILY_TAG: name})


if __name__ == "__main__":
    run_stage("train", main)
