"""Fixtures: one app per test, on SQLite and on PostgreSQL (the `db_url` parameter).

Every test starts from a clean database: tables are emptied after each test rather
than rolled back, because the code under test commits on its own connections (the
tracking service, the request-log writer thread), which an outer transaction would
not cover (and which would deadlock against it on SQLite).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app import clock, create_app
from app.extensions import db as _db
from app.extensions import limiter
from app.models import Base
from app.services.request_logs.capture import get_writer
from tests import services as svc

# Fixtures shared by several test modules but living with their data (data sets, etc.).
pytest_plugins = ["tests.insights_data", "tests.store_support"]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# `make test` runs the suite in two pytest-xdist workers (gw0, gw1): each has a PostgreSQL
# database of its own (challenge_test_gw0, ...) and a Redis db number of its own (15, 14),
# so that no test sees another's rows. Scratch databases are named after PG_URL's.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
_WORKER_INDEX = int(WORKER[2:]) if WORKER.startswith("gw") else 0


def _for_worker(pg_url: str, redis_url: str) -> tuple[str, str]:
    if not WORKER:
        return pg_url, redis_url
    pg = make_url(pg_url)
    pg = pg.set(database=f"{pg.database}_{WORKER}")
    base, _, number = redis_url.rpartition("/")
    return (
        pg.render_as_string(hide_password=False),
        f"{base}/{max(0, int(number or 0) - _WORKER_INDEX)}",
    )


PG_URL, REDIS_URL = _for_worker(
    os.environ.get(
        "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/challenge_test"
    ),
    os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
)
MIGRATIONS = str(Path(__file__).resolve().parents[1] / "migrations")


# ---- the order files start in --------------------------------------------------------------
# `--dist loadfile` hands each worker a whole file at a time, in the collection's order, and
# xdist's own reorder puts the files with the most tests first. The slowest files have few
# tests (a hypothesis oracle is one test running minutes): left to that rule they start last,
# and the run waits minutes on one worker after the other has finished. So a file marked
# `heavy(seconds)` (its rough time on one worker) starts first, the heaviest first, then the
# rest by test count as xdist would. The order inside a file never changes.


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "heavy(seconds): a slow file, started first by the workers (conftest.py)"
    )
    if hasattr(config.option, "loadscopereorder"):  # xdist's reorder would undo ours
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not WORKER:  # one process: pytest's order, which switches db_url's parameter once
        return
    by_file: dict[str, list[pytest.Item]] = {}
    for item in items:
        by_file.setdefault(item.nodeid.split("::", 1)[0], []).append(item)

    def weight(tests: list[pytest.Item]) -> tuple[float, int]:
        mark = tests[0].get_closest_marker("heavy")
        return (-(mark.args[0] if mark else 0), -len(tests))

    items[:] = [item for tests in sorted(by_file.values(), key=weight) for item in tests]


def _unavailable(what: str, reason: str) -> None:
    message = f"{what} is not reachable ({reason})"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(f"{message}; start it to run these tests")


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    problem = svc.ensure_pg_database(PG_URL)
    if problem:
        _unavailable("PostgreSQL at " + make_url(PG_URL).render_as_string(), problem)
    return PG_URL


@pytest.fixture(scope="session")
def redis_server_url() -> str:
    problem = svc.redis_problem(REDIS_URL)
    if problem:
        _unavailable("Redis at " + REDIS_URL, problem)
    return REDIS_URL


@pytest.fixture
def redis_url(redis_server_url: str) -> str:
    """The test Redis database (a dedicated db number), emptied before each test."""
    svc.flush_redis_db(redis_server_url)
    return redis_server_url


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
    svc.upgrade_to_head(url)
    return url


@pytest.fixture(scope="session")
def postgresql_database(pg_server_url: str) -> str:
    svc.reset_pg_schema(pg_server_url)
    svc.upgrade_to_head(pg_server_url)
    return pg_server_url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A migrated database of each kind, shared by the session and emptied per test.

    Migrated once per kind (sqlite_database, postgresql_database): pytest makes a
    parametrized session fixture anew each time the parameter changes, which a worker of
    `--dist loadfile` does at every file (its SQLite tests, then its PostgreSQL ones), and
    the migrations cost 2-5 s a time."""
    return request.getfixturevalue(f"{request.param}_database")


