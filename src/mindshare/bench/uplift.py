"""`mindshare bench uplift`: mindshare's uplift learners beside scikit-uplift's on any randomised campaign table.

The table (CSV or Parquet) has a row per person: a column saying which arm they were in, an outcome (0/1, or a
value such as spend) and what was known of them before the send. `--treatment COLUMN=VALUE` names the treated
arm and `--control VALUE` the control arm of that column; rows of any other arm are left out (and counted).
Without `--features`, every other column is a feature except the outcome, columns that identify people (a text
or whole-number column with a distinct value per row), columns constant wherever the outcome is 0 (spend beside
conversions) and columns whose distribution differs between the arms (chi-square or Kolmogorov-Smirnov, p <
0.001): in a randomised campaign only what the send changed differs, such as another outcome (visits beside
conversions). What the send changed must not be a feature. Text columns are categories.

For each seed, a 70/30 split stratified by arm and outcome; every learner fits on the 70 and is scored on the 30:
Qini AUC and uplift@30% (treated minus control outcome rate among the top 30%, strategy `overall`). mindshare's
learners are tuned by Optuna on the training part's cross-fitted Qini AUC (`uplift/tuning.py`; the first trial is
their defaults); `mindshare_auto` is the one the cross-fitting chose. scikit-uplift's SoloModel, TwoModels and
ClassTransformation wrap the same LightGBM with mindshare's default settings; `random` scores at random.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from mindshare.errors import MindshareError
from mindshare.metrics.uplift import qini_auc_score, uplift_at_k
from mindshare.uplift.learners import DEFAULTS, LEARNERS, is_binary, make_learner
from mindshare.uplift.tuning import tune_learner

TOP_SHARE = 0.3
TEST_SHARE = 0.3
BALANCE_P = 1e-3
METRICS = ("qini_auc", "uplift_at_30", "oracle_share_at_30", "vs_score_at_30")
SKLIFT_KEYS = ("sklift_solo_model", "sklift_two_models", "sklift_class_transformation")


@dataclass
class CampaignTable:
    features: pd.DataFrame
    treatment: np.ndarray  # 1 treated, 0 control
    outcome: np.ndarray
    dropped_rows: int = 0  # other arms
    excluded: dict[str, str] = field(default_factory=dict)  # column -> why it is not a feature
    true_uplift: np.ndarray | None = None  # where known (simulated people): each person's effect
    score: np.ndarray | None = None  # where named: the column score targeting ranks by
    rows: pd.DataFrame | None = None  # the kept rows as read


def read_table(path: str) -> pd.DataFrame:
    file = Path(path)
    if not file.is_file():
        raise MindshareError(f"--data {path}: no such file")
    try:
        return pd.read_parquet(file) if file.suffix.lower() in (".parquet", ".pq") else pd.read_csv(file)
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise MindshareError(f"--data {path}: cannot be read as {'Parquet' if file.suffix == '.parquet' else 'CSV'} "
                             f"({str(error).splitlines()[0][:160]})") from None


def _arm_difference(column: pd.Series, treated: np.ndarray) -> float:
    """p-value that the column is distributed alike in both arms."""
    from scipy import stats

    if pd.api.types.is_numeric_dtype(column) and column.nunique() > 20:
        values = column.to_numpy(dtype=np.float64)
        ok = ~np.isnan(values)
        return float(stats.ks_2samp(values[ok & treated], values[ok & ~treated]).pvalue)
    table = pd.crosstab(column.astype(str).fillna(""), treated)
    return float(stats.chi2_contingency(table).pvalue) if table.shape[0] > 1 else 1.0


def campaign_table(frame: pd.DataFrame, treatment: str, control: str, outcome: str, features: list[str] | None,
                   source: str = "--data") -> CampaignTable:
    """The people of the treated and control arms, their features, arm and outcome, checked (one-line errors)."""
    column, sep, treated_value = treatment.partition("=")
    if not sep or not column or not treated_value:
        raise MindshareError(f"--treatment {treatment!r}: give COLUMN=VALUE, the treated arm's value in that column")
    for name, flag in ((column, "--treatment"), (outcome, "--outcome"), *((f, "--features") for f in features or [])):
        if name not in frame.columns:
            raise MindshareError(f"{source}: no column '{name}' ({flag}); columns: "
                                 f"{', '.join(map(str, frame.columns))}")
    arm = frame[column].astype(str).str.strip()
    values = sorted(arm.unique())
    for value, flag in ((treated_value, "--treatment"), (control, "--control")):
        if value not in values:
            raise MindshareError(f"{flag}: column '{column}' has no value {value!r}; its values: "
                                 f"{', '.join(values[:12])}")
    kept = arm.isin([treated_value, control]).to_numpy()
    rows = frame[kept].reset_index(drop=True)
    treated = (arm[kept] == treated_value).to_numpy()
    y = pd.to_numeric(rows[outcome], errors="coerce")
    if y.isna().any():
        bad = int(np.flatnonzero(y.isna().to_numpy())[0])
        raise MindshareError(f"{source}: column '{outcome}' (--outcome) is not a number in data row "
                             f"{int(np.flatnonzero(kept)[bad]) + 1} ({rows[outcome].iloc[bad]!r})")
    excluded: dict[str, str] = {}
    if features is None:
        features = []
        for name in rows.columns:
            if name in (column, outcome):
                continue
            values_ = rows[name]
            whole = pd.api.types.is_integer_dtype(values_) or not pd.api.types.is_numeric_dtype(values_)
            if whole and values_.nunique() == len(values_):
                excluded[name] = "identifies people (a distinct value per row)"
            elif (y == 0).any() and values_[(y == 0).to_numpy()].nunique(dropna=False) == 1 and \
                    values_.nunique(dropna=False) > 1:
                excluded[name] = f"is constant wherever '{outcome}' is 0: another outcome of the send"
            elif (p := _arm_difference(values_, treated)) < BALANCE_P:
                excluded[name] = f"differs between the arms (p = {p:.1e}): changed by the send, not known before it"
            else:
                features.append(name)
    if not features:
        raise MindshareError(f"{source}: no feature column left; name them with --features")
    x = rows[features].copy()
    for name in features:
        if not pd.api.types.is_numeric_dtype(x[name]):
            x[name] = x[name].astype(str).astype("category")
    return CampaignTable(x, treated.astype(np.int8), y.to_numpy(dtype=np.float64), int((~kept).sum()), excluded,
                         rows=rows)


def _sklift_scores(key: str, binary: bool, x_train, t_train, y_train, x_test, seed: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lightgbm
        from sklift import models

        def lgbm():
            kind = lightgbm.LGBMClassifier if binary else lightgbm.LGBMRegressor
            return kind(**DEFAULTS, random_state=seed, verbose=-1, n_jobs=-1)

        if key == "sklift_solo_model":
            model = models.SoloModel(estimator=lgbm())
        elif key == "sklift_two_models":
            model = models.TwoModels(estimator_trmnt=lgbm(), estimator_ctrl=lgbm(), method="vanilla")
        else:
            model = models.ClassTransformation(estimator=lgbm())
        model.fit(x_train, y_train, t_train)
        return np.asarray(model.predict(x_test), dtype=np.float64).ravel()


def with_truth(table: CampaignTable, truth_path: str | None, score_column: str | None) -> CampaignTable:
    """The table with each person's true effect (a file of an id column shared with the table and `true_uplift`,
    as `example-data --campaign` writes beside it) and the column score targeting ranks by."""
    if truth_path:
        truth = read_table(truth_path)
        shared = [c for c in truth.columns if c in table.rows.columns and c != "true_uplift"]
        if "true_uplift" not in truth or not shared:
            raise MindshareError(f"--truth {truth_path}: needs a column 'true_uplift' and an id column the data has")
        joined = table.rows[[shared[0]]].merge(truth[[shared[0], "true_uplift"]], on=shared[0], how="left")
        if joined["true_uplift"].isna().any():
            raise MindshareError(f"--truth {truth_path}: no true_uplift for {shared[0]} "
                                 f"{joined.loc[joined['true_uplift'].isna(), shared[0]].iloc[0]!r}")
        table.true_uplift = joined["true_uplift"].to_numpy(dtype=np.float64)
    if score_column:
        if score_column not in table.rows.columns:
            raise MindshareError(f"--score-column: no column '{score_column}' in the data")
        table.score = pd.to_numeric(table.rows[score_column], errors="coerce").fillna(0).to_numpy(np.float64)
    return table


def _captured(truth: np.ndarray, ranking: np.ndarray) -> float:
    """The true incremental outcomes of the top TOP_SHARE people by `ranking`."""
    n = int(round(len(truth) * TOP_SHARE))
    return float(truth[np.argsort(-ranking, kind="stable")[:n]].sum())


def _scored(outcome, uplift, treatment, truth=None, score=None) -> dict[str, float]:
    out = {"qini_auc": qini_auc_score(outcome, uplift, treatment),
           "uplift_at_30": uplift_at_k(outcome, uplift, treatment, TOP_SHARE, "overall")}
    if truth is not None:  # against the truth: the oracle's top 30% and score targeting's
        mine = _captured(truth, uplift)
        out["oracle_share_at_30"] = mine / _captured(truth, truth)
        if score is not None:
            out["vs_score_at_30"] = mine / _captured(truth, score)
    return out


def run_uplift_bench(table: CampaignTable, seeds: list[int], learners: list[str], n_trials: int = 8, folds: int = 3,
                     progress: Callable[[str], None] = lambda _: None) -> dict[str, dict]:
    """Each key's Qini AUC and uplift@30% per seed and their mean over seeds."""
    from sklearn.model_selection import train_test_split

    binary = is_binary(table.outcome)
    sklift_keys = [k for k in SKLIFT_KEYS if binary or k != "sklift_class_transformation"]
    per_seed: dict[str, list[dict]] = {}
    strata = table.treatment * 2 + (table.outcome > 0)
    for seed in seeds:
        train, test = train_test_split(np.arange(len(strata)), test_size=TEST_SHARE, stratify=strata,
                                       random_state=seed)
        x_train, x_test = table.features.iloc[train], table.features.iloc[test]
        t_train, t_test = table.treatment[train], table.treatment[test]
        y_train, y_test = table.outcome[train], table.outcome[test]
        truth = None if table.true_uplift is None else table.true_uplift[test]
        score = None if table.score is None else table.score[test]
        studies = {}
        for name in learners:
            started = time.perf_counter()
            studies[name] = tune_learner(name, x_train, t_train, y_train, n_trials, folds, seed)
            uplift = make_learner(name, studies[name].params).fit(x_train, t_train, y_train).predict(x_test)
            per_seed.setdefault(name, []).append({"seed": seed, **_scored(y_test, uplift, t_test, truth, score),
                                                  "cross_fitted_qini": studies[name].qini,
                                                  "seconds": time.perf_counter() - started, "uplift": uplift})
            progress(f"seed {seed}: {name}")
        chosen = max(studies.values(), key=lambda s: s.qini).name
        mine = next(r for r in per_seed[chosen] if r["seed"] == seed)
        per_seed.setdefault("mindshare_auto", []).append({**mine, "chose": chosen})
        for key in sklift_keys:
            started = time.perf_counter()
            uplift = _sklift_scores(key, binary, x_train, t_train, y_train, x_test, seed)
            per_seed.setdefault(key, []).append({"seed": seed, **_scored(y_test, uplift, t_test, truth, score),
                                                 "seconds": time.perf_counter() - started})
            progress(f"seed {seed}: {key}")
        random = np.random.default_rng(seed).random(len(test))
        per_seed.setdefault("random", []).append({"seed": seed, **_scored(y_test, random, t_test, truth, score),
                                                  "seconds": 0.0})
    results = {}
    for key, runs in per_seed.items():
        for run in runs:
            run.pop("uplift", None)
        results[key] = {**{m: float(np.mean([r[m] for r in runs])) for m in METRICS if m in runs[0]},
                        "seconds": float(np.mean([r["seconds"] for r in runs])), "per_seed": runs}
        if key == "mindshare_auto":
            results[key]["chose"] = [r["chose"] for r in runs]
    return results


