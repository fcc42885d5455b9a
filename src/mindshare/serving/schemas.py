"""The REST API's request and response bodies (pydantic): what /openapi.json publishes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field


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
