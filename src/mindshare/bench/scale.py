"""`mindshare bench scale`: the shipped pipeline on synthetic shop logs of growing size.

Per size N, in a workspace of its own (MLflow store and registry, Optuna journal), the project's params.yaml runs
as shipped with only `ingest` reading the synthetic log; `--models`, `--no-tune` and `--sample-users` narrow it.
Each step runs as its own process, in dvc.yaml's order, as `dvc repro` runs it, and is measured from outside: wall
time and peak resident memory (the child's `ru_maxrss` from wait4). Steps: generate (the seeded synthetic log,
written to Parquet in row groups as a shop export arrives: N events, N/100 users, N/400 items), ingest, prepare,
features, tune@<model> and train@<model> for every model, evaluate, register, uplift, audience. `total` is the
pipeline's part, ingest to audience (generate stands in for the export that a shop already has). Per family the
report adds its tune and train cost and its primary metric on test.

With `--workdir`, each size's workspace keeps `steps.json`, every step's figures as soon as it ends, and the
report's JSON is written after each size. `--resume` then goes on where a run stopped (the 20 M run alone takes
hours): steps measured before keep their figures, the step that was cut off runs again from the start (the Optuna
journal is put back as it was when the last measured step ended, so a tune step runs all its trials), and the
settings must be the ones the workspace was measured with.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import yaml

from mindshare import layout
from mindshare.atomic_files import write_json
from mindshare.bench.scale_report import (
    QUALITY_FAMILIES,
    combine_reports,
    format_quality,
    format_scale,
    growth_exponents,
    plot_scale,
)
from mindshare.errors import MindshareError, suggestion
from mindshare.project.params import check_settings
from mindshare.settings import Settings

EVENTS = Path("data/raw/events.parquet")
ITEMS = Path("data/raw/items.parquet")
STEPS = Path("steps.json")  # in a workspace: the settings it runs and each measured step's figures
JOURNAL_AT_LAST_STEP = Path(".optuna/measured.journal")  # the Optuna journal as the last measured step left it


@dataclass
class ScaleRun:
    """What one bench run measured, size by size."""

    results: list[dict] = field(default_factory=list)  # {rows, stage, seconds, peak_rss_mb}: each step, then total
    families: dict[str, dict] = field(default_factory=dict)  # size -> model -> tune/train cost, metric, skipped
    quality: dict[str, dict] = field(default_factory=dict)  # size -> best model and metric, popularity's, item_knn's
    resumed: dict[str, list[str]] = field(default_factory=dict)  # size -> steps measured by an earlier run


def read_shipped_params(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise MindshareError(
            f"{path}: not found; give --params the project's params.yaml (the pipeline bench scale runs)"
        )
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        raise MindshareError(f"{path}: not valid YAML; fix the syntax") from None
    if not isinstance(values, dict):
        raise MindshareError(f"{path}: the file must be a mapping of sections (ingest:, prepare:, ...)")
    return values


def parse_models(text: str | None, shipped: dict, source: str = "params.yaml") -> list[str]:
    """--models: names from the shipped `models` or `model_params` (default: the shipped `models`)."""
    if not text:
        return list(shipped.get("models") or [])
    known = list(dict.fromkeys([*(shipped.get("models") or []), *(shipped.get("model_params") or {})]))
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise MindshareError("--models: give at least one model name")
    for name in names:
        if name not in known:
            raise MindshareError(
                f"--models: '{name}' is in neither models nor model_params of {source}{suggestion(name, known)}"
            )
    return names


# --engine spark: the machine's two cores; the families without a Spark fit on all the rows, on the driver, so
# the figures compare with the local engine's
SPARK_BENCH = {"master": "local[2]", "shuffle_partitions": 8, "driver_fit": "all"}


def workspace_params(shipped: dict, rows: int, models: list[str], sample_users: int | None = None,
                     engine: str = "local") -> dict:
    """The workspace's params.yaml: the shipped one with `ingest` reading the synthetic log, `models` narrowed and
    `evaluate.sample_users` where given; nothing else changes (campaigns that name categories the synthetic
    catalogue lacks skip themselves in the audience stage). With engine 'spark': `engine: spark` on local[2]
    (ingest, prepare and features on Spark), svd fitted by Spark's ALS (`algorithm: spark_als`), the other families
    on the driver (`driver_fit: all`), and evaluation's and the audience's lists ranked by Spark's executors."""
    params = copy.deepcopy(shipped)
    if engine == "spark":
        params["engine"] = "spark"
        params["spark"] = {**(shipped.get("spark") or {}), **SPARK_BENCH}
        model_params = params.setdefault("model_params", {})
        model_params["svd"] = {**(model_params.get("svd") or {}), "algorithm": "spark_als"}
    params["ingest"] = {
        **(shipped.get("ingest") or {}),
        "source": "events",
        "path": str(EVENTS),
        "release": None,
        "items_path": str(ITEMS),
        "users_path": None,
        "columns": {},
        "item_columns": {},
        "user_columns": {},
        "timestamp_format": None,
        "event_weights": None,
        "rating_scale": None,
        "dataset_name": f"synthetic-shop-{rows}",
    }
    params["models"] = list(models)
    if sample_users is not None:
        params["evaluate"] = {**(shipped.get("evaluate") or {}), "sample_users": sample_users}
    return params


