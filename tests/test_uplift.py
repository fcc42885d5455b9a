"""Uplift: the metrics against scikit-uplift's own functions, the learners on simulated people whose effects are
known, and the bench on a randomised campaign table."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mindshare.metrics import uplift as metrics


def _experiment(seed: int, n: int = 3000, continuous: bool = False, ties: bool = False):
    rng = np.random.default_rng(seed)
    treatment = rng.integers(0, 2, n)
    score = rng.normal(size=n)
    outcome = (rng.random(n) < 0.1 + 0.08 * treatment * (score > 0)).astype(float)
    if continuous:
        outcome *= rng.exponential(30.0, n)
    uplift = score + rng.normal(scale=0.5, size=n)
    return outcome, (uplift.round(1) if ties else uplift), treatment


@pytest.mark.parametrize("seed,ties", [(0, False), (1, True), (2, False)])
def test_the_metrics_give_scikit_uplifts_numbers(seed, ties):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sklift import metrics as sklift

    outcome, uplift, treatment = _experiment(seed, ties=ties)
    for name in ("uplift_curve", "qini_curve"):
        for ours, theirs in zip(getattr(metrics, name)(outcome, uplift, treatment),
                                getattr(sklift, name)(outcome, uplift, treatment)):
            np.testing.assert_allclose(ours, theirs)
    perfect = metrics.perfect_qini_curve(outcome, treatment), sklift.perfect_qini_curve(outcome, treatment)
    for ours, theirs in zip(*perfect):
        np.testing.assert_allclose(ours, theirs)
    assert metrics.qini_auc_score(outcome, uplift, treatment) == pytest.approx(
        sklift.qini_auc_score(outcome, uplift, treatment), rel=1e-12)
    assert metrics.uplift_auc_score(outcome, uplift, treatment) == pytest.approx(
        sklift.uplift_auc_score(outcome, uplift, treatment), rel=1e-12)
    for strategy in ("overall", "by_group"):
        for k in (0.3, 0.1, 250):
            assert metrics.uplift_at_k(outcome, uplift, treatment, k, strategy) == pytest.approx(
                sklift.uplift_at_k(outcome, uplift, treatment, strategy=strategy, k=k), rel=1e-12)


def test_the_qini_auc_is_1_for_the_best_ranking_0_for_random_and_negative_for_the_reverse():
    outcome, _, treatment = _experiment(3, n=20_000)
    best = outcome * treatment - outcome * (1 - treatment)
    assert metrics.qini_auc_score(outcome, best, treatment) == pytest.approx(1.0)
    assert metrics.qini_auc_score(outcome, -best, treatment) < -0.5
    random = np.random.default_rng(0).random(len(outcome))
    assert abs(metrics.qini_auc_score(outcome, random, treatment)) < 0.1
    outcome, uplift, treatment = _experiment(4, n=20_000, continuous=True)  # spend: the same curves, any value
    assert metrics.qini_auc_score(outcome, uplift, treatment) > 0.04  # the perfect ranking sets a high bar here
    x, y = metrics.qini_curve(outcome, uplift, treatment)
    assert metrics.incremental_outcomes(outcome, uplift, treatment, 1.0) == pytest.approx(y[-1])
    assert metrics.incremental_outcomes(outcome, uplift, treatment, 0.0) == 0.0


def test_bad_arrays_are_refused():
    with pytest.raises(ValueError, match="differ in length"):
        metrics.qini_curve([1, 0], [0.1], [1, 0])
    with pytest.raises(ValueError, match="treatment must be 0"):
        metrics.qini_curve([1, 0], [0.1, 0.2], [2, 0])
    with pytest.raises(ValueError, match="strategy"):
        metrics.uplift_at_k([1, 0], [0.1, 0.2], [1, 0], 0.5, "each")


def _features(people):
    from mindshare.data.campaign_people import FEATURES

    return people[FEATURES].astype({"channel": "category"})


@pytest.mark.integration
def test_uplift_targeting_captures_what_an_oracle_would_and_beats_score_targeting():
    """A campaign to 40,000 simulated people teaches the learners; the next campaign's 30% budget goes to a fresh
    40,000 by predicted uplift, by the recommender's affinity (score targeting) and by the true effects (the
    oracle). The learner chosen by cross-fitting captures >= 80% of the oracle's incremental conversions and
    >= 1.5 x score targeting's."""
    from mindshare.data.campaign_people import CampaignPeople, simulate_campaign, targeted_uplift, top_share
    from mindshare.uplift.tuning import choose_learner

    past = simulate_campaign(CampaignPeople(n_people=40_000, seed=11))
    learner, studies = choose_learner(_features(past), past["treatment"].to_numpy(), past["converted"].to_numpy(),
                                      ["s_learner", "x_learner"], n_trials=1, folds=2)
    assert {s.name for s in studies} == {"s_learner", "x_learner"} and learner.name in ("s_learner", "x_learner")
    people = simulate_campaign(CampaignPeople(n_people=40_000, seed=12))
    oracle = targeted_uplift(people, top_share(people["true_uplift"], 0.3))
    by_uplift = targeted_uplift(people, top_share(learner.predict(_features(people)), 0.3))
    by_score = targeted_uplift(people, top_share(people["affinity"], 0.3))
    assert by_uplift >= 0.8 * oracle, (by_uplift, oracle)
    assert by_uplift >= 1.5 * by_score > 0, (by_uplift, by_score)


