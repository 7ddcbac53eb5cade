"""The analytics deploy: a live database at 20251225 is stamped, upgraded, and rolled back.

Every row that existed before the deploy must survive the upgrade and the downgrade.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from flask_migrate import downgrade, stamp, upgrade
from sqlalchemy import MetaData, Table, func, insert, inspect, select, text

from app.extensions import db
from tests.conftest import MIGRATIONS
from tests.migration_support import (
    ANALYTICS_INDEXES,
    ANALYTICS_TABLES,
    HEAD,
    LIKES,
    LOGS,
    app_on,
    current_revision,
    index_names,
    scratch_database,
    script,
    table_names,
)

BEFORE_ANALYTICS = {
    "users",
    "revoked_tokens",
    "challenges",
    "videos",
    "plans",
    "enrollments",
    "completions",
    "user_liked_videos",
}
T0 = datetime(2025, 12, 1, 8, 30, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch_url(request, tmp_path):
    yield from scratch_database(request, tmp_path)


def _table(name: str) -> Table:
    """The table as the database has it now (the models describe head, not this revision)."""
    return Table(name, MetaData(), autoload_with=db.engine)


def _reflect(names: set[str]) -> dict[str, Table]:
    return {name: _table(name) for name in names}


def _insert_live_data() -> None:
    """What production holds before the deploy: users, a challenge, plans, likes..."""
    rows: dict[str, list[dict[str, Any]]] = {
        "users": [
            {
                "id": i,
                "email": f"user{i}@example.com",
                "password_hash": f"$argon2id$hash-{i}",
                "display_name": f"User {i}",
                "timezone": "Europe/Berlin" if i == 2 else "UTC",
                "is_admin": i == 1,
                "token_version": i,
                "created_at": T0,
            }
            for i in (1, 2, 3)
        ],
        "challenges": [
            {
                "id": 1,
                "slug": "30-day",
                "title": "30 days",
                "description": "Every day",
                "duration_days": 30,
                "created_at": T0,
            }
        ],
        "videos": [
            {
                "id": i,
                "title": f"Video {i}",
                "description": "",
                "url": f"https://videos.example.com/{i}.mp4",
                "duration_s": 600 + i,
                "created_at": T0,
            }
            for i in (1, 2, 3)
        ],
        "plans": [
            {
                "id": i,
                "challenge_id": 1,
                "day": i,
                "title": f"Day {i}",
                "description": "Move",
                "tasks": [{"title": "Warm-up", "minutes": 5}, {"title": "Ünïcode ✓"}],
                "video_id": i,
            }
            for i in (1, 2, 3)
        ],
        "enrollments": [
            {
                "id": 1,
                "user_id": 2,
                "challenge_id": 1,
                "start_date": date(2025, 12, 1),
                "joined_at": T0,
                "ended_at": None,
            }
        ],
        "completions": [
            {
                "id": 1,
                "enrollment_id": 1,
                "user_id": 2,
                "plan_id": 1,
                "day": 1,
                "completed_at": T0,
            }
        ],
        "user_liked_videos": [
            {"user_id": 2, "video_id": 1, "created_at": T0},
            {"user_id": 2, "video_id": 2, "created_at": T0},
            {"user_id": 3, "video_id": 1, "created_at": T0},
        ],
        "revoked_tokens": [
            {
                "id": 1,
                "jti": "jti-1",
                "token_type": "refresh",
                "user_id": 1,
                "revoked_at": T0,
                "expires_at": T0,
            }
        ],
    }
    with db.engine.begin() as conn:
        for name in ("users", "challenges", "videos", "plans", "enrollments"):
            conn.execute(insert(_table(name)), rows[name])
        for name in ("completions", "user_liked_videos", "revoked_tokens"):
            conn.execute(insert(_table(name)), rows[name])


def _snapshot(tables: dict[str, Table]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every pre-analytics table (its columns before the deploy), by key."""
    out = {}
    with db.engine.connect() as conn:
        for name in sorted(BEFORE_ANALYTICS):
            table = tables[name]
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            out[name] = [tuple(row) for row in rows]
    return out


