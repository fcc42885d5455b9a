"""Pipeline commands: the last leaderboard, the leaderboard across runs (compare), a model's study (tune)."""

from __future__ import annotations

import argparse

from mindshare import layout
from mindshare.cli.settings import experiment_name
from mindshare.errors import MindshareError


def add_tune(sub) -> None:
    p = sub.add_parser("tune", help="run (or join, with --worker) a model's Optuna study as tune@<model> does",
                       description="The study named by params.yaml's tune settings; with tune.storage set to a "
                       "database URL, workers on several machines share it.")
    p.add_argument("--model", required=True, help="a name in params.yaml 'models'")
    p.add_argument("--worker", action="store_true",
                   help="only add trials to the study until it has n_trials finished (writes no outputs)")
    p.set_defaults(func=cmd_tune)


def add_compare(sub) -> None:
    p = sub.add_parser("compare", help="the leaderboard across pipeline runs, from the tracking store")
    p.add_argument("--experiment", help="MLflow experiment (default: the one params.yaml names)")
    p.add_argument("--metric", default="ndcg_at_10", help="sort by this metric (default ndcg_at_10)")
    p.add_argument("--last", type=int, default=5, help="how many recent pipeline runs (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON records")
    p.set_defaults(func=cmd_compare)


def add_leaderboard(sub) -> None:
    p = sub.add_parser("leaderboard", help="print the last evaluation's leaderboard")
    p.add_argument("--all", action="store_true", help="every metric, the breakdown by group and cold start")
    p.set_defaults(func=cmd_leaderboard)


def cmd_leaderboard(args: argparse.Namespace) -> None:
    path = layout.LEADERBOARD_MD
    if not path.exists():
        raise MindshareError(f"{path}: not found; run `dvc repro` (or `make run`) first")
    if args.all:
        print(path.read_text().rstrip())
        return
    from mindshare.evaluation.reports import compact_table, leaderboard_markdown
    from mindshare.project.outputs import read_json, read_table

    primary = read_json(layout.EVALUATION)["primary_metric"]
    lead = next((line for line in path.read_text().splitlines() if line.startswith("Lead of the best")), "")
    print(f"Leaderboard (test split, best {primary} first; 95% intervals over users; every column: --all)\n")
    print(leaderboard_markdown(compact_table(read_table(layout.LEADERBOARD_CSV, "leaderboard"), primary)))
    if lead:
        print(f"\n{lead}")


def cmd_compare(args: argparse.Namespace) -> None:
    from mindshare.tracking.compare import compare_runs, format_comparison
    from mindshare.tracking.store import tracking_client

    experiment = experiment_name(args)
    if args.last < 1:
        raise MindshareError(f"--last is {args.last}; give a whole number >= 1")
    table = compare_runs(tracking_client(), experiment, args.metric, args.last)
    if args.json:
        print(table.to_json(orient="records", indent=2))
    else:
        print(f"{experiment}: the last {args.last} pipeline run(s), best {args.metric} first")
        print(format_comparison(table, args.metric))


def cmd_tune(args: argparse.Namespace) -> None:
    """The tune@<model> stage itself, as DVC runs it (its own process); with --worker it adds trials only."""
    import subprocess
    import sys

    code = subprocess.call([sys.executable, "-m", "mindshare.stages.tune", args.model,
                            *(["--worker"] if args.worker else [])])
    if code != 0:
        sys.exit(code)  # the stage said why, in one line
