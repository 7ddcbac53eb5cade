"""GET /api/v2/me/data and GET /api/v2/admin/users/<id>/data: the streamed export."""

from __future__ import annotations

import json

from app.extensions import db
from app.models import AnalyticsEvent
from app.services.auth import service as auth_service
from app.services.privacy import export as data_export
from tests import privacy_support

PROBLEM = "application/problem+json"
full_user = privacy_support.full_user  # the shared fixture

# Export section -> (table, key column) whose rows it must contain, one for one.
SECTION_TABLES = {
    "enrollments": ("enrollments", "id"),
    "completions": ("completions", "id"),
    "liked_videos": ("user_liked_videos", "video_id"),
    "analytics_events": ("analytics_events", "id"),
    "rejected_events": ("rejected_events", "id"),
    "request_logs": ("request_logs", "id"),
    "revoked_tokens": ("revoked_tokens", "id"),
    "anonymous_ids": ("anonymous_identities", "anonymous_id"),
}


def test_export_contains_every_row_of_every_table(client, full_user, query):
    uid = full_user.user["id"]
    r = client.get("/api/v2/me/data", headers=full_user.headers)
    assert r.status_code == 200
    assert r.is_streamed
    assert r.mimetype == "application/json"
    doc = json.loads(r.get_data(as_text=True))

    assert doc["format"] == data_export.FORMAT
    assert doc["user"]["id"] == uid and doc["user"]["email"] == full_user.user["email"]
    assert "password_hash" not in doc["user"]
    assert full_user.user["password"] not in r.get_data(as_text=True)
    # The export's own request log is written by the background writer at any moment, before or
    # after the stream reads request_logs, so it is left out on both sides.
    own_log = "endpoint <> '/api/v2/me/data'"
    for section, (table, key) in SECTION_TABLES.items():
        where = f"user_id = :u AND {own_log}" if table == "request_logs" else "user_id = :u"
        rows = query(f"SELECT {key} FROM {table} WHERE {where}", {"u": uid})
        stored = sorted(row[0] for row in rows)
        assert stored, f"the fixture left {table} empty"
        exported = doc[section]
        if table == "request_logs":
            exported = [row for row in exported if row["endpoint"] != "/api/v2/me/data"]
        assert sorted(row[key] for row in exported) == stored, section
    event_types = {e["event_type"] for e in doc["analytics_events"]}
    assert {"challenge_joined", "plan_completed", "video_liked", "app_opened"} <= event_types
    assert doc["rejected_events"][0]["reason"] == "unknown_event_type"
    # The anonymous history linked to the user (identify/alias) comes with it.
    assert [e["id"] for e in doc["anonymous_events"]] == full_user.anonymous_events
    assert {e["anonymous_id"] for e in doc["anonymous_events"]} == {"full-user-device"}


def test_export_holds_only_the_callers_rows(client, full_user, auth):
    other = auth()
    doc = client.get("/api/v2/me/data", headers=other.headers).get_json()
    assert doc["user"]["id"] == other.user["id"]
    assert all(
        row.get("user_id") == other.user["id"] for key in SECTION_TABLES for row in doc[key]
    )
    assert doc["analytics_events"] == [] and doc["enrollments"] == []


def test_export_reads_rows_in_chunks(app, auth):
    user = auth()
    with app.app_context():
        db.session.add_all(
            AnalyticsEvent(user_id=user.user["id"], event_type="screen_viewed", event_data={"i": i})
            for i in range(25)
        )
        db.session.commit()
    with app.app_context():
        pieces = list(data_export.export_user(user_id=user.user["id"], chunk_rows=10))
    # Each piece holds at most one chunk of rows: 25 events come in 3 pieces.
    event_pieces = [p for p in pieces if '"event_type"' in p]
    assert [p.count('"event_type"') for p in event_pieces] == [10, 10, 5]
    doc = json.loads("".join(pieces))
    assert [e["event_data"]["i"] for e in doc["analytics_events"]] == list(range(25))


def test_admin_exports_any_user(app, client, auth):
    target = auth()
    admin = auth()
    with app.app_context():
        auth_service.set_admin(email=admin.user["email"], password=None)
    r = client.get(f"/api/v2/admin/users/{target.user['id']}/data", headers=admin.headers)
    assert r.status_code == 200
    assert r.get_json()["user"]["email"] == target.user["email"]
    r = client.get("/api/v2/admin/users/987654/data", headers=admin.headers)
    assert r.status_code == 404 and r.content_type == PROBLEM


def test_non_admin_cannot_export_another_user(client, auth):
    target = auth()
    other = auth()
    r = client.get(f"/api/v2/admin/users/{target.user['id']}/data", headers=other.headers)
    assert r.status_code == 403 and r.content_type == PROBLEM
    assert target.user["email"] not in r.get_data(as_text=True)


def test_export_requires_a_token(client):
    r = client.get("/api/v2/me/data")
    assert r.status_code == 401 and r.content_type == PROBLEM
