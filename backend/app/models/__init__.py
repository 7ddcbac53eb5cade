"""Every model, imported so that the metadata (and Alembic) sees all tables."""

from app.models.analytics_event import AnalyticsEvent
from app.models.base import Base, utcnow
from app.models.challenge import Challenge, Enrollment
from app.models.plan import Completion, Plan
from app.models.request_log import RequestLog
from app.models.user import RevokedToken, User
from app.models.video import UserLikedVideo, Video

__all__ = [
    "AnalyticsEvent",
    "Base",
    "Challenge",
    "Completion",
    "Enrollment",
    "Plan",
    "RequestLog",
    "RevokedToken",
    "User",
    "UserLikedVideo",
    "Video",
    "utcnow",
]
