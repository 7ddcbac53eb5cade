"""Delivering a batch of request log rows: to the database, or to the spool while it is down.

The spool is replayed before every batch once the database answers again, a file per
transaction, so no row is written twice and none is lost while the spool has room. The
counters here are what /metrics and /readyz report of the writer.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from app import metrics
from app.services.request_logs.insert import DatabaseUnavailable, insert_rows
from app.services.request_logs.spool import RequestLogSpool

log = logging.getLogger("app.services.request_logs.writer")


class Delivery:
    def __init__(
        self,
        engine: Engine,
        *,
        batch_size: int,
        spool_dir: str | os.PathLike[str] | None,
        spool_max_bytes: int,
    ) -> None:
        self._engine = engine
        self._batch_size = batch_size
        self.spool: RequestLogSpool | None = None
        self.spool_configured = False
        if spool_dir is not None:
            self.configure_spool(spool_dir, spool_max_bytes)
        self.reset_counters()

    def reset_counters(self) -> None:
        self.written = 0
        self.failed = 0
        self.batches = 0
        self.spooled = 0  # rows that went to the spool
        self.replayed = 0  # spooled rows written back
        self.dropped_spool = 0  # rows lost because the spool was full (or absent)
        self.database_unavailable = False  # the last write found the database down

    def after_fork(self) -> None:
        """In a forked child: fresh counters, the spool re-armed, no connection of the parent's."""
        self.reset_counters()
        if self.spool is not None:
            self.spool.rearm()
        self._engine.dispose(close=False)

    def configure_spool(self, directory: str | os.PathLike[str] | None, max_bytes: int) -> None:
        """Where rows wait while the database is down ("" or None: nowhere, they are dropped)."""
        self.spool = RequestLogSpool(directory, max_bytes=max_bytes) if directory else None
        self.spool_configured = True

    @property
    def spool_bytes(self) -> int:
        """Bytes in the spool directory (all processes' rows waiting for the database)."""
        return self.spool.total_bytes() if self.spool is not None else 0

    @property
    def spool_dir(self) -> str:
        return str(self.spool.directory) if self.spool is not None else "(none)"

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        insert_rows(self._engine, rows, batch_size=self._batch_size)

    def write(self, rows: list[dict[str, Any]]) -> None:
        """Store one batch; on an outage spool it. Never raises DatabaseUnavailable."""
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
        metrics.set_spool_bytes(self.spool_bytes)

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
        metrics.set_spool_bytes(self.spool_bytes)
