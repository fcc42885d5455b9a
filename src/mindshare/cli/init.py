"""`mindshare init DIR`: a project of one's own (git, DVC, params.yaml with its ingest block) outside the repository."""

from __future__ import annotations

import argparse
import shlex


def add_init(sub) -> None:
    p = sub.add_parser("init", help="start a project of your own: template files, git, DVC and your data",
                       description="Makes DIR (new or empty) a mindshare project: dvc.yaml, params.yaml and its "
                       "schema, .gitignore, README.md; `git init`, `dvc init`; the data copied to DIR/data/raw and "
                       "tracked with `dvc add`. With --data, params.yaml's ingest block names it (checked first, as "
                       "`mindshare inspect` does); without, the MovieLens sample is downloaded (latest-small).")
    p.add_argument("dir", metavar="DIR", help="the project folder (made if missing; refused if it has a dvc.yaml)")
    p.add_argument("--data", help="your event log (CSV, TSV, Parquet, JSON lines), or a MovieLens folder or zip")
    p.add_argument("--columns", help="canonical=file column pairs, e.g. user_id=CustomerID,item_id=StockCode,"
                   "timestamp=InvoiceDate")
    p.add_argument("--timestamp-format", help="strftime format, or 'mixed' (default: seconds or ISO 8601)")
    p.add_argument("--items", help="optional items file (item_id, title, categories 'A|B', price): ingest.items_path")
    p.add_argument("--item-columns", help="canonical=file column pairs of --items, e.g. item_id=sku,title=product")
    p.add_argument("--quiet", action="store_true", help="no download progress bar")
    p.set_defaults(func=cmd_init)


def cmd_init(args: argparse.Namespace) -> None:
    from mindshare.data.inspect import parse_pairs
    from mindshare.project.create import create_project

    project = create_project(args.dir, args.data, parse_pairs(args.columns, "--columns"), args.timestamp_format,
                             args.items, parse_pairs(args.item_columns, "--item-columns"), progress=not args.quiet)
    print(f"{project.folder}: a new mindshare project (git, DVC); ingest: {project.ingest['source']} from "
          f"{project.data}")
    if project.inspection is not None:
        report = project.inspection
        print(f"  {report['rows_kept']} of {report['rows_read']} rows kept, {report['users']} users, "
              f"{report['items']} items, {report['span_days']:.0f} days (`mindshare inspect`: the details)")
    for note in project.notes:
        print(f"  note: {note}")
    print("next (with this environment active):")
    print(f"  cd {shlex.quote(str(project.folder))}")
    print("  dvc repro                  # the whole pipeline; models and trials: `models`, `tune` in params.yaml")
    print("  mindshare leaderboard")
    print("  git commit -m 'first run'  # records dvc.lock, params and metrics (data and models stay in DVC)")