def checked(params: dict, source: str) -> Settings:
    return check_settings(Settings.checked(params, source))


def pipeline_steps(models: list[str], tune: bool) -> list[str]:
    """dvc.yaml's order, with generate first."""
    return [
        "generate",
        "ingest",
        "prepare",
        "features",
        *(f"tune@{m}" for m in models if tune),
        *(f"train@{m}" for m in models),
        "evaluate",
        "register",
        "uplift",
        "audience",
    ]


def step_command(step: str, rows: int, seed: int) -> list[str]:
    if step == "generate":
        return [sys.executable, "-c", f"from mindshare.bench.scale import generate; generate({rows}, {seed})"]
    stage, _, model = step.partition("@")
    return [sys.executable, "-m", f"mindshare.stages.{stage}", *([model] if model else [])]


def generate(rows: int, seed: int) -> None:
    """The generate step (run in the workspace): the synthetic shop log and its items file."""
    from mindshare.data.synthetic import scaled_spec, write_synthetic_events

    ITEMS.parent.mkdir(parents=True, exist_ok=True)
    write_synthetic_events(scaled_spec(rows, seed=seed), EVENTS, ITEMS)


def fresh_workspace(folder: Path) -> Path:
    """An empty folder for one size. A previous bench run's is cleared (its tuning and studies would be reused);
    any other folder with files in it is refused."""
    if folder.exists() and any(folder.iterdir()):
        if not (folder / "bench.log").exists():
            raise MindshareError(f"--workdir: {folder} has files and is not a bench scale workspace; give another")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def measured_steps(folder: Path, identity: dict) -> dict[str, dict]:
    """--resume: the steps a workspace has measured (none where it has no steps.json); refused when it was measured
    with other settings (params, models, tuning, seed)."""
    if not (folder / STEPS).exists():
        return {}
    saved = json.loads((folder / STEPS).read_text())
    if saved.get("identity") != identity:
        raise MindshareError(
            f"--resume: {folder} was measured with other settings (params.yaml, --models, --no-tune, "
            "--sample-users or --seed); run them again as they were, or drop --resume to start the size afresh"
        )
    journal, snapshot = folder / layout.OPTUNA_JOURNAL, folder / JOURNAL_AT_LAST_STEP
    for lock in journal.parent.glob("*.lock"):  # a lock the cut-off process held
        shutil.rmtree(lock) if lock.is_dir() else lock.unlink()
    if snapshot.exists():
        shutil.copyfile(snapshot, journal)
    elif journal.exists():
        journal.unlink()  # the cut-off step was the first to tune
    return saved["steps"]


def save_steps(folder: Path, identity: dict, timed: dict[str, dict]) -> None:
    """After each step: its figures, and the Optuna journal as it left it (what --resume restores)."""
    journal = folder / layout.OPTUNA_JOURNAL
    if journal.exists():
        shutil.copyfile(journal, folder / JOURNAL_AT_LAST_STEP)
    write_json({"identity": identity, "steps": timed}, folder / STEPS)


