"""The retention command: prune old pipeline runs from the tracking store, sparing what the registry needs."""

from __future__ import annotations

import argparse

from mindshare.cli.settings import experiment_name
from mindshare.errors import MindshareError


def add_prune(sub) -> None:
    p = sub.add_parser(
        "prune", help="delete pipeline runs older than the newest N (and their models, artifacts), then mlflow gc",
        description="Deletes the pipeline runs (evaluate's 'pipeline' runs) older than the newest N, with their "
        "nested runs, logged models and artifacts, and the registered versions made from them, then runs "
        "`mlflow gc` so the files leave the disk. A run stays if a registered version made from it holds an "
        "alias (production, challenger, any) or appears in a promotion history. A version flagged by "
        "`mindshare forget` (mindshare.erasure_pending) is deleted with its logged model whatever its age unless "
        "an alias holds it. Tuning studies and the other stage runs (ingest, prepare, register, ...) are left "
        "alone. For DVC's cache, use `dvc gc -w`.")
    p.add_argument("--keep", type=int, required=True, metavar="N", help="how many of the newest pipeline runs to keep")
    p.add_argument("--dry-run", action="store_true", help="print what would go and the space it would free; "
                   "delete nothing")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--experiment", help="MLflow experiment (default: the one params.yaml names)")
    where.add_argument("--all-experiments", action="store_true",
                       help="every experiment of the store, keeping the newest N of each")
    p.set_defaults(func=cmd_prune)


def cmd_prune(args: argparse.Namespace) -> None:
    from mindshare.tracking.retention import find_experiments, human_size, plan_prune, prune
    from mindshare.tracking.store import configure_tracking, tracking_client

    if args.keep < 1:
        raise MindshareError(f"--keep is {args.keep}; give a whole number >= 1 (the newest runs to keep)")
    names = None if args.all_experiments else [experiment_name(args)]  # params.yaml first: a typo opens no store
    uri = configure_tracking()
    client = tracking_client()
    experiments = find_experiments(client, names)
    plan = plan_prune(client, experiments, args.keep)
    result = prune(client, plan, uri, experiments) if plan.deletes and not args.dry_run else None
    every = args.all_experiments
    print(f"{'every experiment' if every else experiments[0].name}: {plan.runs} pipeline run(s); keeping the "
          f"newest {args.keep}{' of each' if every else ''}")
    verb = "would remove" if args.dry_run else "removed"
    lines = [(run.started, f"{verb:<12} {_describe(run, every)}") for run in plan.remove]
    lines += [(run.started, f"{'kept':<12} {_describe(run, every)}  ({run.why_kept})") for run in plan.protected]
    for _, line in sorted(lines, reverse=True):
        print(line)
    for hold in plan.erasure_blocked:
        print(f"kept registered version {hold.name} {hold.version} although it holds a forgotten person ({hold.why}):"
              " promote a version trained after the erasure, then prune again")
    if not plan.deletes:
        print("nothing to prune" + (": every older run is protected" if plan.protected else ""))
        return
    for hold in plan.erased:
        print(f"{'would delete' if args.dry_run else 'deleted'} registered version {hold.name} {hold.version} and its "
              "logged model (it holds a forgotten person: mindshare.erasure_pending)")
    for hold in plan.versions:
        print(f"{'would delete' if args.dry_run else 'deleted'} registered version {hold.name} {hold.version} "
              "(no alias, not in the promotion history; made from a removed run)")
    if plan.purged_experiments:
        print(f"mlflow gc {'would also purge' if args.dry_run else 'also purged'} experiment(s) deleted earlier: "
              f"{', '.join(plan.purged_experiments)}")
    if result is None:
        print(f"would free {human_size(plan.size)} (the artifact folders of these runs and their models); "
              "nothing deleted (--dry-run)")
        return
    if not result.collected:
        print("the runs are deleted but their files remain: this store is a tracking server; run `mlflow gc` "
              "against its backend store")
    print(f"freed {human_size(result.freed)} (artifact folders and database: {human_size(result.before)} -> "
          f"{human_size(result.after)})")


def _describe(run, with_experiment: bool) -> str:
    return (f"{run.name} {run.run_id[:8]}  {run.started_text}  {run.families} families"
            + (f"  [{run.experiment}]" if with_experiment else ""))
