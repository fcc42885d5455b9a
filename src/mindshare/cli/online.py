"""Online experiments: `experiment status|stop`, `simulate` (people replayed from the test split against a
running server) and the online half of `outcomes` (a batch export of clicks and conversions)."""

from __future__ import annotations

import argparse
import json

from mindshare.cli.settings import campaign_name, registry_settings
from mindshare.errors import MindshareError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def add_experiment(sub) -> None:
    p = sub.add_parser("experiment", help="the online experiment: its figures and verdict, or stop it",
                       description="status: per arm users, exposures, CTR@k, conversion and value per user with "
                       "intervals, and the always-valid sequential test's verdict (better / worse / keep going) with "
                       "the users still needed; recorded in the MLflow run online@v<challenger>. stop: sets "
                       "online.challenger_share to 0 in params.yaml (a running server follows within its poll).")
    p.add_argument("action", choices=("status", "stop"))
    p.add_argument("--json", action="store_true", help="status: print JSON")
    p.add_argument("--no-log", action="store_true", help="status: do not record the figures in MLflow")
    p.add_argument("--reason", help="stop: why (printed and kept in the MLflow run's tags)")
    p.set_defaults(func=cmd_experiment)


def add_simulate(sub) -> None:
    p = sub.add_parser("simulate", help="replay test-split users against a running `mindshare serve` (loopback)",
                       description="Each visit asks the server for a held-out test user's recommendations (by "
                       "pseudonym) and clicks the items of the user's test set with a position-biased probability "
                       "(marketing/simulation.py), posting the clicks and conversions to POST /events. Seeded.")
    p.add_argument("--server", default="http://127.0.0.1:8080", help="the server's address (loopback only)")
    p.add_argument("--visits", type=int, default=2000, help="requests to make (at most 100,000)")
    p.add_argument("--rate", type=float, default=200.0, help="at most this many requests per second (<= 1000)")
    p.add_argument("-k", type=int, default=10, help="items per answer")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--campaign", type=campaign_name, help="instead: simulate the campaign's audience's responses to "
                   "its send (marketing/campaign_simulation.py) into --out, a results file for `mindshare outcomes "
                   "--pseudonymised`")
    p.add_argument("--out", help="--campaign: the results file to write (CSV)")
    p.set_defaults(func=cmd_simulate)


def client_key() -> str:
    """The key a client command presents: MINDSHARE_API_KEY, else the first of the server's own keys
    (MINDSHARE_API_KEYS, then .mindshare/api_keys); one line if there is none."""
    import os

    from mindshare import layout
    from mindshare.cli.extras import require_extra

    require_extra("simulate", "serve", "fastapi")  # the server's key file format
    from mindshare.serving.api_keys import API_KEYS_ENV, configured_entries

    keys = [os.environ.get("MINDSHARE_API_KEY", "").strip()] + [entry.key for entry in configured_entries()]
    key = next((k for k in keys if k), None)
    if key is None:
        raise MindshareError(f"this command calls protected endpoints: set MINDSHARE_API_KEY (or {API_KEYS_ENV}) "
                             f"or write {layout.API_KEYS}")
    return key


def cmd_experiment(args: argparse.Namespace) -> None:
    from mindshare.project.params import load_settings, set_challenger_share

    if args.action == "stop":
        if not args.reason or not args.reason.strip():
            raise MindshareError("experiment stop: --reason must say why")
        before = set_challenger_share(0.0)
        print(f"online.challenger_share {before} -> 0 in params.yaml: {args.reason} (a running server follows "
              "at its next poll, or at once with POST /admin/reload)")
        return
    from mindshare.tracking.online_runs import current_experiment, log_online_run
    from mindshare.tracking.store import tracking_client

    settings = load_settings()
    name, _ = registry_settings(args)
    experiment = current_experiment(tracking_client(), name, settings.online)
    status, v = experiment.status, experiment.status.verdict
    run_id = None if args.no_log else log_online_run(experiment, settings.experiment_name, settings.online.alpha)
    if args.json:
        print(json.dumps({"production": experiment.production, "challenger": experiment.challenger,
                          "method": status.method, "metric": status.metric, "verdict": v.__dict__,
                          "arms": status.arms.to_dict("records"), "unmatched_events": status.unmatched_events,
                          "sample_ratio": None if status.srm is None else {**status.srm.__dict__,
                                                                            "mismatch": status.srm.mismatch},
                          "looks": len(status.looks), "mlflow_run_id": run_id}, indent=2, default=str))
        return
    print(f"{name}: challenger version {experiment.challenger} vs production version {experiment.production}, "
          f"{status.method}, metric {status.metric}")
    for row in status.arms.itertuples(index=False):
        print(f"  {row.arm:<12} users {row.users:>6}  answers {row.answers:>7}  CTR@k {row.ctr_at_k:.4f} "
              f"({row.ctr_low:.4f}-{row.ctr_high:.4f})  conversion {row.conversion_rate:.4f} "
              f"({row.conversion_low:.4f}-{row.conversion_high:.4f})  value/user {row.value_per_user:.2f}")
    interval = f"{v.low:+.4f} to {v.high:+.4f}" if v.low is not None else "not yet"
    what = "challenger - production" if status.method == "ab" else "challenger's preference share"
    needed = f"; about {v.users_still_needed} more users per arm if the effect holds" if v.users_still_needed else ""
    print(f"  {what}: {v.estimate:+.4f} (always-valid interval {interval}), p = {v.p_value:.4f}: "
          f"{v.decision.upper()}{needed}")
    if status.srm is not None:
        print(f"  {status.srm.describe()}" + (": the verdict cannot be trusted and `promote --online` refuses"
                                              if status.srm.mismatch else ""))
    if status.unmatched_events:
        print(f"  {status.unmatched_events} event(s) matched no answer within {settings.online.attribution_hours} h "
              "(not counted)")
    if run_id:
        print(f"  recorded in MLflow run online@v{experiment.challenger} ({run_id})")


