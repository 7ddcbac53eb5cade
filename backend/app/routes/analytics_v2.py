"""/api/v2/analytics: events sent by clients, one (/track) or up to 100 at once (/batch)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, current_app, g, request
from flask.blueprints import BlueprintSetupState
from flask_jwt_extended import current_user
from flask_limiter import RequestLimit
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import HTTPException

from app import metrics
from app.errors import Forbidden, ServiceUnavailable
from app.extensions import limiter
from app.routes._common import ApiBlueprint, auth_required, problems, write_limit
from app.schemas.analytics import MAX_BATCH_EVENTS, BatchCreate, BatchRead, EventCreate, EventRead
from app.services.analytics_service import AnalyticsService
from app.services.ingestion import batch as ingestion_service
from app.services.ingestion import rejected_events
from app.services.ingestion.checks import EventRefused, IngestPolicy
from app.services.ingestion.event_schemas import load_event_schemas
from app.web import json_codec
from app.web.json_body import cached_json_body, json_body

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

BATCH_MAX_BYTES = 512 * 1024
_POLICY = "ingest_policy"
_FIELD_REASONS = {
    "event_type": "invalid_event_type",
    "event_data": "invalid_event_data",
    "event_id": "invalid_event_id",
    "occurred_at": "invalid_occurred_at",
    "sent_at": "invalid_sent_at",
}


blp = ApiBlueprint(
    "analytics_v2", __name__, url_prefix="/api/v2/analytics", description="Product analytics"
)


@blp.record_once
def _build_policy(state: BlueprintSetupState) -> None:
    # Once per app, at startup: a broken schema file stops the app, not a request.
    app: Flask = state.app
    app.extensions[_POLICY] = IngestPolicy(
        allowed_types=tuple(app.config["ANALYTICS_EVENT_TYPES"]),
        schemas=load_event_schemas(app.config.get("EVENT_SCHEMAS_DIR")),
    )


@blp.before_request
def _batch_body_limit() -> None:
    # The app-wide MAX_CONTENT_LENGTH (64 KiB) stays; a batch may carry up to 512 KiB.
    if request.endpoint == "analytics_v2.batch":
        request.max_content_length = BATCH_MAX_BYTES


def _policy() -> IngestPolicy:
    return current_app.extensions[_POLICY]


def event_limit() -> str:
    return current_app.config["EVENT_LIMIT"]


def _event_cost() -> int:
    """Events in this batch; 0 for a body whose envelope is invalid (it will be refused
    whole with 4xx)."""
    try:
        body = json_body(request)
    except HTTPException:
        body = None
    events = body.get("events") if isinstance(body, dict) else None
    cost = len(events) if isinstance(events, list) and len(events) <= MAX_BATCH_EVENTS else 0
    g.event_cost = cost
    return cost


def _refund_refused_events(breach: RequestLimit) -> None:
    """A refused request consumes nothing of EVENT_LIMIT.

    With the fixed-window strategy (our default) limits' hit() adds the cost to the
    counter even when it refuses it, so a batch of 100 with 50 left would leave the
    counter 50 over the limit. Give the cost back. (moving-window and sliding-window
    refuse without consuming.)
    """
    cost = g.get("event_cost", 1)
    metrics.count_events("rate_limited", cost)
    strategy = breach.limiter
    if isinstance(strategy, FixedWindowRateLimiter) and cost:
        try:
            strategy.storage.incr(breach.key, breach.limit.get_expiry(), amount=-cost)
        except Exception:  # noqa: BLE001 - a storage outage must not turn a 429 into a 500
            log.warning("could not give back a refused request's event cost", exc_info=True)


def _events_limited(func: F) -> F:
    """EVENT_LIMIT, per user, on /batch; a refused batch is refused whole.

    Not on /track: one event per request, bounded by WRITE_LIMIT, so that each /track
    checks one limit (one Redis round trip; issue 14). A user's events per window are at
    most WRITE_LIMIT (by /track) + EVENT_LIMIT (by /batch).
    """
    return limiter.shared_limit(
        event_limit, scope="events", cost=_event_cost, on_breach=_refund_refused_events
    )(func)


def _records_refusals(source: str) -> Callable[[F], F]:
    """Every 422 of this route also goes to rejected_events with its reason code."""

    def decorator(func: F) -> F:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except EventRefused as exc:
                _record(source, exc.reason)
                raise
            except HTTPException as exc:
                if exc.code == 422:
                    _record(source, _reason_from_fields(exc))
                raise

        return wrapper  # type: ignore[return-value]

    return decorator


def _reason_from_fields(exc: HTTPException) -> str:
    messages = (getattr(exc, "data", None) or {}).get("messages") or {}
    fields = messages.get("json") if isinstance(messages, dict) else None
    if isinstance(fields, dict):
        for name in fields:
            if name in _FIELD_REASONS:
                return _FIELD_REASONS[name]
    return "invalid_event"


def _record(source: str, reason: str) -> None:
    payload = cached_json_body()
    if payload is None:
        payload = request.get_data(as_text=True)
    rejection = rejected_events.Rejection(reason, payload)
    rejected_events.record(
        user_id=current_user.id, source=source, received_at=g.get("received_at"),
        rejections=[rejection],
    )
    rejected_events.count_rejections([rejection])


_EVENT_COLUMNS = (
    "id", "user_id", "event_id", "event_type", "event_data", "occurred_at", "created_at"
)


def _result(result: ingestion_service.EventResult) -> dict[str, Any]:
    out: dict[str, Any] = {"event_id": result.event_id, "status": result.status}
    if result.reason:
        out |= {"reason": result.reason, "message": result.message}
    if result.clamped:
        out["clamped"] = True
    return out


@blp.route("/track", methods=["POST"])
@auth_required()
@limiter.limit(write_limit)
@_records_refusals("track")
@blp.arguments(EventCreate)
@blp.response(201, EventRead)
@blp.alt_response(200, schema=EventRead, description="A duplicate: the event stored before")
def track(data: dict[str, Any]) -> Any:
    """Record one product event of a whitelisted type"""
    tracked = AnalyticsService.track_client_event(
        user_id=current_user.id,
        event_type=data["event_type"],
        event_data=data["event_data"],
        event_id=data["event_id"],
        occurred_at=data["occurred_at"],
        sent_at=data["sent_at"],
        policy=_policy(),
        received_at=g.received_at,
    )
    if tracked is None:
        raise ServiceUnavailable(
            "The event could not be stored. Retry later.", headers={"Retry-After": "5"}
        )
    event = tracked.event
    body = {name: getattr(event, name, None) for name in _EVENT_COLUMNS}
    body |= {"duplicate": tracked.duplicate, "clamped": tracked.clamped}
    # EventRead's shape already (ints, strings, a JSON object, UUID and aware datetimes,
    # which orjson writes as marshmallow does: str(uuid), isoformat()): answered as is,
    # which spares a schema dump per event, as /batch does.
    return current_app.response_class(
        json_codec.response_body(body),
        status=200 if tracked.duplicate else 201,
        mimetype="application/json",
    )


@blp.route("/batch", methods=["POST"])
@auth_required()
@limiter.limit(write_limit)
@_events_limited
@blp.arguments(BatchCreate)
@blp.response(200, BatchRead)
@problems(403)
def batch(data: dict[str, Any]) -> Any:
    """Record up to 100 events: each is accepted, a duplicate, or rejected with a reason"""
    if data["backfill"] and not current_user.is_admin:
        raise Forbidden("Only an admin may backfill events older than 7 days.")
    result = ingestion_service.ingest_batch(
        user_id=current_user.id,
        events=data["events"],
        sent_at=data["sent_at"],
        received_at=g.received_at,
        policy=_policy(),
        backfill=data["backfill"],
    )
    # Already in BatchRead's shape (plain strings, ints, booleans): answered as is, which
    # spares marshmallow a dump of 100 nested results per call.
    body = json_codec.response_body({
        "accepted": result.accepted,
        "duplicate": result.duplicate,
        "rejected": result.rejected,
        "results": [_result(r) for r in result.results],
    })
    return current_app.response_class(body, mimetype="application/json")
