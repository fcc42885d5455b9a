"""Marketing commands: segments, one person's profile, a campaign's audience, its outcomes, erasure (forget)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from mindshare import layout
from mindshare.cli.settings import campaign_name, registry_settings
from mindshare.errors import MindshareError

if TYPE_CHECKING:
    import pandas as pd

    from mindshare.marketing.campaigns import Campaign
    from mindshare.marketing.delivery import Customers
    from mindshare.settings import Settings


def add_segments(sub) -> None:
    p = sub.add_parser("segments", help="the user segments of the last features stage, described in words")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_segments)


def add_profile(sub) -> None:
    p = sub.add_parser("profile", help="one user's profile, segment and top recommendations")
    p.add_argument("--user", required=True, help="the raw user id (hashed inside with the local key)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_profile)


def add_audience(sub) -> None:
    p = sub.add_parser("audience", help="a campaign's audience from the production model")
    p.add_argument("--campaign", required=True, type=campaign_name, help="a campaign name in params.yaml")
    p.add_argument("--budget", type=int, help="override the campaign's budget (users)")
    p.add_argument("--out", help="write the audience as CSV to this file (with --resolve: the send list)")
    p.add_argument("--show", type=int, default=10, help="print this many rows (default 10)")
    p.add_argument("--resolve", metavar="CUSTOMERS",
                   help="your list of raw ids (CSV, TSV, Parquet or JSON lines): write to --out the send list of the "
                   "audience members in it (raw user_id, channel, message, group; control listed, no message)")
    p.add_argument("--id-column", help="the raw-id column of --resolve's file (default user_id)")
    p.set_defaults(func=cmd_audience)


def add_outcomes(sub) -> None:
    p = sub.add_parser("outcomes", help="what a campaign achieved: CTR and conversion of treatment vs control; "
                       "or (--online) a batch of clicks and conversions for the online experiment")
    p.add_argument("--campaign", type=campaign_name, help="the campaign (its audience file in data/audiences/)")
    p.add_argument("--file", help="CSV: user_id (raw), sent, opened, clicked, converted [, item_id, value]")
    p.add_argument("--pseudonymised", action="store_true", help="--file's user_id are the audience's pseudonyms "
                   "already (`mindshare simulate --campaign` writes such a file), not raw ids")
    p.add_argument("--online", metavar="FILE", help="append a batch export of clicks and conversions to the online "
                   "experiment's event log: kind (click | conversion), request_id or user_id (raw) + item_id, "
                   "optional value and time (CSV, TSV, Parquet or JSON lines)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_outcomes)


def add_forget(sub) -> None:
    p = sub.add_parser("forget", help="erase a person: off the ingested data now, out of every output next repro")
    p.add_argument("--user", required=True, help="the raw user id")
    p.set_defaults(func=cmd_forget)


def cmd_segments(args: argparse.Namespace) -> None:
    from mindshare.project.outputs import read_table

    table = read_table(layout.SEGMENT_SUMMARY, "segments")
    if args.json:
        print(table.to_json(orient="records", indent=2))
        return
    for row in table.itertuples(index=False):
        print(f"segment {row.segment}: {row.users:>7} users ({100 * row.share:4.1f}%)  {row.description}")


def cmd_profile(args: argparse.Namespace) -> None:
    from mindshare.data.pseudonymise import load_project_key
    from mindshare.project.outputs import user_profile

    payload = user_profile(args.user, load_project_key())
    if args.json:
        print(json.dumps(payload, indent=2))
        return
    print(f"user {args.user} (pseudonym {payload['pseudonym']}): segment {payload['segment']}, "
          f"{payload['segment_description']}")
    for key, value in payload["profile"].items():
        print(f"  {key:<32} {value}")
    print("top recommendations:")
    for item in payload["recommendations"]:
        print(f"  {item['rank']:>3}. {item['title']}  [{item['item_id']}]")


def cmd_audience(args: argparse.Namespace) -> None:
    from mindshare.atomic_files import write_text
    from mindshare.marketing.campaign_runs import single_campaign
    from mindshare.project.outputs import campaign_history, known_test_split, read_table
    from mindshare.project.params import load_settings
    from mindshare.tracking.production import production_recommender

    if args.resolve and not args.out:
        raise MindshareError("--resolve writes raw ids, so only where you ask: give --out FILE for the send list")
    if args.id_column and not args.resolve:
        raise MindshareError("--id-column names the raw-id column of --resolve's file; give --resolve FILE too")
    settings = load_settings()
    customers = _customers(args, settings) if args.resolve else None  # before the model: its mistakes cost nothing
    items = read_table(layout.ITEMS, "items")
    name = registry_settings(args)[0]
    version, served = production_recommender(name)
    chosen = [c for c in settings.campaigns if c.name == args.campaign]
    from mindshare.marketing.uplift_targeting import load_uplift_models
    from mindshare.project.outputs import feature_tables

    campaign, table, row = single_campaign(served.recommender, settings.campaigns, args.campaign,
                                           args.budget, settings.audience, items, known_test_split(),
                                           served.policy_.exclude_seen, campaign_history(settings, chosen),
                                           load_uplift_models(chosen), feature_tables()[0])
    if args.out and customers is None:
        from mindshare.marketing.messages import audience_csv

        write_text(audience_csv(table), args.out)
    written = f"; written to {args.out}" if args.out and customers is None else ""
    print(f"{campaign.name} from {name} version {version} @production: {row['audience']} users "
          f"({row['control']} control) of {row['candidates']} candidates; lift vs random {row['lift_vs_random']:.2f}, "
          f"vs most active {row['lift_vs_active']:.2f}; targeted by {row['targeted_by']}{written}")
    if "expected_incremental" in row:
        print(f"  expected incremental outcomes (by its uplift model): {row['expected_incremental']:.1f}; a random "
              f"audience of the size: {row['expected_incremental_random']:.1f}; score targeting: "
              f"{row['expected_incremental_by_score']:.1f}")
    if customers is not None:
        print(_send_list(args, campaign, table, customers))
    for line in table.head(args.show).itertuples(index=False):
        print(f"  {line.user_id}  {line.score:9.4f}  {line.group:<9}  {', '.join(line.top_items)}  ({line.reason})")


def _customers(args: argparse.Namespace, settings: Settings) -> Customers:
    """--resolve's raw ids, read before anything is computed, trimmed and repaired as ingest does."""
    from pathlib import Path

    from mindshare.marketing.delivery import read_customers

    if Path(args.out).resolve() == Path(args.resolve).resolve():
        raise MindshareError(f"--out {args.out} is the --resolve file; give another file for the send list")
    repair = settings.ingest.source == "events" and settings.ingest.cleaning.float_ids == "repair"
    return read_customers(args.resolve, args.id_column or "user_id", repair_float_ids=repair)


