"""`mindshare bench scale`: the pipeline's real stages on synthetic shop logs of growing size.

Per size N, in a workspace of its own (its own params.yaml, MLflow store and registry), each step
runs as its own process, exactly as `dvc repro` runs it, and is measured from outside: wall time and
peak resident memory (the child's `ru_maxrss` from wait4). Steps: generate (the seeded synthetic
log, written to Parquet in row groups, as a shop export arrives: N events, N/100 users, N/400
items), ingest, prepare, features, train@item_knn, train@svd, evaluate (a seeded sample of users)
and register. `total` is the pipeline's part, ingest to register (generate stands in for the export
that a shop already has). Tuning is not part of the path: its cost is n_trials x a fit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from mindshare.atomic_files import atomic_path, write_json
from mindshare.errors import MindshareError

MODELS = ("item_knn", "svd")
STEPS = ("generate", "ingest", "prepare", "features", *(f"train@{m}" for m in MODELS), "evaluate", "register")
EVENTS = Path("data/raw/events.parquet")
ITEMS = Path("data/raw/items.parquet")


def scale_params(rows: int, sample_users: int, seed: int) -> dict:
    """The workspace's params.yaml: the shipped defaults of the stages on the path, at this size."""
    return {
        "ingest": {"source": "events", "path": str(EVENTS), "items_path": str(ITEMS), "rating_scale": None,
                   "dataset_name": f"synthetic-shop-{rows}"},
        "prepare": {"min_user_interactions": 1, "min_item_interactions": 1, "relevant_min_rating": None,
                    "split": {"protocol": "random_per_user", "test_ratio": 0.2, "valid_ratio": 0.1, "seed": seed,
                              "leave_last_n": 1, "valid_last_n": 1}},
        "features": {"max_categories": 20, "max_tags": 20, "recent_days": 30, "rating_prior": 10.0,
                     "segments": {"k_min": 2, "k_max": 8, "sample_size": 5000, "minibatch_above": 50000,
                                  "seed": seed}},
        "models": list(MODELS),
        "model_params": {"item_knn": {"n_neighbours": 100, "similarity": "cosine", "shrinkage": 10.0},
                         "svd": {"algorithm": "implicit_als", "factors": 24, "regularization": 20.0,
                                 "iterations": 15, "alpha": 5.0, "seed": seed}},
        "train": {"include_valid": True},
        "evaluate": {"ks": [10], "curve_max_k": 50, "activity_buckets": [5, 20, 100], "sample_users": sample_users,
                     "sample_seed": seed},
        "cold_start": {"segment_prior": 5},
        "register": {"model_name": "mindshare-scale", "primary_metric": "ndcg_at_10"},
    }


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


