"""The parser of `mindshare` (every subcommand, in the order --help lists them) and the dispatch:
a mistake in the arguments or the input is one line and exit 2, a refusal by policy one line and exit 1."""

from __future__ import annotations

import argparse
import sys

from mindshare import __version__
from mindshare.cli import (
    answers,
    bench,
    data,
    init,
    marketing,
    online,
    pipeline,
    registry,
    retention,
    ui,
)
from mindshare.errors import MindshareError

EXAMPLES = """\
examples:
  mindshare init shop --data orders.csv --columns user_id=CustomerID,item_id=StockCode,timestamp=InvoiceDate
                                                a project of your own: git, DVC, params.yaml naming your data
  mindshare leaderboard [--all]                 the last evaluation, best model first (--all: every column)
  mindshare models                              registered versions, aliases, metric, lineage
  mindshare models --history                    every promotion and rollback
  mindshare promote --reason "beats popularity" challenger -> production, through the quality gate
  mindshare promote --version 3 --reason "hotfix" --force
  mindshare rollback --reason "CTR dropped"     production back one step
  mindshare recommend --user 1 -k 10 --json     top-10 for raw user id 1 from @production
  mindshare bench ranking --data data/sample/ml-latest-small --seeds 0,1,2,3,4 --json ranking.json
  mindshare bench rating --data data/sample/ml-latest-small --folds 5 --compare-surprise
  mindshare segments                            user segments, described in words
  mindshare profile --user 1                    one user's profile, segment and top recommendations
  mindshare audience --campaign westerns --budget 100 --out westerns.csv
  mindshare audience --campaign westerns --resolve customers.csv --out send.csv   raw ids for sending, only there
  mindshare outcomes --campaign westerns --file results.csv   treatment vs control, fed back as interactions
  mindshare forget --user 1                     erase a person (then `dvc repro`)
  mindshare experiment status                   the online experiment: figures per arm and the sequential verdict
  mindshare simulate --visits 2000              test users replayed against `mindshare serve` (loopback)
  mindshare compare --last 3 --metric ndcg_at_10  the leaderboard across the last 3 pipeline runs
  mindshare prune --keep 5 --dry-run            what deleting all but the newest 5 pipeline runs would free
  mindshare ui --port 5000                      how to start the MLflow UI, and the URL of the runs table
  mindshare tune --model svd --worker           one more worker for svd's study (shared tune.storage)
  mindshare serve --port 8080                   REST: /recommend/{user}, /audience/{campaign}, /events, /docs
  mindshare outcomes --online clicks.csv        a batch of clicks and conversions for the online experiment
  mindshare promote --online --reason "won A/B" through the online experiment's sequential test
  mindshare bench serve --clients 200 --rate 300  load test of `serve` (closed and open loop)
  mindshare bench cold-start --data data/sample/ml-latest-small   little history, new users, new items
  mindshare bench scale --rows 1000000,5000000,20000000 --json scale.json   time and memory per stage
  mindshare inspect --data orders.csv --columns user_id=CustomerID,item_id=StockCode,timestamp=InvoiceDate
  mindshare download --release 1m               a MovieLens release, MD5 checked, into data/raw/
  mindshare example-data                        a messy shop export to try the events path on
  mindshare completion bash > ~/.local/share/bash-completion/completions/mindshare   tab completion

exit codes: 0 done, 1 refused by policy (gate, nothing to roll back), 2 bad input or config.
"""

COMMANDS = (
    init.add_init, registry.add_models, registry.add_promote, registry.add_rollback, answers.add_recommend,
    bench.add_bench, answers.add_serve, data.add_example_data, data.add_inspect, data.add_download, pipeline.add_tune,
    pipeline.add_compare, retention.add_prune, marketing.add_segments, marketing.add_profile,
    marketing.add_audience, marketing.add_outcomes, marketing.add_forget, online.add_experiment, online.add_simulate,
    pipeline.add_leaderboard, ui.add_ui,
)


SHELLS = ("bash", "zsh", "tcsh")


def add_completion(sub) -> None:
    p = sub.add_parser("completion", help="print the shell completion script (bash, zsh or tcsh)",
                       description="Prints a completion script generated from this parser (shtab), so it never falls "
                       "behind. bash: `mindshare completion bash > ~/.local/share/bash-completion/completions/"
                       "mindshare`; zsh: write it as `_mindshare` into a folder of your fpath.")
    p.add_argument("shell", choices=SHELLS)
    p.set_defaults(func=cmd_completion)


def cmd_completion(args: argparse.Namespace) -> None:
    import shtab

    print(shtab.complete(build_parser(), shell=args.shell))


class OneLineParser(argparse.ArgumentParser):
    """Argument mistakes: one line and exit 2 (argparse would print the usage too)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="mindshare",
        description="Recommendations and campaign audiences from an experiment-tracked pipeline. "
        "Run `dvc repro` to build; these commands use its MLflow store and registry.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mindshare {__version__}")
    parser.add_argument("--model-name", help="registered model name (default: register.model_name in params.yaml)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (*COMMANDS, add_completion):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from mindshare.tracking.store import quiet_mlflow

    quiet_mlflow()
    try:
        args.func(args)
    except MindshareError as error:
        print(f"mindshare {args.command}: {'refused' if error.exit_code == 1 else 'error'}: {error}", file=sys.stderr)
        return error.exit_code
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as a Unix filter does
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 0
    return 0
