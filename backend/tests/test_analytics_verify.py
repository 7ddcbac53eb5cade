"""`flask analytics verify`: the database against the migrations' head and the models.

A database upgraded only part of the way (or stamped at head without the schema) fails,
naming each migration not applied and each table, column, index, constraint missing; a
dropped index fails; on PostgreSQL so does request_logs without its default partition.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask_migrate import stamp, upgrade
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.extensions import db
from tests.conftest import MIGRATIONS, PG_URL
from tests.migration_support import HEAD, LOGS, app_on, scratch_database

SEED_INDEXES = ("idx_events_user", "idx_events_type_date", "idx_logs_endpoint", "idx_logs_user")
LATER = sorted(p.stem for p in Path(MIGRATIONS, "versions").glob("*.py") if p.stem > LOGS)


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch_url(request, tmp_path):
    # A scratch database of this module's own (never the migration tests' one).
    yield from scratch_database(
        request, tmp_path, name=f"{make_url(PG_URL).database}_verify"
    )


def _verify(app):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=["analytics", "verify"])


def _failures(output: str) -> list[str]:
    words = ("MISSING", "EXTRA", "DIFFERS")
    return [line.strip() for line in output.splitlines() if line[2:].startswith(words)]


def test_verify_passes_on_a_database_at_head(app):
    result = _verify(app)
    assert result.exit_code == 0, result.output
    assert _failures(result.output) == []
    assert f"ok       revision {HEAD} (head)" in result.output
    assert "OK: the database is at the migrations' head" in result.output
    ok = " ".join(line for line in result.output.splitlines() if line.startswith("  ok "))
    for name in SEED_INDEXES:
        assert name in ok, name
    for table in ("analytics_events", "request_logs", "users", "rejected_events"):
        assert f"ok       table {table} (" in result.output
    if make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() == "postgresql":
        assert "ok       partitioning request_logs by RANGE (created_at)" in result.output
        assert "ok       partition request_logs_default" in result.output


def test_verify_fails_at_an_older_revision_naming_what_is_missing(scratch_url):
    with app_on(scratch_url) as app:
        upgrade(directory=MIGRATIONS, revision=LOGS)
        result = _verify(app)
        dialect = db.engine.dialect.name
    assert result.exit_code == 1, result.output
    failures = _failures(result.output)
    assert failures[0] == f"MISSING  revision: the database is at {LOGS}; head is {HEAD}"
    migrations = [line.split()[2].rstrip(":") for line in failures if " migration " in line]
    assert migrations == LATER and len(LATER) >= 8
    for thing in ("table rejected_events", "table erasure_audit",
                  "column analytics_events.event_id", "column users.is_internal",
                  "constraint uq_events_user_event_id",
                  "index idx_events_type_occurred_user"):
        assert any(line.startswith(f"MISSING  {thing}") for line in failures), thing
    assert ("MISSING  partitioning: request_logs is not a partitioned table"
            in result.output) == (dialect == "postgresql")
    assert "FAILED" in result.output


def test_verify_fails_when_stamped_at_head_without_the_schema(scratch_url):
    with app_on(scratch_url) as app:
        upgrade(directory=MIGRATIONS, revision=LOGS)
        stamp(directory=MIGRATIONS, revision="head")
        result = _verify(app)
    assert result.exit_code == 1
    assert f"ok       revision {HEAD} (head)" in result.output
    assert "MISSING  table rejected_events" in _failures(result.output)


def test_verify_fails_naming_a_dropped_index(scratch_url):
    with app_on(scratch_url) as app:
        upgrade(directory=MIGRATIONS)
        assert _verify(app).exit_code == 0
        with db.engine.begin() as conn:
            conn.execute(text("DROP INDEX idx_events_type_date"))
        result = _verify(app)
    assert result.exit_code == 1
    assert _failures(result.output) == [
        "MISSING  index idx_events_type_date on analytics_events(event_type, created_at)"
    ], result.output


def test_verify_reports_a_wrong_column_type(scratch_url):
    with app_on(scratch_url) as app:
        upgrade(directory=MIGRATIONS)
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE request_logs"))
            conn.execute(text(
                "CREATE TABLE request_logs (id INTEGER PRIMARY KEY, endpoint TEXT NOT NULL,"
                " method VARCHAR(10) NOT NULL, status INTEGER NOT NULL,"
                " latency_ms FLOAT NOT NULL, user_id INTEGER, ip_address VARCHAR(45),"
                " created_at TIMESTAMP WITH TIME ZONE NOT NULL)"
            ))
        result = _verify(app)
    failures = _failures(result.output)
    assert result.exit_code == 1
    assert any(line.startswith("DIFFERS  column request_logs.endpoint type") for line in failures)
    assert any("idx_logs_endpoint" in line for line in failures), failures


@pytest.mark.parametrize("scratch_url", ["postgresql"], indirect=True)
def test_verify_fails_without_the_default_partition(scratch_url):
    with app_on(scratch_url) as app:
        upgrade(directory=MIGRATIONS)
        with db.engine.begin() as conn:
            conn.execute(text("ALTER TABLE request_logs DETACH PARTITION request_logs_default"))
            conn.execute(text("DROP TABLE request_logs_default"))
        result = _verify(app)
    assert result.exit_code == 1
    assert _failures(result.output) == [
        "MISSING  partition request_logs_default (run `flask analytics partitions`)"
    ]
