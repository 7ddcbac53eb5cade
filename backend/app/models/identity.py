"""Identity links: which user an anonymous id (a device or browser) turned out to be."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigIntPK, UTCDateTime, utcnow


class AnonymousIdentity(Base):
    __tablename__ = "anonymous_identities"
    __table_args__ = (Index("idx_anonymous_identities_user", "user_id"),)

    # In the order links are made: the rollups fold links by it (insights/rollups).
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    # One anonymous id belongs to at most one user: the first link wins, for good.
    anonymous_id: Mapped[str] = mapped_column(String(200), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # How it was linked: "identify" or "alias" (/v1), later "login" or "register".
    linked_by: Mapped[str] = mapped_column(String(16))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
