"""train@<model>: fit one model family on train (+ valid) with its params.yaml values overlaid by
the best parameters of tune@<model>, and save it with its fit report.

Usage: python -m mindshare.stages.train <model>. Writes models/<model>/model.pkl and fit.json.
"""

from __future__ import annotations

import logging
import sys
import time

from mindshare import layout
from mindshare.atomic_files import write_json
from mindshare.data.interactions import Interactions
from mindshare.errors import MindshareError
from mindshare.models import make_model
from mindshare.project import outputs
from mindshare.project.params import load_settings
from mindshare.stages.runner import run_stage
from mindshare.tracking.runs import log_stage_run
from mindshare.tracking.store import DATA_FINGERPRINT_TAG, FAMILY_TAG

log = logging.getLogger(__name__)


def main() -> None:
    if len(sys.argv) != 2:
        raise MindshareError("usage: python -m mindshare.stages.train <model>")
    name = sys.argv[1]
    settings = load_settings()
    if name not in settings.models:
        raise MindshareError(f"params.yaml: model '{name}' is not in 'models'; add it there first")
    skipped = outputs.not_applicable(settings, name)
    if skipped:
        log.warning("train@%s skipped: %s", name, skipped)
        layout.model_file(name).unlink(missing_ok=True)  # no stale model from data that had ratings
        write_json({"family": name, "skipped": skipped}, layout.fit_report(name))
        return
    model = make_model(name, {**outputs.model_params(settings, name), **outputs.tuned_params(name)})
    users = outputs.driver_users(settings, name)  # a seeded sample of users where the driver fits a sample
    train = Interactions.from_frame(outputs.fit_frame(settings.train.include_valid, users))
    train = train.with_features(*outputs.feature_tables()).with_item_text(outputs.item_text())
    started = time.perf_counter()
    model.fit(train)
    fit_seconds = time.perf_counter() - started
    model.save(layout.model_file(name))
    report = {"family": name, "params": model.get_params(), "fit_seconds": round(fit_seconds, 4),
              "n_users": train.n_users, "n_items": train.n_items, "n_interactions": int(train.matrix.nnz),
              **({"driver_sample_users": len(users)} if users is not None else {}),
              **model.fit_facts()}  # re-rankers: prior and fallback; item_knn: the size `auto` chose
    write_json(report, layout.fit_report(name))
    log.info("fitted %s in %.2f s on %d users x %d items", name, fit_seconds, train.n_users, train.n_items)
    log_stage_run(f"train@{name}", settings.experiment_name,
                  {"model": model.get_params(), "train": settings.train.model_dump()},
                  {"fit_seconds": fit_seconds, "n_users": train.n_users, "n_items": train.n_items},
                  {DATA_FINGERPRINT_TAG: outputs.split_fingerprints()["data_fingerprint"], FAMILY_TAG: name})


if __name__ == "__main__":
    run_stage("train", main)
