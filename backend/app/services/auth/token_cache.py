"""The token check's answer (the token's user, whether its jti or session is revoked), per
process, so that an authenticated request needs no database round trip.

A request's token is checked against the database at most once per TOKEN_CACHE_SECONDS
(default 2) per process; in between, the answer comes from memory. Bounds:

- In the process that makes a change, at once: every commit (through any session or
  connection of an app's engine) that wrote to `users`, `revoked_tokens` or `write_keys`
  (logout, log out everywhere, password change, profile update, erasure, a key revoked, an
  operator's SQL through the app) empties every registered cache of this process (these
  and the write keys', services/write_keys/key_cache.py) before the next request is checked.
- In every other process: within TOKEN_CACHE_SECONDS of the commit.

The user handed to the request is a copy attached to its session without a query
(`Session.merge(load=False)`, SQLAlchemy's caching recipe), so routes read and change it as
if loaded; its attributes are as fresh as the bound above. TOKEN_CACHE_SECONDS = 0 turns
the cache off (every request asks the database, as before).
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Flask, current_app
from sqlalchemy import event, inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import make_transient_to_detached

from app import clock
from app.extensions import db
from app.models import User

MAX_ENTRIES = 10_000  # per app; when full it starts over
# Whole names: a write to progress_users or latency_rollup_users is not a write to users.
_WATCHED_TABLES = re.compile(r"\b(?:users|revoked_tokens|write_keys)\b")
_WRITES = ("INSERT", "UPDATE", "DELETE", "MERGE", "TRUNC", "COPY ")
_DIRTY = "token_cache_dirty"
_EXTENSION = "token_cache"

Loader = Callable[..., tuple[User | None, bool]]


class Invalidated(Protocol):
    def invalidate(self) -> None: ...


# Every app's caches of auth state, in this process (register() adds others').
_CACHES: weakref.WeakSet[Invalidated] = weakref.WeakSet()


@dataclass(frozen=True, slots=True)
class _Entry:
    user: User | None  # detached snapshot; never attached itself
    revoked: bool
    expires: float
    generation: int


def _snapshot(user: User) -> User:
    """A detached copy of the loaded user's columns (no session, no pending changes)."""
    values = {attr.key: getattr(user, attr.key) for attr in inspect(User).column_attrs}
    copy = User(**values)
    make_transient_to_detached(copy)
    return copy


class TokenCache:
    """A cached `user_for_token` (see auth.tokens.get_user_for_token) for one app."""

    def __init__(self, load: Loader, *, seconds: float) -> None:
        self._load = load
        self._seconds = seconds
        self._entries: dict[tuple[Any, ...], _Entry] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def __call__(self, **key: Any) -> tuple[User | None, bool]:
        if self._seconds <= 0:
            return _load_retrying_once(self._load, key)
        cache_key = tuple(sorted(key.items()))
        now = clock.now().timestamp()
        entry = self._entries.get(cache_key)
        if entry is not None and entry.generation == self._generation and entry.expires > now:
            if entry.user is None:
                return None, entry.revoked
            return db.session.merge(entry.user, load=False), entry.revoked
        generation = self._generation
        user, revoked = _load_retrying_once(self._load, key)
        entry = _Entry(
            _snapshot(user) if user is not None else None, revoked, now + self._seconds, generation
        )
        with self._lock:
            # A change committed while we read (generation moved on) may not be in what we
            # read: keep nothing rather than an answer older than the change.
            if generation == self._generation:
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.clear()
                self._entries[cache_key] = entry
        return user, revoked

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()


def _load_retrying_once(load: Loader, key: dict[str, Any]) -> tuple[User | None, bool]:
    """The token check is usually a request's first statement: when it finds its pooled
    connection dropped (no pre-ping), nothing is lost by asking once more on a new one (the
    pool has discarded the dead connections). A second failure goes to the 503 handler."""
    try:
        return load(**key)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        db.session.rollback()
        return load(**key)


def _writes_watched_table(statement: str) -> bool:
    head = statement.lstrip()[:6].upper()
    if not head.startswith(_WRITES):
        return False
    return _WATCHED_TABLES.search(statement.lower()) is not None


def register(cache: Invalidated) -> None:
    """Have `cache` emptied with these whenever a watched table's write commits."""
    _CACHES.add(cache)


def invalidate_all() -> None:
    """Empty every token cache of this process."""
    for cache in list(_CACHES):
        cache.invalidate()


def _watch(engine: Engine) -> None:
    """Empty the caches whenever a transaction that wrote a watched table commits."""

    @event.listens_for(engine, "before_cursor_execute")
    def _mark(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        if _writes_watched_table(statement):
            conn.info[_DIRTY] = True
            invalidate_all()  # also now: nothing read from here on is cached as older

    # (Connection.info of an invalidated connection raises: such a one committed nothing.)
    @event.listens_for(engine, "commit")
    def _committed(conn: Connection) -> None:
        if not conn.invalidated and conn.info.pop(_DIRTY, False):
            invalidate_all()

    @event.listens_for(engine, "rollback")
    def _rolled_back(conn: Connection) -> None:
        if not conn.invalidated:
            conn.info.pop(_DIRTY, None)


def install(app: Flask, load: Loader) -> Loader:
    """Give the app its cached token check around `load`, emptied by the app's own writes.

    Returns the look-up to hand to the JWT callbacks: it answers from the current app's
    cache (the callbacks live on the one JWTManager every app of the process shares).
    """
    cache = TokenCache(load, seconds=float(app.config["TOKEN_CACHE_SECONDS"]))
    app.extensions[_EXTENSION] = cache
    _CACHES.add(cache)
    with app.app_context():
        _watch(db.engine)
    return user_for_token


def user_for_token(**key: Any) -> tuple[User | None, bool]:
    """The current app's cached answer for the token (keyword arguments as the loader's)."""
    return current_app.extensions[_EXTENSION](**key)
