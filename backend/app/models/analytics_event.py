"""Product events, recorded by the server or sent by clients."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, JSONType, UTCDateTime, utcnow


class AnalyticsEvent(Base):
    __tablename__ = "analytics_events"
    __table_args__ = (
        Index("idx_events_user", "user_id"),
        Index("idx_events_type_date", "event_type", "created_at"),
        # Reports read the users of one event type over a time range: with user_id in the
        # key the scan never visits the table (an index-only scan on PostgreSQL).
        Index("idx_events_type_occurred_user", "event_type", "occurred_at", "user_id"),
        # One user cannot suppress another's events: event ids are unique per user.
        UniqueConstraint("user_id", "event_id", name="uq_events_user_event_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(64))
    event_data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # The server's receive time.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The client's idempotency key (a UUID); None only on rows stored before it existed.
    event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    # When it happened, corrected for the client's clock; created_at when not sent.
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
