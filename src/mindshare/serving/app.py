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
import pathlib
import threading
import time
from typing import Annotated, Any, Literal

import orjson
from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, BeforeValidator, Field
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import Response

from mindshare import layout
from mindshare.data.pseudonymise import PSEUDONYM_HEX_CHARS, is_pseudonym
from mindshare.errors import MindshareError
from mindshare.marketing.online_log import EVENT_SCHEMA, EXPOSURE_SCHEMA, LogWriter
from mindshare.serving.answers import Answers, VersionInfo
from mindshare.serving.api_keys import ApiKeys, optional_key, requires_key
from mindshare.serving.experiment import Served, event_row
from mindshare.serving.limits import Audit, BodyLimit
from mindshare.settings import OnlineSettings
from mindshare.tracking.aliases import CHALLENGER, PRODUCTION
from mindshare.tracking.store import FAMILY_TAG, GIT_COMMIT_TAG

log = logging.getLogger(__name__)


class Item(BaseModel):
    item_id: str
    title: str
    score: float
    basis: str = Field(description="model, segment_blend, demographic, popular or new_item")
    version: str = Field(description="the registered version that placed the item")


class ModelRef(BaseModel):
    name: str
    version: str
    alias: str


class Recommendation(BaseModel):
    user_id: str
    request_id: str = Field(description="name it in POST /events to credit a click or conversion to this answer")
    arm: str = Field(description="production, challenger, or interleaved (each item says its version)")
    cold_start: bool = Field(description="true when the person has no training history")
    model: ModelRef
    items: list[Item]


def _no_booleans(value):
    """JSON `false` is not a number (pydantic would read it as 0); 14.0 is, as JSON Schema says."""
    if isinstance(value, bool):
        raise ValueError("a number, not true/false")
    return value


def whole_number(low: int, high: int):
    """An integer in [low, high] (bounds in the OpenAPI schema too) that refuses true/false."""
    return Annotated[int, Field(ge=low, le=high), BeforeValidator(_no_booleans)]


def finite_number(low: float, high: float, description: str):
    """A finite number in [low, high] (bounds in the OpenAPI schema too) that refuses true/false."""
    return Annotated[float, Field(ge=low, le=high, allow_inf_nan=False, description=description),
                     BeforeValidator(_no_booleans)]


EventValue = finite_number(0, 1e9, "a conversion's value")
EventTime = finite_number(0, 1e11, "epoch seconds (default: now)")


def request_models(max_k: int, max_batch: int) -> tuple[type[BaseModel], type[BaseModel]]:
    """The batch request's models with this app's limits in them (so the OpenAPI description says them)."""

    class UserRequest(BaseModel):
        user_id: str = Field(min_length=1, max_length=256)
        k: whole_number(1, max_k) | None = Field(default=None, description="default: the batch's k")
        gender: str | None = Field(default=None, max_length=32)
        age: whole_number(0, 130) | None = None

    class BatchRequest(BaseModel):
        users: list[UserRequest] = Field(min_length=1, max_length=max_batch)
        k: whole_number(1, max_k) = 10

    return UserRequest, BatchRequest


class BatchRecommendation(BaseModel):
    results: list[Recommendation]


class PublicVersion(BaseModel):
    """What /version says without an `admin` key."""

    name: str
    version: str


class Version(BaseModel):
    name: str
    version: str
    alias: str
    family: str
    git_commit: str
    run_id: str
    loaded_at: float
    experiment: dict[str, Any] | None = Field(description="challenger_version, method, challenger_share; "
                                              "null when no experiment runs")


class EventOfAnswer(BaseModel):
    """A click or conversion on an answer: its request_id, and the item if the event is about one."""

    kind: Literal["click", "conversion"]
    request_id: str = Field(min_length=1, max_length=64, description="the answer's request_id")
    item_id: str | None = Field(default=None, min_length=1, max_length=256)
    value: EventValue | None = None
    time: EventTime | None = None


class EventOfUser(BaseModel):
    """A click or conversion known only by person and item: credited to the latest answer that showed it."""

    kind: Literal["click", "conversion"]
    user_id: str = Field(min_length=1, max_length=256, description="the raw id (hashed at once)")
    item_id: str = Field(min_length=1, max_length=256)
    value: EventValue | None = None
    time: EventTime | None = None


class EventBatch(BaseModel):
    events: list[EventOfAnswer | EventOfUser] = Field(min_length=1, max_length=1000)


class Accepted(BaseModel):
    accepted: int


class Health(BaseModel):
    status: str = Field(description="ok, or stale: the registry has not been read for 10 polls")
    version: str | None
    registry_checked_seconds_ago: float | None = None
    logs: dict[str, dict[str, int]] = Field(default_factory=dict, description="per log: written, dropped (queue "
                                            "full), failed (not written), queued records")


