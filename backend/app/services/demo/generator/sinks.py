"""Writing generated rows: binary COPY on PostgreSQL, executemany on SQLite, in chunks.

Rows arrive as plain tuples (times as integer microseconds since 1970, event ids as 16
bytes, event data as JSON text) because that is what a binary COPY row is packed from
without building a datetime, a UUID or a dict per row: at ten million events, packing
is most of the cost on our side. SQLite (tests, small runs) converts them back into the
model's types and lets SQLAlchemy insert them.

Everything goes through the session's own connection, so the generated rows and the
users inserted through the ORM share one transaction: a failed run leaves nothing.
"""

from __future__ import annotations

import json
import random
import struct
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from app.models import AnalyticsEvent, Completion, RequestLog, UserLikedVideo

Row = tuple[Any, ...]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PG_EPOCH_US = 946_684_800_000_000  # PostgreSQL counts timestamps from 2000-01-01
_ONE_US = timedelta(microseconds=1)


def to_us(moment: datetime) -> int:
    """Microseconds since 1970 of an aware datetime (exact, unlike timestamp())."""
    return (moment - EPOCH) // _ONE_US


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


_UUID_CLEAR = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)
_UUID_SET = (0x4 << 76) | (0x2 << 62)


def uuid4(rng: random.Random) -> bytes:
    """A version-4 UUID from the seeded generator (uuid.uuid4() would not repeat)."""
    return ((rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET).to_bytes(16, "big")


# analytics_events' columns a device fills, in the rows' order (after the seed's six).
DEVICE_COLUMNS = ("anonymous_id", "platform", "os_name", "os_version", "app_version",
                  "app_build", "device_model", "locale")
_NULL = struct.pack(">i", -1)


def _encoded(value: str | None) -> bytes:
    if value is None:
        return _NULL
    raw = value.encode()
    return struct.pack(">i", len(raw)) + raw


@dataclass(frozen=True)
class Device:
    """An install's anonymous id and context: the values (DEVICE_COLUMNS) and their binary
    COPY fields, encoded once."""

    values: tuple[str | None, ...]
    encoded: bytes = field(repr=False)

    @property
    def context(self) -> dict[str, Any]:
        return dict(zip(DEVICE_COLUMNS[1:], self.values[1:], strict=True))


def device(anonymous_id: str | None, context: dict[str, Any]) -> Device:
    values = (anonymous_id, *(context.get(name) for name in DEVICE_COLUMNS[1:]))
    return Device(values, b"".join(_encoded(v) for v in values))


NO_DEVICE = device(None, {})
# Per table: the model's table and the columns, in the order of the tuples.
TABLES: dict[str, tuple[Table, tuple[str, ...]]] = {
    "analytics_events": (
        AnalyticsEvent.__table__,  # type: ignore[dict-item]
        ("user_id", "event_type", "event_data", "created_at", "event_id", "occurred_at",
         *DEVICE_COLUMNS),
    ),
    "completions": (
        Completion.__table__,  # type: ignore[dict-item]
        ("enrollment_id", "user_id", "plan_id", "day", "completed_at"),
    ),
    "user_liked_videos": (
        UserLikedVideo.__table__,  # type: ignore[dict-item]
        ("user_id", "video_id", "created_at"),
    ),
    "request_logs": (
        RequestLog.__table__,  # type: ignore[dict-item]
        ("endpoint", "method", "status", "latency_ms", "user_id", "ip_address", "created_at"),
    ),
}


class Sink(Protocol):
    def write(self, table: str, rows: list[Row]) -> None: ...

    def finish(self) -> None: ...

    def abort(self, exc: BaseException) -> None: ...


class Writer:
    """Buffers rows per table and hands them to the sink in chunks; counts them."""

    def __init__(self, sink: Sink, chunk_rows: int, progress: Callable[[int], object]) -> None:
        self.sink, self.chunk_rows, self.progress = sink, chunk_rows, progress
        self.buffers: dict[str, list[Row]] = {name: [] for name in TABLES}
        self.counts: dict[str, int] = {}

    def add(self, table: str, rows: list[Row]) -> None:
        buffer = self.buffers[table]
        buffer += rows
        while len(buffer) >= self.chunk_rows:
            self._write(table, buffer[: self.chunk_rows])
            del buffer[: self.chunk_rows]

    def finish(self) -> None:
        for table, buffer in self.buffers.items():
            if buffer:
                self._write(table, buffer)
                buffer.clear()
        self.sink.finish()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 _tb: object) -> None:
        if exc is not None:
            self.sink.abort(exc)

    def _write(self, table: str, rows: list[Row]) -> None:
        self.sink.write(table, rows)
        self.counts[table] = self.counts.get(table, 0) + len(rows)
        if table in ("analytics_events", "request_logs"):
            self.progress(len(rows))


