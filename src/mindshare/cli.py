"""The `mindshare` command: parses, calls the library, prints. Exit 0 done, 1 refused, 2 bad input."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mindshare import layout
from mindshare.errors import MindshareError
from mindshare.layout import PARAMS

EXAMPLES = """\
examples:
  mindshare leaderboard                         the last evaluation, best model first
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
  mindshare outcomes --campaign westerns --file results.csv   treatment vs control, fed back as interactions
  mindshare forget --user 1                     erase a person (then `dvc repro`)
  mindshare compare --last 3 --metric ndcg_at_10  the leaderboard across the last 3 pipeline runs
  mindshare tune --model svd --worker           one more worker for svd's study (shared tune.storage)
  mindshare serve --port 8080                   REST: /recommend/{user}, /audience/{campaign}, /docs
  mindshare bench serve --clients 200 --rate 300  load test of `serve` (closed and open loop)
  mindshare bench cold-start --data data/sample/ml-latest-small   little history, new users, new items
  mindshare bench scale --rows 1000000,5000000,20000000 --json scale.json   time and memory per stage
  mindshare inspect --data orders.csv --columns user_id=CustomerID,item_id=StockCode,timestamp=InvoiceDate
  mindshare download --release 1m               a MovieLens release, MD5 checked, into data/raw/
  mindshare example-data                        a messy shop export to try the events path on

exit codes: 0 done, 1 refused by policy (gate, nothing to roll back), 2 bad input or config.
"""


def _settings(args: argparse.Namespace):
    """Registered model name and the promotion gate's settings: the flag, else params.yaml, else defaults."""
    from mindshare.settings import PromotionSettings, RegisterSettings

    register, gate = RegisterSettings(), PromotionSettings()
    if PARAMS.exists():
        from mindshare.stages.params import load_settings

        settings = load_settings()
        register, gate = settings.register, settings.promotion
    return args.model_name or register.model_name, gate


def _client():
    from mlflow import MlflowClient

    from mindshare.tracking.store import configure_tracking

    configure_tracking()
    return MlflowClient()


def cmd_models(args: argparse.Namespace) -> None:
    from mindshare.tracking.registry import describe_versions, history

    name, _ = _settings(args)
    client = _client()
    if args.history:
        events = history(client, name)
        if not events:
            print(f"{name}: no promotions yet")
        for e in events:
            print(f"{e['seq']:>3}  {e['when']}  {e['action']:<8}  {e['from'] or '-':>4} -> {e['to']:<4}  "
                  f"by {e['who']}: {e['why']}{'  (forced)' if e.get('forced') else ''}")
        return
    rows = describe_versions(client, name)
    header = f"{'version':>7}  {'aliases':<22}  {'family':<12}  {'metric':<12}  {'value':>8}  {'created':<16}  {'git':<12}  data"
    print(header)
    for r in rows:
        value = f"{r['value']:.4f}" if r["value"] is not None else "-"
        print(f"{r['version']:>7}  {r['aliases'] or '-':<22}  {r['family']:<12}  {r['primary_metric']:<12}  {value:>8}  "
              f"{r['created']:<16}  {r['git_commit'] or '-':<12}  {r['data_fingerprint']}")


def cmd_promote(args: argparse.Namespace) -> None:
    from mindshare.tracking.registry import GateRefusal, Measured, promote
    from mindshare.tracking.store import SPLIT_FINGERPRINT_TAG

    name, gate = _settings(args)
    client = _client()

    def reevaluate(production, candidate) -> Measured | None:
        import mlflow

        served = mlflow.pyfunc.load_model(f"models:/{name}/{production.version}").unwrap_python_model()
        evaluation = _on_current_test(served.recommender, candidate.tags.get(SPLIT_FINGERPRINT_TAG, ""),
                                      served.policy_.settings)  # production's own cold-start policy
        return None if evaluation is None else Measured(evaluation.metrics, evaluation.per_user)

    try:
        event = promote(client, name, args.reason, version=args.version, force=args.force, reevaluate=reevaluate,
                        settings=gate)
    except GateRefusal as refusal:
        print("\n".join(refusal.checks))
        raise
    if event.get("checks"):
        print("\n".join(event["checks"]))
    print(f"{name}: production is now version {event['to']} (was {event['from'] or 'none'})"
          f"{' [forced]' if event['forced'] else ''}")


