"""Planner statistics kept fresh by the paths that write in bulk (PostgreSQL; SQLite plans
without them).

PostgreSQL plans from the row counts and value statistics that ANALYZE gathers. Autovacuum
runs it once a table has changed by autovacuum_analyze_threshold + scale_factor x its rows;
with autovacuum off, or behind a bulk load, a table that grew from nothing still looks
empty: rows=1 estimates, then nested loops over millions of rows (issue 12: funnels took
10-20 s a call instead of 0.05 s). So:

- `analyze(bind, tables)`: now, for a path that has just written many rows (the demo seed,
  a big rollup fold); `vacuum_analyze(engine, tables)` also sets the visibility map, which
  index-only scans need (the activity generator, after its load).
- `note_writes(engine, tables, rows)`: for paths that write a little at a time (batch
  ingestion, rollup folds on report calls). A per-process tally; every CHECK_ROWS rows a
  background thread asks whether a table has changed as much as autovacuum's own rule
  requires (pg_stat_user_tables, or this process's tally when larger: other backends'
  counts reach the statistics view up to a second late) and ANALYZEs it, off the
  request's path. `ANALYZE (SKIP_LOCKED)`: a table already being analyzed or vacuumed is
  left to that run.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import Counter
from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, scoped_session

log = logging.getLogger(__name__)

CHECK_ROWS = 10_000  # rows a process writes to a table between two checks of that table
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_STALE = text(
    "SELECT coalesce(s.n_mod_since_analyze, 0), greatest(c.reltuples, 0),"
    " current_setting('autovacuum_analyze_threshold')::float,"
    " current_setting('autovacuum_analyze_scale_factor')::float"
    " FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid"
    " WHERE c.oid = to_regclass(:table)"
)


def _names(tables: Iterable[str]) -> list[str]:
    names = list(dict.fromkeys(tables))
    for name in names:
        if not _NAME.match(name):
            raise ValueError(f"not a table name: {name!r}")
    return names


def analyze(bind: Connection | Session | scoped_session[Session], tables: Iterable[str]) -> None:
    """ANALYZE the tables now, in the bind's transaction (PostgreSQL; nothing on SQLite)."""
    engine = bind.engine if isinstance(bind, Connection) else bind.get_bind()
    names = _names(tables)
    if engine.dialect.name == "postgresql" and names:
        bind.execute(text(f"ANALYZE {', '.join(names)}"))


def vacuum_analyze(engine: Engine, tables: Iterable[str]) -> None:
    """VACUUM (ANALYZE) the tables, outside any transaction (PostgreSQL only)."""
    names = _names(tables)
    if engine.dialect.name != "postgresql" or not names:
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM (ANALYZE) {', '.join(names)}"))


class _Tally:
    """Rows this process wrote per (engine, table), and the one background check."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.written: Counter[tuple[Engine, str]] = Counter()  # since the last ANALYZE
        self.unchecked: Counter[tuple[Engine, str]] = Counter()  # since the last check
        self.worker: threading.Thread | None = None


_tally = _Tally()


def _reset_after_fork() -> None:
    global _tally
    _tally = _Tally()  # the parent's lock may have been held, its thread is gone


os.register_at_fork(after_in_child=_reset_after_fork)


def note_writes(engine: Engine, tables: Iterable[str], rows: int) -> None:
    """Count rows written to the tables; every CHECK_ROWS of them per table, check and
    ANALYZE it in a background thread when it has changed enough (PostgreSQL only)."""
    if rows <= 0 or engine.dialect.name != "postgresql":
        return
    tally = _tally
    with tally.lock:
        due = []
        for name in _names(tables):
            key = (engine, name)
            tally.written[key] += rows
            tally.unchecked[key] += rows
            if tally.unchecked[key] >= CHECK_ROWS:
                due.append(key)
        if not due or (tally.worker is not None and tally.worker.is_alive()):
            return  # a check is running; the next write after it starts another
        for key in due:
            tally.unchecked[key] = 0
        worker = threading.Thread(
            target=_check, args=(tally, due), name="analyze-after-writes", daemon=True
        )
        tally.worker = worker
        worker.start()


def _check(tally: _Tally, keys: list[tuple[Engine, str]]) -> None:
    for engine, name in keys:
        with tally.lock:
            written = tally.written[(engine, name)]
        try:
            with engine.connect() as conn:
                changed, rows, threshold, scale = conn.execute(_STALE, {"table": name}).one()
                if max(changed, written) >= threshold + scale * rows:
                    conn.execute(text(f"ANALYZE (SKIP_LOCKED) {name}"))
                    with tally.lock:
                        tally.written[(engine, name)] -= written
                conn.commit()
        except SQLAlchemyError:
            log.warning("could not refresh the planner statistics of %s", name, exc_info=True)


def wait_idle(timeout: float = 30.0) -> bool:
    """Wait for this process's background check, if any; False if it is still running."""
    worker = _tally.worker
    if worker is not None:
        worker.join(timeout)
        return not worker.is_alive()
    return True