def insert_with_ids(session: Session, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows (all with the same keys); their new ids, in order. PostgreSQL: ids drawn
    from the table's sequence, then one COPY (INSERT ... RETURNING is several times
    slower for the 50,000 users of a benchmark)."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(session.scalars(stmt, rows))
    if not rows:
        return []
    raw = connection.connection.driver_connection
    ids = [n for (n,) in raw.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
        (table.name, len(rows)),
    )]
    # COPY skips the model's Python-side defaults (is_admin=False...): supply them.
    defaults = {
        c.name: c.default.arg for c in table.columns
        if c.name not in rows[0] and c.default is not None and c.default.is_scalar
    }
    columns = ", ".join(["id", *rows[0], *defaults])
    with raw.cursor().copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
        for new_id, row in zip(ids, rows, strict=True):
            copy.write_row((new_id, *row.values(), *defaults.values()))
    return ids


def make_sink(session: Session) -> Sink:
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        return CopySink(connection.connection.driver_connection)
    return ExecuteManySink(session)


class ExecuteManySink:
    """SQLite: the model's own types (datetimes, UUIDs, JSON) through SQLAlchemy."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def write(self, table: str, rows: list[Row]) -> None:
        model_table, columns = TABLES[table]
        self.session.execute(insert(model_table), [_native(table, columns, r) for r in rows])

    def finish(self) -> None:
        pass

    def abort(self, exc: BaseException) -> None:
        pass


def _native(table: str, columns: tuple[str, ...], row: Row) -> dict[str, Any]:
    if table == "analytics_events":  # the device's columns from its Device, the last item
        row = (*row[:-1], *row[-1].values)
    values = dict(zip(columns, row, strict=True))
    for name in ("created_at", "occurred_at", "completed_at"):
        if name in values:
            values[name] = from_us(values[name])
    if table == "analytics_events":
        values["event_id"] = uuid.UUID(bytes=values["event_id"])
        values["event_data"] = json.loads(values["event_data"])
    return values


# -- PostgreSQL binary COPY: each field is a 4-byte length and the value in network order.
_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_TRAILER = struct.pack(">h", -1)
_EVENT_HEAD = struct.Struct(">hii")  # 14 fields; user_id int4
_EVENT_ANONYMOUS = struct.pack(">h", 14) + _NULL  # 14 fields; user_id NULL
_EVENT_TAIL = struct.Struct(">iqi16siq")  # created_at, event_id uuid, occurred_at
_COMPLETION = struct.Struct(">hiiiiiiiiiq")
_LIKE = struct.Struct(">hiiiiiq")
_LOG_NUMBERS = struct.Struct(">iiid")  # status int4, latency_ms float8
_INT4 = struct.Struct(">ii")
_TIMESTAMP = struct.Struct(">iq")


def _field(value: str) -> bytes:
    raw = value.encode()
    return struct.pack(">i", len(raw)) + raw


_text = lru_cache(maxsize=1024)(_field)  # event types, routes, methods: a handful each


@lru_cache(maxsize=200_000)
def _jsonb(value: str) -> bytes:
    raw = value.encode()
    return struct.pack(">ib", len(raw) + 1, 1) + raw  # jsonb's binary form: version 1, text


def _event(row: Row) -> bytes:
    uid, kind, data, created, event_id, occurred, device = row
    return (
        (_EVENT_ANONYMOUS if uid is None else _EVENT_HEAD.pack(14, 4, uid))
        + _text(kind) + _jsonb(data)
        + _EVENT_TAIL.pack(8, created - _PG_EPOCH_US, 16, event_id, 8, occurred - _PG_EPOCH_US)
        + device.encoded
    )


def _completion(row: Row) -> bytes:
    enrollment_id, uid, plan_id, day, at = row
    return _COMPLETION.pack(5, 4, enrollment_id, 4, uid, 4, plan_id, 4, day, 8, at - _PG_EPOCH_US)


def _like(row: Row) -> bytes:
    uid, video_id, at = row
    return _LIKE.pack(3, 4, uid, 4, video_id, 8, at - _PG_EPOCH_US)


def _log(row: Row) -> bytes:
    endpoint, method, status, latency, uid, ip, at = row
    return (
        b"\x00\x07" + _text(endpoint) + _text(method) + _LOG_NUMBERS.pack(4, status, 8, latency)
        + (_NULL if uid is None else _INT4.pack(4, uid))
        + (_NULL if ip is None else _field(ip))
        + _TIMESTAMP.pack(8, at - _PG_EPOCH_US)
    )


_ENCODERS: dict[str, Callable[[Row], bytes]] = {
    "analytics_events": _event,
    "completions": _completion,
    "user_liked_videos": _like,
    "request_logs": _log,
}


class CopySink:
    """PostgreSQL: binary COPY on the session's psycopg connection.

    The two big tables stream through one COPY each, sent by psycopg's writer thread, so
    the server inserts while we generate (two cores, both busy). A connection has one
    COPY at a time: rows of the small tables written meanwhile wait, already encoded, in
    a spool file until `finish`.
    """

    STREAMED = ("analytics_events", "request_logs")

    def __init__(self, connection: Any) -> None:
        self.cursor = connection.cursor()
        self.table: str | None = None
        self.copy_context: Any = None
        self.copy: Any = None
        self.spools: dict[str, Any] = {}

    def write(self, table: str, rows: list[Row]) -> None:
        encode = _ENCODERS[table]
        data = bytearray()
        for row in rows:
            data += encode(row)
        if table not in self.STREAMED:
            spool = self.spools.get(table)
            if spool is None:
                spool = self.spools[table] = tempfile.SpooledTemporaryFile(max_size=64 << 20)
            spool.write(data)
            return
        if self.table != table:
            self._close()
            self._open(table)
        self.copy.write(data)

    def finish(self) -> None:
        self._close()
        for table, spool in self.spools.items():
            spool.seek(0)
            self._open(table)
            while chunk := spool.read(1 << 20):
                self.copy.write(chunk)
            self._close()
            spool.close()
        self.spools.clear()

    def abort(self, exc: BaseException) -> None:
        """Fail the open COPY (the transaction is then rolled back by the caller)."""
        if self.copy_context is not None:
            self.copy_context.__exit__(type(exc), exc, exc.__traceback__)
            self.table = self.copy_context = self.copy = None

    def _open(self, table: str) -> None:
        columns = ", ".join(TABLES[table][1])
        sql = f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)"
        self.copy_context = self.cursor.copy(sql, writer=QueuedLibpqWriter(self.cursor))
        self.copy = self.copy_context.__enter__()
        self.copy.write(_HEADER)
        self.table = table

    def _close(self) -> None:
        if self.copy_context is not None:
            self.copy.write(_TRAILER)
            self.copy_context.__exit__(None, None, None)
            self.table = self.copy_context = self.copy = None


@contextmanager
def indexes_deferred(session: Session, tables: tuple[str, ...]) -> Iterator[None]:
    """PostgreSQL's advice for bulk loads ("Populating a Database"): drop the secondary
    indexes, unique and foreign-key constraints, load, then build each index in one sort
    and check each key in one join, several times faster than row by row at this size.

    In the caller's transaction: a failed load restores them with everything else; the
    tables stay locked until it commits. Definitions come from the catalog, so names and
    options come back exactly as the migrations made them.
    """
    raw = session.connection().connection.driver_connection
    constraints, indexes = [], []
    for table in tables:
        constraints += [(table, name, definition) for name, definition in raw.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('f', 'u') ORDER BY conname",
            (table,),
        )]
        indexes += raw.execute(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) "
            "ORDER BY c.relname",
            (table,),
        ).fetchall()
    for table, name, _definition in constraints:
        raw.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        raw.execute(f'DROP INDEX "{name}"')
    yield
    raw.execute("SET LOCAL maintenance_work_mem = '512MB'")
    for _name, definition in indexes:
        # A partitioned table's index reads ON ONLY; without ONLY it covers the partitions.
        raw.execute(definition.replace(" ON ONLY ", " ON ", 1))
    for table, name, definition in constraints:
        raw.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