@pytest.mark.parametrize("name", ["s_learner", "t_learner", "x_learner", "class_transformation"])
def test_every_learner_ranks_people_by_their_effect_for_conversions_and_for_spend(name):
    from mindshare.data.campaign_people import CampaignPeople, simulate_campaign
    from mindshare.uplift.learners import make_learner

    past, people = (simulate_campaign(CampaignPeople(n_people=20_000, seed=s)) for s in (21, 22))
    for outcome in ("converted", "spend"):
        learner = make_learner(name).fit(_features(past), past["treatment"].to_numpy(), past[outcome].to_numpy())
        assert learner.binary_ == (outcome == "converted")
        predicted = learner.predict(_features(people))
        floor = 0.3 if outcome == "converted" else 0.15  # spend's variance is the basket's too: a noisier target
        assert np.corrcoef(predicted, people["true_uplift"])[0, 1] > floor, outcome
    with pytest.raises(ValueError, match="needs treated and control people"):
        make_learner(name).fit(_features(past), np.zeros(len(past)), past["converted"].to_numpy())


def test_bench_uplift_on_a_campaign_table(tmp_path, capsys):
    """The command on a table it has never seen: the arms, the outcome and the features read from the file; ids
    and what the send changed (spend beside conversions, visits that differ by arm) left out; every key scored."""
    import json

    import pandas as pd

    from mindshare.cli.parser import main
    from mindshare.data.campaign_people import CampaignPeople, simulate_campaign

    people = simulate_campaign(CampaignPeople(n_people=6_000, seed=3)).drop(columns=["baseline", "true_uplift",
                                                                                     "segment"])
    rng = np.random.default_rng(0)
    people["arm"] = np.where(people["treatment"] == 1, "Mens E-Mail", "No E-Mail")
    people.loc[rng.random(len(people)) < 0.1, "arm"] = "Womens E-Mail"  # a third arm: left out
    people["visit"] = ((rng.random(len(people)) < 0.1 + 0.1 * people["treatment"]) | (people["converted"] == 1))
    people.drop(columns=["treatment"]).to_csv(tmp_path / "campaign.csv", index=False)
    out = tmp_path / "uplift.json"
    code = main(["bench", "uplift", "--data", str(tmp_path / "campaign.csv"), "--treatment", "arm=Mens E-Mail",
                 "--control", "No E-Mail", "--outcome", "converted", "--seeds", "0", "--trials", "1",
                 "--models", "s_learner,class_transformation", "--json", str(out)])
    said = capsys.readouterr().out
    assert code == 0, said
    report = json.loads(out.read_text())
    assert set(report["results"]) == {"s_learner", "class_transformation", "mindshare_auto", "sklift_solo_model",
                                      "sklift_two_models", "sklift_class_transformation", "random"}
    assert all({"qini_auc", "uplift_at_30", "per_seed"} <= set(row) for row in report["results"].values())
    excluded = report["settings"]["excluded"]
    assert set(excluded) == {"person_id", "spend", "visit"}, excluded
    assert "differs between the arms" in excluded["visit"] and "constant wherever 'converted' is 0" in excluded["spend"]
    arms = pd.read_csv(tmp_path / "campaign.csv")["arm"]
    assert report["settings"]["dropped_rows"] == (arms == "Womens E-Mail").sum()
    assert "not a feature: visit" in said and "mindshare_auto chose:" in said


