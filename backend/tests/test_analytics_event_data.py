"""event_data limits on /track: 8 KiB of compact UTF-8 JSON, depth 8, text PostgreSQL stores.

Tricky bodies are sent as raw bytes so JSON escapes (\\u0000, \\ud800) reach the server
exactly as written.
"""

from __future__ import annotations

import json

import pytest

TRACK = "/api/v2/analytics/track"
LIMIT = 8 * 1024


def post_raw(client, body: str, headers):
    return client.post(TRACK, data=body.encode("utf-8"), content_type="application/json",
                       headers=headers)


def track(client, headers, event_data):
    return client.post(TRACK, json={"event_type": "feedback_given", "event_data": event_data},
                       headers=headers)


def compact_size(data) -> int:
    return len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def stored_events(query) -> list:
    rows = query("SELECT event_data FROM analytics_events ORDER BY id")
    return [r[0] if isinstance(r[0], dict) else json.loads(r[0]) for r in rows]


def assert_422(response, query, expect_in_message: str) -> None:
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    errors = response.get_json()["errors"]
    assert [e["field"] for e in errors] == ["event_data"]
    assert expect_in_message in errors[0]["message"]
    assert stored_events(query) == []


def nested(depth: int, *, via_list: bool = False):
    """event_data nested `depth` levels deep (the object itself is level 1)."""
    value: dict | list = {}
    for _ in range(depth - 2):
        value = [value] if via_list else {"k": value}
    return {"k": value}


# -- size -------------------------------------------------------------------------


def test_event_data_exactly_8_kib_is_stored(client, auth, query):
    data = {"k": "x" * (LIMIT - len('{"k":""}'))}
    assert compact_size(data) == LIMIT
    r = track(client, auth().headers, data)
    assert r.status_code == 201, r.get_json()
    assert stored_events(query) == [data]


def test_event_data_one_byte_over_8_kib_is_refused(client, auth, query):
    data = {"k": "x" * (LIMIT - len('{"k":""}') + 1)}
    assert compact_size(data) == LIMIT + 1
    assert_422(track(client, auth().headers, data), query, "8192")


