"""`mindshare bench ranking|rating`: load a MovieLens release, run a protocol, print and save results."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mindshare.atomic_files import write_json
from mindshare.bench import RANKING_MODELS, RATING_MODELS, bench_keys
from mindshare.data.movielens import read_movielens_users
from mindshare.data.schema import canonical_users
from mindshare.errors import MindshareError
from mindshare.features.item_text import item_documents

RANKING_COLUMNS = ("ndcg_at_10", "precision_at_10", "recall_at_10", "map", "recall_at_50", "pool_recall",
                   "fit_seconds")
TEMPORAL_COLUMNS = ("ndcg_at_10", "recall_at_10", "map", "repeat_hit_share_at_10", "new_item_recall_at_10",
                    "pool_recall", "fit_seconds")
RATING_COLUMNS = ("rmse", "mae", "fit_seconds")


def parse_list(text: str | None, known: dict, flag: str) -> list[str]:
    if not text:
        return list(known)
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise MindshareError(f"{flag}: unknown model '{unknown[0]}'; choose from {', '.join(known)}")
    return names


def parse_ints(text: str, flag: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise MindshareError(f"{flag}: '{text}' is not a comma-separated list of whole numbers") from None
    if not values:
        raise MindshareError(f"{flag}: give at least one value")
    return values


def load_dataset(path: str, columns: str | None = None, timestamp_format: str | None = None,
                 items_path: str | None = None, item_columns: str | None = None):
    """A MovieLens folder or zip, or any events file (with `--columns` where its names are not the
    canonical ones) and its items file (`--items`, `--item-columns`), read as `mindshare inspect` reads it."""
    from mindshare.data.inspect import load_any, parse_pairs

    if items_path is not None and (Path(path).is_dir() or path.endswith(".zip")):
        raise MindshareError("--items: a MovieLens release brings its own items; give --items with an events file")
    loaded = load_any(path, parse_pairs(columns, "--columns"), timestamp_format, items_path=items_path,
                      item_columns=parse_pairs(item_columns, "--item-columns"))
    return loaded.interactions, loaded.items, Path(path).name.removesuffix(".zip")


def format_table(results: dict[str, dict], columns: tuple[str, ...]) -> str:
    widths = [max(17, len(c) + 2) for c in columns]
    header = f"{'model':<16}" + "".join(f"{c:>{w}}" for c, w in zip(columns, widths))
    lines = [header, "-" * len(header)]
    for name, row in results.items():
        cells = "".join(f"{'-':>{w}}" if c not in row else f"{row[c]:>{w}.4f}" if c != "fit_seconds"
                        else f"{row[c]:>{w}.2f}" for c, w in zip(columns, widths))  # '-': not this family's figure
        lines.append(f"{name:<16}{cells}")
    return "\n".join(lines)


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "numpy": np.__version__}


COLD_START_MODELS = "popularity,item_knn,item_knn_ease,svd"


def run_bench(protocol: str, data: str, models: str | None, seeds: str, folds: int, json_path: str | None,
              compare_surprise: bool, given: int = 3, columns: str | None = None,
              timestamp_format: str | None = None, items_path: str | None = None,
              item_columns: str | None = None, split_protocol: str = "ms", test_days: int = 30,
              repeat: str = "auto", models_file: str | None = None) -> dict:
    frame, items, dataset = load_dataset(data, columns, timestamp_format, items_path, item_columns)
    if protocol == "cold-start":
        from mindshare.bench.cold_start import format_cold_start, run_cold_start_bench

        raw_users = read_movielens_users(data) if Path(data).is_dir() or data.endswith(".zip") else None
        users = canonical_users(raw_users) if raw_users is not None else None
        names, seed_list = (
            parse_list(models or COLD_START_MODELS, RANKING_MODELS, "--models"),
            parse_ints(seeds, "--seeds"),
        )
        with tqdm(total=len(seed_list) * (len(names) + 2), file=sys.stderr, desc="bench cold-start") as bar:
            results = run_cold_start_bench(
                frame, items, users, names, seed_list, given, progress=lambda label: _tick(bar, label)
            )
        report = {
            "protocol": protocol,
            "dataset": dataset,
            "rows": len(frame),
            "settings": {"seeds": seed_list, "k": 10, "given": given},
            "machine": machine(),
            "results": results,
        }
        print(f"cold-start protocols on {dataset} ({len(frame)} rows)")
        print(format_cold_start(results, names, given))
        if json_path:
            write_json(report, json_path)
        return report
    if protocol == "ranking":
        from mindshare.bench.ranking import run_ranking_bench

        keys = bench_keys(RANKING_MODELS, models_file, "ranking")
        names, seed_list = parse_list(models, keys, "--models"), parse_ints(seeds, "--seeds")
        if not models:  # by default: content only where the data has words, nothing that starts Spark
            names = [n for n in names if keys[n].get("algorithm") != "spark_als"
                     and (keys[n]["family"] != "content" or item_documents(items) is not None)]
        if split_protocol == "temporal":
            from mindshare.bench.ranking import run_temporal_ranking_bench

            if test_days < 1:
                raise MindshareError(f"--test-days is {test_days}; give a whole number of days >= 1")
            with tqdm(total=len(names), file=sys.stderr, desc="bench ranking (temporal)") as bar:
                results, settings = run_temporal_ranking_bench(frame, names, test_days, repeat, items,
                                                               progress=lambda label: _tick(bar, label), keys=keys)
            settings, columns = {"split": "temporal", **settings}, TEMPORAL_COLUMNS
            print(f"repeats {'included' if settings['repeat']['include'] else 'excluded'} "
                  f"({settings['repeat']['reason']}); {100 * settings['window']['test_repeat_share']:.1f}% of the "
                  f"test window's items of people with history were items they had")
        else:
            with tqdm(total=len(names) * len(seed_list), file=sys.stderr, desc="bench ranking") as bar:
                results = run_ranking_bench(frame, names, seed_list, items, progress=lambda label: _tick(bar, label),
                                            keys=keys)
            settings, columns = {"split": "ms", "seeds": seed_list, "k": 10, "train_share": 0.75}, RANKING_COLUMNS
    else:
        from mindshare.bench.rating import run_rating_bench, run_surprise

        if folds < 2:
            raise MindshareError(f"--folds is {folds}; give at least 2")
        keys = bench_keys(RATING_MODELS, models_file, "rating")
        names = parse_list(models, keys, "--models")
        steps = folds * (len(names) + (2 if compare_surprise else 0))
        with tqdm(total=steps, file=sys.stderr, desc="bench rating") as bar:
            results = run_rating_bench(frame, names, folds, items, progress=lambda label: _tick(bar, label), keys=keys)
            if compare_surprise:
                results.update(run_surprise(frame, folds, progress=lambda label: _tick(bar, label)))
        settings, columns = {"folds": folds, "kfold_random_state": 0}, RATING_COLUMNS
    report = {
        "protocol": protocol,
        "dataset": dataset,
        "rows": len(frame),
        "settings": settings,
        "machine": machine(),
        "results": results,
    }
    print(f"{protocol} protocol on {dataset} ({len(frame)} rows)")
    print(format_table(results, columns))
    for name, row in results.items():
        if "fallback_seeds" in row:
            fell = row["fallback_seeds"]
            print(f"{name}: ranked by its prior (a base family) on seed(s) {', '.join(map(str, fell))}" if fell else
                  f"{name}: its learner clearly beat its prior on its check on every seed")
    if compare_surprise and "svd" in results and "surprise_svd" in results:
        ratio = results["svd"]["fit_seconds"] / results["surprise_svd"]["fit_seconds"]
        report["svd_time_ratio_to_surprise"] = ratio
        print(f"svd time / Surprise SVD time: {ratio:.3f}")
    if json_path:
        write_json(report, json_path)
    return report


def run_keep_curve_command(data: str, keeps: str, seeds: str, json_path: str | None, columns: str | None = None,
                           timestamp_format: str | None = None) -> dict:
    """`bench ease-keep`: EASE's nDCG@10 and size against `keep` on any data set."""
    from mindshare.bench.ease_keep import format_keep_curve, run_keep_curve

    frame, _, dataset = load_dataset(data, columns, timestamp_format)
    keep_list, seed_list = parse_ints(keeps, "--keeps"), parse_ints(seeds, "--seeds")
    if any(k < 0 for k in keep_list):
        raise MindshareError(f"--keeps is {keeps}; give whole numbers >= 0 (0: dense)")
    with tqdm(total=len(keep_list) * len(seed_list), file=sys.stderr, desc="bench ease-keep") as bar:
        results = run_keep_curve(frame, keep_list, seed_list, progress=lambda label: _tick(bar, label))
    report = {"protocol": "ease-keep", "dataset": dataset, "rows": len(frame),
              "settings": {"seeds": seed_list, "k": 10, "train_share": 0.75, "l2": 200.0}, "machine": machine(),
              "results": results}
    print(f"EASE keep curve on {dataset} ({len(frame)} rows; loss = dense minus pruned)")
    print(format_keep_curve(results))
    if json_path:
        write_json(report, json_path)
    return report


def _tick(bar, label: str) -> None:
    bar.set_postfix_str(label)
    bar.update(1)
