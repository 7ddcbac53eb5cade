"""The answers of write-key checks, per process, so that a /v1 call runs no look-up query.

A valid key's caller is remembered for TOKEN_CACHE_SECONDS (default 2), the bound access
tokens' checks already have (services/auth/token_cache.py):
- a revocation through this process (the API, the dashboard, `flask write-keys revoke`)
  empties the cache at once;
- in every other process, a revoked key is refused within TOKEN_CACHE_SECONDS.
Unknown and revoked keys are never remembered: each such call asks the database, so a new
key works at once everywhere. TOKEN_CACHE_SECONDS = 0 turns the cache off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import current_app

from app import clock

T = TypeVar("T")

MAX_ENTRIES = 1_000  # per app; when full it starts over
_EXTENSION = "write_key_cache"


def cached(digest: str, load: Callable[[], T | None]) -> T | None:
    """load()'s answer for the key of this digest, from memory while it is fresh."""
    seconds = float(current_app.config["TOKEN_CACHE_SECONDS"])
    if seconds <= 0:
        return load()
    entries: dict[str, tuple[T, float]] = current_app.extensions.setdefault(_EXTENSION, {})
    now = clock.now().timestamp()
    entry = entries.get(digest)
    if entry is not None and entry[1] > now:
        return entry[0]
    answer = load()
    if answer is not None:
        if len(entries) >= MAX_ENTRIES:
            entries.clear()
        entries[digest] = (answer, now + seconds)
    return answer


def forget_all() -> None:
    """Empty this app's cache (a key was revoked)."""
    current_app.extensions.pop(_EXTENSION, None)