def make_config(db_url: str, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": db_url,
        "JWT_SECRET_KEY": "test-secret-key-that-is-long-enough-for-hs256",
        "RATELIMIT_STORAGE_URI": "memory://",
        "WRITE_LIMIT": "1000 per minute",
        "AUTH_LIMIT": "1000 per minute",
        "AUTH_EMAIL_LIMIT": "1000 per minute",
        # No spool under backend/instance from tests: an outage test names its own directory.
        "REQUEST_LOG_SPOOL_DIR": "",
        # Cheap argon2id: the hashes stay real ($argon2id$...), the suite stays fast.
        "ARGON2_PARAMS": {"time_cost": 1, "memory_cost": 8, "parallelism": 1},
        "MIGRATIONS_DIR": MIGRATIONS,
        # Flushed explicitly by tests (flush_logs); the thread still runs as in production.
        "REQUEST_LOG_FLUSH_INTERVAL": 0.05,
    }
    config.update(overrides)
    return config


@pytest.fixture
def app_factory(db_url: str) -> Iterator[Callable[..., Flask]]:
    """Build apps on the test database with config overrides; cleaned up after the test."""
    apps: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        app = create_app(make_config(db_url, **overrides))
        apps.append(app)
        return app

    yield factory
    for app in apps:
        get_writer(app).close()
    # One Limiter object serves every app in the process (as in production, where
    # there is one app): empty its storage so counters never leak between tests.
    try:
        limiter.reset()
    except Exception:  # noqa: BLE001 - a dead storage has nothing to reset
        pass
    clock.set_clock(None)
    if apps:
        with apps[0].app_context():
            svc.empty_all_tables(_db.engine, Base.metadata)
        for app in apps:
            with app.app_context():
                _db.engine.dispose()


@pytest.fixture
def app(app_factory: Callable[..., Flask]) -> Flask:
    return app_factory()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def flush_logs(app: Flask) -> Callable[[], None]:
    """Write every queued request log row now (deterministic; no sleeps)."""

    def flush() -> None:
        assert get_writer(app).flush(timeout=10)

    return flush


@pytest.fixture
def db_session(app: Flask) -> Iterator[Any]:
    """An app context for direct database reads in assertions (no requests inside it)."""
    with app.app_context():
        yield _db.session


@pytest.fixture
def query(app: Flask) -> Callable[[str, dict[str, Any] | None], list[Any]]:
    """Run SQL against the test database outside any request; returns the rows."""

    def run(sql: str, params: dict[str, Any] | None = None) -> list[Any]:
        with app.app_context():
            with _db.engine.connect() as conn:
                return list(conn.execute(text(sql), params or {}))

    return run


@pytest.fixture
def register(client: FlaskClient) -> Callable[..., dict[str, Any]]:
    """Register a user through the API; returns the user document and its password."""

    def do(
        email: str | None = None,
        password: str = "correct horse battery",
        display_name: str = "Tester",
        timezone: str = "UTC",
    ) -> dict[str, Any]:
        email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
        response = client.post(
            "/api/v2/auth/register",
            json={
                "email": email,
                "password": password,
                "display_name": display_name,
                "timezone": timezone,
            },
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json() | {"password": password}

    return do


@pytest.fixture
def login(client: FlaskClient) -> Callable[[str, str], dict[str, str]]:
    def do(email: str, password: str) -> dict[str, str]:
        response = client.post("/api/v2/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    return do


@pytest.fixture
def auth(register: Callable[..., dict[str, Any]], login: Callable[..., dict[str, str]]):
    """A registered, logged-in user: .user, .tokens and .headers (Authorization)."""

    class Auth:
        def __init__(self, **kwargs: Any) -> None:
            self.user = register(**kwargs)
            self.tokens = login(self.user["email"], self.user["password"])
            self.headers = {"Authorization": f"Bearer {self.tokens['access_token']}"}

    return Auth


@pytest.fixture
def seeded(app: Flask) -> dict[str, int]:
    """The demo challenge (30 days, plans and videos); returns its ids."""
    from app.services.demo import seed as seed_service

    with app.app_context():
        result = seed_service.seed_demo()
        return {"challenge_id": result.challenge.id, "days": result.challenge.duration_days}


@pytest.fixture
def at() -> Iterator[Callable[[str], datetime]]:
    """Freeze "now" at an ISO instant (UTC unless the string names an offset)."""

    def freeze(iso: str) -> datetime:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
        clock.set_clock(lambda: moment)
        return moment

    yield freeze
    clock.set_clock(None)


@pytest.fixture
def enrolled(client, seeded, auth, at):
    """A user who joined the demo challenge on 2026-03-01 (UTC) and is now on day 3."""
    at("2026-03-01T09:00:00Z")
    user = auth()
    r = client.post(f"/api/v2/challenges/{seeded['challenge_id']}/join", headers=user.headers)
    assert r.status_code == 201
    user.enrollment_id = r.get_json()["id"]
    at("2026-03-03T09:00:00Z")
    return user
