"""Write keys: the credentials SDKs send to the Segment-compatible /v1 ingestion."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow

WRITE_KEY_SOURCES = ("ios", "android", "web", "server")


class WriteKey(Base):
    __tablename__ = "write_keys"
    __table_args__ = (
        CheckConstraint(
            "source IN ('ios', 'android', 'web', 'server')", name="source_known"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # ios, android and web keys are public (shipped inside apps); a server key is secret.
    source: Mapped[str] = mapped_column(String(16))
    # SHA-256 of the key, hex: the key itself is shown once, at creation, and never stored.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The key's first characters, to recognise it in a listing.
    key_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def is_secret(self) -> bool:
        return self.source == "server"