def format_uplift(results: dict[str, dict]) -> str:
    shown = [m for m in METRICS if m in next(iter(results.values()))]
    header = f"{'learner':<28}" + "".join(f"{m:>20}" for m in shown) + f"{'seconds':>10}"
    lines = [header, "-" * len(header)]
    for key, row in results.items():
        lines.append(f"{key:<28}" + "".join(f"{row[m]:>20.4f}" for m in shown) + f"{row['seconds']:>10.1f}")
    return "\n".join(lines)


def run_uplift_command(args) -> dict:
    """`mindshare bench uplift`: read, check, run, print the table and write the JSON report."""
    import sys

    from tqdm import tqdm

    from mindshare.atomic_files import write_json
    from mindshare.bench.command import machine, parse_ints, parse_list

    folds = args.folds
    if folds < 2 or args.trials < 1:
        raise MindshareError(f"--folds is {folds} and --trials {args.trials}: give --folds >= 2 and --trials >= 1")
    learners, seeds = parse_list(args.models, LEARNERS, "--models"), parse_ints(args.seeds, "--seeds")
    features = [f.strip() for f in args.features.split(",") if f.strip()] if args.features else None
    table = with_truth(campaign_table(read_table(args.data), args.treatment, args.control.strip(), args.outcome,
                                      features), args.truth, args.score_column)
    for name, why in table.excluded.items():
        print(f"not a feature: {name} ({why})")
    arms = np.bincount(table.treatment, minlength=2)
    print(f"{len(table.outcome)} people ({arms[1]} treated, {arms[0]} control; {table.dropped_rows} rows of other "
          f"arms left out), features: {', '.join(table.features.columns)}")
    if args.stage:
        return time_stage(table, args.params, args.json)
    steps = len(seeds) * (len(learners) + len(SKLIFT_KEYS))
    with tqdm(total=steps, file=sys.stderr, desc="bench uplift") as bar:
        def tick(label: str) -> None:
            bar.set_postfix_str(label)
            bar.update(1)

        results = run_uplift_bench(table, seeds, learners, args.trials, folds, tick)
    report = {"protocol": "uplift", "dataset": Path(args.data).name, "rows": len(table.outcome),
              "settings": {"treatment": args.treatment, "control": args.control, "outcome": args.outcome,
                           "features": list(table.features.columns), "excluded": table.excluded,
                           "dropped_rows": table.dropped_rows, "truth": args.truth, "score_column": args.score_column,
                           "seeds": seeds, "test_share": TEST_SHARE,
                           "top_share": TOP_SHARE, "trials": args.trials, "folds": folds},
              "machine": machine(), "results": results}
    print(format_uplift(results))
    print(f"mindshare_auto chose: {', '.join(results['mindshare_auto']['chose'])}")
    if args.json:
        write_json(report, args.json)
    return report


