"""audience: campaign audiences, messages and offline lift from the model that `register` chose.

Reads reports/registry.json (the challenger's family) and models/<family>/model.pkl, the items and
the test split. Writes data/recommendations.parquet (top-N for every user), data/audiences/<campaign>.csv,
data/messages/<campaign>.jsonl (pseudonymised ids only), reports/campaigns.csv (one row per
campaign: counts by reason, lift) and reports/audience.json; logs a run. Campaigns are processed
in params order; the frequency cap counts a user's audiences across them.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from mindshare.atomic_files import atomic_path, write_json, write_parquet
from mindshare.data.pseudonymise import load_key, pseudonymise
from mindshare.errors import MindshareError
from mindshare.marketing.audience import (
    audience_table, choose_audience, offline_lift, reasons, score_campaign,
)
from mindshare.marketing.campaigns import Campaign, parse_campaigns, target_mask
from mindshare.models.base import Recommender
from mindshare.models.cold_start import ColdStartPolicy
from mindshare.stages.ingest import ITEMS, USERS
from mindshare.stages.params import experiment_name, load_params
from mindshare.stages.prepare import REPORT as PREPARE_REPORT
from mindshare.stages.prepare import split_path
from mindshare.stages.register import REGISTRY_REPORT
from mindshare.stages.runner import run_stage
from mindshare.stages.train import model_dir
from mindshare.stages.tune import cold_start_settings
from mindshare.tracking.runs import log_stage_run
from mindshare.tracking.store import DATA_FINGERPRINT_TAG, FAMILY_TAG

log = logging.getLogger(__name__)
RECOMMENDATIONS = Path("data/recommendations.parquet")
AUDIENCES = Path("data/audiences")
MESSAGES = Path("data/messages")
SUMMARY = Path("reports/campaigns.csv")
REPORT = Path("reports/audience.json")
SETTINGS = {"top_n": 10, "pool": 200, "activity_weight": 1.0, "frequency_cap": 1, "suppression_path": None, "seed": 0}


def audience_settings(params: dict) -> dict:
    settings = {**SETTINGS, **(params.get("audience") or {})}
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise MindshareError(f"params.yaml: audience.{sorted(unknown)[0]} is not a setting; use {', '.join(SETTINGS)}")
    for key in ("top_n", "pool", "frequency_cap"):
        if not isinstance(settings[key], int) or settings[key] < 1:
            raise MindshareError(f"params.yaml: audience.{key} is {settings[key]!r}; give a whole number >= 1")
    return settings


def suppressed_users(path: str | None, user_ids: np.ndarray) -> np.ndarray:
    """Users on the opt-out list (raw ids, one per line or a user_id column), as a mask over `user_ids`."""
    if not path:
        return np.zeros(len(user_ids), dtype=bool)
    file = Path(path)
    if not file.exists():
        raise MindshareError(f"{file}: suppression list not found (params.yaml audience.suppression_path)")
    lines = [line.strip() for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    raw = lines[1:] if lines and lines[0] == "user_id" else lines
    hashed = set(pseudonymise(raw, load_key()))
    return np.isin(user_ids, list(hashed))


def run_campaign(model: Recommender, campaign: Campaign, items: pd.DataFrame, test: pd.DataFrame, settings: dict,
                 suppressed: np.ndarray, times_targeted: np.ndarray) -> tuple[pd.DataFrame, dict]:
    """The audience table and the summary row of one campaign (updates `times_targeted`)."""
    train = model.train_
    targets = target_mask(campaign, train.item_ids, items)
    binary = train.binary()
    interacted = np.asarray(binary[:, targets].sum(axis=1)).ravel() > 0
    scores = score_campaign(model, targets, settings["pool"], float(settings["activity_weight"]))
    audience = choose_audience(campaign, scores, interacted, suppressed, times_targeted, settings["frequency_cap"],
                               settings["seed"])
    times_targeted[audience.users] += 1
    anchors = scores.top_targets[audience.users, 0]
    table = audience_table(train, audience, scores, items.set_index("item_id")["title"],
                           reasons(train, audience.users, anchors))
    test_users, test_items = train.user_index(test["user_id"]), train.item_index(test["item_id"])
    known = (test_users >= 0) & (test_items >= 0)
    hits = np.zeros(train.n_users, dtype=bool)
    hits[test_users[known][targets[test_items[known]]]] = True
    lift = offline_lift(audience, hits, np.diff(binary.indptr))
    row = {"campaign": campaign.name, "channel": campaign.channel, "target_items": int(targets.sum()),
           **audience.counts, **{k: round(v, 6) for k, v in lift.items()}}
    return table, row


def production_audience(model: Recommender, campaign_name: str, budget: int | None, params: dict,
                        items: pd.DataFrame, test: pd.DataFrame) -> tuple[Campaign, pd.DataFrame, dict]:
    """One campaign's audience from a given model (the CLI's and the web app's `@production`), alone:
    no frequency cap across campaigns. Unknown campaign or budget < 1: one-line error."""
    import dataclasses

    campaigns = {c.name: c for c in parse_campaigns(params.get("campaigns"), items)}
    if campaign_name not in campaigns:
        raise MindshareError(f"campaign '{campaign_name}' is not in params.yaml; known: {', '.join(campaigns) or 'none'}")
    campaign = campaigns[campaign_name]
    if budget is not None:
        if budget < 1:
            raise MindshareError(f"budget is {budget}; give a whole number of users >= 1")
        campaign = dataclasses.replace(campaign, budget=budget)
    settings = audience_settings(params)
    table, row = run_campaign(model, campaign, items, test, settings,
                              suppressed_users(settings["suppression_path"], model.train_.user_ids),
                              np.zeros(model.train_.n_users, dtype=np.int64))
    return campaign, table, row


def audience_csv(table: pd.DataFrame) -> str:
    """The audience as CSV; list columns joined with '|'."""
    lists = ["top_item_ids", "top_items", "reason_items"]
    return table.assign(**{c: table[c].map("|".join) for c in lists}).to_csv(index=False)


def messages(campaign: Campaign, table: pd.DataFrame, names: pd.Series | None = None) -> list[dict]:
    """One rendered message per treatment user (the control group gets none); `name` is the display
    name where the users file has one (`names`: by pseudonymised user id), else None."""
    out = []
    names = names if names is not None else pd.Series(dtype=object)
    for row in table[table["group"] == "treatment"].itertuples(index=False):
        name = names.get(row.user_id)
        context = {"user_id": row.user_id, "name": None if pd.isna(name) else name, "campaign": campaign.name, "channel": campaign.channel,
                   "reason": row.reason, "reason_items": row.reason_items, "top_items": row.top_items}
        out.append({"user_id": row.user_id, "campaign": campaign.name, "channel": campaign.channel,
                    "items": row.top_item_ids, "message": campaign.render(context)})
    return out


def top_n_table(model: Recommender, items: pd.DataFrame, k: int, policy: ColdStartPolicy) -> pd.DataFrame:
    """Every known user's top-k as served: the model with the cold-start policy (segment blend for
    little history, new-item places); `basis` says where each item came from."""
    train = model.train_
    users = np.arange(train.n_users)
    recommended, scores, row_basis = policy.recommend(model, users, k=k, exclude_seen=True)
    ids = np.where(recommended >= 0, train.item_ids[np.maximum(recommended, 0)], "").astype(object)
    ids, scores, basis = policy.place_new_items(users, ids, scores, np.repeat(row_basis[:, None], k, axis=1))
    valid = ids != ""
    rows, ranks = np.nonzero(valid)
    titles = items.set_index("item_id")["title"].reindex(ids[valid]).fillna("").to_numpy()
    return pd.DataFrame({"user_id": train.user_ids[rows], "rank": ranks + 1, "item_id": ids[valid].astype(str),
                         "title": titles, "score": scores[valid], "basis": basis[valid].astype(str)})


def main() -> None:
    params = load_params()
    settings = audience_settings(params)
    items = pd.read_parquet(ITEMS)
    campaigns = parse_campaigns(params.get("campaigns"), items)
    registry = json.loads(REGISTRY_REPORT.read_text())
    family = registry["challenger_family"]
    model = Recommender.load(model_dir(family) / "model.pkl")
    test = pd.read_parquet(split_path("test"))
    suppressed = suppressed_users(settings["suppression_path"], model.train_.user_ids)
    times_targeted = np.zeros(model.train_.n_users, dtype=np.int64)
    users = pd.read_parquet(USERS) if USERS.exists() else None
    policy = ColdStartPolicy(model.train_, cold_start_settings(params, family), users, items)
    write_parquet(top_n_table(model, items, settings["top_n"], policy), RECOMMENDATIONS)
    names = users.set_index("user_id")["display_name"] if users is not None and "display_name" in users else None
    rows, audiences, letters = [], {}, {}
    for campaign in campaigns:
        table, row = run_campaign(model, campaign, items, test, settings, suppressed, times_targeted)
        audiences[campaign.name], letters[campaign.name] = table, messages(campaign, table, names)
        rows.append(row)
        log.info("%s: %d users (%d control) of %d candidates; lift vs random %.2f, vs most active %.2f",
                 campaign.name, row["audience"], row["control"], row["candidates"], row["lift_vs_random"],
                 row["lift_vs_active"])
    _replace_folder(AUDIENCES, {f"{name}.csv": audience_csv(t) for name, t in audiences.items()})
    _replace_folder(MESSAGES, {f"{name}.jsonl": "".join(json.dumps(m) + "\n" for m in ms)
                               for name, ms in letters.items()})
    summary = pd.DataFrame(rows)
    with atomic_path(SUMMARY) as tmp:
        summary.to_csv(tmp, index=False)
    report = {"model_family": family, "model_version": registry.get("challenger"),
              "campaigns": {r["campaign"]: {k: v for k, v in r.items() if k not in ("campaign", "channel")}
                            for r in rows}}
    write_json(report, REPORT)
    metrics = {f"{r['campaign']}.{key}": float(r[key]) for r in rows
               for key in ("audience", "control", "candidates", "audience_hit_rate", "lift_vs_random", "lift_vs_active")
               if np.isfinite(r[key])}
    fingerprint = json.loads(PREPARE_REPORT.read_text())["data_fingerprint"]
    log_stage_run("audience", experiment_name(params), {"audience": settings, "campaigns": params.get("campaigns")},
                  metrics, {DATA_FINGERPRINT_TAG: fingerprint, FAMILY_TAG: family},
                  artifacts=[SUMMARY, REPORT, *(AUDIENCES / f"{n}.csv" for n in audiences)])


def _replace_folder(folder: Path, files: dict[str, str]) -> None:
    """Write the files into a fresh folder beside `folder`, then swap it in: never half a folder."""
    staging = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name, text in files.items():
        (staging / name).write_text(text, encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)


if __name__ == "__main__":
    run_stage("audience", main)
