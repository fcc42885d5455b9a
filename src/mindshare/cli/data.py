"""Data commands: inspect a file as ingest would see it, download a MovieLens release, write the example export."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mindshare.errors import MindshareError

EXAMPLE_OUT = "data/example/shop_events.csv"


def add_example_data(sub) -> None:
    p = sub.add_parser("example-data", help="write a messy e-commerce export (and its items file) to try things on")
    p.add_argument("--out", default=EXAMPLE_OUT, help=f"where (default {EXAMPLE_OUT})")
    p.add_argument("--rows", type=int, default=60000, help="product views to simulate (default 60000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--synthetic", action="store_true",
                   help="instead: the clean synthetic shop log of `bench scale` (--rows events, rows/100 users, "
                   "rows/400 items) as Parquet, and its items file beside it")
    p.add_argument("--campaign", action="store_true",
                   help="instead: a randomised campaign of --rows simulated people (features, treatment, converted, "
                   "spend), CSV or Parquet by --out's suffix, for `bench uplift`; their true effects in "
                   "<out>_truth beside it (data/campaign_people.py)")
    p.set_defaults(func=cmd_example_data)


def add_inspect(sub) -> None:
    p = sub.add_parser("inspect", help="what the pipeline would see in a data file: rows, users, items, drops",
                       description="A folder or zip is read as MovieLens; any other file as an events log "
                       "(CSV, TSV, Parquet, JSON lines) through ingest's cleaning rules and checks.")
    p.add_argument("--data", required=True, help="a file, or a MovieLens folder or zip")
    p.add_argument("--columns", help="canonical=file column pairs, e.g. user_id=CustomerID,item_id=StockCode")
    p.add_argument("--timestamp-format", help="strftime format, or 'mixed' (default: seconds or ISO 8601)")
    p.add_argument("--cleaning", help="rule=action pairs as in params.yaml ingest.cleaning, e.g. "
                   "unparseable_timestamp=drop")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_inspect)


def add_download(sub) -> None:
    p = sub.add_parser("download", help="download a MovieLens release and check its published MD5",
                       description="Without --release: the release params.yaml names (ingest.release) to "
                       "ingest.path, if it is not there yet (`make run` calls this first).")
    p.add_argument("--release", help="100k, 1m, 10m, 20m, 25m, 32m, latest-small or latest")
    p.add_argument("--to", default="data/raw", help="folder for the zip (default data/raw)")
    p.add_argument("--base-url", help="a mirror (default GroupLens, or $MINDSHARE_MOVIELENS_URL)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_download)


def cmd_example_data(args: argparse.Namespace) -> None:
    from mindshare.data.shop_example import COLUMNS, ShopSpec, write_shop_export

    if args.rows < 100:
        raise MindshareError(f"--rows is {args.rows}; give at least 100")
    if args.campaign:
        from mindshare.data.campaign_people import CampaignPeople, write_campaign

        out = Path(args.out if args.out != EXAMPLE_OUT else "data/example/campaign.csv")
        truth = write_campaign(CampaignPeople(n_people=args.rows, seed=args.seed), out)
        print(f"{out}: {args.rows} people of a randomised campaign (treatment 1 = sent); {truth}: their true "
              f"effects. Try: mindshare bench uplift --data {out} --treatment treatment=1 --control 0 "
              "--outcome converted")
        return
    if args.synthetic:
        from mindshare.data.synthetic import scaled_spec, write_synthetic_events

        out = Path(args.out)
        if out.suffix != ".parquet":
            raise MindshareError(f"--out {out}: the synthetic log is written as Parquet; name a .parquet file")
        items_path = out.with_name(f"{out.stem}_items.parquet")
        rows = write_synthetic_events(scaled_spec(args.rows, seed=args.seed), out, items_path)
        print(f"{out}: {rows} events (user_id, item_id, timestamp, price); {items_path}: its items "
              "(item_id, title, categories 'A|B', price)")
        return
    export, items, items_path = write_shop_export(ShopSpec.of_size(args.rows, args.seed), args.out)
    print(f"{Path(args.out)}: {len(export)} rows (views, carts, purchases, returns; with the usual mess); "
          f"{items_path}: {len(items)} products. Column map: {','.join(f'{k}={v}' for k, v in COLUMNS.items())}")


def cmd_inspect(args: argparse.Namespace) -> None:
    from mindshare.data.inspect import format_inspection, inspect_data, load_any, parse_pairs

    loaded = load_any(args.data, parse_pairs(args.columns, "--columns"), args.timestamp_format,
                      parse_pairs(args.cleaning, "--cleaning"))
    report = inspect_data(loaded)
    print(json.dumps(report, indent=2) if args.json else format_inspection(report))


def cmd_download(args: argparse.Namespace) -> None:
    from mindshare.data.download import download_release, missing_release

    if args.release:
        target = download_release(args.release, Path(args.to), args.base_url, progress=not args.quiet)
    else:  # what params.yaml asks for: a release at ingest.path that is not there yet
        from mindshare.project.params import load_settings

        ingest = load_settings().ingest
        path = Path(str(ingest.path))
        release = missing_release(ingest.source, ingest.release, path)
        if release is None:
            print(f"nothing to download: ingest.path {path} is {'there' if path.exists() else 'not a release'}")
            return
        target = download_release(release, path.parent, args.base_url, progress=not args.quiet)
    print(f"{target}: checksum verified. Track it with `dvc add {target}`; ingest it with "
          f"`dvc exp run -S ingest.path={target}` (or set ingest.path in params.yaml).")
