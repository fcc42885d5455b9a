"""`mindshare bench scale`'s figures: the table of steps by size, the quality lines, growth exponents, the plot."""

from __future__ import annotations

import os
from pathlib import Path

from mindshare.atomic_files import atomic_path
from mindshare.errors import MindshareError

PLOT_GROUPS = ("ingest", "prepare", "features", "tune", "train", "evaluate", "register", "audience", "total")
QUALITY_FAMILIES = ("popularity", "item_knn")  # the floor and the neighbourhood family, side by side at every size


def step_names(results: list[dict]) -> list[str]:
    """The steps in the order they ran (total last)."""
    return list(dict.fromkeys(r["stage"] for r in results))


def format_scale(results: list[dict]) -> str:
    """Seconds (and peak MB) per step, one column per size; then the time per million rows."""
    sizes = sorted({r["rows"] for r in results})
    cell = {(r["rows"], r["stage"]): r for r in results}
    header = f"{'stage':<22}" + "".join(f"{f'{n:,} rows':>24}" for n in sizes)
    lines = [header, f"{'':<22}" + "".join(f"{'seconds   peak MB':>24}" for _ in sizes), "-" * len(header)]
    for stage in step_names(results):
        cells = [cell.get((n, stage)) for n in sizes]
        lines.append(
            f"{stage:<22}"
            + "".join(f"{c['seconds']:>14.1f}{c['peak_rss_mb']:>10.0f}" if c else f"{'':>24}" for c in cells)
        )
    totals = [cell[(n, "total")]["seconds"] / n * 1e6 for n in sizes if (n, "total") in cell]
    lines.append(f"{'s per 1M rows':<22}" + "".join(f"{t:>14.1f}{'':>10}" for t in totals))
    return "\n".join(lines)


def format_quality(quality: dict[str, dict], families: dict[str, dict], primary: str) -> str:
    """One line per size: the model register chose and popularity's and item_knn's figure; then who skipped."""

    def figure(value: float | None) -> str:
        return "not run" if value is None else f"{value:.4f}"

    lines = []
    for size, figures in quality.items():
        lines.append(
            f"{primary} on test at {int(size):,} rows: best {figures['best_model']} {figure(figures['best'])}"
            + "".join(f", {name} {figure(figures[name])}" for name in QUALITY_FAMILIES)
        )
        lines += [
            f"  {model} skipped: {family['skipped']}" for model, family in families[size].items() if family["skipped"]
        ]
    return "\n".join(lines)


def growth_exponents(results: list[dict]) -> dict[str, dict[str, float]]:
    """Per pair of sizes (the smallest to the largest, then each size to the next) and step: the slope of
    log(seconds) on log(rows), 1 = linear. The smallest sizes carry each process's fixed start-up
    (about 4 s of imports), so their slope understates; the consecutive pairs show where a cost bends."""
    import math

    sizes = sorted({r["rows"] for r in results})
    cell = {(r["rows"], r["stage"]): r["seconds"] for r in results}
    pairs = ([(sizes[0], sizes[-1])] if len(sizes) > 2 else []) + list(zip(sizes, sizes[1:]))
    return {
        f"{low}-{high}": {
            stage: round(math.log(cell[(high, stage)] / cell[(low, stage)]) / math.log(high / low), 3)
            for stage in step_names(results)
            if cell.get((low, stage), 0) > 0 and (high, stage) in cell
        }
        for low, high in pairs
    }


def grouped_seconds(results: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """Seconds per stage of dvc.yaml and size: tune@<m> and train@<m> summed over the models; generate left out."""
    sums: dict[str, dict[int, float]] = {}
    for r in results:
        group = r["stage"].partition("@")[0]
        if group in PLOT_GROUPS:
            by_size = sums.setdefault(group, {})
            by_size[r["rows"]] = by_size.get(r["rows"], 0.0) + r["seconds"]
    return {group: sorted(sums[group].items()) for group in PLOT_GROUPS if group in sums}


def plot_scale(results: list[dict], path: str | Path) -> None:
    """Seconds against rows, log-log, one line per stage, with a linear reference through the total."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = grouped_seconds(results)
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for group, points in groups.items():
        label = f"{group} (sum over models)" if group in ("tune", "train") else group
        axis.plot(*zip(*points), marker="o", label=label, linewidth=2.5 if group == "total" else 1.2)
    sizes, last = [n for n, _ in groups["total"]], groups["total"][-1][1]
    axis.plot(sizes, [last * n / sizes[-1] for n in sizes], linestyle=":", color="grey", label="linear (through total)")
    axis.set(
        xscale="log",
        yscale="log",
        xlabel="interactions",
        ylabel="seconds",
        title=f"bench scale: wall time per stage ({os.cpu_count()} cores)",
    )
    axis.legend(fontsize=7, ncol=2)
    axis.grid(alpha=0.3, which="both")
    figure.tight_layout()
    with atomic_path(Path(path)) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    plt.close(figure)


# settings the combined reports must share (each one's params file is listed under sources)
COMBINED_SETTINGS = ("engine", "models", "tuned", "sample_users", "primary_metric", "seed")
SETTING_DEFAULTS = {"engine": "local"}  # reports written before the setting existed ran with this


def combine_reports(reports: list[tuple[str, dict]]) -> dict:
    """One report of several `bench scale --json` reports ((path, report) pairs), each of other sizes, run with the
    same settings: their steps, families and quality side by side, growth exponents across all the sizes."""
    combined: dict = {"results": [], "families": {}, "quality": {}, "resumed": {}, "sources": []}
    for path, report in reports:
        settings = {key: report["settings"].get(key, SETTING_DEFAULTS.get(key)) for key in COMBINED_SETTINGS}
        first = combined.setdefault("settings", settings)
        differing = [key for key in COMBINED_SETTINGS if settings[key] != first[key]]
        if differing:
            raise MindshareError(f"{path}: its {differing[0]} ({settings[differing[0]]}) differs from the first "
                                 f"report's ({first[differing[0]]}); combine runs of the same settings only")
        sizes = sorted({r["rows"] for r in report["results"]})
        repeated = sorted(set(sizes) & {r["rows"] for r in combined["results"]})
        if repeated:
            raise MindshareError(f"{path}: {repeated[0]:,} rows is in an earlier report too; give each size once")
        combined["results"] += report["results"]
        for part in ("families", "quality", "resumed"):
            combined[part].update(report.get(part, {}))
        combined["sources"].append({"report": str(path), "rows": sizes, "params": report["settings"].get("params"),
                                    "machine": report.get("machine")})
    combined["results"].sort(key=lambda r: r["rows"])  # stable: each size's steps keep their order
    combined["growth_exponents"] = growth_exponents(combined["results"])
    if not combined["resumed"]:
        del combined["resumed"]
    return combined
