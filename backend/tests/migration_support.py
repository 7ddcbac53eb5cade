"""Scratch databases and app contexts for the migration and CLI tests.

These tests create, migrate, break and drop their own databases, so they never
touch the session's shared test database (the `db_url` fixture).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from app.services.request_logs.capture import get_writer
from app.services.request_logs.partitions import is_partition_name
from tests.conftest import MIGRATIONS, PG_URL

# Named after the test database, so suites run side by side never drop each other's.
SCRATCH_PG_DATABASE = f"{make_url(PG_URL).database}_mig"
LIKES = "20251225_add_user_liked_videos"
EVENTS = "20251227_add_analytics_events"
LOGS = "20251227_add_request_logs"
# The latest revision: the last file in date order (the chain test checks that order).
HEAD = sorted(p.stem for p in Path(MIGRATIONS, "versions").glob("*.py"))[-1]
ANALYTICS_TABLES = {"analytics_events", "request_logs"}
ANALYTICS_INDEXES = {
    "analytics_events": {"idx_events_user", "idx_events_type_date"},
    "request_logs": {"idx_logs_endpoint", "idx_logs_user"},
}


def scratch_database(
    request: pytest.FixtureRequest, tmp_path: Path, *, name: str = SCRATCH_PG_DATABASE
) -> Iterator[str]:
    """An empty database of the kind request.param names (PostgreSQL: `name`).

    PostgreSQL's database is created once and emptied before each test (every schema
    dropped, `public` made again), not dropped: DROP DATABASE forces a checkpoint, which
    took 8-80 s a test on a loaded machine; dropping a schema needs none.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / f'{name}.db'}"
        return
    server_url = request.getfixturevalue("pg_server_url")
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            # An earlier test's leftover sessions would hold locks on what is dropped next.
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                     " WHERE datname = :name AND pid <> pg_backend_pid()"),
                {"name": name},
            )
    finally:
        admin.dispose()
    _empty_pg_database(url)
    yield url


def _empty_pg_database(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            schemas = conn.execute(
                text("SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%'"
                     " AND nspname <> 'information_schema'")
            ).scalars().all()
            for schema in schemas:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


@contextmanager
def app_on(url: str, **overrides: Any) -> Iterator[Flask]:
    """An app on url with its app context pushed (for flask_migrate's API and the CLI)."""
    config: dict[str, Any] = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "JWT_SECRET_KEY": "migration-tests-secret-key-32-bytes!",
        "REQUEST_LOG_ENABLED": False,
        "MIGRATIONS_DIR": MIGRATIONS,
    }
    app = create_app(config | overrides)
    try:
        with app.app_context():
            yield app
            db.session.remove()
            db.engine.dispose()
    finally:
        get_writer(app).close()


def script() -> ScriptDirectory:
    return ScriptDirectory(MIGRATIONS)


def table_names() -> set[str]:
    """The tables, without alembic_version and request_logs' partitions (PostgreSQL)."""
    names = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
    return {name for name in names if not is_partition_name(name)}


def index_names(table: str) -> set[str]:
    return {ix["name"] for ix in inspect(db.engine).get_indexes(table)}


def current_revision() -> str | None:
    with db.engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
