"""The leaderboard and its reports: tables, Markdown, the lead of the best model, curves and plots.
Pure functions of the evaluations, plus writers of the files the evaluate stage declares."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from mindshare import metrics  # noqa: E402
from mindshare.atomic_files import atomic_path  # noqa: E402
from mindshare.metrics.names import greater_is_better  # noqa: E402


def leaderboard(results: dict[str, dict], primary: str) -> pd.DataFrame:
    table = pd.DataFrame.from_dict(results, orient="index")
    table.index.name = "model"
    ascending = not greater_is_better(primary)
    ordered = [primary] + [c for c in table.columns
                           if c != primary and not c.startswith(COLD_START_PREFIXES + ("test_", "users_", "segment_",
                                                                                       "activity_"))]
    return table[ordered].sort_values(primary, ascending=ascending).reset_index()


COLD_START_PREFIXES = ("cold_start_", "new_users_", "new_items")


def cold_start_markdown(results: dict[str, dict], order: list[str], k: int) -> str:
    """Per model: little-history users with the policy against the model alone; new users (the
    policy against recent popularity) and new items (categories against category popularity) where
    the split has them."""
    columns = {f"cold_start_ndcg_at_{k}": "little history: policy", f"cold_start_model_only_ndcg_at_{k}": "model alone",
               "cold_start_users": "users", f"new_users_ndcg_at_{k}": "new users: policy",
               "cold_start_segment_prior": "segment prior",
               f"new_users_popular_ndcg_at_{k}": "recent popularity", "new_users_users": "new users",
               f"new_items_ndcg_at_{k}": "new items: user's categories",
               f"new_items_unpersonalised_ndcg_at_{k}": "category popularity", "new_items_users": "users "}
    table = pd.DataFrame.from_dict(results, orient="index").reindex(order)
    present = [c for c in columns if c in table and table[c].fillna(0).any()]
    if not any(c.endswith(f"ndcg_at_{k}") for c in present):
        return ""
    counts = [c for c in present if c.endswith("_users")]
    table[counts] = table[counts].fillna(0).astype(int)
    same = [c for c in present if len(order) > 1 and table[c].nunique(dropna=False) == 1]  # not the model's doing
    once = "; ".join(f"{columns[c].strip()} {_figure(table[c].iloc[0])}" for c in same)
    varying = [c for c in present if c not in same]
    shown = table[varying].rename(columns=columns).rename_axis("model").reset_index()
    parts = [f"## Cold start (ndcg@{k}; models/cold_start.py)\n"]
    if varying:
        parts.append(shown.to_markdown(index=False, floatfmt=".4f") + "\n")
    if once:
        parts.append(f"The same for every model: {once}.\n")
    return "\n".join(parts)


def _figure(value) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.4f}"


def compact_table(table: pd.DataFrame, primary: str) -> pd.DataFrame:
    """The leaderboard a person reads first: the primary metric with its interval, precision, recall, map,
    coverage, rmse and fit seconds at the largest k (`mindshare leaderboard --all`: every column)."""
    ks = [int(c.rsplit("_", 1)[1]) for c in table.columns if re.fullmatch(r"precision_at_\d+", c)]
    k = max(ks) if ks else 10
    wanted = [primary, f"{primary}_ci_low", f"{primary}_ci_high", f"precision_at_{k}", f"recall_at_{k}",
              f"map_at_{k}", f"coverage_at_{k}", "rmse", "fit_seconds"]
    return table[["model", *dict.fromkeys(c for c in wanted if c in table.columns)]]


def leaderboard_markdown(table: pd.DataFrame) -> str:
    """Each metric with an interval as 'value (low-high)'; blank where a metric does not apply."""
    cells = table.astype(object).where(table.notna(), None)
    for column in [c for c in table.columns if f"{c}_ci_low" in table.columns]:
        low, high = table[f"{column}_ci_low"], table[f"{column}_ci_high"]
        cells[column] = [None if pd.isna(v) else f"{v:.4f} ({lo:.3f}-{hi:.3f})"
                         for v, lo, hi in zip(table[column], low, high)]
    cells = cells[[c for c in cells.columns if not c.endswith(("_ci_low", "_ci_high"))]]
    return cells.to_markdown(index=False, floatfmt=".4f", missingval="")


def breakdown_markdown(groups: pd.DataFrame, table: pd.DataFrame, primary: str) -> str:
    """The primary metric by segment, activity bucket and cold start: models as rows, best first."""
    if primary not in groups.columns:
        return ""
    groups = groups[~((groups["group_type"] == "cold_start") & (groups["group"] == "no"))]
    labelled = groups.assign(column=groups["group_type"] + " " + groups["group"].astype(str))
    wide = labelled.pivot_table(index="model", columns="column", values=primary, sort=False)
    users = labelled.drop_duplicates("column").set_index("column")["users"]
    wide.columns = [f"{c} ({int(users[c])} users)" for c in wide.columns]
    wide = wide.reindex(table["model"]).reset_index()
    return f"## {primary} by group\n\n{wide.to_markdown(index=False, floatfmt='.4f')}\n"


def lead_of_best(table: pd.DataFrame, per_user: dict[str, pd.DataFrame], primary: str):
    """The best model against the next on `primary`, paired over the same users (None if not a per-user metric)."""
    if len(table) < 2 or primary not in next(iter(per_user.values())).columns:
        return None
    best, runner_up = table["model"].iloc[0], table["model"].iloc[1]
    paired = per_user[best][["user_id", primary]].merge(per_user[runner_up][["user_id", primary]], on="user_id")
    a, b = paired[f"{primary}_x"].to_numpy(), paired[f"{primary}_y"].to_numpy()
    if not greater_is_better(primary):
        a, b = -a, -b
    return best, runner_up, metrics.paired_comparison(a, b)


def plot_curves(curves: dict[str, pd.DataFrame], path: Path) -> None:
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name, frame in curves.items():
        axes[0].plot(frame["k"], frame["precision"], label=name)
        axes[1].plot(frame["k"], frame["recall"], label=name)
    for axis, label in zip(axes, ("precision@k", "recall@k")):
        axis.set_xlabel("k")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    plt.close(figure)


def write_importances(name: str, table: pd.DataFrame, folder: Path) -> list[Path]:
    """A feature-based family's importances as <folder>/<name>.csv and a bar plot per learner (.png)."""
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / f"{name}.csv") as tmp:
        table.to_csv(tmp, index=False)
    parts = list(table["model"].unique())
    figure, axes = plt.subplots(1, max(1, len(parts)), figsize=(6 * max(1, len(parts)), 6), squeeze=False)
    for axis, part in zip(axes[0], parts):
        top = table[table["model"] == part].head(20)[::-1]
        axis.barh(top["feature"], top["gain"])
        axis.set_title(f"{name}: {part} (gain)")
    figure.tight_layout()
    with atomic_path(folder / f"{name}.png") as tmp:
        figure.savefig(tmp, format="png", dpi=90)
    plt.close(figure)
    return [folder / f"{name}.csv", folder / f"{name}.png"]


