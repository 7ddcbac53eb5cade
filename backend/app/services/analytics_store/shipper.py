"""Shipping events and request logs from the app database (the exactly-once point of
ingestion) to ClickHouse, in id order, by a path that neither loses nor doubles a row.

- No loss: ids are handed out at insert but commit in any order, so a batch never goes
  past the committed high id (rollups/watermark.committed_high_id: read under a lock that
  waits for open inserts; a row committed later has a larger id). The watermark
  (`rollup_state` row `ship:<table>`) moves only after ClickHouse accepted the batch.
- No doubles: a batch lost between ClickHouse's ack and our commit (a crash, a timeout) is
  sent again. Same bounds, same deduplication token (`non_replicated_deduplication_window`
  drops the repeat); and whatever slips past (a batch re-cut after more rows committed) is
  the same id again in a ReplacingMergeTree that reports read with FINAL.
- Erasure: the watermark row stays locked from reading a batch until its commit, and
  erasure locks it too (watermark.hold), so a batch read before an erasure is never
  written after the erasure's DELETE in ClickHouse.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Column, DateTime, Table, func, select, text, update
from sqlalchemy.orm import Session, scoped_session

from app import clock
from app.extensions import db
from app.models import AnalyticsEvent, RequestLog, RollupState
from app.services.analytics_store import schema
from app.services.analytics_store.client import Client, table
from app.services.database import upsert
from app.services.insights.rollups.watermark import committed_high_id

CHUNK = 20_000
STATE_PREFIX = "ship:"


@dataclass(frozen=True)
class Source:
    name: str  # the store's table
    table: Table  # the app database's
    columns: tuple[str, ...]

    @property
    def state(self) -> str:
        return f"{STATE_PREFIX}{self.table.name}"


SOURCES = (
    Source("events", AnalyticsEvent.__table__, schema.EVENT_COLUMNS),  # type: ignore[arg-type]
    Source("request_logs", RequestLog.__table__, schema.LOG_COLUMNS),  # type: ignore[arg-type]
)


@dataclass(frozen=True)
class SourceLag:
    source: str
    shipped_id: int
    high_id: int
    lag_seconds: float  # since the oldest row not yet shipped was received; 0 when none

    def as_dict(self) -> dict[str, Any]:
        return {
            "shipped_id": self.shipped_id,
            "high_id": self.high_id,
            "pending_ids": max(self.high_id - self.shipped_id, 0),
            "lag_seconds": round(self.lag_seconds, 3),
        }


def _value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _token(source: Source, low: int, last: int, body: bytes) -> str:
    """The batch's deduplication token: its bounds and a digest of its rows as sent, so a
    repeat of the same batch is dropped and a different batch never is (ids restarting
    after a test empties the tables, or rows erased between a send and its retry)."""
    digest = hashlib.blake2b(body, digest_size=16).hexdigest()
    return f"{source.name}:{low}:{last}:{digest}"


def _copy_column(column: Column[Any]) -> str:
    """A column as COPY should write it for ClickHouse: timestamps as UTC wall time."""
    if isinstance(column.type, DateTime):
        return f"({column.name} AT TIME ZONE 'UTC')"
    return column.name


def _send_copy(
    session: Session, client: Client, source: Source, low: int, high: int, chunk: int
) -> tuple[int, int]:
    """PostgreSQL: the batch as COPY's text format, which ClickHouse reads as TabSeparated
    (the same escapes and \\N for NULL for these types), streamed through without a Python
    value per row. (rows sent, the id the watermark moves to)."""
    session.execute(text("SET LOCAL DateStyle = 'ISO'"))
    session.execute(text("SET LOCAL extra_float_digits = 1"))  # shortest exact floats
    columns = ", ".join(_copy_column(source.table.c[name]) for name in source.columns)
    sql = (
        f"COPY (SELECT {columns} FROM {source.table.name}"
        f" WHERE id > {int(low)} AND id <= {int(high)} ORDER BY id LIMIT {int(chunk)}) TO STDOUT"
    )
    body = bytearray()
    # The session's own connection: the read is in the transaction that holds the watermark.
    with session.connection().connection.driver_connection.cursor() as cursor:
        with cursor.copy(sql) as copy:
            for block in copy:
                body += block
    data = bytes(body)
    count = data.count(b"\n")
    last = high
    if count == chunk:  # the id of the last line
        last = int(data[data.rfind(b"\n", 0, len(data) - 1) + 1 :].split(b"\t", 1)[0])
    target = table(client.spec, source.name)
    client.insert_tsv(target, source.columns, data, token=_token(source, low, last, data))
    return count, last


def _send_rows(
    session: Session, client: Client, source: Source, low: int, high: int, chunk: int
) -> tuple[int, int]:
    """SQLite (development and tests): the batch's rows through SQLAlchemy, as JSON lines."""
    ident = source.table.c.id
    rows = session.execute(
        select(*(source.table.c[name] for name in source.columns))
        .where(ident > low, ident <= high)
        .order_by(ident)
        .limit(chunk)
    ).all()
    last = rows[-1][0] if len(rows) == chunk else high
    values = [[_value(v) for v in row] for row in rows]
    token = _token(source, low, last, orjson.dumps(values, default=str))
    client.insert(table(client.spec, source.name), source.columns, values, token=token)
    return len(rows), last