def test_event_data_size_counts_multibyte_characters_in_bytes(client, auth, query):
    user = auth()
    at_limit = {"k": "é" * ((LIMIT - 8) // 2)}
    assert compact_size(at_limit) == LIMIT
    r = track(client, user.headers, at_limit)
    assert r.status_code == 201, r.get_json()
    # 4,101 characters of JSON, but 8,193 bytes of UTF-8.
    over = {"k": "é" * ((LIMIT - 8) // 2) + "x"}
    assert len(json.dumps(over, separators=(",", ":"), ensure_ascii=False)) < LIMIT
    assert_422_after_one_stored(track(client, user.headers, over), query, at_limit)


def test_event_data_size_is_measured_after_decoding_escapes(client, auth, query):
    # On the wire each \\u00e9 is six bytes; stored as UTF-8 it is two: exactly at the limit.
    body = '{"event_type":"feedback_given","event_data":{"k":"' + "\\u00e9" * 4092 + '"}}'
    r = post_raw(client, body, auth().headers)
    assert r.status_code == 201, r.get_json()
    assert stored_events(query) == [{"k": "é" * 4092}]


def assert_422_after_one_stored(response, query, first) -> None:
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "8192" in response.get_json()["errors"][0]["message"]
    assert stored_events(query) == [first]


# -- depth ------------------------------------------------------------------------


@pytest.mark.parametrize("via_list", [False, True], ids=["objects", "lists"])
def test_event_data_nested_8_levels_is_stored(client, auth, query, via_list):
    data = nested(8, via_list=via_list)
    r = track(client, auth().headers, data)
    assert r.status_code == 201, r.get_json()
    assert stored_events(query) == [data]


@pytest.mark.parametrize("via_list", [False, True], ids=["objects", "lists"])
def test_event_data_nested_9_levels_is_refused(client, auth, query, via_list):
    assert_422(track(client, auth().headers, nested(9, via_list=via_list)), query, "deeper")


def test_event_data_lists_count_as_levels(client, auth, query):
    # {"a": [[[[[[[1]]]]]]]}: the object, then seven lists = depth 8; one more list = 9.
    user = auth()
    ok = {"a": [[[[[[[1]]]]]]]}
    assert track(client, user.headers, ok).status_code == 201
    r = track(client, user.headers, {"a": [[[[[[[[1]]]]]]]]})
    assert r.status_code == 422
    assert len(stored_events(query)) == 1


def test_very_deep_json_body_is_refused_without_storing(client, auth, query):
    body = '{"event_type":"app_opened","event_data":' + '{"k":' * 50 + "1" + "}" * 51
    r = post_raw(client, body, auth().headers)
    assert_422(r, query, "deeper")


# -- text PostgreSQL cannot store ---------------------------------------------------


@pytest.mark.parametrize(
    "event_data_json, where",
    [
        ('{"s":"a\\u0000b"}', "NUL"),
        ('{"a\\u0000":1}', "NUL"),
        ('{"l":[{"deep":"\\u0000"}]}', "NUL"),
        ('{"s":"\\ud800"}', "surrogate"),
        ('{"s":"x\\udfffy"}', "surrogate"),
        ('{"\\ud800":1}', "surrogate"),
        ('{"l":["ok","\\ud83d"]}', "surrogate"),
    ],
    ids=["nul-value", "nul-key", "nul-nested", "lone-high", "lone-low", "surrogate-key",
         "surrogate-in-list"],
)
def test_event_data_with_unstorable_text_is_refused(client, auth, query, event_data_json, where):
    body = '{"event_type":"app_opened","event_data":' + event_data_json + "}"
    assert_422(post_raw(client, body, auth().headers), query, where)


def test_event_data_with_a_surrogate_pair_is_stored(client, auth, query):
    body = '{"event_type":"app_opened","event_data":{"emoji":"\\ud83d\\ude00"}}'
    r = post_raw(client, body, auth().headers)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["event_data"] == {"emoji": "😀"}
    assert stored_events(query) == [{"emoji": "😀"}]


@pytest.mark.parametrize("event_type", ["app_opened\\u0000", "\\ud800"])
def test_event_type_with_unstorable_text_is_refused(client, auth, query, event_type):
    body = '{"event_type":"' + event_type + '","event_data":{}}'
    r = post_raw(client, body, auth().headers)
    assert r.status_code == 422, r.get_data(as_text=True)
    assert r.get_json()["errors"][0]["field"] == "event_type"
    assert stored_events(query) == []


def test_unknown_field_named_with_a_lone_surrogate_is_refused(client, auth, query):
    body = '{"event_type":"app_opened","event_data":{},"\\ud800":1}'
    r = post_raw(client, body, auth().headers)
    assert r.status_code == 422, r.get_data(as_text=True)
    assert r.mimetype == "application/problem+json"
    assert stored_events(query) == []


def test_event_data_number_too_large_for_a_double_is_refused(client, auth, query):
    body = '{"event_type":"app_opened","event_data":{"n":1e400}}'
    assert_422(post_raw(client, body, auth().headers), query, "finite")


def test_event_data_integers_beyond_64_bits_are_stored_exactly(client, auth, query):
    # The fast JSON parser reads such integers as floats; the body parser must not.
    body = ('{"event_type":"app_opened","event_data":'
            '{"big":123456789012345678901234567890,"neg":-18446744073709551617,"f":0.1}}')
    r = post_raw(client, body, auth().headers)
    assert r.status_code == 201, r.get_data(as_text=True)
    assert r.get_json()["event_data"]["big"] == 123456789012345678901234567890
    assert stored_events(query) == [
        {"big": 123456789012345678901234567890, "neg": -18446744073709551617, "f": 0.1}
    ]
