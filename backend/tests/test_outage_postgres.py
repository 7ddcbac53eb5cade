"""PostgreSQL goes down and comes back: 503s (never 500s), readiness, request logs spooled.

The tests stop and start a private PostgreSQL of their own (outage_support.py), started once
for the module; the shared test database is never touched.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from app import create_app
from app.extensions import db, limiter
from app.services.demo import seed as seed_service
from app.services.request_logs.capture import get_writer
from tests import services as svc
from tests.conftest import make_config
from tests.outage_support import PrivatePostgres, private_postgres
from tests.problem_helpers import assert_problem

TRACK = "/api/v2/analytics/track"
TODAY = "/api/v2/plans/today"
EVENT = {"event_type": "app_opened", "event_data": {"source": "outage"}}


@pytest.fixture(scope="module")
def pg() -> Iterator[PrivatePostgres]:
    yield from private_postgres()


@pytest.fixture
def make_app(pg: PrivatePostgres, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Apps on the private cluster, each with a spool under tmp_path; emptied after."""
    apps: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        config = make_config(
            pg.url,
            REQUEST_LOG_SPOOL_DIR=str(tmp_path / "spool"),
            REQUEST_LOG_FLUSH_INTERVAL=60,  # written only by flush(): deterministic
            **overrides,
        )
        app = create_app(config)
        apps.append(app)
        return app

    yield build
    if not pg.running():
        pg.start()
    for app in apps:
        get_writer(app).close()
    limiter.reset()
    if apps:
        with apps[0].app_context():
            svc.empty_all_tables(db.engine, db.metadata)
        for app in apps:
            with app.app_context():
                db.engine.dispose()


def _user(client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    body = {"email": "outage@example.com", "password": "correct horse battery"}
    r = client.post("/api/v2/auth/register", json=body | {"display_name": "O"})
    assert r.status_code == 201, r.get_json()
    r = client.post("/api/v2/auth/login", json=body)
    assert r.status_code == 200, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['access_token']}"}


def _flush(app: Flask) -> None:
    assert get_writer(app).flush(timeout=30)


def _logged(app: Flask) -> Counter[tuple[str, str, int]]:
    with app.app_context(), db.engine.connect() as conn:
        rows = conn.execute(text("SELECT endpoint, method, status FROM request_logs"))
        return Counter((r[0], r[1], r[2]) for r in rows)


def test_database_outage_answers_503_problem_with_retry_after_never_500(make_app, pg):
    app = make_app()
    with app.app_context():
        challenge = seed_service.seed_demo().challenge.id
    client = app.test_client()
    headers = _user(client)
    assert client.post(f"/api/v2/challenges/{challenge}/join", headers=headers).status_code == 201
    assert client.get(TODAY, headers=headers).status_code == 200

    pg.stop()
    for response in (
        client.post(TRACK, json=EVENT, headers=headers),
        client.get(TODAY, headers=headers),
    ):
        assert_problem(response, 503)
        assert int(response.headers["Retry-After"]) > 0
    r = client.get("/readyz")
    body = assert_problem(r, 503)
    assert body["detail"] == "The database is unavailable."
    assert body["checks"]["database"] == "unavailable"
    assert int(r.headers["Retry-After"]) > 0

    pg.start()
    assert client.get("/readyz").status_code == 200
    assert client.post(TRACK, json=EVENT, headers=headers).status_code == 201


def test_request_logs_of_an_outage_are_spooled_then_written_once_when_database_returns(
    make_app, pg, tmp_path
):
    app = make_app()
    client = app.test_client()
    headers = _user(client)
    _flush(app)
    before = _logged(app)

    pg.stop()
    for _ in range(3):
        assert client.get(TODAY, headers=headers).status_code == 503
    assert client.get("/api/v2/no-such-route").status_code == 404
    _flush(app)
    writer = get_writer(app)
    assert (writer.spooled, writer.dropped_spool) == (4, 0)
    assert writer.spool_bytes > 0
    spool_files = list((tmp_path / "spool").glob("*.jsonl"))
    assert len(spool_files) == 1 and len(spool_files[0].read_text().splitlines()) == 4
    readiness = client.get("/readyz").get_json()
    assert readiness["request_log"]["spool_bytes"] == writer.spool_bytes
    scrape = client.get("/metrics").get_data(as_text=True)
    assert f"challenge_request_log_spool_bytes {float(writer.spool_bytes)}" in scrape

    pg.start()
    assert client.get("/api/v2/challenges", headers=headers).status_code == 200
    _flush(app)
    expected = before + Counter(
        {
            ("/api/v2/plans/today", "GET", 503): 3,
            ("<unmatched>", "GET", 404): 1,
            ("/api/v2/challenges", "GET", 200): 1,
        }
    )
    assert _logged(app) == expected
    assert writer.replayed == 4 and writer.spool_bytes == 0
    assert not list((tmp_path / "spool").glob("*.jsonl"))

    # Written once: later writes do not bring the spooled rows back.
    assert client.get("/api/v2/challenges", headers=headers).status_code == 200
    _flush(app)
    assert _logged(app) == expected + Counter({("/api/v2/challenges", "GET", 200): 1})


def test_full_spool_drops_counts_logs_and_reports_what_it_lost(make_app, pg, caplog):
    app = make_app(REQUEST_LOG_SPOOL_MAX_BYTES=700)  # room for a few rows only
    client = app.test_client()
    headers = _user(client)
    _flush(app)
    scrape_before = client.get("/metrics").get_data(as_text=True)

    pg.stop()
    with caplog.at_level(logging.WARNING, logger="app.services.request_logs.writer"):
        for n in range(10):
            assert client.get(f"/api/v2/no-such-route/{n}").status_code == 404
            _flush(app)  # one batch per request: the bound is met part way
    writer = get_writer(app)
    assert writer.spooled + writer.dropped_spool == 10
    assert 0 < writer.spooled < 10
    assert writer.spool_bytes <= 700
    assert any("spool full" in r.getMessage() for r in caplog.records)

    body = client.get("/readyz").get_json()
    assert body["request_log"]["dropped_spool_full"] == writer.dropped_spool
    scrape = client.get("/metrics").get_data(as_text=True)
    assert _dropped(scrape) - _dropped(scrape_before) == writer.dropped_spool

    pg.start()
    assert client.get("/api/v2/challenges", headers=headers).status_code == 200
    _flush(app)
    logged = _logged(app)
    assert logged[("<unmatched>", "GET", 404)] == writer.spooled
    assert logged[("/api/v2/challenges", "GET", 200)] == 1


def _dropped(scrape: str) -> float:
    prefix = 'challenge_request_logs_dropped_total{reason="spool_full"} '
    for line in scrape.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    return 0.0