class AudienceMember(BaseModel):
    user_id: str = Field(description="pseudonymised id")
    score: float
    group: str = Field(description="treatment or control")
    reason: str
    top_items: list[str]


class Audience(BaseModel):
    campaign: str
    model: ModelRef
    summary: dict[str, Any]
    audience: list[AudienceMember]


class ErrorMessage(BaseModel):
    error: str


AUDIENCE_CACHE = 32  # audiences kept per served version (campaign, budget)
ERRORS = {code: {"model": ErrorMessage} for code in (400, 404, 422, 503)}
KEY_ERRORS = {401: {"model": ErrorMessage, "description": "no API key presented"},
              403: {"model": ErrorMessage, "description": "a wrong API key, or none configured"}}


class ModelHolder:
    """The answers of the current production version, and the loader that replaces them."""

    def __init__(self, name: str, max_k: int = 100, poll_seconds: float = 5.0, root: str | pathlib.Path = "."):
        self.name, self.max_k, self.poll_seconds = name, max_k, poll_seconds
        self.root = pathlib.Path(root)
        self.served: Served | None = None
        self.loaded_at = 0.0
        self.checked_at = 0.0  # monotonic time of the last successful registry check
        self.forgotten: frozenset[str] = frozenset()  # the forget list's pseudonyms, re-read when it changes
        self._forget_state: tuple | None = None
        self.read_forget_list()
        self._loading = threading.Lock()
        self._stop = threading.Event()
        self._client = None  # one registry client: making one per poll costs a store set-up each time
        online = self._online_settings()
        bounds = {"flush_seconds": online.log_flush_seconds, "flush_records": online.log_flush_records,
                  "max_queued_records": online.log_max_queued_records, "retention_days": online.retention_days}
        self.exposures = LogWriter(self.root / layout.EXPOSURES, EXPOSURE_SCHEMA, **bounds)
        self.events = LogWriter(self.root / layout.ONLINE_EVENTS, EVENT_SCHEMA, **bounds)

    @property
    def current(self) -> Answers | None:
        """The production version's answers (None before the first load)."""
        return self.served.production if self.served is not None else None

    def _online_settings(self) -> OnlineSettings:
        params = self.root / layout.PARAMS
        if not params.exists():
            return OnlineSettings()
        from mindshare.settings import Settings

        return Settings.from_yaml(params).online

    def _answers(self, client, version, alias: str, loaded: Answers | None) -> Answers:
        """The version's answers: the loaded ones if it is the same version, else loaded and made ready now."""
        from mindshare.tracking.production import load_recommender

        if loaded is not None and loaded.info.version == str(version.version):
            return loaded
        started = time.perf_counter()
        wrapper = load_recommender(self.name, version.version)
        tags = client.get_run(version.run_id).data.tags if version.run_id else {}
        info = VersionInfo(self.name, str(version.version), alias, tags.get(FAMILY_TAG, ""),
                           tags.get(GIT_COMMIT_TAG, ""), version.run_id or "")
        answers = Answers(wrapper, info, self.max_k)
        log.info("loaded %s version %s (%s) as %s, ready in %.1f s", self.name, info.version, info.family, alias,
                 time.perf_counter() - started)
        return answers

    def refresh(self) -> bool:
        """Load what the aliases and the online settings ask for if it is not what is served; True if it
        swapped. Production and, during an experiment, the challenger are swapped together."""
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        with self._loading:
            client = self._client = self._client or MlflowClient()
            try:
                version = client.get_model_version_by_alias(self.name, PRODUCTION)
            except MlflowException:
                if self.served is None:
                    raise MindshareError(f"'{self.name}' has no production version yet; run `mindshare promote "
                                         "--reason TEXT` first") from None
                return False
            try:
                online = self._online_settings()
            except MindshareError as error:  # a params.yaml being edited: keep the settings in force
                log.warning("online settings not re-read: %s", error)
                online = self.served.online if self.served is not None else OnlineSettings()
            challenger_version = None
            if online.challenger_share > 0:
                try:
                    challenger_version = client.get_model_version_by_alias(self.name, CHALLENGER)
                except MlflowException:
                    log.warning("online.challenger_share is %s but '%s' has no challenger: everyone gets production",
                                online.challenger_share, self.name)
                if challenger_version is not None and str(challenger_version.version) == str(version.version):
                    challenger_version = None  # the challenger was promoted: nothing left to compare
            old = self.served
            wanted = (str(version.version), str(challenger_version.version) if challenger_version else None, online)
            if old is not None and wanted == (old.production.info.version,
                                              old.challenger.info.version if old.challenger else None, old.online):
                return False
            production = self._answers(client, version, PRODUCTION, old.production if old else None)
            loaded_challenger = old.challenger if old and old.challenger else None
            if loaded_challenger is None and old is not None and challenger_version is not None \
                    and old.production.info.version == str(challenger_version.version):
                loaded_challenger = old.production
            challenger = (self._answers(client, challenger_version, CHALLENGER, loaded_challenger)
                          if challenger_version is not None else None)
            self.served, self.loaded_at = Served(production, challenger, online), time.time()  # the swap
            log.info("serving %s version %s%s", self.name, production.info.version,
                     f"; challenger version {challenger.info.version} on {online.challenger_share:.0%} "
                     f"({online.method})" if challenger is not None else "")
            return True

    def answer(self, user_id: str, k: int, gender: str | None, age: int | None, pseudonymised: bool = False) -> dict:
        """One answer from what is served; its exposures queued for the log while an experiment runs."""
        served = self.ready_served()
        payload, exposures = served.answer(user_id, k, gender, age, pseudonymised, self.forgotten)
        if served.method != "off":
            self.exposures.append(exposures)
        return payload

    def watch(self) -> None:
        """Poll until stopped; no exception ends the thread (each is logged, by type when it has no message)."""
        while not self._stop.wait(self.poll_seconds):
            try:
                self.read_forget_list()
                self.refresh()
                self.checked_at = time.monotonic()
            except Exception as error:  # keep serving what is loaded; say why once per poll
                said = (str(error).splitlines() or [""])[0] or type(error).__name__
                log.warning("could not check or load the production version: %s", said)

    def read_forget_list(self) -> None:
        """Re-read the forget list if it changed: a forgotten person is answered as a stranger and not logged."""
        path = self.root / layout.FORGET_LIST
        try:
            found = path.stat()
            state = (found.st_mtime_ns, found.st_size)
        except OSError:
            state = None
        if state != self._forget_state:
            text = path.read_text() if state is not None else ""
            self.forgotten = frozenset(line.strip() for line in text.splitlines() if line.strip())
            self._forget_state = state

    def checked_seconds_ago(self) -> float | None:
        return round(time.monotonic() - self.checked_at, 1) if self.checked_at else None

    def status(self) -> str:
        """ok, or stale when the registry has not been read for 10 polls (the loaded version may be outdated)."""
        ago = self.checked_seconds_ago()
        return "stale" if ago is not None and ago > 10 * self.poll_seconds else "ok"

    def start_watching(self) -> None:
        threading.Thread(target=self.watch, name="production-watch", daemon=True).start()

    def stop(self) -> None:
        """Stop watching the registry and write what the logs still hold."""
        self._stop.set()
        self.exposures.close()
        self.events.close()

    def audience(self, campaign: str, budget: int | None) -> dict:
        """A campaign's audience from the served version; the last `AUDIENCE_CACHE` answers are kept with it."""
        answers = self.ready()
        cache = answers.audiences
        key = (campaign, budget)
        found = cache.get(key)
        if found is None:
            from mindshare.marketing.campaign_runs import single_campaign
            from mindshare.project.outputs import campaign_history, known_test_split, read_table
            from mindshare.project.params import load_settings

            settings = load_settings()
            named = [c for c in settings.campaigns if c.name == campaign]
            chosen, table, row = single_campaign(answers.recommender, settings.campaigns, campaign, budget,
                                                 settings.audience, read_table(layout.ITEMS, "items"),
                                                 known_test_split(), answers.policy.exclude_seen,
                                                 campaign_history(settings, named))
            members = [{"user_id": r.user_id, "score": float(r.score), "group": r.group, "reason": r.reason,
                        "top_items": list(r.top_items)} for r in table.itertuples(index=False)]
            summary = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            found = {"campaign": chosen.name, "model": _model_ref(answers), "summary": summary, "audience": members}
            if len(cache) >= AUDIENCE_CACHE:
                cache.pop(next(iter(cache)))
            cache[key] = found
        return found

    def version(self) -> dict:
        """The served version as GET /version and POST /admin/reload describe it, and the experiment if one runs."""
        served = self.ready_served()
        experiment = None
        if served.method != "off":
            experiment = {"challenger_version": served.challenger.info.version, "method": served.method,
                          "challenger_share": served.online.challenger_share}
        return {**served.production.info.__dict__, "loaded_at": self.loaded_at, "experiment": experiment}

    def ready(self) -> Answers:
        return self.ready_served().production

    def ready_served(self) -> Served:
        served = self.served
        if served is None:
            raise HTTPException(503, "no production model is loaded yet")
        return served


def _model_ref(answers: Answers) -> dict:
    return {"name": answers.info.name, "version": answers.info.version, "alias": answers.info.alias}


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
        ref = _model_ref(holder.ready())
        return _json({**holder.answer(user_id, k, gender, age, pseudonymised), "model": ref})

    async def recommend_batch(request) -> Response:
        ref = _model_ref(holder.ready())
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
