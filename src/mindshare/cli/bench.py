"""bench: the families on the field's published protocols, cold start, the server under load, the stages at scale."""

from __future__ import annotations

import argparse

from mindshare.errors import MindshareError

SEEDS = "0,1,2,3,4"
PROTOCOLS = {
    "ranking": "the ranking families on Microsoft Recommenders' protocol (75/25 per user, k=10, mean over seeds) "
               "or forward in time (--protocol temporal)",
    "rating": "the rating families on Surprise's protocol (KFold, shuffle, random_state=0)",
    "cold-start": "users with little history, new users and new items (bench/cold_start.py)",
    "serve": "the REST server under load in this project (closed and open loop, promote and rollback during it)",
    "scale": "the shipped pipeline, stage by stage, on synthetic logs of growing size",
    "ease-keep": "EASE's quality against the weights it keeps per item",
    "online": "seeded A/A and A/B experiments replayed on a log (the sequential test's error rates)",
    "uplift": "mindshare's uplift learners beside scikit-uplift's on a randomised campaign table (bench/uplift.py)",
}


def add_bench(sub) -> None:
    bench = sub.add_parser("bench", help="benchmark the families on the field's published protocols",
                           description="One subcommand per protocol, each with its own options "
                           "(`mindshare bench PROTOCOL --help`).")
    protocols = bench.add_subparsers(dest="protocol", required=True, metavar="PROTOCOL")
    parsers = {name: protocols.add_parser(name, help=text, description=text) for name, text in PROTOCOLS.items()}
    for name in ("ranking", "rating", "cold-start", "ease-keep", "online"):
        _log_options(parsers[name])
    for name in ("ranking", "rating", "cold-start"):
        _items_options(parsers[name])
    for name, what in (("ranking", "bench keys"), ("rating", "bench keys"), ("cold-start", "bench keys"),
                       ("uplift", "uplift learners")):
        parsers[name].add_argument("--models", help=f"comma-separated {what} (default: all of the protocol's)")
    for name in ("ranking", "rating"):
        parsers[name].add_argument("--models-file", help="a bench file (YAML) of more keys: {%s: {KEY: {family: F, "
                                   "PARAM: VALUE, ...}}}, as docs/bench-variants.yaml" % name)
    for name, what in (("ranking", "split seeds (--protocol ms)"), ("cold-start", "split seeds"),
                       ("ease-keep", "split seeds"), ("uplift", "seeds of the 70/30 splits")):
        parsers[name].add_argument("--seeds", default=None if name == "ranking" else SEEDS,
                                   help=f"comma-separated {what} (default {SEEDS})")

    ranking = parsers["ranking"]
    ranking.add_argument("--protocol", dest="split_protocol", choices=("ms", "temporal"), default="ms",
                         help="ms (Microsoft Recommenders' per-user 75/25, the default) or temporal (the last "
                              "--test-days of the log to test: what each customer does next)")
    ranking.add_argument("--test-days", type=int, help="--protocol temporal: days of the test window (default 30)")
    ranking.add_argument("--repeat", choices=("auto", "include", "exclude"),
                         help="--protocol temporal: items people had, ranked and relevant (auto: by the fit data's "
                              "repeat share, as prepare.repeat; the default)")

    rating = parsers["rating"]
    rating.add_argument("--folds", type=int, default=5, help="number of folds (default 5)")
    rating.add_argument("--compare-surprise", action="store_true",
                        help="also run Surprise's SVD and BaselineOnly on the same folds (needs the bench extra)")

    parsers["cold-start"].add_argument("--given", type=int, default=3,
                                       help="training interactions each held-out user keeps (default 3)")

    serve = parsers["serve"]
    serve.add_argument("--clients", type=int, default=200, help="concurrent clients of the closed loop")
    serve.add_argument("--seconds", type=float, default=10.0, help="length of each loop")
    serve.add_argument("--max-requests", type=int, default=200_000, help="at most this many closed-loop requests")
    serve.add_argument("--rate", type=float, default=300.0, help="requests per second of the open loop")
    serve.add_argument("-k", type=int, default=10, help="items per request")
    serve.add_argument("--workers", type=int, default=1, help="server worker processes")
    serve.add_argument("--no-switch", action="store_true", help="no promote + rollback during the closed loop")

    scale = parsers["scale"]
    scale.add_argument("--rows", default="1000000,5000000,20000000",
                       help="comma-separated log sizes (default 1000000,5000000,20000000)")
    scale.add_argument("--params", default="params.yaml",
                       help="the project's params.yaml, run as shipped on the synthetic log (default params.yaml)")
    scale.add_argument("--models", help="names of the params file's models or model_params (default: its models)")
    scale.add_argument("--no-tune", action="store_true", help="skip the tune@<model> steps (train on model_params)")
    scale.add_argument("--sample-users", type=int,
                       help="test users evaluate scores (seeded sample; default: the params file's sample_users)")
    scale.add_argument("--seed", type=int, default=0, help="seed of the synthetic log")
    scale.add_argument("--engine", choices=("local", "spark"), default="local",
                       help="spark runs ingest, prepare and features on Spark (local[2]) and svd by Spark's ALS")
    scale.add_argument("--workdir", help="keep each size's workspace (params, data, MLflow store) under this folder")
    scale.add_argument("--resume", action="store_true",
                       help="go on where a run with the same --workdir and settings stopped, keeping the steps it "
                            "measured")
    scale.add_argument("--plot", help="also draw seconds against rows (log-log) to this PNG")
    scale.add_argument("--combine", help="instead of running, combine JSON reports of earlier runs at other sizes "
                                         "(comma-separated) into one: table, growth exponents, --json, --plot")

    parsers["ease-keep"].add_argument("--keeps", default="32,64,128,256,512,1024,0",
                                      help="EASE weights kept per item on average, 0 for dense "
                                           "(default 32,64,128,256,512,1024,0)")

    online = parsers["online"]
    online.add_argument("--pair", default="popularity,item_knn",
                        help="production,challenger bench keys (default popularity,item_knn)")
    online.add_argument("--runs", type=int, default=100, help="seeded A/A experiments (default 100)")
    online.add_argument("--pair-runs", type=int, default=20, help="seeded experiments of the pair per method")
    online.add_argument("--visits", type=int, default=20_000, help="most visits per experiment")
    online.add_argument("--look-every", type=int, default=100, help="visits between two looks at the test")
    online.add_argument("--share", type=float, default=0.5, help="challenger share (default 0.5)")
    online.add_argument("--metric", default="ctr", choices=("ctr", "conversion", "value"), help="the metric")
    online.add_argument("--seed", type=int, default=0, help="seed of the first experiment")

    uplift = parsers["uplift"]
    uplift.add_argument("--data", required=True, help="the campaign table (CSV or Parquet), a row per person")
    uplift.add_argument("--treatment", metavar="COLUMN=VALUE", required=True,
                        help="the arm column and the treated arm's value")
    uplift.add_argument("--control", metavar="VALUE", required=True, help="the control arm's value in that column")
    uplift.add_argument("--outcome", metavar="COLUMN", required=True,
                        help="the outcome column (0/1, or a value such as spend)")
    uplift.add_argument("--features", help="comma-separated feature columns (default: every other column but ids and "
                                           "columns that differ between the arms)")
    uplift.add_argument("--trials", type=int, default=8, help="Optuna trials per learner and seed (default 8)")
    uplift.add_argument("--folds", type=int, default=3, help="cross-fitting folds of the tuning (default 3)")
    uplift.add_argument("--truth", help="each person's true effect (an id column the data has, and true_uplift), as "
                        "`example-data --campaign` writes beside its table: adds the share of an oracle's incremental "
                        "outcomes each learner's top 30%% captures")
    uplift.add_argument("--score-column", help="with --truth: the column score targeting ranks by (adds each "
                                               "learner's captured outcomes over score targeting's)")
    uplift.add_argument("--stage", action="store_true", help="instead, time the uplift stage's fit on every row with "
                                                             "the params file's uplift settings (--params)")
    uplift.add_argument("--params", default="params.yaml", help="with --stage: the params file (default params.yaml)")

    for parser in parsers.values():
        parser.add_argument("--json", help="also write the results as JSON to this file")
        parser.set_defaults(func=cmd_bench)


