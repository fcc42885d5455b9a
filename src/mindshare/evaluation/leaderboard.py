"""The leaderboard of one evaluate run: every model's figures as they are measured, then the report
files the evaluate stage declares (metrics.json, curves, leaderboard.{csv,md}, per-user values, breakdown)."""

from __future__ import annotations

import pandas as pd

from mindshare import layout
from mindshare.atomic_files import atomic_path, write_json, write_parquet, write_text
from mindshare.evaluation.protocol import Evaluation, breakdown, breakdown_metrics
from mindshare.evaluation.reports import curve_table, lead_of_best, leaderboard, leaderboard_document, plot_curves


class Leaderboard:
    """Models in the order they are added; after `write`, `table_` (best first by the primary metric) and
    `lead_` (the best against the next, paired over users; None with one model)."""

    def __init__(self, primary: str, k: int, segments: pd.Series | None, activity_buckets: list[int]):
        self.primary, self.k, self.segments, self.activity_buckets = primary, k, segments, activity_buckets
        self.results: dict[str, dict] = {}
        self.curves: dict[str, pd.DataFrame] = {}
        self.per_user: dict[str, pd.DataFrame] = {}
        self.breakdowns: list[pd.DataFrame] = []
        self.skipped: dict[str, str] = {}  # models that did not apply to the data, with the reason

    def add(self, name: str, evaluation: Evaluation, fit_seconds: float, cold_start_max_interactions: int) -> dict:
        """Record a model's evaluation; returns its figures (metrics, fit time, main metrics by group)."""
        groups = breakdown(evaluation.per_user, self.segments, self.activity_buckets, cold_start_max_interactions)
        self.breakdowns.append(groups.assign(model=name))
        k = self.k
        shown = list(dict.fromkeys([self.primary, f"ndcg_at_{k}", f"precision_at_{k}", f"recall_at_{k}"]))
        self.results[name] = {**evaluation.metrics, "fit_seconds": fit_seconds,
                              **breakdown_metrics(groups, [m for m in shown if m in groups.columns])}
        self.curves[name], self.per_user[name] = evaluation.curves, evaluation.per_user
        return self.results[name]

    def skip(self, name: str, reason: str) -> None:
        """A model that skipped itself on this data: noted under the leaderboard, not ranked."""
        self.skipped[name] = reason

    def lead_report(self) -> dict | None:
        lead = self.lead_
        return None if lead is None else {"best": lead[0], "next": lead[1], **lead[2].__dict__,
                                          "significant": lead[2].significant}

    def write(self) -> list:
        """Every report file of the evaluate stage (atomically), once every model is added; returns those
        logged on the pipeline run. The table and the lead (a paired bootstrap) are computed here once."""
        table, groups = leaderboard(self.results, self.primary), pd.concat(self.breakdowns, ignore_index=True)
        self.table_, self.lead_ = table, lead_of_best(table, self.per_user, self.primary)
        for metric, path in layout.CURVE_TABLES.items():
            with atomic_path(path) as tmp:
                curve_table(self.curves, metric).to_csv(tmp, index=False)
        plot_curves(self.curves, layout.CURVES_PLOT)
        with atomic_path(layout.LEADERBOARD_CSV) as tmp:
            table.to_csv(tmp, index=False, float_format="%.6g")
        write_text(leaderboard_document(table, self.results, groups, self.lead_, self.primary, self.k, self.skipped),
                   layout.LEADERBOARD_MD)
        write_parquet(pd.concat([f.assign(model=name) for name, f in self.per_user.items()], ignore_index=True),
                      layout.PER_USER)
        with atomic_path(layout.BREAKDOWN) as tmp:
            groups.to_csv(tmp, index=False, float_format="%.6g")
        write_json({name: {m: v for m, v in figures.items() if "_ci_" not in m}  # dvc metrics: no intervals
                    for name, figures in self.results.items()}, layout.METRICS)
        return [layout.BREAKDOWN, layout.LEADERBOARD_CSV, layout.LEADERBOARD_MD, layout.METRICS, layout.CURVES_PLOT]
