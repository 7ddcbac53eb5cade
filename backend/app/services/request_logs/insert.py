"""Request log rows into the database: one transaction a batch, COPY on PostgreSQL.

A batch whose connection fails (refused, lost, shut down) raises DatabaseUnavailable, the
signal for the writer to spool it; any other error is the batch's own (a bad row).
"""

from __future__ import annotations

from typing import Any

import psycopg
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from app.models import RequestLog, User

_table = RequestLog.__table__
_users = User.__table__


class DatabaseUnavailable(Exception):
    """The database could not be reached (connection refused, lost, or shut down)."""


def insert_rows(engine: Engine, rows: list[dict[str, Any]], *, batch_size: int) -> None:
    """Store the rows in one transaction; DatabaseUnavailable when the database is down."""
    try:
        conn = engine.connect()
    except (OperationalError, InterfaceError) as exc:
        raise DatabaseUnavailable(str(exc.orig)) from exc
    with conn:
        try:
            with conn.begin():
                rows = _without_erased_users(conn, rows)
                if conn.dialect.name == "postgresql":
                    _copy(conn, rows)
                else:
                    for start in range(0, len(rows), batch_size):
                        conn.execute(insert(_table), rows[start : start + batch_size])
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise DatabaseUnavailable(str(exc.orig)) from exc
            raise
        except psycopg.OperationalError as exc:  # from COPY, which SQLAlchemy does not wrap
            conn.invalidate(exc)
            raise DatabaseUnavailable(str(exc)) from exc


# COPY, not INSERT: rows go to PostgreSQL as one stream, with none of the per-row
# parameter processing of an executemany (measured: bench/writer_micro.py).
_COPY_COLUMNS = (
    "endpoint", "method", "status", "latency_ms", "user_id", "ip_address", "created_at"
)
_COPY_SQL = f"COPY {_table.name} ({', '.join(_COPY_COLUMNS)}) FROM STDIN"


def _copy(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Write the rows with COPY on the connection's transaction (PostgreSQL only)."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(_COPY_SQL) as copy:
        for row in rows:
            created_at = row["created_at"]
            if created_at.tzinfo is None:  # as UTCDateTime refuses it on the INSERT path
                raise ValueError("naive created_at in a request log row")
            copy.write_row(
                (
                    row["endpoint"],
                    row["method"],
                    row["status"],
                    row["latency_ms"],
                    row.get("user_id"),
                    row.get("ip_address"),
                    created_at,
                )
            )


def _without_erased_users(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows, with the user id removed where that user no longer exists.

    Rows queued in any process (or spooled) before an erasure are written afterwards;
    they must not bring the erased user's id back. On PostgreSQL the users found are
    locked FOR KEY SHARE until this insert commits, and an erasure locks its user row
    FOR UPDATE first, so the two serialize: either the erasure's UPDATE sees these rows,
    or this check no longer finds the user.
    """
    ids = {row["user_id"] for row in rows if row.get("user_id") is not None}
    if not ids:
        return rows
    found = set(
        conn.scalars(
            select(_users.c.id).where(_users.c.id.in_(ids)).with_for_update(key_share=True)
        )
    )
    if found == ids:
        return rows
    return [
        row if row.get("user_id") in found or row.get("user_id") is None
        else {**row, "user_id": None}
        for row in rows
    ]
