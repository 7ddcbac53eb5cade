"""Liveness and readiness: the database decides, the rate-limit storage only degrades."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import text

from app import create_app
from app.extensions import db, limiter
from app.services.request_logs.capture import get_writer
from tests.conftest import make_config
from tests.problem_helpers import assert_problem

DEAD_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:1/nope"
DEAD_REDIS = "redis://127.0.0.1:1/0"
TRACK = "/api/v2/analytics/track"


def test_healthz_is_200(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json() == {"status": "ok"}


def test_readyz_reports_every_check_ok(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    body = r.get_json()
    assert body["status"] == "ready"
    assert body["checks"] == {"database": "ok", "rate_limit_storage": "ok"}


@pytest.fixture
def dead_db_app() -> Iterator[Flask]:
    """An app whose database refuses connections (no mocks: a closed port)."""
    app = create_app(make_config(DEAD_DATABASE, REQUEST_LOG_ENABLED=False))
    yield app
    get_writer(app).close()
    with app.app_context():
        db.engine.dispose()


def test_app_starts_without_a_reachable_database(dead_db_app):
    assert dead_db_app.test_client().get("/healthz").status_code == 200


def test_readyz_is_503_when_database_is_unreachable(dead_db_app):
    r = dead_db_app.test_client().get("/readyz")
    body = assert_problem(r, 503)
    assert "database" in body["detail"].lower() and "unavailable" in body["detail"]
    assert body["checks"]["database"] == "unavailable"
    assert r.headers["Retry-After"]


def test_api_answers_503_problem_not_500_when_database_is_unreachable(dead_db_app):
    client = dead_db_app.test_client()
    r = client.post(
        "/api/v2/auth/login", json={"email": "a@example.com", "password": "correct horse"}
    )
    body = assert_problem(r, 503)
    assert "database" in body["detail"].lower()


def _login(client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    email = f"rl-{uuid.uuid4().hex[:8]}@example.com"
    password = "correct horse battery"
    r = client.post(
        "/api/v2/auth/register",
        json={"email": email, "password": password, "display_name": "RL", "timezone": "UTC"},
    )
    assert r.status_code == 201, r.get_json()
    r = client.post("/api/v2/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['access_token']}"}


@pytest.fixture
def dead_storage_app(app_factory) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    """An app whose rate-limit storage is a closed Redis port."""
    yield app_factory(RATELIMIT_STORAGE_URI=DEAD_REDIS, WRITE_LIMIT="2 per minute")
    # The limiter is one object per process and remembers "storage dead" (re-checked
    # with a back-off): forget it so later tests' apps start on their own storage.
    limiter._storage_dead = False


def test_dead_rate_limit_storage_degrades_but_stays_ready(dead_storage_app):
    client = dead_storage_app.test_client()
    r = client.get("/readyz")
    assert r.status_code == 200
    checks = r.get_json()["checks"]
    assert checks["database"] == "ok"
    assert checks["rate_limit_storage"].startswith("degraded")


def test_rate_limited_route_works_on_memory_fallback_when_storage_is_dead(dead_storage_app):
    app = dead_storage_app
    client = app.test_client()
    headers = _login(client)
    event = {"event_type": "app_opened", "event_data": {"source": "test"}}
    assert [client.post(TRACK, json=event, headers=headers).status_code for _ in range(2)] == [
        201,
        201,
    ]
    # The fallback still limits (per process), with the problem format.
    r = client.post(TRACK, json=event, headers=headers)
    assert_problem(r, 429)
    assert r.headers["Retry-After"]
    with app.app_context():
        rows = db.session.execute(
            text("SELECT count(*) FROM analytics_events WHERE event_type = 'app_opened'")
        ).scalar()
    assert rows == 2


def test_readyz_reports_reachable_redis_storage_ok(app_factory, redis_url):
    app = app_factory(RATELIMIT_STORAGE_URI=redis_url)
    client = app.test_client()
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.get_json()["checks"] == {"database": "ok", "rate_limit_storage": "ok"}
    headers = _login(client)
    r = client.post(TRACK, json={"event_type": "app_opened", "event_data": {}}, headers=headers)
    assert r.status_code == 201, r.get_json()
