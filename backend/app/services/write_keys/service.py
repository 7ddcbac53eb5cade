"""Creating, listing, revoking and checking write keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from app import clock
from app.errors import NotFound, ValidationFailed
from app.extensions import db
from app.models import WRITE_KEY_SOURCES, WriteKey
from app.services.write_keys import key_cache

# A key is "wk_" + "pub" (ios, android, web: shipped inside apps) or "sec" (server) + "_" +
# 32 random URL-safe characters (192 bits): too random to guess, so one fast SHA-256 (not a
# slow password hash) is enough to store it, and a look-up is one indexed query.
_PREFIX_CHARS = 12
_MAX_KEY_LENGTH = 100


@dataclass(frozen=True)
class CreatedKey:
    key: WriteKey
    plaintext: str  # shown once; never stored, never logged


@dataclass(frozen=True)
class Caller:
    """The write key of a /v1 request, as the ingestion needs it."""

    key_id: int
    source: str  # ios, android, web or server
    is_secret: bool


def digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8", "surrogatepass")).hexdigest()


def create(*, source: str, name: str) -> CreatedKey:
    if source not in WRITE_KEY_SOURCES:
        raise ValidationFailed(
            "Unknown source.",
            errors=[{"field": "source", "message": "One of " + ", ".join(WRITE_KEY_SOURCES)}],
        )
    name = name.strip()
    if not 0 < len(name) <= 100:
        raise ValidationFailed(
            "Invalid name.", errors=[{"field": "name", "message": "1 to 100 characters."}]
        )
    kind = "sec" if source == "server" else "pub"
    plaintext = f"wk_{kind}_{secrets.token_urlsafe(24)}"
    key = WriteKey(
        name=name,
        source=source,
        key_hash=digest(plaintext),
        key_prefix=plaintext[:_PREFIX_CHARS],
        created_at=clock.now(),
    )
    db.session.add(key)
    db.session.commit()
    return CreatedKey(key, plaintext)


def list_keys(*, include_revoked: bool = True) -> list[WriteKey]:
    statement = select(WriteKey).order_by(WriteKey.id)
    if not include_revoked:
        statement = statement.where(WriteKey.revoked_at.is_(None))
    return list(db.session.scalars(statement))


def revoke(*, key_id: int) -> WriteKey:
    """Revoke a key (idempotent): every later request with it is a 401."""
    key = db.session.get(WriteKey, key_id)
    if key is None:
        raise NotFound("No such write key.")
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        db.session.commit()  # empties the key caches (key_cache)
    return key


def authenticate(plaintext: str | None) -> Caller | None:
    """The caller a key names; None for a missing, unknown or revoked key (alike).

    A valid key's answer comes from memory for TOKEN_CACHE_SECONDS (see key_cache)."""
    if not plaintext or len(plaintext) > _MAX_KEY_LENGTH:
        return None
    wanted = digest(plaintext)
    return key_cache.cached(wanted, lambda: _look_up(wanted))


def _look_up(wanted: str) -> Caller | None:
    row = db.session.execute(
        select(WriteKey.id, WriteKey.source, WriteKey.key_hash, WriteKey.revoked_at).where(
            WriteKey.key_hash == wanted
        )
    ).first()
    # The index finds the row; compare_digest keeps the final comparison constant-time.
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, wanted):
        return None
    return Caller(key_id=row.id, source=row.source, is_secret=row.source == "server")
