"""Events the API refused: kept (14 days) for debugging clients, never counted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, UTCDateTime, utcnow


class RejectedEvent(Base):
    __tablename__ = "rejected_events"
    __table_args__ = (
        Index("idx_rejected_received", "received_at"),
        Index("idx_rejected_reason", "reason", "received_at"),
        Index("idx_rejected_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # A code from the documented list (app.services.ingestion.checks reasons).
    reason: Mapped[str] = mapped_column(String(64))
    # Where it came from: "track" or "batch".
    source: Mapped[str] = mapped_column(String(16))
    # The payload as ASCII-escaped JSON text, cut to 2 KiB.
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
