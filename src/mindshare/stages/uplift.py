"""uplift: per campaign with recorded results (`mindshare outcomes`), who buys *because* of the message.

Reads data/feedback/campaign_results/<campaign>.parquet (each audience member's group, outcomes and send-time
features). For each campaign with at least `uplift.min_people_per_group` treated and control people, tunes every
learner of `uplift.learners` on the cross-fitted Qini AUC (uplift/tuning.py), keeps the best refitted on everyone
(data/uplift/<campaign>.pkl), and shows it on effects predicted for people the model never learned from: the Qini
curve (reports/uplift/<campaign>_qini.png) and the measured uplift per tenth of the people
(reports/uplift/<campaign>_deciles.csv). Writes reports/uplift.json; logs a run `uplift@<campaign>` per campaign
with the model as a pyfunc, registered as `<register.model_name>-uplift-<campaign>` (alias challenger).
"""

from __future__ import annotations

import json
import logging
import pickle
import tempfile
from pathlib import Path

import pandas as pd

from mindshare import layout
from mindshare.atomic_files import atomic_path, replace_folder, write_json
from mindshare.project.params import load_settings
from mindshare.stages.runner import run_stage
from mindshare.tracking.uplift_models import log_uplift_run
from mindshare.uplift.campaign import calibration, learn_campaign
from mindshare.uplift.report import plot_qini

log = logging.getLogger(__name__)


def write_campaign(campaign: str, learned) -> None:
    """The decile table and the Qini plot of one campaign under reports/uplift/."""
    layout.UPLIFT_REPORTS.mkdir(parents=True, exist_ok=True)
    with atomic_path(layout.UPLIFT_REPORTS / f"{campaign}_deciles.csv") as tmp:
        learned.deciles.to_csv(tmp, index=False)
    plot_qini(learned.outcome, learned.effects, learned.treatment, f"{campaign}: {learned.learner.name}",
              layout.UPLIFT_REPORTS / f"{campaign}_qini.png")


def main() -> None:
    settings = load_settings()
    results = sorted(layout.CAMPAIGN_RESULTS.glob("*.parquet")) if layout.CAMPAIGN_RESULTS.exists() else []
    reports, skipped, models = {}, {}, {}
    replace_folder(layout.UPLIFT_REPORTS, {})
    for path in results:
        campaign = path.stem
        table = pd.read_parquet(path)
        groups = table["treated"].value_counts()
        fewest = min(int(groups.get(1, 0)), int(groups.get(0, 0)))
        if fewest < settings.uplift.min_people_per_group:
            skipped[campaign] = (f"{fewest} people in its smaller group; uplift.min_people_per_group is "
                                 f"{settings.uplift.min_people_per_group}")
            log.warning("uplift@%s skipped: %s", campaign, skipped[campaign])
            continue
        learned = learn_campaign(table, settings.uplift)
        write_campaign(campaign, learned)
        report = reports[campaign] = learned.report
        models[f"{campaign}.pkl"] = pickle.dumps(learned.learner)
        models[f"{campaign}.calibration.json"] = json.dumps(calibration(learned.effects, learned.deciles))
        log.info("uplift@%s: %s, cross-fitted Qini AUC %.4f on %d people", campaign, report["learner"],
                 report["qini_auc"], report["people"])
        with tempfile.TemporaryDirectory() as folder:
            model_path = Path(folder) / f"{campaign}.pkl"
            model_path.write_bytes(models[f"{campaign}.pkl"])
            report["run_id"], report["registered_version"] = log_uplift_run(
                campaign, settings.experiment_name, settings.register.model_name, model_path,
                learned.learner.features_,
                {"uplift": settings.uplift.model_dump(), "learner": report["learner"],
                 "learner_params": report["params"], "people": report["people"]},
                {"qini_auc": report["qini_auc"], "uplift_at_30": report["uplift_at_30"],
                 **{f"{name}.qini_auc": s["qini_auc"] for name, s in report["learners"].items()}},
                [layout.UPLIFT_REPORTS / f"{campaign}_qini.png", layout.UPLIFT_REPORTS / f"{campaign}_deciles.csv"])
    index = {"campaigns": {c: r["learner"] for c, r in reports.items()}}
    replace_folder(layout.UPLIFT_MODELS, {**models, "index.json": json.dumps(index, indent=2)})
    write_json({"campaigns": reports, "skipped": skipped}, layout.UPLIFT_REPORT)
    if not results:
        log.info("uplift: no campaign results yet (`mindshare outcomes --campaign NAME --file results.csv`)")


if __name__ == "__main__":
    run_stage("uplift", main)
