"""DELETE /api/v2/me and DELETE /api/v2/admin/users/<id>: erasure, all of it or none."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import inspect as sa_inspect

from app.extensions import db
from app.models import Base
from app.services.auth import service as auth_service
from app.services.privacy import erasure as erasure_service
from app.services.request_logs.capture import get_writer
from tests import privacy_support

PROBLEM = "application/problem+json"
full_user = privacy_support.full_user  # the shared fixture


def _tables_with_user_id() -> list[str]:
    return sorted(t.name for t in Base.metadata.sorted_tables if "user_id" in t.c)


def _rows_referring_to(query, user_id: int) -> dict[str, int]:
    counts = {
        name: query(f"SELECT count(*) FROM {name} WHERE user_id = :u", {"u": user_id})[0][0]
        for name in _tables_with_user_id()
    }
    counts["users"] = query("SELECT count(*) FROM users WHERE id = :u", {"u": user_id})[0][0]
    return counts


def test_every_table_with_a_user_id_is_erased_or_anonymized():
    covered = {t.name for t in (*erasure_service.ERASED_TABLES, *erasure_service.ANONYMIZED_TABLES)}
    assert set(_tables_with_user_id()) <= covered


def test_erase_me_removes_every_row_and_keeps_logs_anonymous(
    client, full_user, query, flush_logs
):
    uid = full_user.user["id"]
    before = _rows_referring_to(query, uid)
    assert all(before[name] > 0 for name in before), before
    logs_before = query("SELECT count(*) FROM request_logs")[0][0]

    r = client.delete(
        "/api/v2/me", headers=full_user.headers, json={"password": full_user.user["password"]}
    )
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["requested_by"] == "self"
    flush_logs()

    assert all(count == 0 for count in _rows_referring_to(query, uid).values())
    # Logs are kept, without the user id, plus the erasure request's own (anonymous) row.
    assert query("SELECT count(*) FROM request_logs")[0][0] == logs_before + 1
    own = query("SELECT user_id, status FROM request_logs WHERE method = 'DELETE'")
    assert [tuple(row) for row in own] == [(None, 200)]

    audits = query("SELECT requested_by, admin_user_id, row_counts FROM erasure_audit")
    assert len(audits) == 1
    requested_by, admin_id, counts = audits[0]
    counts = json.loads(counts) if isinstance(counts, str) else counts
    assert (requested_by, admin_id) == ("self", None)
    expected = {name: n for name, n in before.items() if name != "request_logs"}
    expected["request_logs_anonymized"] = before["request_logs"]
    expected["analytics_events_anonymous"] = privacy_support.ANONYMOUS_EVENTS
    assert counts == expected == body["row_counts"]
    # The anonymous history linked to the user went with them.
    left = query("SELECT count(*) FROM analytics_events WHERE anonymous_id = 'full-user-device'")
    assert left[0][0] == 0
    assert str(uid) not in json.dumps([requested_by, admin_id])

    r = client.get("/api/v2/auth/me", headers=full_user.headers)
    assert r.status_code == 401 and r.content_type == PROBLEM


def _register_and_login(client, email: str, password: str) -> tuple[dict, dict[str, str]]:
    """Register through this app's client; the user and its Authorization header."""
    user = client.post(
        "/api/v2/auth/register",
        json={"email": email, "password": password, "display_name": "Erased"},
    ).get_json()
    token = client.post(
        "/api/v2/auth/login", json={"email": email, "password": password}
    ).get_json()["access_token"]
    return user, {"Authorization": f"Bearer {token}"}


def test_erasure_anonymizes_rows_still_queued_in_the_log_writer(app_factory, query):
    # A writer that lingers a minute: the rows are still queued when the erasure runs.
    app = app_factory(REQUEST_LOG_FLUSH_INTERVAL=60)
    client = app.test_client()
    password = "correct horse battery"
    user, headers = _register_and_login(client, "queued@example.com", password)
    for _ in range(3):
        assert client.get("/api/v2/auth/me", headers=headers).status_code == 200
    writer = get_writer(app)
    assert writer.depth >= 3
    r = client.delete("/api/v2/me", headers=headers, json={"password": password})
    assert r.status_code == 200
    assert writer.flush(timeout=10)
    assert query("SELECT count(*) FROM request_logs WHERE user_id = :u", {"u": user["id"]}) == [
        (0,)
    ]
    me_rows = query("SELECT count(*) FROM request_logs WHERE endpoint = '/api/v2/auth/me'")
    assert me_rows == [(3,)]


