"""app.web.json_codec: orjson's speed, the standard library's answers, edge for edge."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from app.web import json_codec


def _reject(name: str) -> None:
    raise ValueError(name)


def _stdlib(data: bytes):
    try:
        return "ok", json.loads(data.decode("utf-8"), parse_constant=_reject)
    except (ValueError, RecursionError) as exc:
        return "error", type(exc)


def _ours(data: bytes):
    try:
        return "ok", json_codec.loads(data, parse_constant=_reject)
    except (ValueError, RecursionError) as exc:
        return "error", type(exc)


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":1,"b":[true,false,null],"c":"x"}',
        b"123456789012345678901234567890",  # beyond 64 bits: an int, never a float
        b'{"n":-18446744073709551617}',
        b"[0.12345678901234567890123]",
        b'{"s":"12345678901234567890123","n":9223372036854775807}',  # 19 digits: int64 max
        b"[1e400]",  # inf for the standard library, refused by orjson
        b'"\\ud800"',  # a lone surrogate, kept
        b'{"\\udc00":1}',
        b'"a\\u0000b"',
        b"NaN",
        b"[Infinity]",
        b"\xef\xbb\xbf{}",  # a BOM
        b"\xff",
        b'{"a":1,"a":2}',
        b"-0",
        b"{not json",
        b"[" * 5000 + b"]" * 5000,  # too deep for both parsers
    ],
)
def test_loads_answers_as_the_standard_library(data):
    ours, theirs = _ours(data), _stdlib(data)
    assert ours[0] == theirs[0]
    if ours[0] == "ok":
        assert ours[1] == theirs[1]  # no NaN can come through; inf == inf
        assert json.dumps(ours[1]) == json.dumps(theirs[1])  # same types (int stays int)


def test_dumps_compact_declines_what_orjson_cannot_write_exactly():
    assert json_codec.dumps_compact({"a": [1, "é"], "b": None}) == '{"a":[1,"é"],"b":null}'.encode()
    assert json_codec.dumps_compact({"s": "\ud800"}) is None
    assert json_codec.dumps_compact({"n": 2**70}) is None
    assert json_codec.dumps_compact({1: "x"}) is None


def test_dumps_events_embeds_fragments_and_writes_times_with_offsets():
    at = datetime(2026, 3, 1, 9, 0, 0, 250000, tzinfo=UTC)
    text = json_codec.dumps_events([{"d": json_codec.Fragment('{"k":1}'), "o": at}])
    assert json.loads(text) == [{"d": {"k": 1}, "o": "2026-03-01T09:00:00.250000+00:00"}]


def test_response_body_writes_what_orjson_cannot_as_escapes():
    assert json_codec.response_body({"a": "é", "n": 1}) == '{"a":"é","n":1}\n'.encode()
    body = json_codec.response_body({"event_id": "x\ud800", "n": 2**70})
    assert body == b'{"event_id":"x\\ud800","n":1180591620717411303424}\n'
    assert json.loads(body) == {"event_id": "x\ud800", "n": 2**70}


def test_response_body_writes_uuids_and_times_as_marshmallow_on_both_paths():
    """/track answers with this instead of a schema dump: the same text as EventRead's,
    also when an integer beyond 64 bits sends it down the standard library's path."""
    import uuid

    from app.schemas.analytics import EventRead

    event = {
        "id": 7, "user_id": 1, "event_id": uuid.UUID(int=5), "event_type": "app_opened",
        "occurred_at": datetime(2026, 3, 1, 9, 0, 0, 123, tzinfo=UTC),
        "created_at": datetime(2026, 3, 1, 9, 0, 1, tzinfo=UTC),
        "duplicate": False, "clamped": False,
    }
    for data in ({"n": 1}, {"n": 2**70}):
        row = event | {"event_data": data}
        assert json.loads(json_codec.response_body(row)) == json.loads(
            json.dumps(EventRead().dump(row))
        )
