"""A background writer for request_logs: bounded memory, bulk inserts, flushed on exit.

Requests hand rows to submit() (a non-blocking put on a bounded queue); one thread
per process writes them in batches. flush() waits until everything submitted before
it is written, so tests and shutdown are deterministic without sleeps.

The parts: this module is the queue, the thread and the process lifecycle (lazy start,
fork, exit); delivery.py writes a batch, or spools it while the database is unreachable
and replays the spool first once it answers (spool.py is the bounded on-disk spool);
insert.py is the database side (COPY on PostgreSQL). Rows past either bound (queue or
spool) are dropped, counted and logged.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import weakref
from typing import Any

from sqlalchemy.engine import Engine

from app import metrics
from app.services.request_logs.delivery import Delivery
from app.services.request_logs.spool import RequestLogSpool

log = logging.getLogger(__name__)

_writers: weakref.WeakSet[RequestLogWriter] = weakref.WeakSet()


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
        self.delivery = Delivery(
            engine, batch_size=batch_size, spool_dir=spool_dir, spool_max_bytes=spool_max_bytes
        )
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
        self.dropped = 0  # rows refused because the queue was full
        _writers.add(self)

    def configure_spool(self, directory: str | os.PathLike[str] | None, max_bytes: int) -> None:
        self.delivery.configure_spool(directory, max_bytes)

    # What the delivery counted, read as the writer's (metrics, /readyz, tests).
    written = property(lambda self: self.delivery.written)
    failed = property(lambda self: self.delivery.failed)
    batches = property(lambda self: self.delivery.batches)
    spooled = property(lambda self: self.delivery.spooled)
    replayed = property(lambda self: self.delivery.replayed)
    dropped_spool = property(lambda self: self.delivery.dropped_spool)
    database_unavailable = property(lambda self: self.delivery.database_unavailable)
    spool_configured = property(lambda self: self.delivery.spool_configured)

    @property
    def spool(self) -> RequestLogSpool | None:
        return self.delivery.spool

    @property
    def spool_dir(self) -> str:
        return self.delivery.spool_dir

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
        return self.delivery.spool_bytes

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
        self.dropped = 0
        self.delivery.after_fork()

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
        self.delivery.write(rows)

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
