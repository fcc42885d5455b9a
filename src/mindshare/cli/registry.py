"""Registry commands: models (versions, history), promote (through the quality gate), rollback."""

from __future__ import annotations

import argparse

from mindshare.cli.settings import registry_settings
from mindshare.errors import MindshareError


def add_models(sub) -> None:
    p = sub.add_parser("models", help="list registered versions with aliases, metric and lineage")
    p.add_argument("--history", action="store_true", help="print the promotion and rollback history instead")
    p.set_defaults(func=cmd_models)


def add_promote(sub) -> None:
    p = sub.add_parser("promote", help="move alias 'production' to the challenger (or --version), through the gate")
    p.add_argument("--version", help="the version to promote (default: the one with alias 'challenger')")
    p.add_argument("--reason", required=True, help="why; kept in the history")
    p.add_argument("--force", action="store_true", help="promote even if the quality gate refuses")
    p.add_argument("--online", action="store_true",
                   help="gate on the online experiment instead of the offline metric: its always-valid sequential "
                   "test must say the challenger is better (guardrails still apply); ends the experiment")
    p.set_defaults(func=cmd_promote)


def add_rollback(sub) -> None:
    p = sub.add_parser("rollback", help="move 'production' back to the version it replaced (one step per call)")
    p.add_argument("--reason", required=True, help="why; kept in the history")
    p.set_defaults(func=cmd_rollback)


def cmd_models(args: argparse.Namespace) -> None:
    from mindshare.tracking.registry import describe_versions, history
    from mindshare.tracking.store import tracking_client

    name, _ = registry_settings(args)
    client = tracking_client()
    if args.history:
        events = history(client, name)
        if not events:
            print(f"{name}: no promotions yet")
        for e in events:
            print(f"{e['seq']:>3}  {e['when']}  {e['action']:<8}  {e['from'] or '-':>4} -> {e['to']:<4}  "
                  f"by {e['who']}: {e['why']}{'  (forced)' if e.get('forced') else ''}")
        return
    rows = describe_versions(client, name)
    print(f"{'version':>7}  {'aliases':<22}  {'family':<12}  {'metric':<12}  {'value':>8}  {'created':<16}  "
          f"{'git':<12}  data")
    for r in rows:
        value = f"{r['value']:.4f}" if r["value"] is not None else "-"
        print(f"{r['version']:>7}  {r['aliases'] or '-':<22}  {r['family']:<12}  {r['primary_metric']:<12}  "
              f"{value:>8}  {r['created']:<16}  {r['git_commit'] or '-':<12}  {r['data_fingerprint']}")


def cmd_promote(args: argparse.Namespace) -> None:
    from mindshare.project.promotion import reevaluate_production
    from mindshare.tracking.registry import GateRefusal, promote
    from mindshare.tracking.store import tracking_client

    name, gate = registry_settings(args)
    client = tracking_client()
    online = _online_evidence(client, name, args.version) if args.online else None
    try:
        event = promote(client, name, args.reason, version=args.version, force=args.force,
                        reevaluate=reevaluate_production(name), settings=gate, online=online)
    except GateRefusal as refusal:
        print("\n".join(refusal.checks))
        raise
    if event.get("checks"):
        print("\n".join(event["checks"]))
    print(f"{name}: production is now version {event['to']} (was {event['from'] or 'none'})"
          f"{' [forced]' if event['forced'] else ''}")
    if args.online:
        from mindshare.project.params import set_challenger_share

        set_challenger_share(0.0)
        print("the online experiment is over: online.challenger_share -> 0 in params.yaml")


def _online_evidence(client, name: str, version: str | None) -> tuple[bool, str, dict]:
    """The online experiment's verdict as a gate check: (passed?, its line, the evidence for the history)."""
    from mindshare.project.params import load_settings
    from mindshare.tracking.online_runs import current_experiment, evidence, log_online_run

    settings = load_settings()
    experiment = current_experiment(client, name, settings.online)
    if version is not None and str(version) != experiment.challenger:
        raise MindshareError(f"--online judges the challenger (version {experiment.challenger}); "
                             f"--version {version} is not it")
    log_online_run(experiment, settings.experiment_name, settings.online.alpha)
    status, v = experiment.status, experiment.status.verdict
    interval = f"{v.low:+.4f} to {v.high:+.4f}" if v.low is not None else "none yet"
    line = (f"online {status.metric} ({status.method}, {v.users_per_arm[1]} challenger users): estimate "
            f"{v.estimate:+.4f}, always-valid interval {interval}, p = {v.p_value:.4f}: {v.decision}")
    if status.srm is not None and status.srm.mismatch:  # the arms are not what was asked for: no verdict holds
        return False, f"{line}; but {status.srm.describe()}: fix the assignment or logging, then restart the " \
                      "experiment", evidence(experiment)
    return v.decision == "better", line, evidence(experiment)


def cmd_rollback(args: argparse.Namespace) -> None:
    from mindshare.tracking.registry import rollback
    from mindshare.tracking.store import tracking_client

    name = registry_settings(args)[0]
    event = rollback(tracking_client(), name, args.reason)
    print(f"{name}: production rolled back to version {event['to']} (was {event['from']})")