def _send_list(args: argparse.Namespace, campaign: Campaign, table: pd.DataFrame, customers: Customers) -> str:
    """Write the send list (atomically) to --out; the summary line (counts only: no raw id is printed)."""
    from mindshare.atomic_files import write_text
    from mindshare.data.pseudonymise import load_project_key
    from mindshare.marketing.delivery import resolve_audience
    from mindshare.project.outputs import users_table
    from mindshare.safe_text import formula_safe

    users = users_table()
    names = users.set_index("user_id")["display_name"] if users is not None and "display_name" in users else None
    delivery = resolve_audience(campaign, table, customers, load_project_key(), names)
    write_text(formula_safe(delivery.table).to_csv(index=False), args.out, private=True)  # raw ids: 0600
    repeats = (f"; raw ids listed more than once: {customers.duplicates} (kept once; first repeat "
               f"{customers.first_duplicate})" if customers.duplicates else "")
    empty = f"; rows without an id: {customers.empty} (skipped)" if customers.empty else ""
    return (f"send list: {len(delivery.table)} of {delivery.audience} audience members found in {customers.source}, "
            f"written to {args.out} (the only file with their raw ids): {delivery.treatment} treatment with their "
            f"message, {delivery.control} control with group 'control' and no message (do not send to them; report "
            f"their outcomes too); not found: {delivery.not_in_customers} audience members (not written); listed but "
            f"not in the audience: {delivery.customers_outside}{repeats}{empty}")


