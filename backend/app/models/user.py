"""Users and revoked tokens."""

from __future__ import annotations

import unicodedata
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


def normalize_email(address: str) -> str:
    """The canonical form of an address, as `users.email` stores it and look-ups compare it.

    Surrounding whitespace dropped, then Unicode NFKC case folding of the whole address
    (NFKC, casefold, NFKC): fullwidth, ligature and other compatibility lookalikes and
    every case variant, of the domain and of the local part, are one account. Look-alike
    letters of other scripts (Cyrillic a) stay distinct; provider rules (dots, +tags) are
    not applied. Migration 20261203_normalize_user_emails holds a frozen copy of this.
    """
    folded = unicodedata.normalize("NFKC", address.strip()).casefold()
    return unicodedata.normalize("NFKC", folded)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored in normalize_email's form; the unique constraint is on that form.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(80))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # Staff and test accounts: stored like everyone else, left out of insights by default.
    is_internal: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # While set, no product events are stored and request logs carry no user id.
    analytics_opt_out: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # Bumped on password change: tokens carrying an older version stop working.
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RevokedToken(Base):
    """The token blocklist; in the database so every process sees a logout.

    `jti` holds a token's jti, or (token_type "session") the `sid` claim that every token
    of one login shares: one row revokes the session's access and refresh tokens.
    """

    __tablename__ = "revoked_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    jti: Mapped[str] = mapped_column(String(64), unique=True)
    token_type: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
