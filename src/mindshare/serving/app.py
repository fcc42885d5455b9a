"""`mindshare serve`: the production model over REST (FastAPI; OpenAPI at /openapi.json, docs at /docs).

- GET  /recommend/{user_id}?k=&gender=&age=   one person (raw id; hashed inside with the local key)
- POST /recommend                              a batch: {"users": [{"user_id": ..., "k": ...}], "k": 10}
- GET  /audience/{campaign}?budget=            a campaign's audience (params.yaml `campaigns`)
- GET  /health, GET /version                   liveness; registered model name, version, alias, commit
- POST /admin/reload                           check the registry for a new production version now

The app loads `@production` at start and checks the alias every `poll_seconds`; a new version is
loaded and made ready completely (every known user's answer computed) before one reference swap,
so a request sees the old version or the new one, never half of either. Client mistakes get a 4xx
with one line in {"error": ...}; a registry that cannot be reached keeps the loaded version serving.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, BeforeValidator, Field
from starlette.exceptions import HTTPException
from starlette.responses import Response

from mindshare import layout
from mindshare.errors import MindshareError
from mindshare.serving.answers import Answers, VersionInfo
from mindshare.tracking.registry import PRODUCTION
from mindshare.tracking.store import FAMILY_TAG, GIT_COMMIT_TAG

log = logging.getLogger(__name__)


class Item(BaseModel):
    item_id: str
    title: str
    score: float
    basis: str = Field(description="model, segment_blend, demographic, popular or new_item")


class ModelRef(BaseModel):
    name: str
    version: str
    alias: str


class Recommendation(BaseModel):
    user_id: str
    cold_start: bool = Field(description="true when the person has no training history")
    model: ModelRef
    items: list[Item]


def _no_booleans(value):
    """JSON `false` is not a number (pydantic would read it as 0); 14.0 is, as JSON Schema says."""
    if isinstance(value, bool):
        raise ValueError("a whole number, not true/false")
    return value


def whole_number(low: int, high: int):
    """An integer in [low, high] (bounds in the OpenAPI schema too) that refuses true/false."""
    return Annotated[int, Field(ge=low, le=high), BeforeValidator(_no_booleans)]


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


class Version(BaseModel):
    name: str
    version: str
    alias: str
    family: str
    git_commit: str
    run_id: str
    loaded_at: float


class Health(BaseModel):
    status: str
    version: str | None


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


class ModelHolder:
    """The answers of the current production version, and the loader that replaces them."""

    def __init__(self, name: str, max_k: int = 100, poll_seconds: float = 5.0):
        self.name, self.max_k, self.poll_seconds = name, max_k, poll_seconds
        self.current: Answers | None = None
        self.loaded_at = 0.0
        self._loading = threading.Lock()
        self._stop = threading.Event()
        self._client = None  # one registry client: making one per poll costs a store set-up each time

    def refresh(self) -> bool:
        """Load the production version if it is not the one being served; True if it swapped."""
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        from mindshare.tracking.production import load_recommender

        with self._loading:
            client = self._client = self._client or MlflowClient()
            try:
                version = client.get_model_version_by_alias(self.name, PRODUCTION)
            except MlflowException:
                if self.current is None:
                    raise MindshareError(f"'{self.name}' has no production version yet; run `mindshare promote "
                                         "--reason TEXT` first") from None
                return False
            if self.current is not None and self.current.info.version == str(version.version):
                return False
            started = time.perf_counter()
            wrapper = load_recommender(self.name, version.version)
            tags = client.get_run(version.run_id).data.tags if version.run_id else {}
            info = VersionInfo(self.name, str(version.version), PRODUCTION, tags.get(FAMILY_TAG, ""),
                               tags.get(GIT_COMMIT_TAG, ""), version.run_id or "")
            answers = Answers(wrapper, info, self.max_k)
            self.current, self.loaded_at = answers, time.time()  # the swap: one reference
            log.info("serving %s version %s (%s), ready in %.1f s", self.name, info.version, info.family,
                     time.perf_counter() - started)
            return True

    def watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except Exception as error:  # keep serving what is loaded; say why once per poll
                log.warning("could not check or load the production version: %s", str(error).splitlines()[0])

    def start_watching(self) -> None:
        threading.Thread(target=self.watch, name="production-watch", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def audience(self, campaign: str, budget: int | None) -> dict:
        """A campaign's audience from the served version; the last `AUDIENCE_CACHE` answers are kept with it."""
        answers = self.ready()
        cache = answers.audiences
        key = (campaign, budget)
        found = cache.get(key)
        if found is None:
            from mindshare.marketing.campaign_runs import single_campaign
            from mindshare.stages.inputs import known_test_split, read_table
            from mindshare.stages.params import load_settings

            settings = load_settings()
            chosen, table, row = single_campaign(answers.recommender, settings.campaigns, campaign, budget,
                                                 settings.audience, read_table(layout.ITEMS, "items"),
                                                 known_test_split())
            members = [{"user_id": r.user_id, "score": float(r.score), "group": r.group, "reason": r.reason,
                        "top_items": list(r.top_items)} for r in table.itertuples(index=False)]
            summary = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            found = {"campaign": chosen.name, "model": _model_ref(answers), "summary": summary, "audience": members}
            if len(cache) >= AUDIENCE_CACHE:
                cache.pop(next(iter(cache)))
            cache[key] = found
        return found

    def version(self) -> dict:
        """The served version as GET /version and POST /admin/reload describe it."""
        return {**self.ready().info.__dict__, "loaded_at": self.loaded_at}

    def ready(self) -> Answers:
        answers = self.current
        if answers is None:
            raise HTTPException(503, "no production model is loaded yet")
        return answers


