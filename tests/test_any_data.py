"""The shipped params.yaml on a shop's export with only `ingest` changed (and 1 tuning trial per study):
implicit feedback (no ratings), the shop's own categories, people who re-buy (split by time, repeats included).
Rating-only families skip themselves, the sample's campaigns (MovieLens genres) step aside, and the real
`dvc repro` runs from ingest to audience."""

from __future__ import annotations

import json
import subprocess

import pandas as pd
import pytest
import yaml

from mindshare.data.shop_example import COLUMNS, EVENT_WEIGHTS, ShopSpec, write_shop_export

from stage_project import REPO, copy_repo, project_env, run, write_params

pytestmark = pytest.mark.e2e


def test_the_shipped_params_run_on_a_shop_export_with_only_ingest_changed(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    copy_repo(folder)
    export = folder / "data" / "raw" / "shop.csv"
    export.parent.mkdir(parents=True, exist_ok=True)
    _, _, items_path = write_shop_export(ShopSpec.of_size(6000, seed=5), export)
    shipped = yaml.safe_load((REPO / "params.yaml").read_text())
    ingest = {"source": "events", "path": "data/raw/shop.csv", "columns": COLUMNS, "timestamp_format": "mixed",
              "event_weights": EVENT_WEIGHTS, "items_path": f"data/raw/{items_path.name}", "rating_scale": None,
              "item_columns": {"item_id": "sku", "title": "product", "categories": "category", "price": "unit_price"}}
    tune = shipped["tune"]  # 1 trial per study (model_params) keeps the suite in CI's budget; spaces as shipped
    tune["n_trials"] = 1
    for family in tune["families"].values():
        (family or {}).pop("n_trials", None)
    written = write_params(folder, ingest=ingest, tune=tune)
    shipped = yaml.safe_load((REPO / "params.yaml").read_text())
    assert {k: v for k, v in written.items() if k not in ("ingest", "tune")} == \
        {k: v for k, v in shipped.items() if k not in ("ingest", "tune")}
    subprocess.run(["git", "add", "-A"], cwd=folder, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "shop"], cwd=folder,
                   check=True)

    result = run(folder, "dvc", "repro", env=project_env(folder), timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    rating_only = {"baseline", "svd_biased"}
    evaluation = json.loads((folder / "reports" / "evaluation.json").read_text())
    assert set(evaluation["skipped"]) == rating_only
    assert set(evaluation["models"]) == set(shipped["models"]) - rating_only
    leaderboard = (folder / "reports" / "leaderboard.md").read_text()
    assert "Not run on this data: baseline (baseline learns from ratings" in leaderboard
    for name in rating_only:
        assert json.loads((folder / "models" / name / "fit.json").read_text())["skipped"]
        assert not (folder / "models" / name / "model.pkl").exists()
        assert "skipped" in json.loads((folder / "tuning" / f"{name}.json").read_text())
    assert "skipped: baseline learns from ratings" in result.stderr  # the one logged line
    registry = json.loads((folder / "reports" / "registry.json").read_text())
    assert registry["challenger_family"] not in rating_only
    audience = json.loads((folder / "reports" / "audience.json").read_text())
    assert set(audience["skipped_campaigns"]) == {c["name"] for c in shipped["campaigns"]}
    assert audience["campaigns"] == {}
    assert (folder / "data" / "recommendations.parquet").exists()
    # an event log: split by time, and people re-buy here, so the items they had are ranked and count
    prepare = json.loads((folder / "reports" / "prepare.json").read_text())
    assert prepare["protocol"] == "temporal" and prepare["repeat"]["include"], prepare["repeat"]
    assert prepare["windows"]["test"]["users_with_history"] > 0 and prepare["windows"]["test"]["repeat_share"] > 0.2
    assert "repeats included (auto: the fit data's repeat share" in result.stderr
    metrics = json.loads((folder / "reports" / "metrics.json").read_text())
    assert metrics["buy_again"]["repeat_hit_share_at_10"] > 0.5 and "new_item_recall_at_10" in metrics["svd"]
    lightgbm = json.loads((folder / "models" / "lightgbm" / "fit.json").read_text())["params"]
    assert lightgbm["holdout"] == "last_days" and lightgbm["repeats"] and lightgbm["base_models"][0] == "buy_again"
    recommendations = pd.read_parquet(folder / "data" / "recommendations.parquet")
    fit = pd.concat([pd.read_parquet(folder / "data" / "processed" / f"{name}.parquet") for name in ("train", "valid")])
    had = recommendations.merge(fit[["user_id", "item_id"]].drop_duplicates(), on=["user_id", "item_id"])
    assert len(had) > 0  # the production answer follows the policy: re-purchases recommended
