"""`flask analytics partitions` and `flask analytics prune` on a partitioned request_logs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from app import clock, create_app
from app.extensions import db
from app.services.request_logs.capture import get_writer
from tests.conftest import make_config
from tests.partition_support import (
    expected_partition,
    insert_logs,
    migrate,
    partition_names,
    placement,
    rows,
    scratch_url,
    tables_like_partitions,
    utc,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_url(request, tmp_path):
    yield from scratch_url(request, tmp_path)


@pytest.fixture
def pg_url(request, tmp_path):
    request.param = "postgresql"
    yield from scratch_url(request, tmp_path)


@pytest.fixture
def make_app():
    """Apps on a scratch database (closed, and their pools emptied, before it is dropped)."""
    apps = []

    def build(url: str, **overrides):
        app = create_app(make_config(url, **overrides))
        apps.append(app)
        return app

    yield build
    for app in apps:
        get_writer(app).close()
        with app.app_context():
            db.engine.dispose()


def _engine(app):
    with app.app_context():
        return db.engine


def _run(app, *args: str):
    result = app.test_cli_runner().invoke(args=["analytics", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_partitions_creates_months_ahead_once_and_moves_rows_out_of_the_default(
    pg_url, make_app
):
    migrate(pg_url, now=utc(2026, 3, 15))  # prepares 2026-03 .. 2026-06
    app = make_app(pg_url)
    engine = _engine(app)
    early = [utc(2026, 8, 1), utc(2026, 8, 31, 23, 59), utc(2026, 9, 10), utc(2026, 12, 24)]
    insert_logs(engine, early)
    assert set(placement(engine).values()) == {"request_logs_default"}
    before = rows(engine)

    clock.set_clock(lambda: utc(2026, 7, 20))
    output = _run(app, "partitions", "--months-ahead", "2")
    assert "created request_logs_p202607\n" in output
    assert "created request_logs_p202608 (2 rows moved from the default)" in output
    assert "created request_logs_p202609 (1 rows moved from the default)" in output
    assert "request_logs_default: 1 rows outside those months" in output
    months = {f"request_logs_p2026{m:02d}" for m in range(3, 10)}
    assert partition_names(engine) == months | {"request_logs_default"}
    assert rows(engine) == before
    assert placement(engine) == {row[0]: expected_partition(row[-1], months) for row in before}

    again = _run(app, "partitions", "--months-ahead", "2")
    assert "nothing to create" in again
    assert partition_names(engine) == months | {"request_logs_default"}
    # New rows of a prepared month land in its partition, with the next id.
    insert_logs(engine, [utc(2026, 8, 15)])
    assert placement(engine)[len(early) + 1] == "request_logs_p202608"


def test_partitions_on_sqlite_has_nothing_to_prepare(any_url, make_app):
    migrate(any_url, now=utc(2026, 3, 15))
    app = make_app(any_url)
    output = _run(app, "partitions")
    if any_url.startswith("sqlite"):
        assert "request_logs is one table; nothing to prepare" in output
    else:
        assert "created request_logs_p202603" not in output  # the migration made it
        assert "nothing to create" in output


NOW = utc(2026, 6, 15, 12, 0)
# Every 5 days from mid-December 2025 to mid-June 2026, plus a row from 2019.
STAMPS = [NOW - timedelta(days=d, hours=1) for d in range(0, 185, 5)] + [utc(2019, 6, 1)]


def test_prune_drops_whole_old_months_and_deletes_the_rest_row_by_row(any_url, make_app):
    migrate(any_url, now=utc(2026, 1, 15))  # months 2026-01 .. 2026-04 and the default
    app = make_app(any_url, REQUEST_LOG_RETENTION_DAYS=90)
    engine = _engine(app)
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        clock.set_clock(lambda: utc(2026, 4, 2))
        _run(app, "partitions", "--months-ahead", "2")  # 2026-05, 2026-06
    insert_logs(engine, STAMPS)
    cutoff = NOW - timedelta(days=90)
    kept = [row for row in rows(engine) if row[-1] >= cutoff]
    old = len(STAMPS) - len(kept)

    clock.set_clock(lambda: NOW)
    output = _run(app, "prune", "--batch-size", "3")
    assert f"request_logs: {old} rows older than {cutoff.isoformat()} deleted" in output
    assert rows(engine) == kept
    if postgres:
        # January and February lie wholly before the cutoff (2026-03-17): dropped whole;
        # March is cut row by row, as are December and 2019 in the default partition.
        assert "(partitions dropped: request_logs_p202601, request_logs_p202602)" in output
        assert tables_like_partitions(engine) == {
            "request_logs_default",
            *(f"request_logs_p2026{m:02d}" for m in range(3, 7)),
        }
        with engine.connect() as conn:
            oldest_march = conn.execute(
                text("SELECT min(created_at) FROM request_logs_p202603")
            ).scalar()
            in_default = conn.execute(text("SELECT count(*) FROM request_logs_default")).scalar()
        assert oldest_march >= cutoff
        assert in_default == 0
    again = _run(app, "prune")
    assert f"request_logs: 0 rows older than {cutoff.isoformat()} deleted\n" in again
    assert rows(engine) == kept


def test_prune_drops_a_partition_an_interrupted_run_left_detached(pg_url, make_app):
    migrate(pg_url, now=utc(2026, 1, 15))
    app = make_app(pg_url, REQUEST_LOG_RETENTION_DAYS=90)
    engine = _engine(app)
    insert_logs(engine, [utc(2026, 1, 10), utc(2026, 1, 20), utc(2026, 4, 10)])
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE request_logs DETACH PARTITION request_logs_p202601"))

    clock.set_clock(lambda: utc(2026, 6, 1))  # cutoff 2026-03-03
    output = _run(app, "prune")
    assert "request_logs: 2 rows" in output
    assert "(partitions dropped: request_logs_p202601, request_logs_p202602)" in output
    assert "request_logs_p202601" not in tables_like_partitions(engine)
    assert [row[-1] for row in rows(engine)] == [utc(2026, 4, 10)]


def test_request_log_writer_lands_rows_in_their_month_partitions(pg_url, make_app):
    migrate(pg_url, now=utc(2026, 3, 15))
    app = make_app(pg_url)
    client = app.test_client()
    for moment in (utc(2026, 3, 20, 8), utc(2026, 5, 1), utc(2031, 1, 1)):
        clock.set_clock(lambda moment=moment: moment)
        assert client.get("/api/v2/auth/me").status_code == 401
        assert client.get("/api/v2/nowhere").status_code == 404
    assert get_writer(app).flush(timeout=10)
    engine = _engine(app)
    where = placement(engine)
    assert sorted(where.values()) == [
        "request_logs_default",
        "request_logs_default",
        "request_logs_p202603",
        "request_logs_p202603",
        "request_logs_p202605",
        "request_logs_p202605",
    ]
    assert sorted(where) == [1, 2, 3, 4, 5, 6]


def test_erasure_anonymizes_request_logs_in_every_partition(pg_url, make_app):
    migrate(pg_url, now=utc(2026, 3, 15))
    app = make_app(pg_url)
    client = app.test_client()
    password = "correct horse battery"
    clock.set_clock(lambda: utc(2026, 3, 20))
    registered = client.post(
        "/api/v2/auth/register",
        json={"email": "gone@example.com", "password": password, "display_name": "G"},
    )
    assert registered.status_code == 201
    token = client.post(
        "/api/v2/auth/login", json={"email": "gone@example.com", "password": password}
    ).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    for moment in (utc(2026, 3, 21), utc(2026, 4, 2), utc(2031, 1, 1)):
        clock.set_clock(lambda moment=moment: moment)
        assert client.get("/api/v2/auth/me", headers=headers).status_code == 200
    assert get_writer(app).flush(timeout=10)
    engine = _engine(app)
    user_id = registered.get_json()["id"]
    with engine.connect() as conn:
        mine = conn.execute(
            text(
                "SELECT tableoid::regclass::text FROM request_logs WHERE user_id = :u "
                "ORDER BY created_at"
            ),
            {"u": user_id},
        ).scalars().all()
    assert mine == ["request_logs_p202603", "request_logs_p202604", "request_logs_default"]
    total = len(rows(engine))

    erased = client.delete("/api/v2/me", headers=headers, json={"password": password})
    assert erased.status_code == 200, erased.get_json()
    assert get_writer(app).flush(timeout=10)
    with engine.connect() as conn:
        left = conn.execute(
            text("SELECT count(*) FROM request_logs WHERE user_id = :u"), {"u": user_id}
        ).scalar()
    assert left == 0
    assert len(rows(engine)) == total + 1  # kept, anonymous, plus the erasure's own row
