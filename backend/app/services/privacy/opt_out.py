"""Analytics opt-out: whether a user's product events and request-log user id are kept."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import g, has_request_context
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import AnalyticsEvent, User

_CACHE = "_privacy_tracking_allowed"


def tracking_allowed(user_id: int) -> bool:
    """False when the user opted out of analytics or no longer exists.

    In a request the answer is cached in flask.g (one look-up per request at most), and
    read from the token's already loaded user when it is still loaded. The cache matters
    after a commit: it expires the loaded user, and the request-log hook asks again.
    """
    if not has_request_context():
        return _lookup(user_id)
    request_globals = g._get_current_object()  # type: ignore[attr-defined]
    cache: dict[int, bool] = request_globals.setdefault(_CACHE, {})
    allowed = cache.get(user_id)
    if allowed is None:
        loaded = _loaded_opt_out(request_globals.get("_token_user"), user_id)
        allowed = cache[user_id] = (not loaded) if loaded is not None else _lookup(user_id)
    return allowed


def forget_tracking_cache() -> None:
    """Drop the request's cached answers (after the opt-out changed or a user was erased)."""
    if has_request_context():
        g.pop(_CACHE, None)


def _loaded_opt_out(loaded: Any, user_id: int) -> bool | None:
    """The opt-out flag of the token's user as loaded in this request, if it is."""
    if not isinstance(loaded, User):
        return None
    # The instance's __dict__ holds the loaded attribute values only: reading it never
    # reloads an expired attribute (which would cost a query).
    values = vars(loaded)
    if values.get("id") != user_id or "analytics_opt_out" not in values:
        return None
    return bool(values["analytics_opt_out"])


def _lookup(user_id: int) -> bool:
    # no_autoflush: a look-up must not flush the caller's pending work (track() decides
    # how to store an event from whether the caller has written).
    with db.session.no_autoflush:
        opted_out = db.session.scalar(select(User.analytics_opt_out).where(User.id == user_id))
    return opted_out is False


def skip_opted_out(
    user_id: int,
    event_type: str,
    event_data: dict[str, Any],
    received_at: datetime | None = None,
) -> AnalyticsEvent | None:
    """For an opted-out user, the event as it would have been stored (id None, not stored).

    None when the user's events are tracked. AnalyticsService.track returns the unstored
    event, so callers and POST /track answer as usual (201, "id": null).
    """
    if tracking_allowed(user_id):
        return None
    return AnalyticsEvent(
        id=None,
        user_id=user_id,
        event_type=event_type,
        event_data=event_data,
        created_at=received_at or clock.now(),
    )
