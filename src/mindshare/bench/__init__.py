"""Benchmarks on the field's published protocols: `mindshare bench ranking` and `bench rating`.

Each bench key maps to a family and the parameters that pick a variant; everything else is the
family's library default (the same values params.yaml ships).
"""

from __future__ import annotations

RANKING_MODELS: dict[str, dict] = {
    "popularity": {"family": "popularity"},
    "user_knn": {"family": "user_knn"},
    "item_knn": {"family": "item_knn"},
    # neighbourhood sizes, and "auto" choosing among them by a held-out probe (the re-rankers' item_knn base)
    "item_knn_200": {"family": "item_knn", "n_neighbours": 200},
    "item_knn_400": {"family": "item_knn", "n_neighbours": 400},
    "item_knn_800": {"family": "item_knn", "n_neighbours": 800},
    "item_knn_auto": {"family": "item_knn", "n_neighbours": "auto"},
    "item_knn_ease": {"family": "item_knn_ease"},
    # a shop's baselines and the buy-again family: own items by plain frequency, then with time decay and the
    # nearest users' histories (TIFU-kNN); they earn their place where repeats count (--protocol temporal)
    "own_items": {"family": "buy_again", "alpha": 1.0, "half_life_days": None},
    "buy_again": {"family": "buy_again"},
    "rp3beta": {"family": "rp3beta"},
    "slim": {"family": "slim"},
    "content": {"family": "content"},  # needs item text: the data's catalogue
    "svd": {"family": "svd"},  # implicit ALS: the family's ranking default
    "svd_ials": {"family": "svd", "algorithm": "ials"},  # the same solver, Rendle et al. 2022 settings
    "svd_truncated": {"family": "svd", "algorithm": "truncated"},
    "svd_bpr": {"family": "svd", "algorithm": "bpr"},
    "svd_spark": {"family": "svd", "algorithm": "spark_als"},  # implicit ALS on Spark MLlib: asked for by name only
    "lightgbm": {"family": "lightgbm", "learn": "ranking"},
    "lightgbm_auto_knn": {"family": "lightgbm", "learn": "ranking",  # as params.yaml ships it
                          "base_params": {"item_knn": {"n_neighbours": "auto"}}},
    # the same with iALS (Rendle et al. settings) as its second base and with the time signals: measured variants
    "lightgbm_ials": {"family": "lightgbm", "learn": "ranking",
                      "base_models": ["item_knn_ease", "svd:ials", "item_knn", "user_knn"]},
    "lightgbm_time": {"family": "lightgbm", "learn": "ranking", "signals": ["time", "content", "price"]},
    # iALS first: the learner's prior (its init_score, and its fallback) is the strongest base on shop data
    "lightgbm_ials_first": {"family": "lightgbm", "learn": "ranking",
                            "base_models": ["svd:ials", "item_knn_ease", "item_knn", "user_knn"]},
    "mlp": {"family": "mlp", "learn": "ranking"},
    # the bounds that keep large data affordable, set below the size of the synthetic 300k shop log (3,000
    # users, 750 items) to measure what each costs in quality (docs/benchmarks.md, "Bounds")
    "item_knn_ease_max_items_375": {"family": "item_knn_ease", "max_items": 375},
    "item_knn_ease_head_375_only": {"family": "item_knn_ease", "max_items": 375, "tail_neighbours": 0},
    "user_knn_candidates_1000": {"family": "user_knn", "max_candidates": 1000},
    "item_knn_candidates_375": {"family": "item_knn", "max_candidates": 375},
    "item_knn_ease_tail_among_375": {"family": "item_knn_ease", "max_items": 375, "max_candidates": 375},
    "lightgbm_all_groups": {"family": "lightgbm", "learn": "ranking", "max_groups": None},
    "lightgbm_groups_2000": {"family": "lightgbm", "learn": "ranking", "max_groups": 2000},
}
RATING_MODELS: dict[str, dict] = {
    "baseline": {"family": "baseline"},
    "user_knn": {"family": "user_knn"},
    "item_knn": {"family": "item_knn"},
    "svd": {"family": "svd", "algorithm": "biased_als"},  # the family's rating algorithm
    "lightgbm": {"family": "lightgbm", "learn": "rating"},
    # the rating learner on at most 20,000 held-out ratings (fewer folds, then a sample): max_rating_rows' cost
    "lightgbm_rating_rows_20000": {"family": "lightgbm", "learn": "rating", "max_rating_rows": 20_000},
    "mlp": {"family": "mlp", "learn": "rating"},
}
