"""One settings schema for params.yaml: the JSON Schema file is current, typos anywhere are refused with
one line (and the key meant) by every command that reads params.yaml, and dvc.yaml agrees with the layout."""

from __future__ import annotations

import copy
import json
import sys

import jsonschema
import pytest
import yaml

from mindshare import layout
from mindshare.errors import MindshareError
from mindshare.settings import SCHEMA_FILE, Settings, schema_text

from stage_project import REPO, run

PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
CAMPAIGN_TEMPLATE = "{{ reason }}: {{ top_items | join(', ') }}"


def test_schema_file_is_current_and_the_shipped_params_follow_it():
    assert (REPO / SCHEMA_FILE).read_text() == schema_text(), "run `python -m mindshare.settings` and commit"
    assert (REPO / "params.yaml").read_text().startswith(f"# yaml-language-server: $schema={SCHEMA_FILE}")
    schema = json.loads((REPO / SCHEMA_FILE).read_text())
    jsonschema.validate(PARAMS, schema)  # what an editor checks
    typo = copy.deepcopy(PARAMS)
    typo["promotion"]["require_significant_leed"] = True
    with pytest.raises(jsonschema.ValidationError, match="require_significant_leed"):
        jsonschema.validate(typo, schema)


def _with(dotted: str, value) -> dict:
    """The shipped params with `value` set at a dotted path (list positions as numbers)."""
    params = copy.deepcopy(PARAMS)
    *parents, last = dotted.split(".")
    node = params
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[last] = value
    return params


TYPOS = [  # (where the typo goes, the line it must give)
    ("promotion.require_significant_leed", "unknown key 'promotion.require_significant_leed'; did you mean "
                                           "'require_significant_lead'?"),
    ("promotion.guardrails.coverag_at_10", "promotion.guardrails.coverag_at_10: 'coverag_at_10' is not a metric "
                                           "evaluation reports; did you mean 'coverage_at_10'?"),
    ("audience.topn", "unknown key 'audience.topn'; did you mean 'top_n'?"),
    ("cold_start.segment_prio", "unknown key 'cold_start.segment_prio'; did you mean 'segment_prior'?"),
    ("mlflow.experimnt", "unknown key 'mlflow.experimnt'; did you mean 'experiment'?"),
    ("tune.families.svd.space.factors.lo", "unknown key 'tune.families.svd.space.factors.lo'; did you mean 'low'?"),
    ("tune.families.svd.spaces", "unknown key 'tune.families.svd.spaces'; did you mean 'space'?"),
    ("tune.families.svd.space.factor", "tune.families.svd.space.factor is not a parameter of svd; did you mean "
                                       "'factors'?"),
    ("tune.families.sdv", "unknown key 'tune.families.sdv': not a model in 'models' or 'model_params'; did you "
                          "mean 'svd'?"),
    ("prepare.split.sed", "unknown key 'prepare.split.sed'; did you mean 'seed'?"),
    ("features.segments.kmin", "unknown key 'features.segments.kmin'; did you mean 'k_min'?"),
    ("ingest.cleaning.float_id", "unknown key 'ingest.cleaning.float_id'; did you mean 'float_ids'?"),
    ("campaigns.0.budgett", "unknown key 'campaigns[0].budgett'; did you mean 'budget'? (campaign 'westerns')"),
    ("evaluate.kss", "unknown key 'evaluate.kss'; did you mean 'ks'?"),
    ("model_params.svd.factor", "model_params.svd.factor is not a parameter of svd; did you mean 'factors'?"),
]
SPACE_ENTRY = {"type": "int", "low": 1, "high": 8}


@pytest.mark.parametrize("dotted, line", TYPOS, ids=[t[0] for t in TYPOS])
def test_a_typo_in_any_nested_key_is_refused_with_the_key_meant(dotted, line):
    from mindshare.project.params import check_settings

    value = SPACE_ENTRY if dotted == "tune.families.svd.space.factor" else \
        {} if dotted == "tune.families.sdv" else 1
    with pytest.raises(MindshareError) as error:
        check_settings(Settings.checked(_with(dotted, value)))
    assert str(error.value) == f"params.yaml: {line}"


@pytest.mark.parametrize("dotted, value, line", [
    ("prepare.split.test_ratio", 1.5, "prepare.split.test_ratio is 1.5; input should be less than 1"),
    ("tune.n_trials", "8", "tune.n_trials is '8'; input should be a valid integer"),
    ("cold_start.segment_prior", "often", "cold_start.segment_prior is 'often'; input should be a valid number or "
                                          "input should be 'auto'"),
    ("promotion.require_significant_lead", "yes", "promotion.require_significant_lead is 'yes'; input should be a "
                                                  "valid boolean"),
    ("audience.top_n", 0, "audience.top_n is 0; input should be greater than or equal to 1"),
    ("ingest.release", "2m", "ingest.release is '2m'; input should be '100k', '1m', '10m', '20m', '25m', '32m', "
                             "'latest-small' or 'latest'"),
    ("register.primary_metric", "ndcg@10", "register.primary_metric: 'ndcg@10' is not a metric evaluation reports; "
                                           "did you mean 'ndcg_at_10'?"),
])
def test_wrong_types_and_ranges_name_the_key(dotted, value, line):
    with pytest.raises(MindshareError) as error:
        Settings.checked(_with(dotted, value))
    assert str(error.value) == f"params.yaml: {line}"


