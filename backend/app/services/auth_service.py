"""Users, passwords and tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_jwt_extended import create_access_token, create_refresh_token
from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError

from app.errors import Conflict, Unauthorized, ValidationFailed
from app.extensions import db
from app.models import RevokedToken, User

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both failures cost the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def normalize_email(email: str) -> str:
    return email.strip().lower()


@cache
def _known_zones() -> frozenset[str]:
    # "localtime" is the host's zone file, not an IANA name.
    return frozenset(available_timezones()) - {"localtime"}


def is_known_timezone(name: str) -> bool:
    """Whether name is an IANA time zone (no file paths, no odd files of the zone database)."""
    return name in _known_zones()


def check_timezone(name: str) -> str:
    """Return the IANA zone name, or raise ValidationFailed."""
    if not is_known_timezone(name):
        raise ValidationFailed(
            "The request has invalid fields.",
            errors=[{"field": "timezone", "message": f"Unknown IANA time zone: {name!r}."}],
        )
    return name


def get_user(*, user_id: int) -> User | None:
    return db.session.get(User, user_id)


def get_by_email(*, email: str) -> User | None:
    return db.session.scalars(select(User).where(User.email == normalize_email(email))).first()


def create(
    *,
    email: str,
    password: str,
    display_name: str,
    timezone: str = "UTC",
    is_admin: bool = False,
) -> User:
    """Register a user; Conflict when the email is taken."""
    check_timezone(timezone)
    email = normalize_email(email)
    if db.session.scalar(select(exists().where(User.email == email))):
        raise Conflict("An account with this email already exists.")
    user = User(
        email=email,
        password_hash=_hasher.hash(password),
        display_name=display_name.strip(),
        timezone=timezone,
        is_admin=is_admin,
    )
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("An account with this email already exists.") from None
    return user


def authenticate(*, email: str, password: str) -> User:
    """The user with these credentials; the same Unauthorized for any failure."""
    user = get_by_email(email=email)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None:
        raise Unauthorized("Wrong email or password.")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        db.session.commit()
    return user


def issue_tokens(*, user: User) -> dict[str, str]:
    claims = {"ver": user.token_version}
    return {
        "access_token": create_access_token(identity=str(user.id), additional_claims=claims),
        "refresh_token": create_refresh_token(identity=str(user.id), additional_claims=claims),
        "token_type": "Bearer",
    }


def issue_access_token(*, user: User) -> dict[str, str]:
    return {
        "access_token": create_access_token(
            identity=str(user.id), additional_claims={"ver": user.token_version}
        ),
        "token_type": "Bearer",
    }


def revoke_token(*, payload: dict[str, Any]) -> None:
    """Put a token on the blocklist (idempotent)."""
    if is_token_revoked(jti=payload["jti"]):
        return
    db.session.add(
        RevokedToken(
            jti=payload["jti"],
            token_type=payload.get("type", "access"),
            user_id=int(payload["sub"]),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        )
    )
    try:
        db.session.commit()
    except IntegrityError:  # revoked concurrently: the outcome is the same
        db.session.rollback()


def is_token_revoked(*, jti: str) -> bool:
    return bool(db.session.scalar(select(exists().where(RevokedToken.jti == jti))))


def purge_expired_revocations(*, now: datetime | None = None) -> int:
    """Drop blocklist rows whose tokens have expired anyway."""
    now = now or datetime.now(UTC)
    rows = db.session.execute(
        RevokedToken.__table__.delete().where(RevokedToken.expires_at < now)
    ).rowcount
    db.session.commit()
    return rows or 0


def update_profile(
    *, user: User, display_name: str | None = None, timezone: str | None = None
) -> User:
    if timezone is not None:
        user.timezone = check_timezone(timezone)
    if display_name is not None:
        user.display_name = display_name.strip()
    db.session.commit()
    return user


def change_password(*, user: User, current_password: str, new_password: str) -> User:
    """Set a new password; every token issued before stops working."""
    try:
        _hasher.verify(user.password_hash, current_password)
    except (VerificationError, InvalidHashError):
        raise ValidationFailed(
            "The current password is wrong.",
            errors=[{"field": "current_password", "message": "Wrong password."}],
        ) from None
    user.password_hash = _hasher.hash(new_password)
    user.token_version = user.token_version + 1
    db.session.commit()
    return user


def set_admin(*, email: str, password: str | None, display_name: str = "Admin") -> User:
    """Create an admin, or make an existing user one."""
    user = get_by_email(email=email)
    if user is None:
        if not password:
            raise ValidationFailed("A password is needed to create a new admin.")
        user = create(email=email, password=password, display_name=display_name, is_admin=True)
        return user
    user.is_admin = True
    if password:
        user.password_hash = _hasher.hash(password)
    db.session.commit()
    return user


def count_users() -> int:
    return db.session.scalar(select(func.count()).select_from(User)) or 0
