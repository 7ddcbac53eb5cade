"""Fast JSON for the ingestion path (orjson), with the standard library's exact behaviour.

orjson parses and writes JSON several times faster than the standard library, but
differs from it at the edges, so each function here takes orjson's answer only where
the two agree and otherwise does what the standard library does:

- integers beyond 64 bits: orjson reads them as floats (lossy) and cannot write them;
- lone surrogates (``"\\ud800"``): orjson refuses them, the standard library keeps them;
- numbers beyond a double (``1e400``): orjson refuses them, the standard library reads inf;
- NaN and Infinity: orjson writes them as null.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import orjson

# An integer literal beyond 64 bits has at least 19 digits in a row; so do some long
# fractions, which then merely take the standard library's (identical) path. Found by
# turning every digit into "0" and looking for nineteen of them: ~15x faster than the
# regular expression \d{19} on a 20 KiB batch.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN_DIGITS = b"0" * 19


def loads(data: bytes, *, parse_constant: Any = None) -> Any:
    """json.loads(data.decode("utf-8"), parse_constant=...), with its errors, but faster.

    parse_constant is only consulted for NaN/Infinity literals, which orjson refuses: those
    bodies always take the standard library's path, as does anything else orjson refuses.
    """
    if _NINETEEN_DIGITS not in data.translate(_DIGITS_TO_ZERO):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data.decode("utf-8"), parse_constant=parse_constant)


def dumps_compact(value: Any) -> bytes | None:
    """Compact UTF-8 JSON of a value, or None where orjson and the standard library differ.

    The caller must have made sure the value holds only dict, list, str, int, float, bool
    and None (no subclasses) and no NaN or infinity (which orjson writes as null). None
    (not an exception) for lone surrogates, integers beyond 64 bits and non-string keys:
    the caller then takes the standard library's path, which decides what those mean.
    """
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return None


def response_body(value: Any) -> bytes:
    """A response document as compact JSON, newline-ended: plain JSON types, and UUIDs and
    aware datetimes written as marshmallow writes them (str(), isoformat()).

    Text a client sent may come back in it (a batch echoes event_ids): a lone surrogate
    there is written as the standard library writes it, as a \\udXXX escape; so is an
    integer beyond 64 bits, which orjson cannot write.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"), default=_as_text).encode("ascii") + b"\n"


def compact_size(value: Any) -> int:
    """The bytes of value as compact UTF-8 JSON (Segment's measure of a message)."""
    try:
        return len(orjson.dumps(value))
    except orjson.JSONEncodeError:  # an integer beyond 64 bits, a lone surrogate
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        return len(text.encode("utf-8", "surrogatepass"))


def _as_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


Fragment = orjson.Fragment  # JSON text embedded as is by dumps_events


def dumps_events(rows: list[dict[str, Any]]) -> str:
    """Rows of str, datetime (RFC 3339) and Fragment values as one JSON array's text."""
    return orjson.dumps(rows).decode("utf-8")
