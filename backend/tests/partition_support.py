"""Scratch databases and row helpers for the request_logs partitioning tests.

The partition commands change the schema (they add and drop tables), so these tests never
use the session's shared database: each gets its own, migrated with the clock frozen (the
migration prepares the months around "now").
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from app import clock
from tests.conftest import MIGRATIONS, PG_URL
from tests.migration_support import app_on, scratch_database

# Named after this run's test database, so engineers with their own databases never collide.
SCRATCH = f"{make_url(PG_URL).database}_partitions"
BEFORE = "20260115_add_privacy"
COLUMNS = "id, endpoint, method, status, latency_ms, user_id, ip_address, created_at"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def scratch_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of the kind request.param names; dropped afterwards."""
    yield from scratch_database(request, tmp_path, name=SCRATCH)


def migrate(url: str, *, now: datetime, revision: str = "head") -> None:
    clock.set_clock(lambda: now)
    with app_on(url):
        upgrade(directory=MIGRATIONS, revision=revision)


def engine_for(url: str) -> Engine:
    return create_engine(url)


def insert_logs(engine: Engine, stamps: list[datetime], user_id: int | None = None) -> None:
    """One request_logs row per instant, ids from the table's own sequence."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO request_logs (endpoint, method, status, latency_ms, user_id, "
                "ip_address, created_at) VALUES ('/api/v2/plans/<int:day>', 'GET', 200, 1.5, "
                ":user_id, '203.0.113.0', :created_at)"
            ),
            [{"user_id": user_id, "created_at": stamp} for stamp in stamps],
        )


def rows(engine: Engine) -> list[tuple[Any, ...]]:
    """Every row, by id, created_at normalised to aware UTC (SQLite returns naive text)."""
    with engine.connect() as conn:
        result = conn.execute(text(f"SELECT {COLUMNS} FROM request_logs ORDER BY id")).all()
    out = []
    for row in result:
        created = row[-1]
        if isinstance(created, str):
            created = datetime.fromisoformat(created)
        created = created.replace(tzinfo=UTC) if created.tzinfo is None else created
        out.append((*row[:-1], created.astimezone(UTC)))
    return out


def placement(engine: Engine) -> dict[int, str]:
    """id -> the partition that holds the row (PostgreSQL)."""
    with engine.connect() as conn:
        result = conn.execute(text("SELECT id, tableoid::regclass::text FROM request_logs"))
        return dict(result.all())


def partition_names(engine: Engine) -> set[str]:
    """Tables attached to request_logs as partitions."""
    with engine.connect() as conn:
        result = conn.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'request_logs'::regclass"
            )
        )
        return {name for (name,) in result}


def tables_like_partitions(engine: Engine) -> set[str]:
    """Every table named like a partition, attached or not."""
    with engine.connect() as conn:
        result = conn.execute(
            text("SELECT tablename FROM pg_tables WHERE tablename LIKE 'request\\_logs\\_%'")
        )
        return {name for (name,) in result}


def expected_partition(stamp: datetime, months: set[str]) -> str:
    name = f"request_logs_p{stamp.year:04d}{stamp.month:02d}"
    return name if name in months else "request_logs_default"