def _on_current_test(model, split_fingerprint: str, cold_start):
    """`model` (with its own cold-start settings) on the workspace's test split if it is the split named
    by `split_fingerprint`, else None."""
    import pandas as pd

    from mindshare.evaluation.on_test import evaluate_on_test
    from mindshare.stages import inputs
    from mindshare.stages.params import load_settings

    if not layout.PREPARE_REPORT.exists() or inputs.split_fingerprints()["split_fingerprint"] != split_fingerprint:
        return None
    evaluate = load_settings().evaluate
    return evaluate_on_test(model, evaluate, inputs.test_split(evaluate), pd.read_parquet(layout.ITEMS), cold_start,
                            inputs.users_table())


def cmd_rollback(args: argparse.Namespace) -> None:
    from mindshare.tracking.registry import rollback

    name = _settings(args)[0]
    event = rollback(_client(), name, args.reason)
    print(f"{name}: production rolled back to version {event['to']} (was {event['from']})")


def cmd_recommend(args: argparse.Namespace) -> None:
    import pandas as pd

    from mindshare.tracking.registry import PRODUCTION

    if args.k < 1:
        raise MindshareError(f"-k is {args.k}; give a whole number of at least 1")
    name, _ = _settings(args)
    version, model = _production(name)
    if args.age is not None and not 0 < args.age < 130:
        raise MindshareError(f"--age is {args.age}; give an age in years")
    request = {"user_id": [args.user], "k": [args.k]}
    if args.gender is not None or args.age is not None:
        request.update(gender=[args.gender], age=[args.age])
    result = model.predict(pd.DataFrame(request))
    cold = bool(result["cold_start"].any()) if len(result) else True
    payload = {
        "user_id": args.user,
        "model": {"name": name, "version": int(version.version), "alias": PRODUCTION},
        "cold_start": cold,
        "items": [{"item_id": r.item_id, "title": r.title, "score": float(r.score), "basis": r.basis}
                  for r in result.itertuples()],
    }
    if args.json:
        print(json.dumps(payload, indent=2))
        return
    note = f" (unknown user: {result['basis'].iloc[0]} answer)" if cold and len(result) else ""
    print(f"top {args.k} for user {args.user} from {name} version {version.version} @{PRODUCTION}{note}")
    for rank, item in enumerate(payload["items"], start=1):
        print(f"{rank:>3}. {item['title']}  [{item['item_id']}]  {item['score']:.4f}  ({item['basis']})")