MINDSHARE = [sys.executable, "-m", "mindshare.cli"]
COMMANDS = {  # every command and stage that reads params.yaml
    "stage ingest": [sys.executable, "-m", "mindshare.stages.ingest"],
    "stage prepare": [sys.executable, "-m", "mindshare.stages.prepare"],
    "stage features": [sys.executable, "-m", "mindshare.stages.features"],
    "stage tune": [sys.executable, "-m", "mindshare.stages.tune", "svd"],
    "stage train": [sys.executable, "-m", "mindshare.stages.train", "svd"],
    "stage evaluate": [sys.executable, "-m", "mindshare.stages.evaluate"],
    "stage register": [sys.executable, "-m", "mindshare.stages.register"],
    "stage uplift": [sys.executable, "-m", "mindshare.stages.uplift"],
    "stage audience": [sys.executable, "-m", "mindshare.stages.audience"],
    "models": [*MINDSHARE, "models"],
    "promote": [*MINDSHARE, "promote", "--reason", "x"],
    "rollback": [*MINDSHARE, "rollback", "--reason", "x"],
    "recommend": [*MINDSHARE, "recommend", "--user", "1"],
    "audience": [*MINDSHARE, "audience", "--campaign", "westerns"],
    "compare": [*MINDSHARE, "compare"],
    "prune": [*MINDSHARE, "prune", "--keep", "1", "--dry-run"],
    "ui": [*MINDSHARE, "ui"],
    "tune": [*MINDSHARE, "tune", "--model", "svd"],
    "serve": [*MINDSHARE, "serve", "--port", "1"],
    "download": [*MINDSHARE, "download"],
    "bench serve": [*MINDSHARE, "bench", "serve", "--seconds", "1"],
}


@pytest.mark.integration
def test_every_command_stops_at_a_typo_with_one_line_and_exit_2(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    params = yaml.safe_dump(_with("promotion.guardrails.coverag_at_10", 0.05), sort_keys=False)
    folders = [tmp_path / f"c{n}" for n in range(len(COMMANDS))]  # each its own project: nothing shared
    for folder in folders:
        folder.mkdir()
        (folder / "params.yaml").write_text(params)
    with ThreadPoolExecutor(4) as pool:  # each command stops at once: their starts overlap
        results = dict(zip(COMMANDS, pool.map(lambda pair: run(pair[0], *pair[1], timeout=180),
                                              zip(folders, COMMANDS.values()))))
    for name, result in results.items():
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, (name, result.stderr)
        assert "coverag_at_10' is not a metric evaluation reports; did you mean 'coverage_at_10'?" in lines[0], name
    assert not any((folder / "data").exists() or (folder / "reports").exists() for folder in folders)


def _declared(entries) -> set[str]:
    out = set()
    for entry in entries or []:
        out.add(next(iter(entry)) if isinstance(entry, dict) else entry)
    return out


def test_dvc_yaml_agrees_with_the_layout():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert set(stages) == set(layout.STAGES)
    for name, (reads, writes) in layout.STAGES.items():
        stage = stages[name].get("do", stages[name])
        data_deps = {d for d in _declared(stage.get("deps")) if not d.startswith(("src/", "${"))}
        outputs = _declared(stage.get("outs")) | _declared(stage.get("metrics")) | _declared(stage.get("plots"))
        assert data_deps == {str(p) for p in reads}, name
        assert outputs == {str(p) for p in writes}, name


def test_empty_blocks_take_their_defaults_and_whole_numbers_may_be_written_as_floats():
    from mindshare.project.params import check_settings
    from mindshare.settings import AudienceSettings, PromotionSettings

    params = copy.deepcopy(PARAMS)
    params.update(promotion=None, audience=None, campaigns=None, mlflow=None)
    params["model_params"]["popularity"] = None
    params["tune"]["families"]["popularity"] = None
    params["cold_start"]["max_interactions"] = 5.0
    params["campaigns"] = [{"name": 2024, "categories": [1990], "budget": 10, "template": None}]
    settings = check_settings(Settings.checked(params))
    assert settings.promotion == PromotionSettings() and settings.audience == AudienceSettings()
    assert settings.cold_start.max_interactions == 5 and isinstance(settings.cold_start.max_interactions, int)
    campaign = settings.campaigns[0]
    assert (campaign.name, campaign.categories, campaign.template) == ("2024", ["1990"], CAMPAIGN_TEMPLATE)
    with pytest.raises(MindshareError, match="cold_start.max_interactions is 5.5; input should be a valid integer"):
        Settings.checked(_with("cold_start.max_interactions", 5.5))
    with pytest.raises(MindshareError, match="ingest.rating_scale is \\[1\\]; give \\[low, high\\]"):
        Settings.checked(_with("ingest.rating_scale", [1]))


@pytest.mark.parametrize("metric, known", [
    ("coverage_at_10", True), ("cold_start_ndcg_at_10", True), ("new_users_precision_at_10", True),
    ("segment_0_ndcg_at_10", True), ("activity_21_100_recall_at_10", True), ("rmse", True),
    ("ndcg_at_20", False), ("cold_start_ndcg_at_20", False), ("newusers_ndcg_at_10", False), ("coverage", False),
])
def test_guardrails_may_name_any_metric_evaluation_reports(metric, known):
    params = _with(f"promotion.guardrails.{metric}", 0.01)
    if known:
        assert metric in Settings.checked(params).promotion.guardrails
    else:
        with pytest.raises(MindshareError, match="is not a metric evaluation reports"):
            Settings.checked(params)
