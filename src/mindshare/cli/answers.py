"""Answers from the production model: recommend (one person, in the terminal) and serve (REST)."""

from __future__ import annotations

import argparse
import json

from mindshare.cli.extras import require_extra
from mindshare.cli.settings import registry_settings
from mindshare.errors import MindshareError


def add_recommend(sub) -> None:
    p = sub.add_parser("recommend", help="top-k items for a user from the production model")
    p.add_argument("--user", required=True, help="the raw user id (hashed inside with the local key)")
    p.add_argument("-k", type=int, default=10, help="how many items (default 10)")
    p.add_argument("--gender", help="for a person not seen in training: their gender as in the users file")
    p.add_argument("--age", type=int, help="for a person not seen in training: their age in years")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_recommend)


def add_serve(sub) -> None:
    p = sub.add_parser("serve", help="serve the production model over REST (FastAPI; /docs, /openapi.json)",
                       description="GET /recommend/{user_id}, POST /recommend, POST /events, GET /audience/{campaign}, "
                       "GET /health, GET /version, POST /admin/reload. Follows the production alias without a restart. "
                       "Every endpoint about people needs an API key with its scope (recommend, events, audience, "
                       "admin; Authorization: Bearer <key> or X-API-Key: <key>) from MINDSHARE_API_KEYS (entries "
                       "separated by commas) or .mindshare/api_keys (one per line: the key, then its scopes); "
                       "with no key configured they answer 403.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (each loads the model)")
    p.add_argument("--max-k", type=int, default=100, help="the largest k a request may ask for (default 100)")
    p.add_argument("--max-batch", type=int, default=1000, help="the most users in one POST /recommend")
    p.add_argument("--poll-seconds", type=float, default=5.0, help="how often to check the production alias")
    p.add_argument("--open-recommend", action="store_true",
                   help="GET and POST /recommend answer without a key (a loopback --host only: a local demo)")
    p.add_argument("--allowed-hosts", default=None,
                   help="Host headers accepted, comma-separated (default: localhost, 127.0.0.1, [::1] and --host)")
    p.add_argument("--max-body-bytes", type=int, default=1_048_576, help="larger request bodies get 413")
    p.add_argument("--max-concurrency", type=int, default=512, help="requests in flight per worker; 503 beyond")
    p.set_defaults(func=cmd_serve)


def cmd_recommend(args: argparse.Namespace) -> None:
    import pandas as pd

    from mindshare.tracking.aliases import PRODUCTION
    from mindshare.tracking.production import production_recommender

    if args.k < 1:
        raise MindshareError(f"-k is {args.k}; give a whole number of at least 1")
    name, _ = registry_settings(args)
    version, model = production_recommender(name)
    if args.age is not None and not 0 < args.age < 130:
        raise MindshareError(f"--age is {args.age}; give an age in years")
    request = {"user_id": [args.user], "k": [args.k]}
    if args.gender is not None or args.age is not None:
        request.update(gender=[args.gender], age=[args.age])
    result = model.answer_frame(pd.DataFrame(request))
    cold = bool(result["cold_start"].any()) if len(result) else True
    payload = {
        "user_id": args.user,
        "model": {"name": name, "version": int(version), "alias": PRODUCTION},
        "cold_start": cold,
        "items": [{"item_id": r.item_id, "title": r.title, "score": float(r.score), "basis": r.basis}
                  for r in result.itertuples()],
    }
    if args.json:
        print(json.dumps(payload, indent=2))
        return
    note = f" (unknown user: {result['basis'].iloc[0]} answer)" if cold and len(result) else ""
    print(f"top {args.k} for user {args.user} from {name} version {version} @{PRODUCTION}{note}")
    for rank, item in enumerate(payload["items"], start=1):
        print(f"{rank:>3}. {item['title']}  [{item['item_id']}]  {item['score']:.4f}  ({item['basis']})")


def cmd_serve(args: argparse.Namespace) -> None:
    import os

    require_extra("serve", "serve", "fastapi", "uvicorn", "orjson")
    import uvicorn

    from mindshare.serving.app import from_environment

    if not 1 <= args.max_k <= 200:
        raise MindshareError(f"--max-k is {args.max_k}; give 1 to 200")
    if min(args.workers, args.max_batch, args.max_body_bytes, args.max_concurrency) < 1 or args.poll_seconds <= 0:
        raise MindshareError("--workers, --max-batch, --max-body-bytes, --max-concurrency and --poll-seconds must be "
                             "positive")
    hosts = serving_hosts(args)
    os.environ.update(MINDSHARE_SERVE_MODEL=registry_settings(args)[0], MINDSHARE_SERVE_MAX_K=str(args.max_k),
                      MINDSHARE_SERVE_POLL_SECONDS=str(args.poll_seconds),
                      MINDSHARE_SERVE_MAX_BATCH=str(args.max_batch),
                      MINDSHARE_SERVE_OPEN_RECOMMEND="1" if args.open_recommend else "0",
                      MINDSHARE_SERVE_ALLOWED_HOSTS=",".join(hosts),
                      MINDSHARE_SERVE_MAX_BODY_BYTES=str(args.max_body_bytes))
    limits = {"host": args.host, "port": args.port, "log_level": "warning", "access_log": False,
              "limit_concurrency": args.max_concurrency, "h11_max_incomplete_event_size": 65_536}
    if args.workers == 1:
        app = from_environment()  # load before listening: a missing production version is one line, exit 2
        print(f"serving {app.title} on http://{args.host}:{args.port} (docs: /docs)", flush=True)
        uvicorn.run(app, **limits)
    else:
        print(f"serving on http://{args.host}:{args.port} with {args.workers} workers (docs: /docs)", flush=True)
        uvicorn.run("mindshare.serving.app:from_environment", factory=True, workers=args.workers, **limits)


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serving_hosts(args: argparse.Namespace) -> list[str]:
    """The Host headers to accept; refusals (one line, exit 2) for an open /recommend or no keys off loopback."""
    from mindshare.serving.api_keys import NO_KEYS, configured_entries
    from mindshare.serving.app import DEFAULT_ALLOWED_HOSTS

    local = is_loopback(args.host)
    if args.open_recommend and not local:
        raise MindshareError(f"--open-recommend is for a loopback --host only (127.0.0.1, ::1, localhost), not "
                             f"{args.host}: anyone reaching it could learn who is a customer")
    if not local and not configured_entries():
        raise MindshareError(f"serving on {args.host} without API keys would refuse every call about people: "
                             f"{NO_KEYS}")
    if args.allowed_hosts:
        return [h.strip() for h in args.allowed_hosts.split(",") if h.strip()]
    if args.host in ("0.0.0.0", "::"):
        raise MindshareError(f"--host {args.host} listens on every address: give --allowed-hosts (the names clients "
                             "use, e.g. recs.example.com) so that DNS rebinding cannot reach the server")
    return list(dict.fromkeys([*DEFAULT_ALLOWED_HOSTS, args.host]))
