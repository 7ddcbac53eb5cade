"""/api/v2/analytics: events sent by clients."""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from flask_jwt_extended import current_user

from app.errors import ServiceUnavailable
from app.extensions import limiter
from app.routes._common import ApiBlueprint, auth_required, write_limit
from app.schemas.analytics import EventCreate, EventRead
from app.services.analytics_service import AnalyticsService

blp = ApiBlueprint(
    "analytics_v2", __name__, url_prefix="/api/v2/analytics", description="Product analytics"
)


@blp.route("/track", methods=["POST"])
@auth_required()
@limiter.limit(write_limit)
@blp.arguments(EventCreate)
@blp.response(201, EventRead)
def track(data: dict[str, Any]) -> Any:
    """Record one product event of a whitelisted type"""
    event = AnalyticsService.track_client_event(
        user_id=current_user.id,
        event_type=data["event_type"],
        event_data=data["event_data"],
        allowed_types=current_app.config["ANALYTICS_EVENT_TYPES"],
        received_at=g.get("received_at"),
    )
    if event is None:
        raise ServiceUnavailable(
            "The event could not be stored. Retry later.", headers={"Retry-After": "5"}
        )
    return event
