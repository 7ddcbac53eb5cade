"""Every model, imported so that the metadata (and Alembic) sees all tables."""

from app.models.activity_rollup import (
    ActivityDayCount,
    ActivityTypeCount,
    ActivityUserDay,
    ActivityZone,
)
from app.models.analytics_event import AnalyticsEvent
from app.models.base import Base, utcnow
from app.models.challenge import Challenge, Enrollment
from app.models.event_span import UserEventSpan
from app.models.identity import AnonymousIdentity
from app.models.latency_rollup import LatencyRollup, LatencyRollupUser
from app.models.password_reset import PasswordResetToken
from app.models.plan import Completion, Plan
from app.models.privacy import ErasureAudit, IpHashKey
from app.models.progress_rollup import ProgressCount, ProgressDay, ProgressUser
from app.models.rejected_event import RejectedEvent
from app.models.request_log import RequestLog
from app.models.rollup_state import RollupState
from app.models.saved_dashboard import SavedDashboard
from app.models.user import RevokedToken, User
from app.models.video import UserLikedVideo, Video
from app.models.write_key import WRITE_KEY_SOURCES, WriteKey

__all__ = [
    "ActivityDayCount",
    "ActivityTypeCount",
    "ActivityUserDay",
    "ActivityZone",
    "AnalyticsEvent",
    "AnonymousIdentity",
    "Base",
    "Challenge",
    "Completion",
    "Enrollment",
    "ErasureAudit",
    "IpHashKey",
    "LatencyRollup",
    "LatencyRollupUser",
    "PasswordResetToken",
    "Plan",
    "ProgressCount",
    "ProgressDay",
    "ProgressUser",
    "RejectedEvent",
    "RequestLog",
    "RollupState",
    "RevokedToken",
    "SavedDashboard",
    "User",
    "UserEventSpan",
    "UserLikedVideo",
    "Video",
    "WRITE_KEY_SOURCES",
    "WriteKey",
    "utcnow",
]