def _model_ref(answers: Answers) -> dict:
    return {"name": answers.info.name, "version": answers.info.version, "alias": answers.info.alias}


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _one_line(error: RequestValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
    return f"{where or 'request'}: {first.get('msg', 'invalid')}".replace("\n", " ")


def create_app(holder: ModelHolder, max_batch: int = 1000) -> FastAPI:
    app = FastAPI(title="mindshare", description="Personalised recommendations and campaign audiences from the "
                  "production model.", version="1")
    max_k = holder.max_k
    _, BatchRequest = request_models(max_k, max_batch)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        return _json({"error": _one_line(error)}, 422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        return _json({"error": str(error.detail).splitlines()[0]}, error.status_code)

    @app.exception_handler(MindshareError)
    async def refused(request: Request, error: MindshareError) -> Response:
        return _json({"error": str(error).splitlines()[0]}, 404 if "is not in params.yaml" in str(error) else 422)

    @app.get("/health", response_model=Health, responses={503: {"model": ErrorMessage}})
    async def health() -> Response:
        answers = holder.ready()
        return _json({"status": "ok", "version": answers.info.version})

    @app.get("/version", response_model=Version, responses={503: {"model": ErrorMessage}})
    async def version() -> Response:
        return _json(holder.version())

    @app.get("/recommend/{user_id}", response_model=Recommendation, responses=ERRORS)
    async def recommend_one(user_id: str = Path(min_length=1, max_length=256),
                            k: int = Query(10, ge=1, le=max_k),
                            gender: str | None = Query(None, max_length=32),
                            age: int | None = Query(None, ge=0, le=130)) -> Response:
        answers = holder.ready()
        return _json({**answers.recommend(user_id, k, gender, age), "model": _model_ref(answers)})

    async def recommend_batch(request) -> Response:
        answers = holder.ready()
        ref = _model_ref(answers)
        return _json({"results": [{**answers.recommend(u.user_id, u.k or request.k, u.gender, u.age), "model": ref}
                                  for u in request.users]})

    recommend_batch.__annotations__["request"] = BatchRequest  # a class made here: not a string annotation
    app.post("/recommend", response_model=BatchRecommendation, responses=ERRORS)(recommend_batch)

    @app.get("/audience/{campaign}", response_model=Audience, responses=ERRORS)
    def audience(campaign: str = Path(min_length=1, max_length=128),
                 budget: int | None = Query(None, ge=1, le=10_000_000)) -> Response:
        return _json(holder.audience(campaign, budget))

    @app.post("/admin/reload", response_model=Version, responses={503: {"model": ErrorMessage}})
    def reload() -> Response:
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
    holder.start_watching()
    return create_app(holder, int(os.environ.get("MINDSHARE_SERVE_MAX_BATCH", "1000")))
