"""Monthly partitions of request_logs on PostgreSQL.

The migration 20260120_partition_request_logs makes request_logs a table range-partitioned
on created_at, one partition per UTC month (request_logs_pYYYYMM) plus a DEFAULT partition
(request_logs_default) that catches rows outside the prepared months. This module creates
the months ahead (`flask analytics partitions`) and drops whole old months (`flask analytics
prune`). Partitions are recognised by name only: a table this module did not name is never
dropped. On SQLite nothing is partitioned and these functions are not used.

Every DDL transaction sets a lock timeout, so a long report holding request_logs makes the
command fail fast (rerun it) instead of queueing the app's writers behind it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

PARENT = "request_logs"
DEFAULT_PARTITION = "request_logs_default"
_MONTHLY = re.compile(r"^request_logs_p(\d{4})(\d{2})$")
COLUMNS = "id, endpoint, method, status, latency_ms, user_id, ip_address, created_at"
LOCK_TIMEOUT = "10s"

Progress = Callable[[int], object]


def is_partition_name(name: str | None) -> bool:
    """True for the tables of this scheme (request_logs_pYYYYMM, request_logs_default).

    The models-versus-migrations comparison (migrations/env.py, tests) skips them: the
    models describe the parent only.
    """
    return name == DEFAULT_PARTITION or bool(name and _MONTHLY.match(name))


def month_start(moment: datetime) -> datetime:
    """The first instant of moment's UTC month."""
    utc = moment.astimezone(UTC)
    return datetime(utc.year, utc.month, 1, tzinfo=UTC)


def add_months(month: datetime, count: int) -> datetime:
    index = month.year * 12 + month.month - 1 + count
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def partition_name(month: datetime) -> str:
    return f"{PARENT}_p{month.year:04d}{month.month:02d}"


def month_of(name: str) -> datetime | None:
    """The month a request_logs_pYYYYMM table holds (None for any other name)."""
    match = _MONTHLY.match(name)
    if not match or not 1 <= int(match[2]) <= 12:
        return None
    return datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)


def _literal(moment: datetime) -> str:
    # Generated from a datetime, never from input: safe to inline in DDL (no bind parameters).
    return f"'{moment.astimezone(UTC).isoformat()}'"


def is_partitioned(engine_or_conn: Engine | Connection) -> bool:
    """Whether request_logs is a partitioned table here (PostgreSQL after the migration)."""
    if engine_or_conn.dialect.name != "postgresql":
        return False
    sql = text(
        "SELECT c.relkind = 'p' FROM pg_class c "
        "WHERE c.oid = to_regclass(:name)"
    )
    if isinstance(engine_or_conn, Connection):
        return bool(engine_or_conn.execute(sql, {"name": PARENT}).scalar())
    with engine_or_conn.connect() as conn:
        return bool(conn.execute(sql, {"name": PARENT}).scalar())


def attached_partitions(conn: Connection) -> set[str]:
    """Names of the tables attached to request_logs now (monthly and default)."""
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:name)"
        ),
        {"name": PARENT},
    )
    return {name for (name,) in rows}


def _monthly_tables(conn: Connection) -> set[str]:
    """Every table named request_logs_pYYYYMM in the schema, attached or not."""
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_class c "
            "WHERE c.relkind IN ('r', 'p') AND c.relnamespace = to_regnamespace(current_schema()) "
            "AND c.relname LIKE 'request\\_logs\\_p%'"
        )
    )
    return {name for (name,) in rows if month_of(name)}


def _begin_ddl(conn: Connection) -> None:
    conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))


@dataclass
class EnsureResult:
    created: list[str] = field(default_factory=list)
    moved: dict[str, int] = field(default_factory=dict)  # rows moved out of the default


def ensure_partitions(engine: Engine, *, now: datetime, months_ahead: int = 3) -> EnsureResult:
    """Create the partitions of now's month and months_ahead more (idempotent).

    Rows already sitting in the DEFAULT partition for a month that gets its own partition
    are moved into it: PostgreSQL refuses to add a partition whose range has rows in the
    default one.
    """
    result = EnsureResult()
    with engine.begin() as conn:
        _begin_ddl(conn)
        conn.execute(
            text(f"CREATE TABLE IF NOT EXISTS {DEFAULT_PARTITION} PARTITION OF {PARENT} DEFAULT")
        )
    first = month_start(now)
    for offset in range(months_ahead + 1):
        month = add_months(first, offset)
        name = partition_name(month)
        with engine.begin() as conn:
            if name in attached_partitions(conn):
                continue
            result.moved[name] = create_month(conn, month)
            result.created.append(name)
    return result


def create_month(conn: Connection, month: datetime) -> int:
    """Add the partition of month inside conn's transaction; the default rows moved to it.

    The table is built standalone, filled with the month's rows from the default partition,
    then attached; the default partition is locked first, so no row of that month can land
    in it between the move and the attach.
    """
    name = partition_name(month)
    lower, upper = _literal(month), _literal(add_months(month, 1))
    _begin_ddl(conn)
    conn.execute(text(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS)"))
    moved = 0
    if DEFAULT_PARTITION in attached_partitions(conn):
        conn.execute(text(f"LOCK TABLE {DEFAULT_PARTITION} IN ACCESS EXCLUSIVE MODE"))
        moved = conn.execute(
            text(
                f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} "
                f"WHERE created_at >= {lower} AND created_at < {upper} RETURNING {COLUMNS}) "
                f"INSERT INTO {name} ({COLUMNS}) SELECT {COLUMNS} FROM moved"
            )
        ).rowcount or 0
    # The CHECK lets ATTACH skip scanning the new table; it is redundant once attached.
    conn.execute(
        text(
            f"ALTER TABLE {name} ADD CONSTRAINT {name}_range "
            f"CHECK (created_at >= {lower} AND created_at < {upper})"
        )
    )
    conn.execute(
        text(f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM ({lower}) TO ({upper})")
    )
    conn.execute(text(f"ALTER TABLE {name} DROP CONSTRAINT {name}_range"))
    return moved


@dataclass
class DropResult:
    dropped: list[str] = field(default_factory=list)
    rows: int = 0


def drop_months_before(
    engine: Engine, *, cutoff: datetime, progress: Progress = lambda _n: None
) -> DropResult:
    """Drop every monthly partition whose whole month lies before cutoff.

    Each is detached first (a short lock on request_logs), then counted and dropped on its
    own; a table left detached by an interrupted run is found and dropped by the next one.
    """
    result = DropResult()
    with engine.connect() as conn:
        names = sorted(_monthly_tables(conn))
    for name in names:
        month = month_of(name)
        if month is None or add_months(month, 1) > cutoff:
            continue
        with engine.begin() as conn:
            if name in attached_partitions(conn):
                _begin_ddl(conn)
                conn.execute(text(f"ALTER TABLE {PARENT} DETACH PARTITION {name}"))
        with engine.begin() as conn:
            rows = conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
            _begin_ddl(conn)
            conn.execute(text(f"DROP TABLE {name}"))
        result.dropped.append(name)
        result.rows += rows
        progress(rows)
    return result


def describe(engine: Engine) -> tuple[list[str], int]:
    """The monthly partitions attached now (in order) and the rows in the default one.

    Only the default partition is counted: it should stay small, the months need not.
    """
    with engine.connect() as conn:
        names = attached_partitions(conn)
        rows = 0
        if DEFAULT_PARTITION in names:
            rows = conn.execute(text(f"SELECT count(*) FROM {DEFAULT_PARTITION}")).scalar_one()
        return sorted(n for n in names if n != DEFAULT_PARTITION), rows