def cmd_outcomes(args: argparse.Namespace) -> None:
    if args.online:
        if args.campaign or args.file:
            raise MindshareError("outcomes: --online takes the experiment's events alone (no --campaign or --file)")
        from mindshare.cli.online import record_online_events

        record_online_events(args.online)
        return
    if not args.campaign or not args.file:
        raise MindshareError("outcomes: give --campaign and --file (a campaign's results), or --online FILE")
    import pandas as pd

    from mindshare.data.pseudonymise import load_project_key, pseudonymise
    from mindshare.marketing.campaign_results import record_results, results_with_features
    from mindshare.marketing.feedback import campaign_outcomes, read_results, record_outcomes
    from mindshare.project.outputs import read_table
    from mindshare.project.params import load_settings
    from mindshare.tracking.runs import log_stage_run

    audience = read_table(layout.audience_file(args.campaign), f"audience of campaign '{args.campaign}'")
    results = read_results(args.file)
    if not args.pseudonymised:
        results["user_id"] = pseudonymise(results["user_id"], load_project_key())
    else:
        from mindshare.data.pseudonymise import is_pseudonym

        raw = results.loc[~results["user_id"].map(is_pseudonym), "user_id"]
        if len(raw):
            raise MindshareError(f"{args.file}: --pseudonymised, but user_id {raw.iloc[0]!r} is not a pseudonym "
                                 "(20 hex digits); leave --pseudonymised out for raw ids")
    outcomes = campaign_outcomes(args.campaign, audience, results, args.file)
    added = record_outcomes(args.campaign, outcomes.joined)
    people_file = layout.audience_people_file(args.campaign)
    if people_file.exists():  # the members as they were at send time: what uplift models learn from
        record_results(args.campaign, results_with_features(outcomes.joined, pd.read_parquet(people_file)))
    log_stage_run(f"outcomes@{args.campaign}", load_settings().experiment_name,
                  {"campaign": args.campaign, "rows": outcomes.rows, "outside_audience": outcomes.outside_audience},
                  outcomes.metrics, {"mindshare.campaign": args.campaign})
    report, outside = outcomes.report, outcomes.outside_audience
    if args.json:
        print(json.dumps({"campaign": args.campaign, "outside_audience": outside, "interactions_added": added,
                          **report}, indent=2, default=float))
        return
    print(f"{args.campaign}: {len(outcomes.joined)} users with outcomes ({outside} not in the audience, counted "
          "and left out)")
    for group in ("treatment", "control"):
        for name in ("ctr", "open_rate", "conversion"):
            r = report[group][name]
            if r["trials"]:
                print(f"  {group:<9} {name:<10} {r['successes'] / r['trials']:.4f}  "
                      f"(95% CI {r['low']:.4f}-{r['high']:.4f}, {r['successes']}/{r['trials']})")
    if "uplift" in report:
        u = report["uplift"]
        print(f"  conversion uplift (treatment - control): {u['conversion_difference']:+.4f} "
              f"(95% CI {u['low']:+.4f} to {u['high']:+.4f})")
    print(f"{added} clicks and conversions recorded as interactions for the next `dvc repro`")


def cmd_forget(args: argparse.Namespace) -> None:
    import re

    from mindshare.data.pseudonymise import erasure_hash, load_project_key, pseudonymise
    from mindshare.errors import PolicyRefusal
    from mindshare.marketing.feedback import erase_outputs, forget_person
    from mindshare.project.params import load_settings
    from mindshare.tracking.erasure import flag_versions, purge_logged_model_tables, purge_run_artifacts
    from mindshare.tracking.store import configure_tracking, tracking_client

    settings = load_settings()
    raw = args.user.strip()  # as ingest normalises ids: trimmed, '17850.0' -> '17850' where it repairs them
    if settings.ingest.cleaning.float_ids == "repair" and re.fullmatch(r"-?\d+\.0+", raw):
        raw = re.sub(r"\.0+$", "", raw)
    if not raw:
        raise MindshareError("forget: --user is empty")
    pseudonym = pseudonymise([raw], load_project_key())[0]
    new, removed = forget_person(pseudonym, erasure_hash(raw))
    outputs = erase_outputs(pseudonym)
    configure_tracking()
    client = tracking_client()
    experiment = client.get_experiment_by_name(settings.experiment_name)
    artifacts = {**purge_run_artifacts(client, [experiment.experiment_id], pseudonym),
                 **purge_logged_model_tables(client, [experiment.experiment_id], pseudonym)} if experiment else {}
    flagged = flag_versions(client, settings.register.model_name) if client.search_registered_models(
        f"name = '{settings.register.model_name}'") else 0
    print(f"forget: {'added to' if new else 'already on'} {layout.FORGET_LIST} (and, by a key-independent hash, "
          f"{layout.FORGET_IDS}); rows removed: {removed} ingested interactions, {sum(outputs.values())} in "
          f"{len(outputs)} output files, {sum(artifacts.values())} in {len(artifacts)} MLflow artifacts; "
          f"{flagged} registered versions flagged ({'mindshare.erasure_pending'}): `dvc repro` retrains without "
          "them; promote a new version, then `mindshare prune` deletes the flagged ones. A running server stops "
          "answering for them within a poll. Not reached: the DVC cache of earlier "
          "outputs (`dvc gc -w` removes it) and copies made elsewhere.")
    if not removed and not outputs and not artifacts:
        raise PolicyRefusal(f"the id {args.user!r} matches nobody in the data, the outputs or MLflow (listed anyway, "
                            "so that a future ingest drops it); check the id")
