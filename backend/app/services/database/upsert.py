"""INSERT ... ON CONFLICT, written once for both databases (PostgreSQL and SQLite share
the syntax, but SQLAlchemy builds it from each dialect's own insert())."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.sql import Select


def insert(bind: Connection | Session | scoped_session[Session], table: Table) -> Any:
    """`table`'s INSERT in the dialect of `bind`, so .on_conflict_do_*() is available."""
    dialect = (bind if isinstance(bind, Connection) else bind.get_bind()).dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def insert_from(
    bind: Connection | Session | scoped_session[Session],
    table: Table,
    rows: Select[Any],
    *,
    order_by: list[str] | None = None,
) -> Any:
    """INSERT INTO table (rows' columns) SELECT rows [ORDER BY order_by].

    SQLite reads `INSERT ... SELECT ... ON CONFLICT` as a join's ON unless the SELECT has a
    WHERE clause: one that is always true is added."""
    source = rows.subquery("source")
    names = [c.name for c in source.c]
    ordered = select(source).where(literal(True)).order_by(*(source.c[k] for k in order_by or []))
    return insert(bind, table).from_select(names, ordered)


def add_counts(
    bind: Connection | Session | scoped_session[Session],
    table: Table,
    rows: Select[Any],
    keys: list[str],
    *,
    in_key_order: bool = False,
) -> None:
    """INSERT the rows; where a row of the same key exists, add their other columns to it.
    in_key_order: a big insert then fills the primary key's pages one after another."""
    statement = insert_from(bind, table, rows, order_by=keys if in_key_order else None)
    names = [c.name for c in rows.selected_columns]
    statement = statement.on_conflict_do_update(
        index_elements=keys,
        set_={c: table.c[c] + statement.excluded[c] for c in names if c not in keys},
    )
    bind.execute(statement)
