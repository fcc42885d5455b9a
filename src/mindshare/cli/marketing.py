"""Marketing commands: segments, one person's profile, a campaign's audience, its outcomes, erasure (forget)."""

from __future__ import annotations

import argparse
import json

from mindshare import layout
from mindshare.cli.settings import registry_settings


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
    p.add_argument("--campaign", required=True, help="a campaign name in params.yaml")
    p.add_argument("--budget", type=int, help="override the campaign's budget (users)")
    p.add_argument("--out", help="write the audience as CSV to this file")
    p.add_argument("--show", type=int, default=10, help="print this many rows (default 10)")
    p.set_defaults(func=cmd_audience)


def add_outcomes(sub) -> None:
    p = sub.add_parser("outcomes", help="what a campaign achieved: CTR and conversion of treatment vs control")
    p.add_argument("--campaign", required=True, help="the campaign (its audience file in data/audiences/)")
    p.add_argument("--file", required=True, help="CSV: user_id (raw), sent, opened, clicked, converted [, item_id]")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_outcomes)


def add_forget(sub) -> None:
    p = sub.add_parser("forget", help="erase a person: off the ingested data now, out of every output next repro")
    p.add_argument("--user", required=True, help="the raw user id")
    p.set_defaults(func=cmd_forget)


def cmd_segments(args: argparse.Namespace) -> None:
    from mindshare.stages.inputs import read_table

    table = read_table(layout.SEGMENT_SUMMARY, "segments")
    if args.json:
        print(table.to_json(orient="records", indent=2))
        return
    for row in table.itertuples(index=False):
        print(f"segment {row.segment}: {row.users:>7} users ({100 * row.share:4.1f}%)  {row.description}")


def cmd_profile(args: argparse.Namespace) -> None:
    from mindshare.data.pseudonymise import load_key
    from mindshare.stages.inputs import user_profile

    payload = user_profile(args.user, load_key(create=False))
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
    from mindshare.marketing.campaign_runs import single_campaign
    from mindshare.stages.inputs import known_test_split, read_table
    from mindshare.stages.params import load_settings
    from mindshare.tracking.production import production_recommender

    settings = load_settings()
    items = read_table(layout.ITEMS, "items")
    name = registry_settings(args)[0]
    version, served = production_recommender(name)
    campaign, table, row = single_campaign(served.recommender, settings.campaigns, args.campaign,
                                           args.budget, settings.audience, items, known_test_split())
    if args.out:
        from mindshare.atomic_files import write_text
        from mindshare.marketing.messages import audience_csv

        write_text(audience_csv(table), args.out)
    print(f"{campaign.name} from {name} version {version} @production: {row['audience']} users "
          f"({row['control']} control) of {row['candidates']} candidates; lift vs random {row['lift_vs_random']:.2f}, "
          f"vs most active {row['lift_vs_active']:.2f}" + (f"; written to {args.out}" if args.out else ""))
    for line in table.head(args.show).itertuples(index=False):
        print(f"  {line.user_id}  {line.score:9.4f}  {line.group:<9}  {', '.join(line.top_items)}  ({line.reason})")


def cmd_outcomes(args: argparse.Namespace) -> None:
    from mindshare.data.pseudonymise import load_key, pseudonymise
    from mindshare.marketing.feedback import campaign_outcomes, read_results, record_outcomes
    from mindshare.stages.inputs import read_table
    from mindshare.stages.params import load_settings
    from mindshare.tracking.runs import log_stage_run

    audience = read_table(layout.audience_file(args.campaign), f"audience of campaign '{args.campaign}'")
    results = read_results(args.file)
    results["user_id"] = pseudonymise(results["user_id"], load_key(create=False))
    outcomes = campaign_outcomes(args.campaign, audience, results, args.file)
    added = record_outcomes(args.campaign, outcomes.joined)
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
    from mindshare.data.pseudonymise import load_key, pseudonymise
    from mindshare.marketing.feedback import forget_person

    new, removed = forget_person(pseudonymise([args.user], load_key(create=False))[0])
    print(f"user {args.user}: {'added to' if new else 'already on'} {layout.FORGET_LIST}; {removed} ingested rows "
          "removed. Run `dvc repro` to rebuild splits, features, models, audiences and registry versions without "
          "them. Not reached: earlier MLflow runs and model versions, the DVC cache of earlier outputs, and copies "
          "made elsewhere; delete those runs (`mlflow gc`) and `dvc gc` to finish.")