def time_stage(table: CampaignTable, params: str, json_path: str | None) -> dict:
    """`bench uplift --stage`: the uplift stage's fit (uplift/campaign.py) on every row with the params file's
    `uplift` settings, timed."""
    from mindshare.atomic_files import write_json
    from mindshare.bench.command import machine
    from mindshare.settings import Settings
    from mindshare.uplift.campaign import learn_campaign

    settings = Settings.from_yaml(params).uplift
    frame = pd.DataFrame({"score": 0.0, "treated": table.treatment, settings.outcome: table.outcome})
    features = table.features.apply(lambda c: c.cat.codes if isinstance(c.dtype, pd.CategoricalDtype) else c)
    frame = pd.concat([frame, features.add_prefix("profile_").reset_index(drop=True)], axis=1)
    started = time.perf_counter()
    learned = learn_campaign(frame, settings)
    seconds = time.perf_counter() - started
    report = {"protocol": "uplift-stage", "people": len(frame), "seconds": seconds, "settings": settings.model_dump(),
              "machine": machine(), "learner": learned.report["learner"], "qini_auc": learned.report["qini_auc"]}
    print(f"uplift stage fit on {len(frame)} people: {seconds:.1f} s; chose {learned.report['learner']}, "
          f"cross-fitted Qini AUC {learned.report['qini_auc']:.4f}")
    if json_path:
        write_json(report, json_path)
    return report
