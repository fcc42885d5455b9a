"""The leaderboard's reports: the compact table a person reads first, and figures that do not depend on
the model printed once."""

from __future__ import annotations

import pandas as pd

from mindshare.evaluation.reports import cold_start_markdown, compact_table, leaderboard

RESULTS = {
    "a": {"ndcg_at_10": 0.30, "ndcg_at_10_ci_low": 0.28, "ndcg_at_10_ci_high": 0.32, "precision_at_10": 0.2,
          "recall_at_10": 0.1, "map_at_10": 0.05, "coverage_at_10": 0.4, "novelty_at_10": 2.0, "fit_seconds": 1.0,
          "cold_start_ndcg_at_10": 0.2, "cold_start_users": 7, "new_items_ndcg_at_10": 0.05, "new_items_users": 9},
    "b": {"ndcg_at_10": 0.35, "ndcg_at_10_ci_low": 0.33, "ndcg_at_10_ci_high": 0.37, "precision_at_10": 0.25,
          "recall_at_10": 0.12, "map_at_10": 0.06, "coverage_at_10": 0.3, "novelty_at_10": 2.1, "fit_seconds": 2.0,
          "rmse": 0.9, "cold_start_ndcg_at_10": 0.25, "cold_start_users": 7, "new_items_ndcg_at_10": 0.05,
          "new_items_users": 9},
}


def test_the_compact_leaderboard_keeps_the_columns_people_compare():
    table = compact_table(leaderboard(RESULTS, "ndcg_at_10"), "ndcg_at_10")
    assert list(table.columns) == ["model", "ndcg_at_10", "ndcg_at_10_ci_low", "ndcg_at_10_ci_high",
                                   "precision_at_10", "recall_at_10", "map_at_10", "coverage_at_10", "rmse",
                                   "fit_seconds"]
    assert list(table["model"]) == ["b", "a"] and pd.isna(table.set_index("model").loc["a", "rmse"])


def test_cold_start_figures_that_do_not_depend_on_the_model_are_printed_once():
    text = cold_start_markdown(RESULTS, ["b", "a"], 10)
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert "little history: policy" in table[0] and "new items" not in table[0] and len(table) == 4
    assert text.count("0.0500") == 1 and "The same for every model: users 7; new items: user's categories " \
                                            "0.0500; users 9." in text