def tree_rss_mb(root: int) -> float:
    """The resident memory of process `root` and all its descendants now (MB): a stage with a Spark JVM and its
    Python workers counts them all. Read from /proc; 0 where there is none (not Linux)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, float] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while being read
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)  # fields[1]: the parent's pid
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20  # fields[21]: resident pages
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0.0)
        stack.extend(children.get(pid, []))
    return total


def run_step(step: str, command: list[str], workspace: Path, log_path: Path) -> tuple[float, float]:
    """Run one step as a child process; (wall seconds, peak RSS in MB: the child's own peak from wait4, or the
    largest sum over the child and its descendants sampled every half second, whichever is larger)."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{workspace / 'mlflow.db'}"}
    for name in ("MINDSHARE_PSEUDONYM_KEY", "MLFLOW_REGISTRY_URI"):
        env.pop(name, None)
    with open(log_path, "ab") as log:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=workspace, env=env, stdout=log, stderr=log)
        tree_peak, done = [0.0], threading.Event()

        def sample() -> None:
            while not done.wait(0.5):
                tree_peak[0] = max(tree_peak[0], tree_rss_mb(child.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()][-1:]
        raise MindshareError(
            f"bench scale: {step} failed (exit {code}) in {workspace}: "
            f"{tail[0] if tail else 'no output'}; the whole log is {log_path}"
        )
    return seconds, max(usage.ru_maxrss / 1024, tree_peak[0])


def read_workspace_json(workspace: Path, path: Path) -> dict:
    return json.loads((workspace / path).read_text()) if (workspace / path).exists() else {}


def family_report(workspace: Path, models: list[str], timed: dict[str, dict], primary: str) -> dict[str, dict]:
    """Per model: its tune and train steps' cost, its primary metric on test (reports/evaluation.json) and why it
    skipped itself (models/<m>/fit.json), None where it ran."""
    evaluation = read_workspace_json(workspace, layout.EVALUATION)
    families = {}
    for model in models:
        tune, train = timed.get(f"tune@{model}"), timed[f"train@{model}"]
        entry = (evaluation.get("models") or {}).get(model)
        skipped = read_workspace_json(workspace, layout.fit_report(model)).get("skipped") or (
            evaluation.get("skipped") or {}
        ).get(model)
        families[model] = {
            "tune_seconds": tune["seconds"] if tune else None,
            "train_seconds": train["seconds"],
            "tune_peak_rss_mb": tune["peak_rss_mb"] if tune else None,
            "train_peak_rss_mb": train["peak_rss_mb"],
            primary: entry["metrics"].get(primary) if entry else None,
            "skipped": skipped or (None if entry else "not in reports/evaluation.json"),
        }
    return families


def quality_report(workspace: Path, families: dict[str, dict], primary: str) -> dict:
    """The model register chose (the best by the primary metric) and its figure; popularity's and item_knn's."""
    best = read_workspace_json(workspace, layout.REGISTRY_REPORT).get("challenger_family")
    return {
        "best_model": best,
        "best": (families.get(best) or {}).get(primary),
        **{name: (families.get(name) or {}).get(primary) for name in QUALITY_FAMILIES},
    }


def run_scale_bench(
    sizes: list[int],
    shipped: dict,
    models: list[str],
    tune: bool = True,
    sample_users: int | None = None,
    seed: int = 0,
    workdir: str | None = None,
    progress=print,
    resume: bool = False,
    after_size=None,
    engine: str = "local",
) -> ScaleRun:
    """Every step at every size. Workspaces are kept under `workdir` when given (for a look at their reports and
    MLflow stores), else removed. `resume`: keep what each workspace measured before (see the module's text);
    `after_size(run)` is called as each size ends."""
    run = ScaleRun()
    with tempfile.TemporaryDirectory(prefix="mindshare-scale-") as scratch:
        root = Path(workdir) if workdir else Path(scratch)
        for rows in sizes:
            workspace = root / f"rows-{rows}"
            params = workspace_params(shipped, rows, models, sample_users, engine)
            primary = checked(params, f"{workspace / layout.PARAMS}").register.primary_metric
            identity = {"params": params, "models": models, "tune": tune, "seed": seed}
            timed = measured_steps(workspace, identity) if resume else {}
            if timed:
                run.resumed[str(rows)] = list(timed)
                progress(f"{rows:>11,} resumed: {len(timed)} steps measured before, in {workspace / STEPS}")
            else:
                fresh_workspace(workspace)
                (workspace / layout.PARAMS).write_text(yaml.safe_dump(params, sort_keys=False))
            for step in pipeline_steps(models, tune):
                if step in timed:
                    continue
                seconds, peak = run_step(step, step_command(step, rows, seed), workspace, workspace / "bench.log")
                seconds, peak = round(seconds, 3), round(peak, 1)  # the table's figures, printed alike
                timed[step] = {"rows": rows, "stage": step, "seconds": seconds, "peak_rss_mb": peak,
                               "ended": datetime.now(timezone.utc).isoformat(timespec="seconds")}
                save_steps(workspace, identity, timed)
                progress(f"{rows:>11,} {step:<22} {seconds:>9.1f} s {peak:>9.0f} MB")
            pipeline = [r for step, r in timed.items() if step != "generate"]
            run.results += [
                *timed.values(),
                {
                    "rows": rows,
                    "stage": "total",
                    "seconds": round(sum(r["seconds"] for r in pipeline), 3),
                    "peak_rss_mb": max(r["peak_rss_mb"] for r in pipeline),
                },
            ]
            run.families[str(rows)] = family_report(workspace, models, timed, primary)
            run.quality[str(rows)] = quality_report(workspace, run.families[str(rows)], primary)
            if after_size is not None:
                after_size(run)
    return run


def run_scale_command(
    rows: list[int],
    json_path: str | None,
    plot_path: str | None,
    params_path: str,
    models_text: str | None,
    tune: bool,
    sample_users: int | None,
    seed: int,
    workdir: str | None,
    resume: bool = False,
    engine: str = "local",
) -> dict:
    from mindshare.bench.command import machine

    if any(n < 10_000 for n in rows):
        raise MindshareError("--rows: give sizes of at least 10000 interactions")
    if resume and not workdir:
        raise MindshareError("--resume: give --workdir, the folder of the workspaces to go on with")
    shipped = read_shipped_params(params_path)
    models = parse_models(models_text, shipped, params_path)
    # the derived params checked before anything runs
    settings = checked(
        workspace_params(shipped, rows[0], models, sample_users, engine), f"{params_path} (as bench scale sets it)"
    )
    print(f"{'rows':>11} {'stage':<22} {'wall':>11} {'peak RSS':>12}", flush=True)

    def report_of(run: ScaleRun) -> dict:
        return {
            "settings": {
                "params": str(params_path),
                "engine": engine,
                "models": models,
                "tuned": tune,
                "sample_users": settings.evaluate.sample_users,
                "primary_metric": settings.register.primary_metric,
                "seed": seed,
                "users": "rows/100",
                "items": "rows/400",
            },
            "machine": machine(),
            "results": run.results,
            "growth_exponents": growth_exponents(run.results),
            "families": run.families,
            "quality": run.quality,
            **({"resumed": run.resumed} if run.resumed else {}),  # steps an earlier run measured, per size
        }

    def after_size(run: ScaleRun) -> None:  # a long run cut off later still leaves the sizes it finished
        if json_path:
            write_json(report_of(run), json_path)

    run = run_scale_bench(
        rows, shipped, models, tune, sample_users, seed, workdir, progress=lambda line: print(line, flush=True),
        resume=resume, after_size=after_size, engine=engine,
    )
    report = report_of(run)
    print_report(report, plot_path)
    return report


def print_report(report: dict, plot_path: str | None) -> None:
    """The report's table of steps, quality lines and growth exponents; its plot where asked."""
    print()
    print(format_scale(report["results"]))
    print(format_quality(report["quality"], report["families"], report["settings"]["primary_metric"]))
    for pair, slopes in report["growth_exponents"].items():
        low, high = (f"{int(n):,}" for n in pair.split("-"))
        print(
            f"growth exponent of wall time, {low} -> {high} rows (1 = linear): "
            + ", ".join(f"{k} {v:.2f}" for k, v in slopes.items())
        )
    if plot_path:
        plot_scale(report["results"], plot_path)


def run_combine_command(paths: list[str], json_path: str | None, plot_path: str | None) -> dict:
    """`bench scale --combine a.json,b.json`: reports of runs at other sizes as one (table, exponents, plot)."""
    reports = []
    for path in paths:
        try:
            report = json.loads(Path(path).read_text())
        except (OSError, ValueError) as error:
            raise MindshareError(f"--combine: cannot read {path} as a bench scale JSON report ({error})") from None
        if not isinstance(report, dict) or not {"settings", "results"} <= report.keys():
            raise MindshareError(f"--combine: {path} is not a bench scale JSON report (no settings and results)")
        reports.append((path, report))
    report = combine_reports(reports)
    print_report(report, plot_path)
    if json_path:
        write_json(report, json_path)
    return report
