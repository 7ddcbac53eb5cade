"""Id watermarks for rollups: which source rows a rollup has counted, advanced only over
rows that can no longer change.

A rollup folds source rows in id order. Ids are handed out when a row is inserted, but
transactions commit in any order, so "the highest id I can see" may sit above an id whose
transaction is still open; a watermark moved past it would skip that row for ever. So the
safe high id is read while holding a lock that waits for every open insert to finish
(PostgreSQL: LOCK TABLE ... IN SHARE MODE, held for one SELECT max(id); SQLite: the
database write lock). Any row inserted later gets a larger id, because ids are allocated
inside the inserting statement, which that lock excluded.

Usage, inside one transaction on the primary:

    high = committed_high_id(AnalyticsEvent.__table__)        # its own short transaction
    span = claim(session, "activity:Europe/Berlin", high)     # locks the state row
    if span: fold rows with span.low < id <= span.high into the rollup
    session.commit()                                          # rollup and watermark together

Two folders of one rollup serialize on its state row; the second one sees the first's
watermark and folds only what is left. `reset` forgets a rollup (after an erasure, say),
so its next fold starts again from id 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table, func, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import RollupState
from app.services.database import upsert

# How long a fold waits for open inserts before giving up (it then folds nothing new).
LOCK_TIMEOUT_MS = 2000


@dataclass(frozen=True)
class Span:
    """Source ids low < id <= high, not yet counted."""

    low: int
    high: int


def committed_high_id(table: Table) -> int | None:
    """The highest id in `table` below which no insert is still open; None if the lock
    could not be had in time (a fold then waits for the next call)."""
    id_column = table.c.id
    with db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}"))
            try:
                connection.execute(text(f"LOCK TABLE {table.name} IN SHARE MODE"))
            except Exception:  # noqa: BLE001 - lock_timeout: busy, try again next time
                connection.rollback()
                return None
        else:
            # SQLite: a write transaction; it starts only when no other writer is open.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        high = connection.execute(select(func.coalesce(func.max(id_column), 0))).scalar_one()
        connection.rollback()
    return int(high)


def claim(session: Session, name: str, high: int | None) -> Span | None:
    """Lock the rollup's state row and move its watermark to `high`; the span of ids that
    the caller must now fold (in this same transaction), or None if there is nothing new."""
    _ensure_row(session, name)
    # An UPDATE first: it takes the row lock (and SQLite's write lock) before the read.
    session.execute(
        update(RollupState).where(RollupState.name == name).values(folded_id=RollupState.folded_id)
    )
    folded = session.execute(
        select(RollupState.folded_id).where(RollupState.name == name)
    ).scalar_one()
    if high is None or high <= folded:
        return None
    session.execute(update(RollupState).where(RollupState.name == name).values(folded_id=high))
    return Span(low=int(folded), high=high)


def folded_id(session: Session, name: str) -> int:
    """The rollup's watermark (0 if it has never folded anything)."""
    value = session.execute(
        select(RollupState.folded_id).where(RollupState.name == name)
    ).scalar_one_or_none()
    return int(value or 0)


def hold(bind: Connection | Session, name_prefix: str) -> None:
    """Wait for every fold in progress of the rollups whose names start with `name_prefix`
    and keep new ones out until the caller's transaction ends (erasure, retention, reset:
    they change a rollup's rows without moving its watermark)."""
    bind.execute(
        update(RollupState)
        .where(RollupState.name.startswith(name_prefix, autoescape=True))
        .values(folded_id=RollupState.folded_id)
    )


def reset(session: Session, name_prefix: str) -> None:
    """Forget every rollup whose name starts with `name_prefix` (the caller deletes their
    rows in the same transaction); their next fold starts from the first id."""
    session.execute(
        update(RollupState)
        .where(RollupState.name.startswith(name_prefix, autoescape=True))
        .values(folded_id=0)
    )


def _ensure_row(session: Session, name: str) -> None:
    session.execute(
        upsert.insert(session, RollupState).values(name=name, folded_id=0)
        .on_conflict_do_nothing()
    )