def curve_table(curves: dict[str, pd.DataFrame], metric: str) -> pd.DataFrame:
    """k and one column per model of `metric` (precision or recall) at k: what `dvc plots` draws."""
    wide = pd.DataFrame({"k": next(iter(curves.values()))["k"]})
    for name, frame in curves.items():
        wide[name] = frame[metric].round(6).to_numpy()
    return wide


def leaderboard_document(table: pd.DataFrame, results: dict[str, dict], groups: pd.DataFrame, lead, primary: str,
                         k: int, skipped: dict[str, str] | None = None) -> str:
    """reports/leaderboard.md: the leaderboard with intervals, the lead of the best, by group, cold start;
    then the models that skipped themselves on this data, with the reason."""
    lead_text = "" if lead is None else f"\nLead of the best model: {lead[2].describe(primary, lead[0], lead[1])}.\n"
    skipped_text = "".join(f"\nNot run on this data: {name} ({reason}).\n" for name, reason in (skipped or {}).items())
    return (f"# Leaderboard (test split, sorted by {primary}; 95% bootstrap intervals over users)\n\n"
            f"{leaderboard_markdown(table)}\n{lead_text}{skipped_text}\n{breakdown_markdown(groups, table, primary)}\n"
            f"{cold_start_markdown(results, list(table['model']), k)}")