def _production(name: str):
    """(registered version, the production pyfunc model) or a one-line error."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from mindshare.tracking.registry import PRODUCTION

    client = _client()
    try:
        version = client.get_model_version_by_alias(name, PRODUCTION)
    except MlflowException:
        raise MindshareError(f"'{name}' has no production version yet; run `mindshare promote --reason TEXT` first") from None
    return version, mlflow.pyfunc.load_model(f"models:/{name}@{PRODUCTION}")


def _read_table(path: Path, what: str):
    from mindshare.stages.inputs import read_table

    return read_table(path, what)


def cmd_segments(args: argparse.Namespace) -> None:
    table = _read_table(layout.SEGMENT_SUMMARY, "segments")
    if args.json:
        print(table.to_json(orient="records", indent=2))
        return
    for row in table.itertuples(index=False):
        print(f"segment {row.segment}: {row.users:>7} users ({100 * row.share:4.1f}%)  {row.description}")


def cmd_profile(args: argparse.Namespace) -> None:
    from mindshare.data.pseudonymise import load_key, pseudonymise

    user = pseudonymise([args.user], load_key(create=False))[0]
    profiles = _read_table(layout.USER_FEATURES, "user profiles").set_index("user_id")
    if user not in profiles.index:
        raise MindshareError(f"user '{args.user}' is not in the training data (a new user gets the cold-start answer)")
    segments = _read_table(layout.SEGMENTS, "segments").set_index("user_id")["segment"]
    described = _read_table(layout.SEGMENT_SUMMARY, "segments").set_index("segment")["description"]
    recommendations = _read_table(layout.RECOMMENDATIONS, "recommendations")
    mine = recommendations[recommendations["user_id"] == user].sort_values("rank")
    segment = int(segments.get(user, -1))
    payload = {"user_id": args.user, "pseudonym": user, "segment": segment,
               "segment_description": described.get(segment, ""),
               "profile": {k: round(float(v), 4) for k, v in profiles.loc[user].items()},
               "recommendations": mine[["rank", "item_id", "title"]].to_dict(orient="records")}
    if args.json:
        print(json.dumps(payload, indent=2))
        return
    print(f"user {args.user} (pseudonym {user}): segment {segment}, {payload['segment_description']}")
    for key, value in payload["profile"].items():
        print(f"  {key:<32} {value}")
    print("top recommendations:")
    for item in payload["recommendations"]:
        print(f"  {item['rank']:>3}. {item['title']}  [{item['item_id']}]")


def cmd_audience(args: argparse.Namespace) -> None:
    from mindshare.marketing.campaign_runs import single_campaign
    from mindshare.stages.inputs import known_test_split
    from mindshare.stages.params import load_settings

    settings = load_settings()
    items = _read_table(layout.ITEMS, "items")
    name = _settings(args)[0]
    version, served = _production(name)
    campaign, table, row = single_campaign(served.unwrap_python_model().recommender, settings.campaigns, args.campaign,
                                           args.budget, settings.audience, items, known_test_split())
    if args.out:
        from mindshare.atomic_files import write_text
        from mindshare.marketing.messages import audience_csv

        write_text(audience_csv(table), args.out)
    print(f"{campaign.name} from {name} version {version.version} @production: {row['audience']} users "
          f"({row['control']} control) of {row['candidates']} candidates; lift vs random {row['lift_vs_random']:.2f}, "
          f"vs most active {row['lift_vs_active']:.2f}" + (f"; written to {args.out}" if args.out else ""))
    for line in table.head(args.show).itertuples(index=False):
        print(f"  {line.user_id}  {line.score:9.4f}  {line.group:<9}  {', '.join(line.top_items)}  ({line.reason})")


def cmd_outcomes(args: argparse.Namespace) -> None:
    from mindshare.data.pseudonymise import load_key, pseudonymise
    from mindshare.marketing.feedback import outcome_report, read_results, record_outcomes
    from mindshare.stages.params import load_settings
    from mindshare.tracking.runs import log_stage_run

    audience = _read_table(layout.audience_file(args.campaign), f"audience of campaign '{args.campaign}'")
    results = read_results(args.file)
    results["user_id"] = pseudonymise(results["user_id"], load_key(create=False))
    joined = results.merge(audience[["user_id", "group", "top_item_ids"]], on="user_id", how="left")
    outside = int(joined["group"].isna().sum())
    joined = joined[joined["group"].notna()].copy()
    if joined.empty:
        raise MindshareError(f"{args.file}: none of its users is in the audience of '{args.campaign}'")
    promoted = joined["top_item_ids"].fillna("").astype(str).map(lambda text: text.split("|")[0] or None)
    joined["item_id"] = joined["item_id"].fillna(promoted) if "item_id" in joined else promoted
    report = outcome_report(joined)
    added = record_outcomes(args.campaign, joined)
    metrics = {f"{group}.{name}": float(values["value"] if "value" in values else values["successes"] / max(values["trials"], 1))
               for group in ("treatment", "control") for name, values in report[group].items() if isinstance(values, dict)
               and values["trials"]}
    if "uplift" in report:
        metrics.update({f"uplift.{k}": float(v) for k, v in report["uplift"].items()})
    log_stage_run(f"outcomes@{args.campaign}", load_settings().experiment_name, {"campaign": args.campaign,
                  "rows": len(results), "outside_audience": outside}, metrics, {"mindshare.campaign": args.campaign})
    if args.json:
        print(json.dumps({"campaign": args.campaign, "outside_audience": outside, "interactions_added": added,
                          **report}, indent=2, default=float))
        return
    print(f"{args.campaign}: {len(joined)} users with outcomes ({outside} not in the audience, counted and left out)")
    for group in ("treatment", "control"):
        part = report[group]
        for name in ("ctr", "open_rate", "conversion"):
            r = part[name]
            if r["trials"]:
                print(f"  {group:<9} {name:<10} {r['successes'] / r['trials']:.4f}  "
                      f"(95% CI {r['low']:.4f}-{r['high']:.4f}, {r['successes']}/{r['trials']})")
    if "uplift" in report:
        u = report["uplift"]
        print(f"  conversion uplift (treatment - control): {u['conversion_difference']:+.4f} "
              f"(95% CI {u['low']:+.4f} to {u['high']:+.4f})")
    print(f"{added} clicks and conversions recorded as interactions for the next `dvc repro`")


def cmd_forget(args: argparse.Namespace) -> None:
    from mindshare.data.pseudonymise import load_key, pseudonymise
    from mindshare.marketing.feedback import erase_from, forget

    pseudonym = pseudonymise([args.user], load_key(create=False))[0]
    new = forget(pseudonym)
    removed = erase_from(pseudonym, [layout.INTERACTIONS, layout.USERS]).get(layout.INTERACTIONS, 0)
    print(f"user {args.user}: {'added to' if new else 'already on'} {layout.FORGET_LIST}; {removed} ingested rows removed. "
          "Run `dvc repro` to rebuild splits, features, models, audiences and registry versions without them. "
          "Not reached: earlier MLflow runs and model versions, the DVC cache of earlier outputs, and copies "
          "made elsewhere; delete those runs (`mlflow gc`) and `dvc gc` to finish.")


def cmd_leaderboard(args: argparse.Namespace) -> None:
    path = layout.LEADERBOARD_MD
    if not path.exists():
        raise MindshareError(f"{path}: not found; run `dvc repro` (or `make run`) first")
    print(path.read_text().rstrip())


def cmd_compare(args: argparse.Namespace) -> None:
    from mindshare.tracking.compare import compare_runs, format_comparison

    experiment = args.experiment
    if experiment is None:
        if not PARAMS.exists():
            raise MindshareError("no params.yaml here: run from the project folder or pass --experiment")
        from mindshare.stages.params import load_settings

        experiment = load_settings().experiment_name
    if args.last < 1:
        raise MindshareError(f"--last is {args.last}; give a whole number >= 1")
    table = compare_runs(_client(), experiment, args.metric, args.last)
    if args.json:
        print(table.to_json(orient="records", indent=2))
    else:
        print(f"{experiment}: the last {args.last} pipeline run(s), best {args.metric} first")
        print(format_comparison(table, args.metric))


def cmd_example_data(args: argparse.Namespace) -> None:
    from mindshare.atomic_files import atomic_path
    from mindshare.data.shop_example import COLUMNS, ShopSpec, make_shop_export

    if args.rows < 100:
        raise MindshareError(f"--rows is {args.rows}; give at least 100")
    export, items = make_shop_export(ShopSpec(n_views=args.rows, n_users=max(args.rows // 30, 10),
                                              n_items=max(args.rows // 120, 10), seed=args.seed))
    out = Path(args.out)
    items_path = out.with_name(f"{out.stem}_items.csv")
    for frame, path in ((export, out), (items, items_path)):
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False)
    print(f"{out}: {len(export)} rows (views, carts, purchases, returns; with the usual mess); {items_path}: "
          f"{len(items)} products. Column map: {','.join(f'{k}={v}' for k, v in COLUMNS.items())}")


def cmd_serve(args: argparse.Namespace) -> None:
    import os

    import uvicorn

    from mindshare.serving.app import from_environment

    if not 1 <= args.max_k <= 200:
        raise MindshareError(f"--max-k is {args.max_k}; give 1 to 200")
    if args.workers < 1 or args.max_batch < 1 or args.poll_seconds <= 0:
        raise MindshareError("--workers, --max-batch and --poll-seconds must be positive")
    os.environ.update(MINDSHARE_SERVE_MODEL=_settings(args)[0], MINDSHARE_SERVE_MAX_K=str(args.max_k),
                      MINDSHARE_SERVE_POLL_SECONDS=str(args.poll_seconds), MINDSHARE_SERVE_MAX_BATCH=str(args.max_batch))
    if args.workers == 1:
        app = from_environment()  # load before listening: a missing production version is one line, exit 2
        print(f"serving {app.title} on http://{args.host}:{args.port} (docs: /docs)", flush=True)
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    else:
        print(f"serving on http://{args.host}:{args.port} with {args.workers} workers (docs: /docs)", flush=True)
        uvicorn.run("mindshare.serving.app:from_environment", factory=True, host=args.host, port=args.port,
                    workers=args.workers, log_level="warning", access_log=False)


def cmd_inspect(args: argparse.Namespace) -> None:
    from mindshare.data.inspect import format_inspection, inspect_data, load_any, parse_pairs

    loaded = load_any(args.data, parse_pairs(args.columns, "--columns"), args.timestamp_format,
                      parse_pairs(args.cleaning, "--cleaning"))
    report = inspect_data(loaded)
    print(json.dumps(report, indent=2) if args.json else format_inspection(report))


def cmd_download(args: argparse.Namespace) -> None:
    from mindshare.data.download import download_release, release_file

    if args.release:
        target = download_release(args.release, Path(args.to), args.base_url, progress=not args.quiet)
    else:  # what params.yaml asks for: a release at ingest.path that is not there yet
        from mindshare.stages.params import load_settings

        ingest = load_settings().ingest
        release, path = ingest.release, Path(str(ingest.path))
        if ingest.source != "movielens" or not release or path.exists():
            print(f"nothing to download: ingest.path {path} is {'there' if path.exists() else 'not a release'}")
            return
        if path != release_file(release, path.parent):
            raise MindshareError(f"params.yaml: ingest.path is {path}; to download release {release} there, "
                                 f"name it {release_file(release, path.parent)}")
        target = download_release(release, path.parent, args.base_url, progress=not args.quiet)
    print(f"{target}: checksum verified. Track it with `dvc add {target}`; ingest it with "
          f"`dvc exp run -S ingest.path={target}` (or set ingest.path in params.yaml).")


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
    if args.protocol == "scale":
        from mindshare.bench.command import parse_ints
        from mindshare.bench.scale import run_scale_command

        run_scale_command(parse_ints(args.rows, "--rows"), args.json, args.plot, args.sample_users, args.seed,
                          args.workdir)
        return
    if not args.data:
        raise MindshareError(f"bench {args.protocol}: --data is required (a MovieLens folder or zip, or an events file)")
    from mindshare.bench.command import run_bench

    run_bench(args.protocol, args.data, args.models, args.seeds, args.folds, args.json, args.compare_surprise,
              args.given, args.columns, args.timestamp_format)


def cmd_tune(args: argparse.Namespace) -> None:
    import logging

    from mindshare.stages.tune import tune

    logging.basicConfig(level=logging.INFO, format="%(asctime)s tune: %(message)s", datefmt="%H:%M:%S")
    summary = tune(args.model, worker=args.worker)
    print(json.dumps({k: summary[k] for k in ("study", "metric", "best_value", "best_params", "trials")}, indent=2))


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
    parser.add_argument("--model-name", help="registered model name (default: register.model_name in params.yaml)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("models", help="list registered versions with aliases, metric and lineage")
    p.add_argument("--history", action="store_true", help="print the promotion and rollback history instead")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("promote", help="move alias 'production' to the challenger (or --version), through the gate")
    p.add_argument("--version", help="the version to promote (default: the one with alias 'challenger')")
    p.add_argument("--reason", required=True, help="why; kept in the history")
    p.add_argument("--force", action="store_true", help="promote even if the quality gate refuses")
    p.set_defaults(func=cmd_promote)

    p = sub.add_parser("rollback", help="move 'production' back to the version it replaced (one step per call)")
    p.add_argument("--reason", required=True, help="why; kept in the history")
    p.set_defaults(func=cmd_rollback)

    p = sub.add_parser("recommend", help="top-k items for a user from the production model")
    p.add_argument("--user", required=True, help="the raw user id (hashed inside with the local key)")
    p.add_argument("-k", type=int, default=10, help="how many items (default 10)")
    p.add_argument("--gender", help="for a person not seen in training: their gender as in the users file")
    p.add_argument("--age", type=int, help="for a person not seen in training: their age in years")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_recommend)

    p = sub.add_parser("bench", help="benchmark the families on the field's published protocols",
                       description="ranking: Microsoft Recommenders' movielens protocol (75/25 per user, k=10, "
                       "mean over seeds). rating: Surprise's protocol (KFold, shuffle, random_state=0). cold-start: "
                       "users with little history, new users and new items (bench/cold_start.py).")
    p.add_argument("protocol", choices=("ranking", "rating", "cold-start", "serve", "scale"))
    p.add_argument("--data", help="a MovieLens folder or zip (any layout), or an events file "
                   "(CSV, TSV, Parquet, JSON lines)")
    p.add_argument("--columns", help="events file: canonical=file column pairs, e.g. user_id=CustomerID,item_id=StockCode")
    p.add_argument("--timestamp-format", help="events file: strftime format or 'mixed'")
    p.add_argument("--models", help="comma-separated bench keys (default: all of the protocol's)")
    p.add_argument("--seeds", default="0,1,2,3,4", help="ranking: comma-separated split seeds (default 0,1,2,3,4)")
    p.add_argument("--folds", type=int, default=5, help="rating: number of folds (default 5)")
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
    p.add_argument("--sample-users", type=int, default=10_000, help="scale: test users evaluate scores (seeded sample)")
    p.add_argument("--seed", type=int, default=0, help="scale: seed of the synthetic log, the split and the sample")
    p.add_argument("--workdir", help="scale: keep each size's workspace (params, data, MLflow store) under this folder")
    p.add_argument("--plot", help="scale: also draw seconds against rows (log-log) to this PNG")
    p.add_argument("--json", help="also write the results as JSON to this file")
    p.add_argument("--compare-surprise", action="store_true",
                   help="rating: also run Surprise's SVD and BaselineOnly on the same folds (needs the bench extra)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("serve", help="serve the production model over REST (FastAPI; /docs, /openapi.json)",
                       description="GET /recommend/{user_id}, POST /recommend, GET /audience/{campaign}, GET /health, "
                       "GET /version, POST /admin/reload. Follows the production alias without a restart.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (each loads the model)")
    p.add_argument("--max-k", type=int, default=100, help="the largest k a request may ask for (default 100)")
    p.add_argument("--max-batch", type=int, default=1000, help="the most users in one POST /recommend")
    p.add_argument("--poll-seconds", type=float, default=5.0, help="how often to check the production alias")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("example-data", help="write a messy e-commerce export (and its items file) to try things on")
    p.add_argument("--out", default="data/example/shop_events.csv", help="where (default data/example/shop_events.csv)")
    p.add_argument("--rows", type=int, default=60000, help="product views to simulate (default 60000)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_example_data)

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

    p = sub.add_parser("download", help="download a MovieLens release and check its published MD5",
                       description="Without --release: the release params.yaml names (ingest.release) to "
                       "ingest.path, if it is not there yet (`make run` calls this first).")
    p.add_argument("--release", help="100k, 1m, 10m, 20m, 25m, 32m, latest-small or latest")
    p.add_argument("--to", default="data/raw", help="folder for the zip (default data/raw)")
    p.add_argument("--base-url", help="a mirror (default GroupLens, or $MINDSHARE_MOVIELENS_URL)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("tune", help="run (or join, with --worker) a model's Optuna study as tune@<model> does",
                       description="The study named by params.yaml's tune settings; with tune.storage set to a "
                       "database URL, workers on several machines share it.")
    p.add_argument("--model", required=True, help="a name in params.yaml 'models'")
    p.add_argument("--worker", action="store_true",
                   help="only add trials to the study until it has n_trials finished (writes no outputs)")
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("compare", help="the leaderboard across pipeline runs, from the tracking store")
    p.add_argument("--experiment", help="MLflow experiment (default: the one params.yaml names)")
    p.add_argument("--metric", default="ndcg_at_10", help="sort by this metric (default ndcg_at_10)")
    p.add_argument("--last", type=int, default=5, help="how many recent pipeline runs (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON records")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("segments", help="the user segments of the last features stage, described in words")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_segments)

    p = sub.add_parser("profile", help="one user's profile, segment and top recommendations")
    p.add_argument("--user", required=True, help="the raw user id (hashed inside with the local key)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser("audience", help="a campaign's audience from the production model")
    p.add_argument("--campaign", required=True, help="a campaign name in params.yaml")
    p.add_argument("--budget", type=int, help="override the campaign's budget (users)")
    p.add_argument("--out", help="write the audience as CSV to this file")
    p.add_argument("--show", type=int, default=10, help="print this many rows (default 10)")
    p.set_defaults(func=cmd_audience)

    p = sub.add_parser("outcomes", help="what a campaign achieved: CTR and conversion of treatment vs control")
    p.add_argument("--campaign", required=True, help="the campaign (its audience file in data/audiences/)")
    p.add_argument("--file", required=True, help="CSV: user_id (raw), sent, opened, clicked, converted [, item_id]")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_outcomes)

    p = sub.add_parser("forget", help="erase a person: off the ingested data now, out of every output next repro")
    p.add_argument("--user", required=True, help="the raw user id")
    p.set_defaults(func=cmd_forget)

    p = sub.add_parser("leaderboard", help="print the last evaluation's leaderboard")
    p.set_defaults(func=cmd_leaderboard)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
