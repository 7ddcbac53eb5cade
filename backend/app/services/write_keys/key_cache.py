"""The answers of write-key checks, per process, so that a /v1 call runs no look-up query.

A valid key's caller is remembered for TOKEN_CACHE_SECONDS (default 2), with the access
tokens' invalidation (services/auth/token_cache.py, which this cache registers with):
- a commit through this process that wrote `write_keys` (a revocation by the API, the
  dashboard, `flask write-keys revoke`, or an operator's SQL through the app) empties it
  at once;
- in every other process, a revoked key is refused within TOKEN_CACHE_SECONDS.
Unknown and revoked keys are never remembered: each such call asks the database, so a new
key works at once everywhere. TOKEN_CACHE_SECONDS = 0 turns the cache off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from flask import current_app

from app import clock
from app.services.auth import token_cache

T = TypeVar("T")

MAX_ENTRIES = 1_000  # per app; when full it starts over
_EXTENSION = "write_key_cache"


class KeyCache(Generic[T]):
    """One app's remembered answers, by key digest, each with its expiry."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[T, float]] = {}
        self.generation = 0  # moves on at every invalidation

    def invalidate(self) -> None:
        self.generation += 1
        self.entries = {}


def cached(digest: str, load: Callable[[], T | None]) -> T | None:
    """load()'s answer for the key of this digest, from memory while it is fresh."""
    seconds = float(current_app.config["TOKEN_CACHE_SECONDS"])
    if seconds <= 0:
        return load()
    cache: KeyCache[T] | None = current_app.extensions.get(_EXTENSION)
    if cache is None:
        cache = current_app.extensions.setdefault(_EXTENSION, KeyCache())
        token_cache.register(cache)
    now = clock.now().timestamp()
    entry = cache.entries.get(digest)
    if entry is not None and entry[1] > now:
        return entry[0]
    generation = cache.generation
    answer = load()
    # A revocation committed while we read may not be in what we read: keep nothing then.
    if answer is not None and generation == cache.generation:
        if len(cache.entries) >= MAX_ENTRIES:
            cache.entries = {}
        cache.entries[digest] = (answer, now + seconds)
    return answer
