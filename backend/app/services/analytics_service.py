"""Recording product events."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError

from app.config import SERVER_EVENT_TYPES
from app.errors import ValidationFailed
from app.extensions import db
from app.models import AnalyticsEvent
from app.services import clock
from app.services.event_validation import EventDataError, check_event_data

log = logging.getLogger(__name__)

_events = AnalyticsEvent.__table__


class AnalyticsService:
    """Product events. The class form is the product's existing call site."""

    @staticmethod
    def validate(event_type: str, event_data: Any) -> dict[str, Any]:
        """The event data when storable; ValidationFailed naming the field otherwise."""
        if not isinstance(event_type, str) or not 0 < len(event_type) <= 64:
            raise ValidationFailed(
                "The request has invalid fields.",
                errors=[{"field": "event_type", "message": "Must be 1 to 64 characters."}],
            )
        try:
            return check_event_data({} if event_data is None else event_data)
        except EventDataError as exc:
            raise ValidationFailed(
                "The request has invalid fields.",
                errors=[{"field": "event_data", "message": str(exc)}],
            ) from None

    @staticmethod
    def track(
        user_id: int,
        event_type: str,
        event_data: dict[str, Any] | None = None,
        *,
        received_at: datetime | None = None,
    ) -> AnalyticsEvent | None:
        """Validate, store and commit one event; None (logged) when the database fails.

        The insert runs on its own connection and transaction, so it never commits
        or discards the caller's pending work, and a failure never breaks the caller.
        """
        data = AnalyticsService.validate(event_type, event_data)
        created_at = received_at or clock.now()
        try:
            with db.engine.begin() as conn:
                event_id = conn.execute(
                    insert(_events)
                    .values(
                        user_id=user_id,
                        event_type=event_type,
                        event_data=data,
                        created_at=created_at,
                    )
                    .returning(_events.c.id)
                ).scalar_one()
        except SQLAlchemyError:
            log.exception("could not store %s event for user %s", event_type, user_id)
            return None
        return AnalyticsEvent(
            id=event_id,
            user_id=user_id,
            event_type=event_type,
            event_data=data,
            created_at=created_at,
        )

    @staticmethod
    def track_client_event(
        *,
        user_id: int,
        event_type: str,
        event_data: dict[str, Any] | None,
        allowed_types: Iterable[str],
        received_at: datetime | None = None,
    ) -> AnalyticsEvent | None:
        """track() for an event a client sent: only whitelisted types are accepted."""
        allowed = tuple(t for t in allowed_types if t not in SERVER_EVENT_TYPES)
        if event_type in SERVER_EVENT_TYPES:
            raise ValidationFailed(
                "The request has invalid fields.",
                errors=[
                    {
                        "field": "event_type",
                        "message": f"{event_type!r} is recorded by the server and cannot be "
                        "sent by a client; allowed: " + ", ".join(allowed) + ".",
                    }
                ],
            )
        if event_type not in allowed:
            raise ValidationFailed(
                "The request has invalid fields.",
                errors=[
                    {
                        "field": "event_type",
                        "message": f"Unknown event type {event_type!r}; allowed: "
                        + ", ".join(allowed)
                        + ".",
                    }
                ],
            )
        return AnalyticsService.track(user_id, event_type, event_data, received_at=received_at)
