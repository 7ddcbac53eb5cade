"""Segment's `context` object mapped onto analytics_events' context columns.

Pure: a context dict in, column values out. What is kept is descriptive (platform, OS, app
version and build, device model, locale, time zone, library, browser); identifiers and
addresses a context may carry (context.ip, device.id, device.advertisingId, traits,
location) are never read, and the user agent is kept only as what ua-parser makes of it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import ua_parser

# Column -> its length in analytics_events (longer values are cut, not refused: context
# describes an event, it does not decide whether it is stored).
LENGTHS: dict[str, int] = {
    "session_id": 200,
    "platform": 16,
    "os_name": 64,
    "os_version": 64,
    "app_version": 64,
    "app_build": 64,
    "device_model": 128,
    "locale": 64,
    "timezone": 64,
    "library_name": 64,
    "library_version": 64,
    "browser_name": 64,
    "browser_version": 64,
}
COLUMNS = tuple(LENGTHS)
MAX_USER_AGENT = 512  # longer user agents are not parsed (the rules are regexes)


def _text(value: Any, column: str) -> str | None:
    """A string (or number, as SDKs send builds) cut to the column; None for anything else
    and for text PostgreSQL cannot store (NUL, lone surrogates)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = value.strip()[: LENGTHS[column]]
    if not value or "\x00" in value:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


def _part(context: dict[str, Any], name: str) -> dict[str, Any]:
    part = context.get(name)
    return part if isinstance(part, dict) else {}


def _version(*parts: str | None) -> str | None:
    numbers = [p for p in parts if p]
    return ".".join(numbers) if numbers else None


def _from_user_agent(user_agent: Any) -> dict[str, str | None]:
    if not isinstance(user_agent, str) or not 0 < len(user_agent) <= MAX_USER_AGENT:
        return {}
    result = ua_parser.parse(user_agent)
    found: dict[str, Any] = {}
    if result.user_agent is not None and result.user_agent.family != "Other":
        found["browser_name"] = result.user_agent.family
        found["browser_version"] = _version(
            result.user_agent.major, result.user_agent.minor, result.user_agent.patch
        )
    if result.os is not None and result.os.family != "Other":
        found["os_name"] = result.os.family
        found["os_version"] = _version(result.os.major, result.os.minor, result.os.patch)
    if result.device is not None and result.device.family != "Other":
        found["device_model"] = result.device.model or result.device.family
    return found


def context_columns(context: dict[str, Any], *, platform: str) -> dict[str, str | None]:
    """The context columns of one message; platform is the write key's source.

    The messages of one SDK carry the same context, so the columns are worked out once per
    distinct set of values read (a small bounded cache; a fresh dict is returned each time).
    Values that compare equal but are written differently are never served from the cache:
    floats (0.0 == -0.0) are not cached, and the key holds each value's type (1 == True).
    """
    app, os_ = _part(context, "app"), _part(context, "os")
    device, library = _part(context, "device"), _part(context, "library")
    read = (
        context.get("sessionId"), platform, os_.get("name"), os_.get("version"),
        app.get("version"), app.get("build"), device.get("model"), context.get("locale"),
        context.get("timezone"), library.get("name"), library.get("version"),
        context.get("userAgent"),
    )
    kinds = tuple(map(type, read))
    if float not in kinds:
        try:
            return dict(_cached_columns(read, kinds))
        except TypeError:  # a value that cannot be a key (an object or array): not cached
            pass
    return _columns(read)


@lru_cache(maxsize=64)
def _cached_columns(read: tuple[Any, ...], _kinds: tuple[type, ...]) -> dict[str, str | None]:
    return _columns(read)


def _columns(read: tuple[Any, ...]) -> dict[str, str | None]:
    (session_id, platform, os_name, os_version, app_version, app_build, device_model, locale,
     timezone, library_name, library_version, user_agent) = read
    raw: dict[str, Any] = {
        # context.sessionId: RudderStack's (a number); Amplitude-style SDKs send it too.
        "session_id": session_id,
        "platform": platform,
        "os_name": os_name,
        "os_version": os_version,
        "app_version": app_version,
        "app_build": app_build,
        "device_model": device_model,
        "locale": locale,
        "timezone": timezone,
        "library_name": library_name,
        "library_version": library_version,
    }
    # A browser sends no os or device: what its user agent says fills them in.
    for column, value in _from_user_agent(user_agent).items():
        if raw.get(column) in (None, ""):
            raw[column] = value
    return {column: _text(raw.get(column), column) for column in COLUMNS}