def _assert_analytics_schema() -> None:
    assert ANALYTICS_TABLES <= table_names()
    for table, indexes in ANALYTICS_INDEXES.items():
        assert indexes <= index_names(table), (table, index_names(table))
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            data_type = conn.execute(
                text(
                    "SELECT data_type FROM information_schema.columns "
                    "WHERE table_name = 'analytics_events' AND column_name = 'event_data'"
                )
            ).scalar()
        assert data_type == "jsonb"


def _new_tables_accept_rows() -> None:
    events, logs = _table("analytics_events"), _table("request_logs")
    with db.engine.begin() as conn:
        conn.execute(
            insert(events),
            [{"user_id": 2, "event_type": "app_opened", "event_data": {"k": 1}, "created_at": T0}],
        )
        conn.execute(
            insert(logs),
            [
                {
                    "endpoint": "/api/v2/plans/today",
                    "method": "GET",
                    "status": 200,
                    "latency_ms": 1.5,
                    "user_id": 2,
                    "ip_address": "::1",
                    "created_at": T0,
                }
            ],
        )
        assert conn.execute(select(func.count()).select_from(events)).scalar() == 1


def test_deploy_upgrade_keeps_rows_and_downgrade_removes_only_analytics(scratch_url):
    with app_on(scratch_url):
        upgrade(directory=MIGRATIONS, revision=LIKES)
        assert table_names() == BEFORE_ANALYTICS
        tables = _reflect(BEFORE_ANALYTICS)
        _insert_live_data()
        before = _snapshot(tables)
        assert {name: len(rows) for name, rows in before.items()} == {
            "challenges": 1,
            "completions": 1,
            "enrollments": 1,
            "plans": 3,
            "revoked_tokens": 1,
            "user_liked_videos": 3,
            "users": 3,
            "videos": 3,
        }

        stamp(directory=MIGRATIONS, revision=LIKES)
        assert current_revision() == LIKES
        upgrade(directory=MIGRATIONS, revision=LOGS)
        assert current_revision() == LOGS
        assert table_names() == BEFORE_ANALYTICS | ANALYTICS_TABLES
        assert _snapshot(tables) == before
        _assert_analytics_schema()
        _new_tables_accept_rows()

        downgrade(directory=MIGRATIONS, revision=LIKES)
        assert current_revision() == LIKES
        assert table_names() == BEFORE_ANALYTICS
        assert _snapshot(tables) == before

        # ... and the deploy can be repeated after a rollback, on to the latest revision.
        upgrade(directory=MIGRATIONS)
        assert current_revision() == HEAD
        assert _snapshot(tables) == before
        _assert_analytics_schema()


def _run_legacy_ddl() -> None:
    """Create the schema as it was before Alembic was introduced: DDL, no alembic_version."""
    directory = script()
    with db.engine.begin() as conn:
        context = MigrationContext.configure(conn, opts={"render_as_batch": True})
        with Operations.context(context):
            for revision in ("20251220_initial_schema", LIKES):
                directory.get_revision(revision).module.upgrade()


def test_database_created_before_migrations_is_stamped_and_upgraded(scratch_url):
    with app_on(scratch_url):
        _run_legacy_ddl()
        assert current_revision() is None
        assert table_names() == BEFORE_ANALYTICS
        tables = _reflect(BEFORE_ANALYTICS)
        _insert_live_data()
        before = _snapshot(tables)

        stamp(directory=MIGRATIONS, revision=LIKES)
        assert current_revision() == LIKES
        upgrade(directory=MIGRATIONS, revision=LOGS)
        assert current_revision() == LOGS
        assert _snapshot(tables) == before
        _assert_analytics_schema()
        _new_tables_accept_rows()
        assert set(inspect(db.engine).get_table_names()) >= {"alembic_version"}