def _lock(session: Session, name: str, *, wait: bool) -> int | None:
    """Lock the source's watermark row; its value, or None when another shipper holds it
    and `wait` is False."""
    session.execute(
        upsert.insert(session, RollupState).values(name=name, folded_id=0).on_conflict_do_nothing()
    )
    session.commit()
    if session.get_bind().dialect.name == "postgresql":
        stmt = select(RollupState.folded_id).where(RollupState.name == name)
        value = session.execute(stmt.with_for_update(skip_locked=not wait)).scalar_one_or_none()
        return None if value is None else int(value)
    # SQLite: an UPDATE takes the database's write lock before the read.
    session.execute(
        update(RollupState).where(RollupState.name == name).values(folded_id=RollupState.folded_id)
    )
    return int(
        session.execute(select(RollupState.folded_id).where(RollupState.name == name)).scalar_one()
    )


def ship_source(
    client: Client, source: Source, *, chunk: int = CHUNK, deadline: float | None = None,
    wait: bool = True,
) -> int:
    """Ship `source`'s committed rows not yet shipped, a chunk per transaction; the number
    of rows sent. Stops early past `deadline` (time.monotonic()) or when another shipper is
    at work and `wait` is False."""
    high = committed_high_id(source.table)
    if high is None:
        return 0
    sent = 0
    with Session(db.engine) as session:
        send = _send_copy if session.get_bind().dialect.name == "postgresql" else _send_rows
        while deadline is None or time.monotonic() < deadline:
            low = _lock(session, source.state, wait=wait)
            if low is None or low >= high:
                session.rollback()
                break
            count, last = send(session, client, source, low, high, chunk)
            session.execute(
                update(RollupState).where(RollupState.name == source.state).values(folded_id=last)
            )
            session.commit()
            sent += count
    return sent


def ship(
    client: Client, *, chunk: int = CHUNK, max_seconds: float | None = None, wait: bool = True
) -> dict[str, int]:
    """Ship every source; rows sent per store table."""
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    return {
        source.name: ship_source(client, source, chunk=chunk, deadline=deadline, wait=wait)
        for source in SOURCES
    }


def after_delete(session: Session | scoped_session[Session]) -> None:
    """After rows were deleted from the app database (erasure), in the same transaction.
    SQLite hands the next insert the highest id left plus one (no AUTOINCREMENT), so ids of
    deleted rows at the top come back: the watermark comes down to the highest id left, or
    the new rows under it would never ship. PostgreSQL's sequences never hand an id out
    twice: nothing to do."""
    if session.get_bind().dialect.name != "sqlite":
        return
    for source in SOURCES:
        highest = select(func.coalesce(func.max(source.table.c.id), 0)).scalar_subquery()
        session.execute(
            update(RollupState)
            .where(RollupState.name == source.state, RollupState.folded_id > highest)
            .values(folded_id=highest)
        )


def lag() -> list[SourceLag]:
    """How far ClickHouse is behind the app database, per source (app database reads only)."""
    now = clock.now().astimezone(UTC)
    out = []
    with Session(db.engine) as session:
        for source in SOURCES:
            shipped = session.execute(
                select(RollupState.folded_id).where(RollupState.name == source.state)
            ).scalar_one_or_none() or 0
            ident = source.table.c.id
            high = session.execute(select(func.coalesce(func.max(ident), 0))).scalar_one()
            oldest: datetime | None = session.execute(
                select(source.table.c.created_at)
                .where(ident > shipped)
                .order_by(ident)
                .limit(1)
            ).scalar_one_or_none()
            seconds = 0.0 if oldest is None else max((now - oldest).total_seconds(), 0.0)
            out.append(SourceLag(source.name, int(shipped), int(high), seconds))
    return out
