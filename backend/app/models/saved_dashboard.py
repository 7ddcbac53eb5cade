"""Saved dashboards: named sets of report views, shared by the team's admins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class SavedDashboard(Base):
    __tablename__ = "saved_dashboards"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # [{"report": slug, "title": str, "query": the view's query string}, ...] in order.
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # Who saved it first; kept as NULL when that user is erased.
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
