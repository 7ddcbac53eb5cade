"""POST /api/v2/analytics/track: what a client may send, and what is stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from app import clock

TRACK = "/api/v2/analytics/track"
PROBLEM = "application/problem+json"
CLIENT_TYPES = (
    "app_opened",
    "screen_viewed",
    "video_started",
    "video_progress",
    "video_completed",
    "notification_opened",
    "share_clicked",
    "plan_shared",
    "feedback_given",
)
SERVER_TYPES = ("plan_viewed", "plan_completed", "challenge_joined", "video_liked", "video_unliked")


def post_raw(client, body: str | bytes, headers=None):
    """Send the body exactly as written, so JSON escapes reach the server untouched."""
    return client.post(TRACK, data=body, content_type="application/json", headers=headers)


def as_utc(value: datetime | str) -> datetime:
    """A timestamp read with raw SQL (SQLite gives naive text) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def event_count(query) -> int:
    return query("SELECT count(*) FROM analytics_events")[0][0]


def assert_refused(response, query, field: str | None = None, status: int = 422) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status
    if field is not None:
        assert field in {e["field"] for e in body["errors"]}, body
    assert event_count(query) == 0
    return body


def test_track_stores_event_with_user_from_token_and_receive_time(client, auth, query):
    user = auth()
    received = datetime(2025, 12, 27, 9, 30, 15, 123000, tzinfo=UTC)
    clock.set_clock(lambda: received)
    data = {"screen": "home", "n": 3, "ok": True, "tags": ["a", "b"], "nested": {"x": None}}
    r = client.post(TRACK, json={"event_type": "screen_viewed", "event_data": data},
                    headers=user.headers)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["user_id"] == user.user["id"]
    assert body["event_type"] == "screen_viewed"
    assert body["event_data"] == data
    assert datetime.fromisoformat(body["created_at"]) == received
    rows = query("SELECT id, user_id, event_type, event_data, created_at FROM analytics_events")
    assert len(rows) == 1
    row = rows[0]
    stored = row[3] if isinstance(row[3], dict) else json.loads(row[3])
    assert (row[0], row[1], row[2], stored) == (body["id"], user.user["id"], "screen_viewed", data)
    assert as_utc(row[4]) == received


def test_track_without_event_data_stores_empty_object(client, auth, query):
    r = client.post(TRACK, json={"event_type": "app_opened"}, headers=auth().headers)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["event_data"] == {}
    assert event_count(query) == 1


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic dXNlcjpwdw=="}],
    ids=["no-token", "garbage-token", "wrong-scheme"],
)
def test_track_requires_a_valid_token(client, query, headers):
    r = client.post(TRACK, json={"event_type": "app_opened", "event_data": {}}, headers=headers)
    assert_refused(r, query, status=401)


def test_track_refuses_a_refresh_token(client, auth, query):
    refresh = {"Authorization": f"Bearer {auth().tokens['refresh_token']}"}
    r = client.post(TRACK, json={"event_type": "app_opened", "event_data": {}}, headers=refresh)
    assert_refused(r, query, status=401)


def test_track_rejects_unknown_type_listing_every_allowed_type(client, auth, query):
    r = client.post(TRACK, json={"event_type": "app_crashed", "event_data": {}},
                    headers=auth().headers)
    body = assert_refused(r, query, "event_type")
    message = body["errors"][0]["message"]
    assert "app_crashed" in message
    for allowed in CLIENT_TYPES:
        assert allowed in message
    for server_owned in SERVER_TYPES:
        assert server_owned not in message


@pytest.mark.parametrize("event_type", SERVER_TYPES)
def test_track_rejects_server_owned_type(client, auth, query, event_type):
    r = client.post(TRACK, json={"event_type": event_type, "event_data": {}},
                    headers=auth().headers)
    body = assert_refused(r, query, "event_type")
    assert "recorded by the server" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    "payload",
    [
        {"event_data": {}},
        {"event_type": 7, "event_data": {}},
        {"event_type": ["app_opened"], "event_data": {}},
        {"event_type": None, "event_data": {}},
        {"event_type": "", "event_data": {}},
    ],
    ids=["missing", "number", "list", "null", "empty"],
)
def test_track_rejects_missing_or_non_string_event_type(client, auth, query, payload):
    r = client.post(TRACK, json=payload, headers=auth().headers)
    assert_refused(r, query, "event_type")


@pytest.mark.parametrize(
    "event_data", [[], [1, 2], "text", 3, 2.5, True, None], ids=repr
)
def test_track_rejects_event_data_that_is_not_an_object(client, auth, query, event_data):
    r = client.post(TRACK, json={"event_type": "app_opened", "event_data": event_data},
                    headers=auth().headers)
    assert_refused(r, query, "event_data")


def test_track_rejects_unknown_top_level_fields(client, auth, query):
    user = auth()
    r = client.post(
        TRACK,
        json={"event_type": "app_opened", "event_data": {}, "user_id": user.user["id"] + 1},
        headers=user.headers,
    )
    assert_refused(r, query, "user_id")


@pytest.mark.parametrize("body", ["{not json", '{"event_type": "app_opened",', "NaN", "\xff"])
def test_track_answers_400_only_for_a_body_that_is_not_json(client, auth, query, body):
    r = post_raw(client, body.encode("latin-1"), auth().headers)
    assert_refused(r, query, status=400)


@pytest.mark.parametrize("body", ["[]", '"app_opened"', "42", "null"])
def test_track_rejects_json_that_is_not_an_object(client, auth, query, body):
    r = post_raw(client, body, auth().headers)
    assert_refused(r, query, status=422)


def test_track_uses_configured_whitelist(app_factory, client, auth, query):
    user = auth()
    custom = app_factory(ANALYTICS_EVENT_TYPES=("custom_type",)).test_client()
    r = custom.post(TRACK, json={"event_type": "custom_type", "event_data": {"a": 1}},
                    headers=user.headers)
    assert r.status_code == 201, r.get_json()
    r = custom.post(TRACK, json={"event_type": "app_opened", "event_data": {}},
                    headers=user.headers)
    assert r.status_code == 422
    message = r.get_json()["errors"][0]["message"]
    assert "custom_type" in message and "screen_viewed" not in message
    assert event_count(query) == 1
