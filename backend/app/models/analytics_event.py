"""Product events, recorded by the server or sent by clients (logged in or anonymous)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, Uuid, text
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
        # Anonymous events (no user) are unique per anonymous id instead; NULL user_ids
        # never collide in the constraint above. Also finds an anonymous id's events.
        Index(
            "uq_events_anonymous_event_id",
            "anonymous_id",
            "event_id",
            unique=True,
            postgresql_where=text("user_id IS NULL"),
            sqlite_where=text("user_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    # None for an anonymous visitor's event (then anonymous_id is set).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(64))
    event_data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # The server's receive time.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The client's idempotency key (a UUID); None only on rows stored before it existed.
    event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    # When it happened, corrected for the client's clock; created_at when not sent.
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The client-generated id of a device or browser (Segment's anonymousId), and the
    # client's session id when it sends one.
    anonymous_id: Mapped[str | None] = mapped_column(String(200))
    session_id: Mapped[str | None] = mapped_column(String(200))
    # Context (Segment's context.*; services/ingestion/segment_context.py), None when not
    # sent. platform is the write key's source: ios, android, web or server.
    platform: Mapped[str | None] = mapped_column(String(16))
    os_name: Mapped[str | None] = mapped_column(String(64))
    os_version: Mapped[str | None] = mapped_column(String(64))
    app_version: Mapped[str | None] = mapped_column(String(64))
    app_build: Mapped[str | None] = mapped_column(String(64))
    device_model: Mapped[str | None] = mapped_column(String(128))
    locale: Mapped[str | None] = mapped_column(String(64))
    timezone: Mapped[str | None] = mapped_column(String(64))
    library_name: Mapped[str | None] = mapped_column(String(64))
    library_version: Mapped[str | None] = mapped_column(String(64))
    # From the web's user agent (ua-parser); the user agent itself is not kept.
    browser_name: Mapped[str | None] = mapped_column(String(64))
    browser_version: Mapped[str | None] = mapped_column(String(64))
