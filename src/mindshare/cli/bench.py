"""bench: the families on the field's published protocols, cold start, the server under load, the stages at scale."""

from __future__ import annotations

import argparse

from mindshare.errors import MindshareError


def add_bench(sub) -> None:
    p = sub.add_parser("bench", help="benchmark the families on the field's published protocols",
                       description="ranking: Microsoft Recommenders' movielens protocol (75/25 per user, k=10, "
                       "mean over seeds). rating: Surprise's protocol (KFold, shuffle, random_state=0). cold-start: "
                       "users with little history, new users and new items (bench/cold_start.py). uplift: "
                       "mindshare's uplift learners beside scikit-uplift's on a randomised campaign table "
                       "(bench/uplift.py).")
    p.add_argument("protocol", choices=("ranking", "rating", "cold-start", "serve", "scale", "ease-keep", "online",
                                        "uplift"))
    p.add_argument("--data", help="a MovieLens folder or zip (any layout), or an events file "
                   "(CSV, TSV, Parquet, JSON lines)")
    p.add_argument("--columns",
                   help="events file: canonical=file column pairs, e.g. user_id=CustomerID,item_id=StockCode")
    p.add_argument("--timestamp-format", help="events file: strftime format or 'mixed'")
    p.add_argument("--items", help="events file: its items file (item_id, title, categories 'A|B', price, ...), "
                   "as ingest.items_path")
    p.add_argument("--item-columns", help="items file: canonical=file column pairs, as ingest.item_columns")
    p.add_argument("--models", help="comma-separated bench keys (default: all of the protocol's); scale: names of "
                   "the params file's models or model_params (default: its models)")
    p.add_argument("--seeds", default="0,1,2,3,4", help="ranking: comma-separated split seeds (default 0,1,2,3,4)")
    p.add_argument("--protocol", dest="split_protocol", choices=("ms", "temporal"), default="ms",
                   help="ranking: ms (Microsoft Recommenders' per-user 75/25, the default) or temporal (the last "
                        "--test-days of the log to test: what each customer does next)")
    p.add_argument("--test-days", type=int, default=30, help="ranking --protocol temporal: days of the test window")
    p.add_argument("--repeat", choices=("auto", "include", "exclude"), default="auto",
                   help="ranking --protocol temporal: items people had, ranked and relevant (auto: by the fit data's "
                        "repeat share, as prepare.repeat)")
    p.add_argument("--folds", type=int, help="rating: number of folds (default 5); uplift: cross-fitting folds of "
                   "the tuning (default 3)")
    p.add_argument("--treatment", metavar="COLUMN=VALUE", help="uplift: the arm column and the treated arm's value")
    p.add_argument("--control", metavar="VALUE", help="uplift: the control arm's value in that column")
    p.add_argument("--outcome", metavar="COLUMN", help="uplift: the outcome column (0/1, or a value such as spend)")
    p.add_argument("--features", help="uplift: comma-separated feature columns (default: every other column but "
                   "ids and columns that differ between the arms)")
    p.add_argument("--trials", type=int, default=8, help="uplift: Optuna trials per learner and seed (default 8)")
    p.add_argument("--truth", help="uplift: each person's true effect (an id column the data has, and true_uplift), as "
                   "`example-data --campaign` writes beside its table: adds the share of an oracle's incremental "
                   "outcomes each learner's top 30%% captures")
    p.add_argument("--score-column", help="uplift --truth: the column score targeting ranks by (adds each learner's "
                   "captured outcomes over score targeting's)")
    p.add_argument("--stage", action="store_true", help="uplift: instead, time the uplift stage's fit on every row "
                   "with the params file's uplift settings (--params)")
    p.add_argument("--given", type=int, default=3, help="cold-start: training interactions each held-out user keeps")
    p.add_argument("--clients", type=int, default=200, help="serve: concurrent clients of the closed loop")
    p.add_argument("--seconds", type=float, default=10.0, help="serve: length of each loop")
    p.add_argument("--max-requests", type=int, default=200_000, help="serve: at most this many closed-loop requests")
    p.add_argument("--rate", type=float, default=300.0, help="serve: requests per second of the open loop")
    p.add_argument("-k", type=int, default=10, help="serve: items per request")
    p.add_argument("--workers", type=int, default=1, help="serve: server worker processes")
    p.add_argument("--no-switch", action="store_true", help="serve: no promote + rollback during the closed loop")
    p.add_argument("--rows", default="1000000,5000000,20000000",
                   help="scale: comma-separated log sizes (default 1000000,5000000,20000000)")
    p.add_argument("--params", default="params.yaml",
                   help="scale: the project's params.yaml, run as shipped on the synthetic log (default params.yaml)")
    p.add_argument("--no-tune", action="store_true", help="scale: skip the tune@<model> steps (train on model_params)")
    p.add_argument("--sample-users", type=int,
                   help="scale: test users evaluate scores (seeded sample; default: the params file's sample_users)")
    p.add_argument("--seed", type=int, default=0, help="scale: seed of the synthetic log")
    p.add_argument("--engine", choices=("local", "spark"), default="local",
                   help="scale: spark runs ingest, prepare and features on Spark (local[2]) and svd by Spark's ALS")
    p.add_argument("--workdir", help="scale: keep each size's workspace (params, data, MLflow store) under this folder")
    p.add_argument("--resume", action="store_true",
                   help="scale: go on where a run with the same --workdir and settings stopped, keeping the steps "
                        "it measured")
    p.add_argument("--plot", help="scale: also draw seconds against rows (log-log) to this PNG")
    p.add_argument("--combine", help="scale: instead of running, combine JSON reports of earlier runs at other sizes "
                                     "(comma-separated) into one: table, growth exponents, --json, --plot")
    p.add_argument("--keeps", default="32,64,128,256,512,1024,0",
                   help="ease-keep: EASE weights kept per item on average, 0 for dense (default 32,...,1024,0)")
    p.add_argument("--pair", default="popularity,item_knn",
                   help="online: production,challenger bench keys (default popularity,item_knn)")
    p.add_argument("--runs", type=int, default=100, help="online: seeded A/A experiments (default 100)")
    p.add_argument("--pair-runs", type=int, default=20, help="online: seeded experiments of the pair per method")
    p.add_argument("--visits", type=int, default=20_000, help="online: most visits per experiment")
    p.add_argument("--look-every", type=int, default=100, help="online: visits between two looks at the test")
    p.add_argument("--share", type=float, default=0.5, help="online: challenger share (default 0.5)")
    p.add_argument("--metric", default="ctr", choices=("ctr", "conversion", "value"), help="online: the metric")
    p.add_argument("--json", help="also write the results as JSON to this file")
    p.add_argument("--compare-surprise", action="store_true",
                   help="rating: also run Surprise's SVD and BaselineOnly on the same folds (needs the bench extra)")
    p.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> None:
    if args.protocol == "serve":
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
    if not args.data:
        raise MindshareError(f"bench {args.protocol}: --data is required "
                             "(a MovieLens folder or zip, or an events file)")
    if args.protocol == "uplift":
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

    run_bench(args.protocol, args.data, args.models, args.seeds, args.folds or 5, args.json, args.compare_surprise,
              args.given, args.columns, args.timestamp_format, args.items, args.item_columns, args.split_protocol,
              args.test_days, args.repeat)
