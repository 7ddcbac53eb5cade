"""One statement of constant text run by the driver itself, on a SQLAlchemy connection.

For the hottest statement (/track's insert, once per request) SQLAlchemy's execution
layer (execution context, events, result wrapping) costs about as much CPU as psycopg's
own execute; `fetch_one` hands the statement to the connection's psycopg connection
(prepared once it repeats) and keeps what callers rely on: a failure is raised as
SQLAlchemy raises it (a DBAPIError subclass, `connection_invalidated` set and the
connection invalidated when the database is gone), and it runs in the connection's
transaction, or in autocommit when the connection is.

Bypassed: SQLAlchemy's cursor events. Only write tables nobody watches this way
(services/auth/token_cache.py watches `users` and `revoked_tokens`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError


def fetch_one(conn: Connection, sql: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
    """The first row of `sql` (psycopg's %(name)s parameters) run on conn, or None."""
    driver = conn.connection.driver_connection
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        return driver.execute(sql, params, prepare=True).fetchone()  # type: ignore[union-attr]
    except dbapi_error as exc:
        dropped = conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, None)
        if dropped:
            # What SQLAlchemy's own execute does on a disconnect: this connection is closed
            # and every other one the pool made before now is replaced at its next checkout
            # (a server that dropped one has usually dropped them all).
            conn.engine.pool._invalidate(conn.connection, exc)  # noqa: SLF001
            conn.invalidate(exc)
        raise DBAPIError.instance(
            sql, params, exc, dbapi_error, connection_invalidated=dropped, dialect=conn.dialect
        ) from exc
