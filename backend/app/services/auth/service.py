"""Users: accounts, passwords, profiles (tokens are in tokens.py)."""

from __future__ import annotations

from functools import cache
from typing import cast
from zoneinfo import available_timezones

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from marshmallow import ValidationError as FieldError
from marshmallow.validate import Email
from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError

from app import clock
from app.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from app.extensions import db
from app.models import User
from app.models.user import normalize_email
from app.services.auth import tokens
from app.services.identity import links
from app.services.privacy.opt_out import forget_tracking_cache

MIN_PASSWORD_LENGTH = 8
MAX_DISPLAY_NAME_LENGTH = 80
_email_validator = Email()

# The token functions live in tokens.py; the app factory and the benchmarks name them here.
get_user_for_token = tokens.get_user_for_token
issue_access_token = tokens.issue_access_token


@cache
def _hasher_for(params: tuple[tuple[str, int], ...]) -> tuple[PasswordHasher, str]:
    hasher = PasswordHasher(**dict(params))
    # Verified against when the email is unknown, so both failures cost the same time.
    return hasher, hasher.hash("not-a-real-password")


def _hasher() -> tuple[PasswordHasher, str]:
    """argon2id with the library's defaults, or ARGON2_PARAMS (tests make it cheap)."""
    params = cast(dict[str, int], current_app.config.get("ARGON2_PARAMS") or {})
    return _hasher_for(tuple(sorted(params.items())))


def hash_password(password: str) -> str:
    return _hasher()[0].hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher()[0].verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _known_zones() -> frozenset[str]:
    # "localtime" is the host's zone file, not an IANA name.
    return frozenset(available_timezones()) - {"localtime"}


def is_known_timezone(name: str) -> bool:
    """Whether name is an IANA time zone (no file paths, no odd files of the zone database)."""
    return name in _known_zones()


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"Invalid {field}: {message}", errors=[{"field": field, "message": message}]
    )


def check_email(email: str) -> str:
    """The normalized email, or ValidationFailed (the API's schema checks it first)."""
    email = normalize_email(email)
    try:
        _email_validator(email)
    except FieldError:
        raise _invalid("email", "Not a valid email address.") from None
    if len(email) > 254:
        raise _invalid("email", "Longer than 254 characters.")
    return email


def check_password(password: str, *, field: str = "password") -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise _invalid(field, f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    return password


def check_display_name(name: str) -> str:
    name = name.strip()
    if not 0 < len(name) <= MAX_DISPLAY_NAME_LENGTH:
        raise _invalid("display_name", f"Use 1 to {MAX_DISPLAY_NAME_LENGTH} characters.")
    return name


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


def is_internal_email(email: str) -> bool:
    """Whether the address is in INTERNAL_EMAIL_DOMAINS (the domain or a subdomain of it)."""
    domains = current_app.config.get("INTERNAL_EMAIL_DOMAINS") or ()
    domain = email.rpartition("@")[2].lower()
    return any(domain == d or domain.endswith("." + d) for d in domains)


def set_internal(*, email: str, internal: bool = True) -> User:
    """Mark a user internal (kept out of insights by default) or not; NotFound if unknown."""
    user = get_by_email(email=email)
    if user is None:
        raise NotFound(f"No user with the email {normalize_email(email)!r}.")
    user.is_internal = internal
    db.session.commit()
    return user


def create(
    *,
    email: str,
    password: str,
    display_name: str,
    timezone: str = "UTC",
    is_admin: bool = False,
    anonymous_id: str | None = None,
) -> User:
    """Register a user; Conflict when the email is taken. `anonymous_id` (the device's)
    is linked to the new user in the same transaction (see _link_device)."""
    check_timezone(timezone)
    check_password(password)
    display_name = check_display_name(display_name)
    email = check_email(email)
    if db.session.scalar(select(exists().where(User.email == email))):
        raise Conflict("An account with this email already exists.")
    user = User(
        email=email,
        password_hash=hash_password(password),
        display_name=display_name,
        timezone=timezone,
        is_admin=is_admin,
        is_internal=is_internal_email(email),
    )
    db.session.add(user)
    try:
        if anonymous_id is not None:
            db.session.flush()
            _link_device(user=user, anonymous_id=anonymous_id, linked_by="register")
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("An account with this email already exists.") from None
    return user


def _link_device(*, user: User, anonymous_id: str, linked_by: str) -> None:
    """Link the device's anonymous id to the user in the session's transaction (committed
    with the registration or login, never without it). An id already linked to another
    user stays theirs (identity.links: the first link stands), and the caller is not told:
    saying so would let anyone probe whether an id belongs to someone."""
    links.link(
        db.session.connection(),
        anonymous_id=anonymous_id,
        user_id=user.id,
        linked_by=linked_by,
        at=clock.now(),
    )


def authenticate(*, email: str, password: str, anonymous_id: str | None = None) -> User:
    """The user with these credentials; the same Unauthorized for any failure (and then
    nothing is linked). `anonymous_id`, the device's, is linked to the user on success."""
    user = get_by_email(email=email)
    hasher, dummy_hash = _hasher()
    if not verify_password(user.password_hash if user else dummy_hash, password):
        user = None
    if user is None:
        raise Unauthorized("Wrong email or password.")
    changed = anonymous_id is not None
    if anonymous_id is not None:
        _link_device(user=user, anonymous_id=anonymous_id, linked_by="login")
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
        changed = True
    if changed:
        db.session.commit()
    return user


def update_profile(
    *,
    user: User,
    display_name: str | None = None,
    timezone: str | None = None,
    analytics_opt_out: bool | None = None,
) -> User:
    """Change the given fields; nothing changes when one of them is invalid.

    While analytics_opt_out is set, no product events are stored for the user and
    their request logs carry no user id.
    """
    zone = check_timezone(timezone) if timezone is not None else None
    name = check_display_name(display_name) if display_name is not None else None
    if zone is not None:
        user.timezone = zone
    if name is not None:
        user.display_name = name
    if analytics_opt_out is not None:
        user.analytics_opt_out = analytics_opt_out
    db.session.commit()
    if analytics_opt_out is not None:
        forget_tracking_cache()
    return user


def change_password(*, user: User, current_password: str, new_password: str) -> User:
    """Set a new password; every token issued before stops working."""
    if not verify_password(user.password_hash, current_password):
        raise ValidationFailed(
            "The current password is wrong.",
            errors=[{"field": "current_password", "message": "Wrong password."}],
        )
    check_password(new_password, field="new_password")
    set_password(user=user, password=new_password)
    db.session.commit()
    return user


def set_password(*, user: User, password: str) -> None:
    """A new password hash (not committed); tokens issued before carry the old version and
    stop working."""
    user.password_hash = hash_password(password)
    # In SQL, so two concurrent changes cannot both write the same version.
    user.token_version = User.token_version + 1


def set_admin(*, email: str, password: str | None, display_name: str = "Admin") -> User:
    """Create an admin, or make an existing user one."""
    user = get_by_email(email=email)
    if user is None:
        if not password:
            raise ValidationFailed("A password is needed to create a new admin.")
        user = create(email=email, password=password, display_name=display_name, is_admin=True)
        return user
    if password:
        check_password(password)
        set_password(user=user, password=password)
    user.is_admin = True
    db.session.commit()
    return user


def count_users() -> int:
    return db.session.scalar(select(func.count()).select_from(User)) or 0