def run_step(command: list[str], workspace: Path, log_path: Path) -> tuple[float, float]:
    """Run one step as a child process; (wall seconds, the child's peak RSS in MB)."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{workspace / 'mlflow.db'}"}
    env.pop("MINDSHARE_PSEUDONYM_KEY", None)
    with open(log_path, "ab") as log:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=workspace, env=env, stdout=log, stderr=log)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        tail = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()][-1:]
        raise MindshareError(f"bench scale: {' '.join(command[-2:])} failed (exit {child.returncode}) in {workspace}: "
                             f"{tail[0] if tail else 'no output'}; the whole log is {log_path}")
    return seconds, usage.ru_maxrss / 1024


def run_scale_bench(sizes: list[int], sample_users: int = 10_000, seed: int = 0, workdir: str | None = None,
                    progress=print) -> list[dict]:
    """Every step at every size; rows of {rows, stage, seconds, peak_rss_mb}. Workspaces are kept under
    `workdir` when given (for a look at their MLflow stores), else removed."""
    results = []
    with tempfile.TemporaryDirectory(prefix="mindshare-scale-") as scratch:
        root = Path(workdir) if workdir else Path(scratch)
        for rows in sizes:
            workspace = root / f"rows-{rows}"
            workspace.mkdir(parents=True, exist_ok=True)
            (workspace / "params.yaml").write_text(
                yaml.safe_dump(scale_params(rows, sample_users, seed), sort_keys=False)
            )
            for step in STEPS:
                seconds, peak = run_step(step_command(step, rows, seed), workspace, workspace / "bench.log")
                results.append(
                    {"rows": rows, "stage": step, "seconds": round(seconds, 3), "peak_rss_mb": round(peak, 1)}
                )
                progress(f"{rows:>11,} {step:<16} {seconds:>9.1f} s {peak:>9.0f} MB")
            total = [r for r in results if r["rows"] == rows and r["stage"] != "generate"]  # the data's source
            results.append(
                {
                    "rows": rows,
                    "stage": "total",
                    "seconds": round(sum(r["seconds"] for r in total), 3),
                    "peak_rss_mb": max(r["peak_rss_mb"] for r in total),
                }
            )
    return results


def format_scale(results: list[dict]) -> str:
    """Seconds (and peak MB) per step, one column per size; then the time per million rows."""
    sizes = sorted({r["rows"] for r in results})
    cell = {(r["rows"], r["stage"]): r for r in results}
    header = f"{'stage':<16}" + "".join(f"{f'{n:,} rows':>24}" for n in sizes)
    lines = [header, f"{'':<16}" + "".join(f"{'seconds   peak MB':>24}" for _ in sizes), "-" * len(header)]
    for stage in [*STEPS, "total"]:
        cells = [cell.get((n, stage)) for n in sizes]
        lines.append(
            f"{stage:<16}"
            + "".join(f"{c['seconds']:>14.1f}{c['peak_rss_mb']:>10.0f}" if c else f"{'':>24}" for c in cells)
        )
    totals = [cell[(n, "total")]["seconds"] / n * 1e6 for n in sizes if (n, "total") in cell]
    lines.append(f"{'s per 1M rows':<16}" + "".join(f"{t:>14.1f}{'':>10}" for t in totals))
    return "\n".join(lines)


def growth_exponents(results: list[dict]) -> dict[str, dict[str, float]]:
    """Per pair of sizes (the smallest to the largest, then each size to the next) and stage: the slope of
    log(seconds) on log(rows), 1 = linear. The smallest sizes carry each process's fixed start-up
    (about 4 s of imports), so their slope understates; the consecutive pairs show where a cost bends."""
    import math

    sizes = sorted({r["rows"] for r in results})
    cell = {(r["rows"], r["stage"]): r["seconds"] for r in results}
    pairs = ([(sizes[0], sizes[-1])] if len(sizes) > 2 else []) + list(zip(sizes, sizes[1:]))
    return {
        f"{low}-{high}": {
            stage: round(math.log(cell[(high, stage)] / cell[(low, stage)]) / math.log(high / low), 3)
            for stage in [*STEPS, "total"]
            if cell.get((low, stage), 0) > 0 and (high, stage) in cell
        }
        for low, high in pairs
    }


def plot_scale(results: list[dict], path: str | Path) -> None:
    """Seconds against rows, log-log, one line per step, with a linear reference through the total."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({r["rows"] for r in results})
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for stage in [*STEPS, "total"]:
        points = sorted((r["rows"], r["seconds"]) for r in results if r["stage"] == stage)
        axis.plot(*zip(*points), marker="o", label=stage, linewidth=2.5 if stage == "total" else 1.2)
    last = next(r["seconds"] for r in results if r["stage"] == "total" and r["rows"] == sizes[-1])
    axis.plot(sizes, [last * n / sizes[-1] for n in sizes], linestyle=":", color="grey", label="linear (through total)")
    axis.set(
        xscale="log",
        yscale="log",
        xlabel="interactions",
        ylabel="seconds",
        title="bench scale: wall time per stage (2 cores)",
    )
    axis.legend(fontsize=7, ncol=2)
    axis.grid(alpha=0.3, which="both")
    figure.tight_layout()
    with atomic_path(Path(path)) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    plt.close(figure)


def run_scale_command(
    rows: list[int], json_path: str | None, plot_path: str | None, sample_users: int, seed: int, workdir: str | None
) -> dict:
    from mindshare.bench.command import machine

    if any(n < 10_000 for n in rows):
        raise MindshareError("--rows: give sizes of at least 10000 interactions")
    print(f"{'rows':>11} {'stage':<16} {'wall':>11} {'peak RSS':>12}", flush=True)
    results = run_scale_bench(rows, sample_users, seed, workdir, progress=lambda line: print(line, flush=True))
    print()
    print(format_scale(results))
    exponents = growth_exponents(results)
    for pair, slopes in exponents.items():
        low, high = (f"{int(n):,}" for n in pair.split("-"))
        print(
            f"growth exponent of wall time, {low} -> {high} rows (1 = linear): "
            + ", ".join(f"{k} {v:.2f}" for k, v in slopes.items())
        )
    report = {
        "settings": {"sample_users": sample_users, "seed": seed, "users": "rows/100", "items": "rows/400"},
        "machine": machine(),
        "results": results,
        "growth_exponents": exponents,
    }
    if json_path:
        write_json(report, json_path)
    if plot_path:
        plot_scale(results, plot_path)
    return report
