"""Password reset by a link sent to the account's address.

Requesting a reset answers the same whether or not the address has an account (no account
enumeration); for an account it stores a new token's SHA-256 (the token itself is only in
the link), spends the user's older unused tokens, and hands the link to the configured
sender (reset_senders.py). Confirming with the token sets the new password once: the token
is claimed by a conditional UPDATE (a second use, even concurrent, finds it spent), and the
user's token_version moves on, so every access and refresh token issued before is refused.
Neither the token nor the link is ever logged.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from app import clock
from app.errors import DomainError
from app.extensions import db
from app.models import PasswordResetToken, User
from app.services.auth import service as users
from app.services.auth.reset_senders import ResetSender, build_sender

log = logging.getLogger(__name__)
_SENDER = "password_reset_sender"


class ResetTokenInvalid(DomainError):
    """Unknown, spent, superseded or expired: one answer, whichever it was."""

    type_slug = "reset-token-invalid"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _sender() -> ResetSender:
    app = current_app
    if _SENDER not in app.extensions:
        app.extensions[_SENDER] = build_sender(app.config["PASSWORD_RESET_SENDER"], app.config)
    return app.extensions[_SENDER]


def _spend_unused(*, user_id: int, now: datetime) -> None:
    db.session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user_id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    )


def request_reset(*, email: str) -> None:
    """Send a reset link if the address has an account; nothing tells the caller which."""
    user = users.get_by_email(email=email)
    if user is None:
        log.info("Password reset asked for an address without an account")
        return
    token = secrets.token_urlsafe(32)
    now = clock.now()
    expires_at = now + timedelta(seconds=int(current_app.config["PASSWORD_RESET_TOKEN_EXPIRES"]))
    _spend_unused(user_id=user.id, now=now)
    db.session.add(
        PasswordResetToken(
            user_id=user.id, token_hash=_hash(token), created_at=now, expires_at=expires_at
        )
    )
    db.session.commit()
    link = current_app.config["PASSWORD_RESET_URL"].format(token=token)
    try:
        _sender().send(email=user.email, link=link, expires_at=expires_at)
    except Exception as exc:  # noqa: BLE001 - any sender's failure; the caller must not learn it
        # The type only: a sender's message could quote the link.
        log.error("Sending a password-reset link to user %s failed: %s", user.id,
                  type(exc).__name__)
        return
    log.info("Password-reset link sent to user %s", user.id)


def confirm_reset(*, token: str, new_password: str) -> User:
    """Set the password of the token's user and spend the token; ResetTokenInvalid when the
    token is unknown, spent or expired. Every token issued to the user before stops working."""
    users.check_password(new_password, field="new_password")
    now = clock.now()
    row = db.session.execute(
        select(PasswordResetToken.id, PasswordResetToken.user_id).where(
            PasswordResetToken.token_hash == _hash(token),
            PasswordResetToken.used_at.is_(None),
            PasswordResetToken.expires_at > now,
        )
    ).first()
    claimed = row is not None and db.session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.id == row.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
    ).rowcount == 1
    user = db.session.get(User, row.user_id) if claimed and row is not None else None
    if user is None:
        db.session.rollback()
        raise ResetTokenInvalid(
            "This password-reset link is invalid, used already or expired: ask for a new one.",
            errors=[{"field": "token", "message": "Invalid, used or expired."}],
        )
    _spend_unused(user_id=user.id, now=now)
    users.set_password(user=user, password=new_password)
    db.session.commit()
    log.info("Password of user %s reset by link", user.id)
    return user
