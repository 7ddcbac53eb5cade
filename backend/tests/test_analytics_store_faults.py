"""ClickHouse down: events are still accepted, reports ClickHouse serves answer 503 with
Retry-After, the others read the app database, erasure refuses whole; shipped later, none
lost. Erasure in ClickHouse when it is up."""

from __future__ import annotations

import json

from app.extensions import db
from app.models import User
from tests.store_support import chdb_url, drop, store_rows

DOWN = "clickhouse://default@127.0.0.1:1/analytics"  # nothing listens on port 1
URL = "/api/v2/insights"


def _admin(app, auth):  # type: ignore[no-untyped-def]
    admin = auth()
    with app.app_context():
        db.session.get(User, admin.user["id"]).is_admin = True
        db.session.commit()
    return admin


def _track(client, user, n: int) -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        r = client.post("/api/v2/analytics/track", headers=user.headers,
                        json={"event_type": "app_opened", "event_data": {"i": i}})
        assert r.status_code == 201, r.get_json()


def test_clickhouse_down_keeps_ingestion_and_answers_503_then_ships_all(
    app_factory, auth, chdb_dir
):
    app = app_factory(ANALYTICS_STORE=DOWN)
    client = app.test_client()
    admin, user = _admin(app, auth), auth()
    _track(client, user, 3)

    r = client.get(f"{URL}/api-health", headers=admin.headers)
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    assert r.mimetype == "application/problem+json"
    assert "analytics store is unavailable" in r.get_json()["detail"]
    for path in ("realtime", f"user-timeline?user_id={user.user['id']}",
                 "trends?event_type=app_opened", "active-users",
                 "retention?start_event=app_opened&return_event=app_opened"):
        assert client.get(f"{URL}/{path}", headers=admin.headers).status_code == 503
    steps = [{"event_type": "app_opened"}, {"event_type": "plan_viewed"}]
    r = client.post(f"{URL}/funnels", headers=admin.headers, json={"steps": steps})
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    # A report ClickHouse does not serve still reads the app database: a funnel's people.
    r = client.post(f"{URL}/funnels/people", headers=admin.headers,
                    json={"steps": steps, "step": 2})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["dropped"] == 1

    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["analytics_store"] == "unavailable"
    assert ready.get_json()["analytics_store"]["lag"]["events"]["pending_ids"] == 3
    result = app.test_cli_runner().invoke(args=["analytics", "ship"])
    assert result.exit_code == 1 and "unavailable" in result.output

    # Erasure needs ClickHouse too: refused whole, nothing erased.
    r = client.delete(f"/api/v2/admin/users/{user.user['id']}", headers=admin.headers)
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    with app.app_context():
        assert db.session.get(User, user.user["id"]) is not None

    # ClickHouse back (here: the same app database, now with chDB): every event shipped.
    url = chdb_url(chdb_dir)
    try:
        back = app_factory(ANALYTICS_STORE=url, REQUEST_LOG_RETENTION_DAYS=None)
        result = back.test_cli_runner().invoke(args=["analytics", "ship"])
        assert result.exit_code == 0 and result.output.startswith("events=3 "), result.output
        with back.app_context():
            rows = store_rows("SELECT event_data FROM {db}.events FINAL ORDER BY id")
            assert [json.loads(row[0]) for row in rows] == [{"i": 0}, {"i": 1}, {"i": 2}]
    finally:
        drop(url)


def test_erasure_deletes_events_and_anonymizes_logs_in_clickhouse(
    app_factory, auth, chdb_dir, flush_logs
):
    url = chdb_url(chdb_dir)
    try:
        app = app_factory(ANALYTICS_STORE=url, REQUEST_LOG_RETENTION_DAYS=None)
        client = app.test_client()
        admin, gone, kept = _admin(app, auth), auth(), auth()
        _track(client, kept, 1)
        _track(client, gone, 2)  # the highest ids: SQLite hands them out again after erasure
        flush_logs()
        assert app.test_cli_runner().invoke(args=["analytics", "ship"]).exit_code == 0
        uid = gone.user["id"]
        r = client.delete(f"/api/v2/admin/users/{uid}", headers=admin.headers)
        assert r.status_code == 200, r.get_json()
        with app.app_context():
            assert store_rows("SELECT count() FROM {db}.events FINAL WHERE user_id = {u:Int64}",
                              {"u": uid}) == [(0,)]
            assert store_rows("SELECT count() FROM {db}.events FINAL") == [(1,)]
            assert store_rows("SELECT count() FROM {db}.request_logs WHERE user_id = {u:Int64}",
                              {"u": uid}) == [(0,)]
            anonymous = store_rows("SELECT count() FROM {db}.request_logs WHERE user_id IS NULL")
            assert anonymous[0][0] >= 3
        status = app.test_cli_runner().invoke(args=["analytics", "store-status"])
        assert status.exit_code == 0 and '"pending_mutations": 0' in status.output
        _track(client, kept, 2)  # on SQLite, the erased events' ids again: shipped all the same
        assert app.test_cli_runner().invoke(args=["analytics", "ship"]).exit_code == 0
        with app.app_context():
            assert store_rows("SELECT count() FROM {db}.events FINAL WHERE user_id = {u:Int64}",
                              {"u": kept.user["id"]}) == [(3,)]
    finally:
        drop(url)
