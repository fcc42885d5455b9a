"""register: every evaluated model becomes a version of the registered model, with lineage tags;
the best by the primary metric gets the `challenger` alias. Writes reports/registry.json.
"""

from __future__ import annotations

import logging

from mlflow import MlflowClient

from mindshare import layout
from mindshare.atomic_files import write_json
from mindshare.project.outputs import read_json
from mindshare.project.params import load_settings
from mindshare.stages.runner import run_stage
from mindshare.tracking.registry import Candidate, register_candidates
from mindshare.tracking.runs import log_stage_run
from mindshare.tracking.store import (
    DATA_FINGERPRINT_TAG,
    GIT_COMMIT_TAG,
    SPLIT_FINGERPRINT_TAG,
    configure_tracking,
)

log = logging.getLogger(__name__)


def main() -> None:
    settings = load_settings()
    evaluation = read_json(layout.EVALUATION)
    configure_tracking()
    client = MlflowClient()
    lineage = {tag: evaluation[tag] for tag in (DATA_FINGERPRINT_TAG, SPLIT_FINGERPRINT_TAG, GIT_COMMIT_TAG,
                                                "mindshare.dataset", "mindshare.split_protocol") if tag in evaluation}
    lineage["mindshare.pipeline_run_id"] = evaluation["pipeline_run_id"]
    candidates = [
        Candidate(family=name, model_uri=entry["model_uri"], run_id=entry["run_id"], metrics=entry["metrics"],
                  tags=lineage)
        for name, entry in evaluation["models"].items()
    ]
    result = register_candidates(client, settings.register.model_name, candidates, settings.register.primary_metric)
    for family, version in result["versions"].items():
        client.set_tag(evaluation["models"][family]["run_id"], "mindshare.registered_version", version)
    client.set_tag(evaluation["pipeline_run_id"], "mindshare.challenger_version", result["challenger"])
    write_json(result, layout.REGISTRY_REPORT)
    log_stage_run("register", settings.experiment_name, {"register": settings.register.model_dump()},
                  {"versions_registered": len(result["versions"]), "challenger_version": int(result["challenger"])},
                  {**lineage, "mindshare.challenger_family": result["challenger_family"]})
    log.info("registered %s; challenger: version %s (%s)", result["versions"], result["challenger"],
             result["challenger_family"])


if __name__ == "__main__":
    run_stage("register", main)