def test_erase_me_with_a_wrong_password_erases_nothing(client, full_user, query):
    uid = full_user.user["id"]
    before = _rows_referring_to(query, uid)
    r = client.delete("/api/v2/me", headers=full_user.headers, json={"password": "wrong-pass"})
    assert r.status_code == 422 and r.content_type == PROBLEM
    assert r.get_json()["errors"][0]["field"] == "password"
    assert _rows_referring_to(query, uid) == before
    assert query("SELECT count(*) FROM erasure_audit") == [(0,)]
    assert client.get("/api/v2/auth/me", headers=full_user.headers).status_code == 200


def test_erase_me_requires_the_password_field(client, auth):
    user = auth()
    r = client.delete("/api/v2/me", headers=user.headers, json={})
    assert r.status_code == 422
    assert [e["field"] for e in r.get_json()["errors"]] == ["password"]


def test_erasure_is_all_or_nothing_when_a_step_fails(app, full_user, query, monkeypatch):
    uid = full_user.user["id"]
    before = _rows_referring_to(query, uid)
    # A table that does not exist makes the last step fail inside the transaction.
    from sqlalchemy import Column, Integer, MetaData, Table

    missing = Table("no_such_table", MetaData(), Column("user_id", Integer))
    monkeypatch.setattr(
        erasure_service, "ANONYMIZED_TABLES", (*erasure_service.ANONYMIZED_TABLES, missing)
    )
    with app.app_context(), pytest.raises(Exception):  # noqa: B017 - any database error
        erasure_service.erase_user(user_id=uid, requested_by="admin", admin_user_id=None)
    assert _rows_referring_to(query, uid) == before
    assert query("SELECT count(*) FROM erasure_audit") == [(0,)]


def _admin(app, auth):
    admin = auth()
    with app.app_context():
        auth_service.set_admin(email=admin.user["email"], password=None)
    return admin


def test_admin_erases_a_user_and_is_recorded(app, client, auth, full_user, query, flush_logs):
    admin = _admin(app, auth)
    uid = full_user.user["id"]
    r = client.delete(f"/api/v2/admin/users/{uid}", headers=admin.headers)
    assert r.status_code == 200, r.get_json()
    flush_logs()
    assert all(count == 0 for count in _rows_referring_to(query, uid).values())
    audits = query("SELECT requested_by, admin_user_id FROM erasure_audit")
    assert [tuple(a) for a in audits] == [("admin", admin.user["id"])]
    # The admin's own request is logged under the admin.
    rows = query("SELECT user_id FROM request_logs WHERE method = 'DELETE'")
    assert [row[0] for row in rows] == [admin.user["id"]]
    assert client.get("/api/v2/auth/me", headers=full_user.headers).status_code == 401


def test_admin_erasure_of_an_unknown_user_is_404(app, client, auth):
    admin = _admin(app, auth)
    r = client.delete("/api/v2/admin/users/999999", headers=admin.headers)
    assert r.status_code == 404 and r.content_type == PROBLEM


def test_non_admin_cannot_erase_another_user(client, auth, query):
    victim = auth()
    other = auth()
    r = client.delete(f"/api/v2/admin/users/{victim.user['id']}", headers=other.headers)
    assert r.status_code == 403 and r.content_type == PROBLEM
    assert query("SELECT count(*) FROM users WHERE id = :u", {"u": victim.user["id"]}) == [(1,)]


def test_erasure_tables_exist_in_the_database(app):
    with app.app_context():
        names = set(sa_inspect(db.engine).get_table_names())
    assert {t.name for t in erasure_service.ERASED_TABLES} <= names


def test_rows_queued_in_another_process_are_written_without_the_erased_user(
    app_factory, query
):
    # Two apps stand for two gunicorn workers: the erasure flushes only its own writer.
    worker_a = app_factory(REQUEST_LOG_FLUSH_INTERVAL=60)
    worker_b = app_factory(REQUEST_LOG_FLUSH_INTERVAL=60)
    a, b = worker_a.test_client(), worker_b.test_client()
    password = "correct horse battery"
    user, headers = _register_and_login(a, "elsewhere@example.com", password)
    for _ in range(2):
        assert b.get("/api/v2/auth/me", headers=headers).status_code == 200
    # Still pending in worker B (it lingers a minute before writing).
    assert query("SELECT count(*) FROM request_logs WHERE endpoint = '/api/v2/auth/me'") == [
        (0,)
    ]
    assert a.delete("/api/v2/me", headers=headers, json={"password": password}).status_code == 200
    # Worker B writes its queued rows after the erasure committed.
    assert get_writer(worker_b).flush(timeout=10)
    assert get_writer(worker_a).flush(timeout=10)
    assert query("SELECT count(*) FROM request_logs WHERE user_id = :u", {"u": user["id"]}) == [
        (0,)
    ]
    me_rows = query("SELECT count(*) FROM request_logs WHERE endpoint = '/api/v2/auth/me'")
    assert me_rows == [(2,)]
