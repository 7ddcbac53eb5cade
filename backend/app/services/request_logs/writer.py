"""A background writer for request_logs: bounded memory, bulk inserts, flushed on exit.

Requests hand rows to submit() (a non-blocking put on a bounded queue); one thread
per process writes them in batches. flush() waits until everything submitted before
it is written, so tests and shutdown are deterministic without sleeps.

When the database is unreachable, a batch goes to a bounded on-disk spool
(request_log_spool.py) instead of being lost, and the next successful write replays the
spool first. Rows past either bound (queue or spool) are dropped, counted and logged.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import weakref
from typing import Any

import psycopg
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from app import metrics
from app.models import RequestLog, User
from app.services.request_logs.spool import RequestLogSpool

log = logging.getLogger(__name__)

_table = RequestLog.__table__
_users = User.__table__
_writers: weakref.WeakSet[RequestLogWriter] = weakref.WeakSet()


class DatabaseUnavailable(Exception):
    """The database could not be reached (connection refused, lost, or shut down)."""


class _Flush:
    """A marker in the queue: set once every row queued before it is written."""

    def __init__(self) -> None:
        self.done = threading.Event()


class RequestLogWriter:
    def __init__(
        self,
        engine: Engine,
        *,
        max_queue: int = 10000,
        batch_size: int = 500,
        interval: float = 0.5,
        spool_dir: str | os.PathLike[str] | None = None,
        spool_max_bytes: int = 50 * 1024 * 1024,
    ) -> None:
        self._engine = engine
        self.spool: RequestLogSpool | None = None
        self.spool_configured = False
        if spool_dir is not None:
            self.configure_spool(spool_dir, spool_max_bytes)
        self._max_queue = max_queue
        self._batch_size = batch_size
        self._interval = interval
        # SimpleQueue (C, unbounded) with the bound checked in submit(): a put costs a
        # fraction of queue.Queue's lock and condition. A few rows over the bound (threads
        # racing) are harmless; memory stays bounded.
        self._queue: queue.SimpleQueue[dict[str, Any] | _Flush | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._start_lock = threading.Lock()
        # Set by flush() and close() to end the writer's linger at once.
        self._wake = threading.Event()
        self.written = 0
        self.dropped = 0
        self.failed = 0
        self.batches = 0
        self.spooled = 0  # rows that went to the spool
        self.replayed = 0  # spooled rows written back
        self.dropped_spool = 0  # rows lost because the spool was full (or absent)
        self.database_unavailable = False  # the last write found the database down
        _writers.add(self)

    def configure_spool(self, directory: str | os.PathLike[str] | None, max_bytes: int) -> None:
        """Where rows wait while the database is down ("" or None: nowhere, they are dropped)."""
        self.spool = RequestLogSpool(directory, max_bytes=max_bytes) if directory else None
        self.spool_configured = True

    # -- request side -------------------------------------------------------
    def submit(self, row: dict[str, Any]) -> None:
        """Queue one row; never blocks, never raises (a full queue counts a drop)."""
        self._ensure_thread()
        if self._queue.qsize() >= self._max_queue:
            self.dropped += 1
            metrics.count_log_dropped("queue_full")
            return
        self._queue.put(row)

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    @property
    def spool_bytes(self) -> int:
        """Bytes in the spool directory (all processes' rows waiting for the database)."""
        return self.spool.total_bytes() if self.spool is not None else 0

    # -- lifecycle ----------------------------------------------------------
    def _ensure_thread(self) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive() and self._pid == os.getpid():
            return
        with self._start_lock:
            if self._pid != os.getpid():
                self._after_fork()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="request-log-writer", daemon=True
                )
                self._thread.start()

    def _after_fork(self) -> None:
        """In a forked child: new queue, lock and thread, no connection shared with the parent.

        Rows the parent had queued stay the parent's to write (never written twice).
        """
        self._pid = os.getpid()
        self._queue = queue.SimpleQueue()
        self._thread = None
        self._start_lock = threading.Lock()
        self._wake = threading.Event()
        self.written = self.dropped = self.failed = self.batches = 0
        self.spooled = self.replayed = self.dropped_spool = 0
        if self.spool is not None:
            self.spool.rearm()
        self._engine.dispose(close=False)

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until every row submitted before this call is written (or timeout).

        True when they were handed to the database (a failed write counts in `failed`).
        """
        if self._pid != os.getpid():
            self._after_fork()
        if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
            self._drain_here()
            return True
        marker = _Flush()
        self._queue.put(marker)
        self._wake.set()
        return marker.done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued and stop the thread (atexit, gunicorn worker_exit)."""
        if self._pid != os.getpid():
            return
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            self._wake.set()
            thread.join(timeout)
        self._drain_here()

    # -- writer side --------------------------------------------------------
    def _drain_here(self) -> None:
        rows: list[dict[str, Any]] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, dict):
                rows.append(item)
            elif isinstance(item, _Flush):
                item.done.set()
        if rows:
            self._write(rows)

    def _run(self) -> None:
        while True:
            first = self._queue.get()  # idle until a row (or a marker) arrives
            # Linger so that a busy sync worker commits one batch per interval rather
            # than a row per request. Waiting on an Event (not on the queue) means a
            # submit() never wakes this thread: no GIL handoff per request.
            if first is not None and not isinstance(first, _Flush):
                self._wake.wait(self._interval)
            self._wake.clear()
            keep_going = self._write_queued(first)
            metrics.set_writer_state(self)
            if not keep_going:
                return

    def _write_queued(self, first: dict[str, Any] | _Flush | None) -> bool:
        """Write `first` and everything queued now, in batches; False once asked to stop.

        Flush markers are released after every row queued before them is written.
        """
        items: list[dict[str, Any] | _Flush | None] = [first]
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        rows: list[dict[str, Any]] = []
        stop = False
        for item in items:
            if isinstance(item, dict):
                rows.append(item)
                if len(rows) >= self._batch_size:
                    self._write_safely(rows)
                    rows = []
                continue
            self._write_safely(rows)
            rows = []
            if item is None:
                stop = True
            else:
                item.done.set()
        self._write_safely(rows)
        return not stop

    def _write_safely(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        try:
            self._write(rows)
        except Exception:  # noqa: BLE001 - the writer thread must outlive any failure
            log.exception("request log writer failed a batch")

    def _write(self, rows: list[dict[str, Any]]) -> None:
        self.batches += 1
        try:
            self._replay_spool()
            self._insert(rows)
            self.written += len(rows)
            self.database_unavailable = False
            return
        except DatabaseUnavailable:
            first = not self.database_unavailable
            self.database_unavailable = True
            self._to_spool(rows, first=first)
            return
        except OperationalError:  # locked, or a server-side failure that is not an outage
            self.failed += len(rows)
            log.exception("could not write %d request log rows", len(rows))
            return
        except Exception:  # noqa: BLE001 - the writer thread must outlive any bad batch
            if len(rows) == 1:
                self.failed += 1
                log.exception("could not write a request log row")
                return
        # Some row is bad (a value the column refuses): keep the others.
        for one in rows:
            try:
                self._insert([one])
                self.written += 1
            except Exception:  # noqa: BLE001
                self.failed += 1
                log.exception("could not write a request log row")

    def _to_spool(self, rows: list[dict[str, Any]], *, first: bool) -> None:
        kept = 0
        if self.spool is not None:
            try:
                kept = self.spool.append(rows)
            except OSError:
                log.exception("could not spool %d request log rows", len(rows))
        self.spooled += kept
        metrics.count_log_spooled(kept)
        lost = len(rows) - kept
        if lost:
            self.dropped_spool += lost
            metrics.count_log_dropped("spool_full", lost)
            log.error(
                "database unavailable and request log spool full (%s bytes): dropped %d rows "
                "(%d dropped so far)",
                self.spool.max_bytes if self.spool is not None else 0,
                lost,
                self.dropped_spool,
            )
        elif first:  # once per outage, not once per batch
            log.warning("database unavailable: request logs go to the spool in %s", self.spool_dir)
        metrics.set_writer_state(self)

    @property
    def spool_dir(self) -> str:
        return str(self.spool.directory) if self.spool is not None else "(none)"

    def _replay_spool(self) -> None:
        """Write spooled rows back, a file per transaction, deleted only after its commit."""
        if self.spool is None or not self.spool.has_rows():
            return
        for path in self.spool.pending():
            rows = self.spool.read(path)
            try:
                self._insert(rows)  # DatabaseUnavailable leaves the file for next time
                self.replayed += len(rows)
            except DatabaseUnavailable:
                raise
            except Exception:  # noqa: BLE001 - a bad row must not block the spool forever
                log.exception("a spooled batch failed: writing its rows one by one")
                for index, one in enumerate(rows):
                    try:
                        self._insert([one])
                        self.replayed += 1
                    except DatabaseUnavailable:
                        # Keep only the rows not yet written: none is written twice.
                        self.spool.rewrite(path, rows[index:])
                        raise
                    except Exception:  # noqa: BLE001
                        self.failed += 1
                        log.exception("could not write a spooled request log row")
            self.spool.done(path)
            log.info("replayed %d request log rows from %s", len(rows), path.name)
        metrics.set_writer_state(self)

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        try:
            conn = self._engine.connect()
        except (OperationalError, InterfaceError) as exc:
            raise DatabaseUnavailable(str(exc.orig)) from exc
        with conn:
            try:
                with conn.begin():
                    rows = _without_erased_users(conn, rows)
                    if conn.dialect.name == "postgresql":
                        _copy(conn, rows)
                    else:
                        for start in range(0, len(rows), self._batch_size):
                            conn.execute(insert(_table), rows[start : start + self._batch_size])
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


def _close_all() -> None:
    for writer in list(_writers):
        try:
            writer.close(timeout=5.0)
        except Exception:  # noqa: BLE001 - never fail interpreter shutdown
            log.exception("request log writer did not close cleanly")


def _rearm_all_in_child() -> None:
    for writer in list(_writers):
        writer._after_fork()


atexit.register(_close_all)
os.register_at_fork(after_in_child=_rearm_all_in_child)
