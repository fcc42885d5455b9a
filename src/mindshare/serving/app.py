"""`mindshare serve`: the production model over REST (FastAPI; OpenAPI at /openapi.json, docs at /docs).

- GET  /recommend/{user_id}?k=&gender=&age=   one person (raw id; hashed inside with the local key)
- POST /recommend                              a batch: {"users": [{"user_id": ..., "k": ...}], "k": 10}
- GET  /audience/{campaign}?budget=            a campaign's audience (params.yaml `campaigns`)
- GET  /health, GET /version                   liveness; registered model name, version, alias, commit
- POST /admin/reload                           check the registry for a new production version now, re-read keys

Every endpoint that answers about people needs an API key with its scope (serving/api_keys.py): /recommend
`recommend` (unless `open_recommend`, which `mindshare serve` allows on a loopback address only), POST /events
`events`, /audience `audience`, /admin/reload `admin`. /health, /docs and /openapi.json need none; /version says
the name and version to anyone, and the rest (commit, run, experiment) to an `admin` key. A new endpoint takes
`**keyed(scope)` (see `create_app`). Each call with a key, and each refused, is one audit line (logger
`mindshare.audit`: key id, never the key; route; status; client). Request bodies above `max_body_bytes` get 413
before they are read; a Host header outside `allowed_hosts` gets 400 (DNS rebinding).

The app loads `@production` at start and checks the alias every `poll_seconds`; a new version is
loaded and made ready completely (every known user's answer computed) before one reference swap,
so a request sees the old version or the new one, never half of either. Client mistakes get a 4xx
with one line in {"error": ...}; a registry that cannot be reached keeps the loaded version serving.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

import orjson
from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import Response

from mindshare.data.pseudonymise import PSEUDONYM_HEX_CHARS, is_pseudonym
from mindshare.errors import MindshareError
from mindshare.serving.api_keys import ApiKeys, optional_key, requires_key
from mindshare.serving.experiment import event_row
from mindshare.serving.holder import ModelHolder, model_ref
from mindshare.serving.limits import Audit, BodyLimit
from mindshare.serving.schemas import (
    Accepted,
    Audience,
    BatchRecommendation,
    ErrorMessage,
    EventBatch,
    Health,
    PublicVersion,
    Recommendation,
    Version,
    request_models,
)

log = logging.getLogger(__name__)

ERRORS = {code: {"model": ErrorMessage} for code in (400, 404, 422, 503)}
KEY_ERRORS = {401: {"model": ErrorMessage, "description": "no API key presented"},
              403: {"model": ErrorMessage, "description": "a wrong API key, or none configured"}}


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _one_line(error: RequestValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
    return f"{where or 'request'}: {first.get('msg', 'invalid')}".replace("\n", " ")


DEFAULT_ALLOWED_HOSTS = ("localhost", "127.0.0.1", "[::1]")
DEFAULT_MAX_BODY_BYTES = 1_048_576


def create_app(holder: ModelHolder, max_batch: int = 1000, keys: ApiKeys | None = None,
               open_recommend: bool = False, allowed_hosts: tuple[str, ...] = DEFAULT_ALLOWED_HOSTS,
               max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> FastAPI:
    """The app; `keys` default to MINDSHARE_API_KEYS and .mindshare/api_keys, read now, when the file changes and
    on /admin/reload."""
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        holder.stop()  # the exposure and event logs written to the last record

    app = FastAPI(title="mindshare", description="Personalised recommendations and campaign audiences from the "
                  "production model.", version="1", lifespan=lifespan)
    max_k = holder.max_k
    _, BatchRequest = request_models(max_k, max_batch)
    keys = keys if keys is not None else ApiKeys.from_environment()

    def keyed(scope: str) -> dict:  # a route that needs a key with `scope`
        return {"dependencies": [requires_key(keys, scope)], "responses": {**ERRORS, **KEY_ERRORS}}

    recommend = {"responses": ERRORS} if open_recommend else keyed("recommend")
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(Audit)  # added last: the outermost, it sees every answer's status

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        return _json({"error": _one_line(error)}, 422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        response = _json({"error": str(error.detail).splitlines()[0]}, error.status_code)
        response.headers.update(error.headers or {})  # WWW-Authenticate on a 401
        return response

    @app.exception_handler(MindshareError)
    async def refused(request: Request, error: MindshareError) -> Response:
        return _json({"error": str(error).splitlines()[0]}, 404 if "is not in params.yaml" in str(error) else 422)

    @app.get("/health", response_model=Health, responses={503: {"model": ErrorMessage}})
    async def health() -> Response:
        answers = holder.ready()
        return _json({"status": holder.status(), "version": answers.info.version,
                      "registry_checked_seconds_ago": holder.checked_seconds_ago(),
                      "logs": {"exposures": holder.exposures.counts(), "events": holder.events.counts()}})

    @app.get("/version", response_model=Version | PublicVersion, responses={503: {"model": ErrorMessage}},
             dependencies=[optional_key(keys, "admin")])
    async def version(request: Request) -> Response:
        described = holder.version()
        if getattr(request.state, "scoped", False):
            return _json(described)
        return _json({"name": described["name"], "version": described["version"]})

    @app.get("/recommend/{user_id}", response_model=Recommendation, **recommend)
    async def recommend_one(user_id: str = Path(min_length=1, max_length=256),
                            k: int = Query(10, ge=1, le=max_k),
                            gender: str | None = Query(None, max_length=32),
                            age: int | None = Query(None, ge=0, le=130),
                            pseudonymised: bool = Query(False, description="user_id is already a pseudonym (as in "
                                                        "audiences and the test split)")) -> Response:
        if pseudonymised and not is_pseudonym(user_id):
            raise HTTPException(422, f"user_id: with pseudonymised=true it must be {PSEUDONYM_HEX_CHARS} lowercase "
                                     "hexadecimal characters, as ingest writes pseudonyms")
        ref = model_ref(holder.ready())
        return _json({**holder.answer(user_id, k, gender, age, pseudonymised), "model": ref})

    async def recommend_batch(request) -> Response:
        ref = model_ref(holder.ready())
        return _json({"results": [{**holder.answer(u.user_id, u.k or request.k, u.gender, u.age), "model": ref}
                                  for u in request.users]})

    recommend_batch.__annotations__["request"] = BatchRequest  # a class made here: not a string annotation
    app.post("/recommend", response_model=BatchRecommendation, **recommend)(recommend_batch)

    @app.post("/events", response_model=Accepted, **keyed("events"))
    async def events(batch: EventBatch) -> Response:
        key, online = holder.ready().key, holder.ready_served().online
        try:
            rows = [event_row(key, e.kind, getattr(e, "request_id", None), getattr(e, "user_id", None), e.item_id,
                              e.value, e.time, online.retention_days) for e in batch.events]
        except ValueError as error:
            raise HTTPException(422, f"events: {error}") from None
        if not holder.events.append(rows):
            raise HTTPException(503, "the event log is full; retry later")
        return _json({"accepted": len(rows)})

    @app.get("/audience/{campaign}", response_model=Audience, **keyed("audience"))
    def audience(campaign: str = Path(min_length=1, max_length=128),
                 budget: int | None = Query(None, ge=1, le=10_000_000)) -> Response:
        return _json(holder.audience(campaign, budget))

    @app.post("/admin/reload", response_model=Version, **keyed("admin"))
    def reload() -> Response:
        try:
            keys.load()  # a rotated key file takes effect now (this request was let in by the keys before it)
        except MindshareError as error:  # keep the keys in force
            raise HTTPException(503, str(error)) from None
        try:
            holder.refresh()
        except MindshareError:
            raise
        except Exception as error:  # the registry cannot be reached: keep serving, say so
            raise HTTPException(503, f"cannot reach the model registry: {str(error).splitlines()[0]}") from None
        return _json(holder.version())

    return app


def from_environment() -> FastAPI:
    """The app as `mindshare serve` configures it through the environment (one per uvicorn worker)."""
    import os

    from mindshare.tracking.store import configure_tracking

    configure_tracking()
    holder = ModelHolder(os.environ.get("MINDSHARE_SERVE_MODEL", "mindshare"),
                         int(os.environ.get("MINDSHARE_SERVE_MAX_K", "100")),
                         float(os.environ.get("MINDSHARE_SERVE_POLL_SECONDS", "5")))
    holder.refresh()
    holder.checked_at = time.monotonic()
    holder.start_watching()
    hosts = tuple(h.strip() for h in os.environ.get("MINDSHARE_SERVE_ALLOWED_HOSTS", "").split(",") if h.strip())
    return create_app(holder, int(os.environ.get("MINDSHARE_SERVE_MAX_BATCH", "1000")), ApiKeys.from_environment(),
                      os.environ.get("MINDSHARE_SERVE_OPEN_RECOMMEND") == "1", hosts or DEFAULT_ALLOWED_HOSTS,
                      int(os.environ.get("MINDSHARE_SERVE_MAX_BODY_BYTES", str(DEFAULT_MAX_BODY_BYTES))))
