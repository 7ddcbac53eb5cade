"""Checks that event data is storable on every backend (PostgreSQL JSONB is the strictest)."""

from __future__ import annotations

import json
import math
from math import isfinite
from typing import Any

from app.web import json_codec

MAX_EVENT_DATA_BYTES = 8 * 1024
MAX_EVENT_DATA_DEPTH = 8
_TOO_DEEP = f"event_data is nested deeper than {MAX_EVENT_DATA_DEPTH} levels."


class EventDataError(ValueError):
    """event_data cannot be stored; the message says why and `reason` is its code."""

    def __init__(self, message: str, reason: str = "invalid_event_data") -> None:
        super().__init__(message)
        self.reason = reason


def _check_text(value: str, where: str) -> None:
    if "\x00" in value:
        raise EventDataError(
            f"{where} contains a NUL character, which cannot be stored.", "invalid_text"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise EventDataError(
            f"{where} contains a lone surrogate (invalid Unicode), which cannot be stored.",
            "invalid_text",
        ) from None


def _walk(value: Any, depth: int, path: str) -> None:
    if isinstance(value, dict):
        if depth > MAX_EVENT_DATA_DEPTH:
            raise EventDataError(_TOO_DEEP, "too_deep")
        for key, item in value.items():
            if not isinstance(key, str):
                raise EventDataError(f"{path} has a key that is not a string.")
            _check_text(key, f"a key in {path}")
            _walk(item, depth + 1, f"{path}.{key}")
    elif isinstance(value, list):
        if depth > MAX_EVENT_DATA_DEPTH:
            raise EventDataError(_TOO_DEEP, "too_deep")
        for index, item in enumerate(value):
            _walk(item, depth + 1, f"{path}[{index}]")
    elif isinstance(value, str):
        _check_text(value, path)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise EventDataError(f"{path} is not a finite number.")
    elif value is None or isinstance(value, (bool, int)):
        return
    else:
        raise EventDataError(f"{path} holds a value JSON cannot represent.")


def check_event_data(event_data: Any) -> dict[str, Any]:
    """Return event_data when it is a storable JSON object; raise EventDataError otherwise."""
    event_data_json(event_data)
    return event_data


def event_data_json(event_data: Any) -> str:
    """The compact JSON text of a storable event_data object (what is stored, what is sized).

    Raises EventDataError as check_event_data does. A quick pass without paths handles the
    common case; anything it is unsure about goes through the full walk, which finds the
    same first fault and words it.
    """
    if not isinstance(event_data, dict):
        raise EventDataError("event_data must be a JSON object.")
    encoded = json_codec.dumps_compact(event_data) if _plain(event_data, 1) else None
    if encoded is not None:
        size = len(encoded)
        text = encoded.decode("utf-8")
    else:
        _walk(event_data, 1, "event_data")
        text = json.dumps(event_data, separators=(",", ":"), ensure_ascii=False)
        size = len(text.encode("utf-8"))
    if size > MAX_EVENT_DATA_BYTES:
        raise EventDataError(
            f"event_data is {size} bytes as compact JSON; "
            f"at most {MAX_EVENT_DATA_BYTES} are allowed.",
            "event_data_too_large",
        )
    return text


def _plain(value: Any, depth: int) -> bool:
    """True when value surely passes _walk (exact JSON types, no NUL, finite floats, depth
    within bounds). Lone surrogates and huge integers are left to the encoder to notice.
    """
    if depth > MAX_EVENT_DATA_DEPTH:
        return False
    items = value.items() if type(value) is dict else enumerate(value)
    for key, item in items:
        if type(key) is str and "\x00" in key:
            return False
        if type(key) is not str and type(value) is dict:
            return False
        kind = type(item)
        if kind is str:
            if "\x00" in item:
                return False
        elif kind is dict or kind is list:
            if not _plain(item, depth + 1):
                return False
        elif kind is float:
            if not isfinite(item):
                return False
        elif not (kind is int or kind is bool or item is None):
            return False
    return True
