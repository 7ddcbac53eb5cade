"""Helpers that reach the real PostgreSQL and Redis servers for the fixtures."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.sql.dml import Insert


def ensure_pg_database(url: str) -> str | None:
    """Create the test database if missing; a reason string when the server is down."""
    target = make_url(url)
    admin = target.set(database="postgres")
    try:
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": target.database},
            ).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure is "not reachable"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    return None


def reset_pg_schema(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def redis_problem(url: str) -> str | None:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"
    return None


def flush_redis_db(url: str) -> None:
    """Empty the dedicated test database (never the whole server)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    client.flushdb()
    client.close()


def upgrade_to_head(url: str) -> None:
    """Run the real migrations (flask db upgrade) against url."""
    from flask_migrate import upgrade

    from app import create_app

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "JWT_SECRET_KEY": "migrations-only-secret-key-32-bytes!",
            "REQUEST_LOG_ENABLED": False,
        }
    )
    from tests.conftest import MIGRATIONS

    with app.app_context():
        upgrade(directory=MIGRATIONS)
        from app.extensions import db

        db.engine.dispose()


def empty_all_tables(engine: Engine, metadata: MetaData) -> None:
    """Every table emptied and every id sequence restarted, as after a fresh migration.

    DELETE, not TRUNCATE, on PostgreSQL too: a TRUNCATE ... RESTART IDENTITY of the 28 tables
    makes new files for each table and index (0.2-0.6 s, after every test and every oracle
    example), a DELETE of a test's few rows takes milliseconds. The sequences that were used
    restart where they started (pg_sequences shows last_value NULL for the others)."""
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    with engine.begin() as conn:
        for name in tables:
            conn.execute(text(f"DELETE FROM {name}"))
        if engine.dialect.name == "postgresql":
            conn.execute(_RESTART_SEQUENCES)
        elif _has_sequence(conn):
            conn.execute(text("DELETE FROM sqlite_sequence"))


_RESTART_SEQUENCES = text(
    "SELECT setval(format('%I.%I', schemaname, sequencename), start_value, false)"
    " FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL"
)


def _has_sequence(conn) -> bool:  # type: ignore[no-untyped-def]
    return bool(
        conn.execute(
            text("SELECT 1 FROM sqlite_master WHERE type='table' AND name='sqlite_sequence'")
        ).scalar()
    )


def wait_until_lock_awaited(engine: Engine, table: str, timeout: float = 10.0) -> bool:
    """True once some PostgreSQL session is waiting for a lock on `table` (pg_locks), False
    after `timeout`: lets a test see that a call blocks, without guessing a sleep."""
    query = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "WHERE c.relname = :table AND NOT l.granted"
    )
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(query, {"table": table}).scalar_one()
            conn.rollback()
            if waiting:
                return True
            time.sleep(0.01)
    return False


def call_during_open_insert(
    app: Flask, engine: Engine, insert: Insert, call: Callable[[], Any]
) -> tuple[int, Any]:
    """(the id `insert` gave its row, what `call` returned), where `call` ran in another
    thread while that INSERT ... RETURNING id was open, and had to wait for it: asserted
    through pg_locks, then the insert commits and the call finishes."""
    connection = engine.connect()
    transaction = connection.begin()
    inserted = connection.execute(insert).scalar_one()
    started, result = threading.Event(), {}

    def run() -> None:
        with app.app_context():
            started.set()
            result["value"] = call()

    caller = threading.Thread(target=run)
    caller.start()
    started.wait()
    try:
        blocked = wait_until_lock_awaited(engine, insert.table.name)  # type: ignore[union-attr]
        assert blocked and caller.is_alive(), "the call went ahead during an open insert"
    finally:  # a failure must not leave the insert open (teardown would wait on it)
        transaction.commit()
        connection.close()
    caller.join(timeout=10)
    return inserted, result["value"]