def _log_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="a MovieLens folder or zip (any layout), or an events file "
                                                      "(CSV, TSV, Parquet, JSON lines)")
    parser.add_argument("--columns",
                        help="events file: canonical=file column pairs, e.g. user_id=CustomerID,item_id=StockCode")
    parser.add_argument("--timestamp-format", help="events file: strftime format or 'mixed'")


def _items_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--items", help="events file: its items file (item_id, title, categories 'A|B', price, ...), "
                                        "as ingest.items_path")
    parser.add_argument("--item-columns", help="items file: canonical=file column pairs, as ingest.item_columns")


def cmd_bench(args: argparse.Namespace) -> None:
    from mindshare.cli.extras import require_extra

    if args.protocol == "serve":
        require_extra("bench serve", "serve", "fastapi", "uvicorn", "orjson")
        require_extra("bench serve", "bench", "aiohttp")
        from mindshare.atomic_files import write_json
        from mindshare.bench.serve import format_serve, run_serve_bench

        if args.clients < 1 or args.seconds <= 0 or args.rate <= 0 or args.workers < 1:
            raise MindshareError("--clients, --seconds, --rate and --workers must be positive")
        results = run_serve_bench(args.clients, args.seconds, args.max_requests, args.rate, args.seconds, args.k,
                                  args.workers, not args.no_switch)
        print(format_serve(results))
        if args.json:
            write_json(results, args.json)
        return
    if args.protocol == "scale" and args.combine:
        from mindshare.bench.scale import run_combine_command

        run_combine_command([p for p in args.combine.split(",") if p], args.json, args.plot)
        return
    if args.protocol == "scale":
        from mindshare.bench.command import parse_ints
        from mindshare.bench.scale import run_scale_command

        run_scale_command(parse_ints(args.rows, "--rows"), args.json, args.plot, args.params, args.models,
                          not args.no_tune, args.sample_users, args.seed, args.workdir, args.resume, args.engine)
        return
    if args.protocol == "uplift":
        require_extra("bench uplift", "bench", "sklift")  # scikit-uplift: the reference learners it compares with
        from mindshare.bench.uplift import run_uplift_command

        run_uplift_command(args)
        return
    if args.protocol == "online":
        from mindshare.atomic_files import write_json
        from mindshare.bench import RANKING_MODELS
        from mindshare.bench.command import load_dataset, parse_list
        from mindshare.bench.online import format_online, run_online_bench

        pair = parse_list(args.pair, RANKING_MODELS, "--pair")
        if len(pair) != 2 or args.runs < 1 or args.pair_runs < 1 or args.visits < 1 or args.look_every < 1 \
                or not 0 < args.share < 1:
            raise MindshareError("--pair takes two bench keys; --runs, --pair-runs, --visits, --look-every must be "
                                 "positive and --share within (0, 1)")
        frame, _, _ = load_dataset(args.data, args.columns, args.timestamp_format)
        results = run_online_bench(frame, (pair[0], pair[1]), args.runs, args.pair_runs, args.visits,
                                   args.look_every, args.share, args.metric, 0.05, args.seed, print)
        print(format_online(results))
        if args.json:
            write_json(results, args.json)
        return
    if args.protocol == "ease-keep":
        from mindshare.bench.command import run_keep_curve_command

        run_keep_curve_command(args.data, args.keeps, args.seeds, args.json, args.columns, args.timestamp_format)
        return
    from mindshare.bench.command import run_bench

    if args.protocol == "ranking":
        _check_split_options(args)
    if getattr(args, "compare_surprise", False):
        require_extra("bench rating --compare-surprise", "bench", "surprise")  # scikit-surprise

    run_bench(args.protocol, args.data, args.models, getattr(args, "seeds", None) or SEEDS, getattr(args, "folds", 5),
              args.json, getattr(args, "compare_surprise", False), getattr(args, "given", 3), args.columns,
              args.timestamp_format, getattr(args, "items", None), getattr(args, "item_columns", None),
              getattr(args, "split_protocol", "ms"), _or(getattr(args, "test_days", None), 30),
              getattr(args, "repeat", None) or "auto", getattr(args, "models_file", None))


def _check_split_options(args: argparse.Namespace) -> None:
    """Options of the other split protocol are refused, not ignored."""
    if args.split_protocol == "temporal" and args.seeds is not None:
        raise MindshareError("bench ranking: --seeds is for --protocol ms; the temporal protocol has one split (the "
                             "last --test-days)")
    if args.split_protocol == "ms":
        given = [flag for flag, value in (("--test-days", args.test_days), ("--repeat", args.repeat))
                 if value is not None]
        if given:
            raise MindshareError(f"bench ranking: {' and '.join(given)} belong to --protocol temporal")


def _or(value, default):
    return default if value is None else value