def cmd_simulate(args: argparse.Namespace) -> None:
    if args.campaign:
        return simulate_campaign_results(args)
    import time
    import urllib.error
    import urllib.parse
    import urllib.request

    from mindshare import layout
    from mindshare.marketing.simulation import TestBehaviour
    from mindshare.project.outputs import read_table

    host = urllib.parse.urlparse(args.server).hostname or ""
    if host not in LOOPBACK:
        raise MindshareError(f"--server {args.server}: simulate talks to a server on this machine only (127.0.0.1)")
    if not 1 <= args.visits <= 100_000 or not 0 < args.rate <= 1000 or not 1 <= args.k <= 100:
        raise MindshareError("--visits must be 1..100000, --rate 0..1000, -k 1..100")
    key = client_key()
    people = TestBehaviour(read_table(layout.split_path("test"), "test split"), args.seed)
    base = args.server.rstrip("/")
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    clicks = conversions = 0
    started = time.perf_counter()
    for visit in range(args.visits):
        wait = started + visit / args.rate - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        user = people.next_user()
        url = f"{base}/recommend/{urllib.parse.quote(user, safe='')}?k={args.k}&pseudonymised=true"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:  # noqa: S310
                answer = json.load(response)
            reactions = people.react(user, [item["item_id"] for item in answer["items"]])
            if reactions:
                body = {"events": [{"kind": r.kind, "request_id": answer["request_id"], "item_id": r.item_id,
                                    **({"value": r.value} if r.kind == "conversion" else {})} for r in reactions]}
                request = urllib.request.Request(f"{base}/events", data=json.dumps(body).encode(), headers=headers,
                                                 method="POST")
                urllib.request.urlopen(request, timeout=10).close()  # noqa: S310
                clicks += sum(r.kind == "click" for r in reactions)
                conversions += sum(r.kind == "conversion" for r in reactions)
        except urllib.error.HTTPError as error:  # it answered, but refused: say what it said
            raise MindshareError(f"--server {args.server}: {error.code} from {error.url.split('?')[0]} at visit "
                                 f"{visit + 1}: {error.read().decode(errors='replace').strip()[:200]}") from None
        except (urllib.error.URLError, OSError) as error:
            raise MindshareError(f"--server {args.server}: {getattr(error, 'reason', error)} at visit {visit + 1}; "
                                 "is `mindshare serve` running?") from None
    print(f"simulated {args.visits} visits in {time.perf_counter() - started:.1f} s: {clicks} clicks, "
          f"{conversions} conversions posted (seed {args.seed})")


def record_online_events(path: str) -> None:
    """`mindshare outcomes --online FILE`: the export's clicks and conversions appended to the event log."""
    from pathlib import Path

    from mindshare import layout
    from mindshare.data.pseudonymise import load_project_key
    from mindshare.marketing.delivery import read_any_table
    from mindshare.marketing.online_log import EVENT_SCHEMA, events_from_export, write_rows

    file = Path(path)
    if not file.is_file():
        raise MindshareError(f"{path}: no such file")
    rows = events_from_export(read_any_table(file, ("request_id", "user_id", "item_id")), load_project_key())
    written = write_rows(layout.ONLINE_EVENTS, rows, EVENT_SCHEMA)
    kinds = {kind: sum(r["kind"] == kind for r in rows) for kind in ("click", "conversion")}
    print(f"{path}: {written} events appended to {layout.ONLINE_EVENTS} ({kinds['click']} clicks, "
          f"{kinds['conversion']} conversions); `mindshare experiment status` counts them")


def simulate_campaign_results(args: argparse.Namespace) -> None:
    import pandas as pd

    from mindshare import layout
    from mindshare.atomic_files import write_text
    from mindshare.marketing.campaign_simulation import simulate_results

    if not args.out:
        raise MindshareError("simulate --campaign: give --out FILE for the results")
    people_file = layout.audience_people_file(args.campaign)
    if not people_file.exists():
        raise MindshareError(f"campaign '{args.campaign}' has no audience people file ({people_file}): run "
                             "`dvc repro` with the campaign in params.yaml")
    results = simulate_results(pd.read_parquet(people_file), args.seed)
    write_text(results.to_csv(index=False), args.out)
    sent = results[results["sent"] == 1]
    print(f"{args.out}: {len(results)} simulated results of '{args.campaign}' ({len(sent)} sent, "
          f"{int(results['converted'].sum())} converted; true incremental conversions of the send: "
          f"{sent['true_uplift'].sum():.1f}); record them with `mindshare outcomes --campaign {args.campaign} "
          f"--file {args.out} --pseudonymised`")