@pytest.mark.parametrize("flags,said", [
    (["--treatment", "arm", "--control", "0", "--outcome", "converted"], "give COLUMN=VALUE"),
    (["--treatment", "arm=1", "--control", "0", "--outcome", "converted"], "no column 'arm'"),
    (["--treatment", "treatment=2", "--control", "0", "--outcome", "converted"], "has no value '2'"),
    (["--treatment", "treatment=1", "--control", "0", "--outcome", "channel"], "'channel' (--outcome) is not a number"),
])
def test_bench_uplift_refuses_a_bad_table_in_one_line(tmp_path, capsys, flags, said):
    from mindshare.cli.parser import main
    from mindshare.data.campaign_people import CampaignPeople, simulate_campaign

    simulate_campaign(CampaignPeople(n_people=300, seed=1)).to_csv(tmp_path / "c.csv", index=False)
    code = main(["bench", "uplift", "--data", str(tmp_path / "c.csv"), *flags])
    err = capsys.readouterr().err
    assert code == 2 and said in err and err.count("\n") == 1, err


@pytest.mark.integration
def test_the_uplift_stage_learns_each_campaigns_results_and_shows_them_on_held_out_people(tmp_path):
    """Two campaigns' results as `mindshare outcomes` stores them (one too small to learn from) and the real stage
    with a real MLflow store: the chosen learner saved, the cross-fitted Qini AUC reported and logged with its
    plot and decile table; the small campaign skipped with the reason."""
    import json
    import pickle

    import mlflow
    import pandas as pd

    from mindshare.data.campaign_people import CampaignPeople, simulate_campaign

    from stage_project import project_env, run_stage, write_params

    write_params(tmp_path, uplift={"n_trials": 2, "folds": 2, "learners": ["s_learner", "x_learner"]})
    folder = tmp_path / "data/feedback/campaign_results"
    folder.mkdir(parents=True)
    for name, n, seed in (("spring", 8_000, 5), ("tiny", 150, 6)):
        people = simulate_campaign(CampaignPeople(n_people=n, seed=seed))
        table = pd.DataFrame({"user_id": people["person_id"], "group": np.where(people["treatment"] == 1,
                                                                                 "treatment", "control"),
                              "treated": people["treatment"], "score": people["affinity"],
                              "profile_frequency": people["frequency"], "profile_recency_days": people["recency_days"],
                              "profile_email_open_rate": people["email_open_rate"],
                              "profile_promo_share": people["promo_share"], "sent": people["treatment"],
                              "opened": 0, "clicked": 0, "converted": people["converted"], "value": people["spend"]})
        table.to_parquet(folder / f"{name}.parquet", index=False)
    done = run_stage(tmp_path, "uplift")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "reports/uplift.json").read_text())
    spring = report["campaigns"]["spring"]
    assert spring["learner"] in ("s_learner", "x_learner") and set(spring["learners"]) == {"s_learner", "x_learner"}
    assert spring["qini_auc"] > 0.02 and spring["people"] == 8_000  # held-out people ranked above random
    assert "tiny" in report["skipped"] and "min_people_per_group" in report["skipped"]["tiny"]
    assert len(json.loads((tmp_path / "data/uplift/spring.calibration.json").read_text())["uplift"]) == 10
    with open(tmp_path / "data/uplift/spring.pkl", "rb") as file:
        learner = pickle.load(file)
    assert learner.name == spring["learner"] and len(learner.predict(table[[c for c in table.columns if c ==
                                                                            "score" or c.startswith("profile_")]]))
    deciles = pd.read_csv(tmp_path / "reports/uplift/spring_deciles.csv")
    assert len(deciles) == 10 and deciles["uplift"].iloc[0] > deciles["uplift"].iloc[-1]
    mlflow.set_tracking_uri(project_env(tmp_path)["MLFLOW_TRACKING_URI"])
    runs = mlflow.search_runs(search_all_experiments=True, filter_string="tags.mlflow.runName = 'uplift@spring'",
                              output_format="list")
    assert runs and runs[0].data.metrics["qini_auc"] == pytest.approx(spring["qini_auc"])
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(runs[0].info.run_id)}
    assert {"spring_qini.png", "spring_deciles.csv"} <= artifacts
    registered = mlflow.MlflowClient().get_model_version_by_alias("mindshare-uplift-spring", "challenger")
    assert str(registered.version) == spring["registered_version"] == "1"
    served = mlflow.pyfunc.load_model("models:/mindshare-uplift-spring@challenger")
    features = table[learner.features_].head(5).astype(float)
    np.testing.assert_allclose(served.predict(features)["uplift"].to_numpy(), learner.predict(features), rtol=1e-6)


