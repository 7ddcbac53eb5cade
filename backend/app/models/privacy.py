"""Privacy records: erasures done, and the daily keys that hash IP addresses."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, JSONType, UTCDateTime, utcnow


class ErasureAudit(Base):
    """One erasure: who asked and how many rows per table; nothing about the person."""

    __tablename__ = "erasure_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    # "self" (the person) or "admin".
    requested_by: Mapped[str] = mapped_column(String(16))
    admin_user_id: Mapped[int | None] = mapped_column(Integer)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    row_counts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class IpHashKey(Base):
    """The secret of one UTC day for IP_MODE=hash; deleted after 48 hours."""

    __tablename__ = "ip_hash_keys"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    key: Mapped[bytes] = mapped_column(LargeBinary(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
