"""Every refused event gets a reason code and a rejected_events row (never analytics_events)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from app import create_app
from app.extensions import db
from app.services.ingestion.checks import REASONS
from tests.conftest import make_config
from tests.ingest_support import BATCH, NOW, TRACK, event, event_count, post_batch, rejected


@pytest.fixture(autouse=True)
def _frozen(at):
    at(NOW)


CASES = [
    ("invalid_event", ["not an object"]),
    ("invalid_event", [event(extra_field=1)]),
    ("invalid_event_id", [event(event_id="not-a-uuid")]),
    ("invalid_event_id", [{k: v for k, v in event().items() if k != "event_id"}]),
    ("invalid_event_type", [event("app_crashed")]),
    ("invalid_event_type", [event(7)]),
    ("server_owned_type", [event("plan_completed")]),
    ("invalid_event_data", [event(data=[1, 2])]),
    ("event_data_too_large", [event(data={"k": "x" * 9000})]),
    ("too_deep", [event(data={"a": [[[[[[[[1]]]]]]]]})]),
    ("invalid_text", [event(data={"s": "a\x00b"})]),
    ("schema_violation", [event("video_progress", {"video_id": 1, "position_s": -1})]),
    ("invalid_occurred_at", [event(occurred_at="last tuesday")]),
    ("invalid_occurred_at", [event(occurred_at="2026-03-01T09:00:00")]),
    ("too_old", [event(occurred_at="2026-02-20T09:00:00Z")]),
]


def test_every_batch_reason_code_is_documented_and_tested():
    assert {reason for reason, _ in CASES} | {"invalid_sent_at"} == set(REASONS)


@pytest.mark.parametrize(("reason", "events"), CASES, ids=[f"{r}-{i}" for i, (r, _) in
                                                            enumerate(CASES)])
def test_batch_rejects_the_event_with_its_reason(client, auth, query, reason, events):
    user = auth()
    r = post_batch(client, user.headers, [event(), *events])
    assert r.status_code == 200, r.get_json()
    good, bad = r.get_json()["results"]
    assert good["status"] == "accepted"
    assert (bad["status"], bad["reason"]) == ("rejected", reason)
    assert bad["message"]
    assert event_count(query) == 1
    rows = rejected(query)
    assert [(row[0], row[1], row[2]) for row in rows] == [(reason, "batch", user.user["id"])]
    # What was received, as ASCII-escaped compact JSON, cut to 2048 characters.
    # (The test client sends keys sorted.)
    sent = json.dumps(events[0], separators=(",", ":"), ensure_ascii=True, sort_keys=True)
    assert rows[0][3] == sent[:2048]


def test_schema_violation_message_comes_from_json_schema(client, auth):
    r = post_batch(client, auth().headers, [event("screen_viewed", {"screen": 5})])
    result = r.get_json()["results"][0]
    assert result["reason"] == "schema_violation"
    assert result["message"] == "event_data.screen: 5 is not of type 'string'"


@pytest.mark.parametrize(
    ("body", "reason", "field"),
    [
        ({"event_type": "app_crashed"}, "invalid_event_type", "event_type"),
        ({"event_type": "video_liked"}, "server_owned_type", "event_type"),
        ({"event_type": 7}, "invalid_event_type", "event_type"),
        ({"event_type": "app_opened", "event_data": [1]}, "invalid_event_data", "event_data"),
        ({"event_type": "video_started", "event_data": {}}, "schema_violation", "event_data"),
        ({"event_type": "app_opened", "event_id": "nope"}, "invalid_event_id", "event_id"),
        ({"event_type": "app_opened", "occurred_at": "x"}, "invalid_occurred_at", "occurred_at"),
        ({"event_type": "app_opened", "sent_at": "2026"}, "invalid_sent_at", "sent_at"),
        ({"event_type": "app_opened", "user_id": 1}, "invalid_event", "user_id"),
        ({"event_type": "app_opened", "occurred_at": "2026-02-01T00:00:00Z"}, "too_old",
         "occurred_at"),
    ],
)
def test_track_422_is_kept_with_its_reason(client, auth, query, body, reason, field):
    user = auth()
    r = client.post(TRACK, json=body, headers=user.headers)
    assert r.status_code == 422, r.get_json()
    assert field in {e["field"] for e in r.get_json()["errors"]}
    assert event_count(query) == 0
    rows = rejected(query)
    assert [(row[0], row[1], row[2]) for row in rows] == [(reason, "track", user.user["id"])]
    assert json.loads(rows[0][3]) == body


def test_auth_failures_and_bad_envelopes_are_not_kept(client, auth, query):
    assert client.post(TRACK, json={"event_type": "nope"}).status_code == 401
    r = client.post(BATCH, json={"events": ["x"]}, headers=auth().headers)
    assert r.status_code == 422
    assert rejected(query) == []


RAW_BAD = (
    '{"sent_at":"2026-03-01T09:00:00Z","events":[{"event_id":"a\\u0000\\ud800",'
    '"event_type":"app_opened","event_data":{"nul":"\\u0000","lone":"\\udc00","pad":"'
    + "y" * 3000 + '"},"occurred_at":"2026-03-01T09:00:00Z"}]}'
)


def test_payload_with_nul_and_lone_surrogate_is_stored_escaped_and_cut(client, auth, query):
    r = client.post(BATCH, data=RAW_BAD.encode(), content_type="application/json",
                    headers=auth().headers)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["results"][0]["reason"] == "invalid_event_id"
    (reason, _source, _user, payload), = rejected(query)
    assert len(payload) == 2048
    assert payload.isascii()
    assert payload.startswith('{"event_id":"a\\u0000\\ud800","event_type":"app_opened",')
    assert '"nul":"\\u0000","lone":"\\udc00"' in payload
    assert event_count(query) == 0


def test_a_failing_rejected_store_never_fails_the_batch(app, client, auth, query, caplog):
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("DROP TABLE rejected_events"))
    try:
        user = auth()
        r = post_batch(client, user.headers, [event(), event("nope")])
        assert [x["status"] for x in r.get_json()["results"]] == ["accepted", "rejected"]
        assert event_count(query) == 1
        r = client.post(TRACK, json={"event_type": "nope"}, headers=user.headers)
        assert r.status_code == 422
        assert "could not store 1 rejected event" in caplog.text
    finally:
        _restore_rejected_events(app)


def _restore_rejected_events(app) -> None:
    from app.models import RejectedEvent

    with app.app_context():
        RejectedEvent.__table__.create(db.engine, checkfirst=True)


def test_event_schemas_dir_overrides_and_adds_schemas(app_factory, auth, tmp_path, query):
    (tmp_path / "app_opened.json").write_text(json.dumps(
        {"type": "object", "required": ["source"]}))
    (tmp_path / "custom_type.json").write_text(json.dumps(
        {"type": "object", "properties": {"n": {"type": "integer"}}}))
    client = app_factory(EVENT_SCHEMAS_DIR=str(tmp_path),
                         ANALYTICS_EVENT_TYPES=("app_opened", "custom_type")).test_client()
    user = auth()
    r = post_batch(client, user.headers, [
        event("app_opened"), event("app_opened", {"source": "push"}),
        event("custom_type", {"n": "x"}), event("custom_type", {"n": 1}),
    ])
    assert [x["status"] for x in r.get_json()["results"]] == [
        "rejected", "accepted", "rejected", "accepted"]
    assert event_count(query) == 2


def test_a_broken_schema_file_stops_the_app_from_starting(db_url, tmp_path):
    (tmp_path / "app_opened.json").write_text('{"type": "nonsense"}')
    with pytest.raises(Exception, match="app_opened.json"):
        create_app(make_config(db_url, EVENT_SCHEMAS_DIR=str(tmp_path),
                               REQUEST_LOG_ENABLED=False))