def test_bench_uplift_times_the_stages_fit(tmp_path, capsys):
    import json

    from mindshare.cli.parser import main
    from mindshare.data.campaign_people import CampaignPeople, write_campaign

    from stage_project import write_params

    write_campaign(CampaignPeople(n_people=3_000, seed=4), tmp_path / "c.parquet")
    write_params(tmp_path, uplift={"n_trials": 1, "folds": 2, "learners": ["s_learner", "t_learner"]})
    code = main(["bench", "uplift", "--data", str(tmp_path / "c.parquet"), "--treatment", "treatment=1", "--control",
                 "0", "--outcome", "converted", "--stage", "--params", str(tmp_path / "params.yaml"), "--json",
                 str(tmp_path / "stage.json")])
    said = capsys.readouterr().out
    assert code == 0 and "uplift stage fit on 3000 people:" in said, said
    report = json.loads((tmp_path / "stage.json").read_text())
    assert report["people"] == 3000 and report["seconds"] > 0 and report["learner"] in ("s_learner", "t_learner")
    assert report["settings"]["n_trials"] == 1


def test_bench_uplift_against_the_truth_of_simulated_people(tmp_path, capsys):
    import json

    from mindshare.cli.parser import main
    from mindshare.data.campaign_people import CampaignPeople, write_campaign

    truth = write_campaign(CampaignPeople(n_people=20_000, seed=8), tmp_path / "c.csv")
    code = main(["bench", "uplift", "--data", str(tmp_path / "c.csv"), "--truth", str(truth), "--score-column",
                 "affinity", "--treatment", "treatment=1", "--control", "0", "--outcome", "converted", "--seeds", "0",
                 "--trials", "1", "--models", "s_learner", "--json", str(tmp_path / "u.json")])
    assert code == 0, capsys.readouterr().err
    results = json.loads((tmp_path / "u.json").read_text())["results"]
    assert results["s_learner"]["oracle_share_at_30"] > 0.6 > results["random"]["oracle_share_at_30"]
    assert results["s_learner"]["vs_score_at_30"] > 1.5
    code = main(["bench", "uplift", "--data", str(tmp_path / "c.csv"), "--truth", str(tmp_path / "c.csv"),
                 "--treatment", "treatment=1", "--control", "0", "--outcome", "converted"])
    assert code == 2 and "needs a column 'true_uplift'" in capsys.readouterr().err


def test_predicted_effects_are_read_through_what_each_tenth_measured_with_intervals():
    import pandas as pd

    from mindshare.uplift.campaign import calibration, measured_outcomes

    effects = np.linspace(1.0, 0.0, 100)  # the best first: tenth g holds effects 1 - g / 10 ... down
    deciles = pd.DataFrame({"uplift": np.arange(10, 0, -1) / 100, "low": np.arange(10, 0, -1) / 100 - 0.01,
                            "high": np.arange(10, 0, -1) / 100 + 0.01})
    calibrated = calibration(effects, deciles)
    assert len(calibrated["edges"]) == 9 and calibrated["edges"][0] > calibrated["edges"][-1]
    estimate, low, high = measured_outcomes(calibrated, np.array([0.99, 0.98, 0.01]))  # two in the first tenth
    assert estimate == pytest.approx(0.10 + 0.10 + 0.01)
    assert high - estimate == pytest.approx(np.sqrt((2 * 0.01) ** 2 + 0.01**2)) and low < estimate
