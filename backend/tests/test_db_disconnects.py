"""Pooled connections are not pinged per checkout; a connection PostgreSQL has dropped
(pg_terminate_backend) costs one clean retry or a 503, never a 500."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from app.extensions import db
from tests.test_auth_jwt_errors import ME

TRACK = "/api/v2/analytics/track"
EVENT = {"event_type": "app_opened", "event_data": {}}


@pytest.fixture
def terminate_pool(db_url: str):  # type: ignore[no-untyped-def]
    if not db_url.startswith("postgresql"):
        pytest.skip("pg_terminate_backend: PostgreSQL only")
    admin = create_engine(db_url, isolation_level="AUTOCOMMIT")

    def terminate() -> int:
        with admin.connect() as conn:
            killed = conn.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )).scalar_one()
        return int(killed)

    yield terminate
    admin.dispose()


def test_checkouts_are_not_pinged(app):
    with app.app_context():
        assert db.engine.pool._pre_ping is False
        if db.engine.dialect.name == "postgresql":
            assert db.engine.pool._recycle > 0  # replaced before any server-side timeout


def test_a_dropped_connection_is_retried_once_by_the_token_check(
    app, client, auth, terminate_pool
):
    user = auth()  # its pooled connections are warm now
    assert terminate_pool() > 0
    r = client.get(ME, headers=user.headers)  # a new token: asked of the database
    assert r.status_code == 200, r.get_json()


def test_a_dropped_connection_under_track_is_retried_or_503_never_500(
    app, client, auth, terminate_pool, query
):
    user = auth()
    assert client.get(ME, headers=user.headers).status_code == 200  # token now cached
    with app.app_context():  # the pool holds several connections, all to be dropped
        held = [db.engine.connect() for _ in range(3)]
        for conn in held:
            conn.close()
    before = query("SELECT count(*) FROM analytics_events")[0][0]
    assert terminate_pool() > 0
    r = client.post(TRACK, json=EVENT, headers=user.headers)
    # The insert finds its connection dropped, and the pool's other connections are as
    # dead: it runs once more on a fresh one.
    assert r.status_code == 201, r.get_json()
    assert query("SELECT count(*) FROM analytics_events")[0][0] - before == 1
    assert client.post(TRACK, json=EVENT, headers=user.headers).status_code == 201


def test_a_dropped_connection_under_a_plain_read_is_never_500(
    app, client, auth, terminate_pool
):
    user = auth()
    assert client.get("/api/v2/challenges", headers=user.headers).status_code == 200
    assert terminate_pool() > 0
    r = client.get("/api/v2/challenges", headers=user.headers)
    assert r.status_code in (200, 503), r.get_json()
    assert client.get("/api/v2/challenges", headers=user.headers).status_code == 200
