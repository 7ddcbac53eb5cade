"""Group commit: the events of concurrent requests committed together, each request waiting
for its own.

A caller hands its writes in and blocks. If no commit is running in the process, it becomes
the leader: it takes every write queued so far (its own and those of requests that arrived
meanwhile), runs them in one transaction on a pooled connection, commits once, and hands
each caller its own result (or error). Callers that queued during that commit are taken by
the next leader, one of them. So a returned result still means "committed" (durable with
PostgreSQL's synchronous_commit), while N concurrent requests pay one COMMIT (one WAL flush)
instead of N. Under sync workers (one request at a time) every group has one write and
this is one transaction per request, as before.

If the group's transaction fails, each of its writes is run again alone, so one bad write
fails only its own caller. No thread is started: it works the same after gunicorn forks.

A group of one repeatable write (`run(write, repeatable=True)`: a write that stores nothing
twice when run again, such as an INSERT ... ON CONFLICT DO NOTHING of a known key) runs in
autocommit: its statement is its own transaction, committed (and flushed to the WAL) before
the statement returns, so it costs one round trip instead of three (BEGIN, the write,
COMMIT). That is every request under sync workers. If its connection is found dropped, the
write is run once more on a fresh one: whether the first attempt was committed is unknown,
and repeatability makes that safe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

T = TypeVar("T")
Write = Callable[[Connection], T]

MAX_GROUP = 256  # writes per transaction; more wait for the next leader


class _Dropped(Exception):
    """The group's connection was found dropped before COMMIT was sent."""


class _Pending(Generic[T]):
    __slots__ = ("write", "repeatable", "done", "result", "error")

    def __init__(self, write: Write[T], repeatable: bool) -> None:
        self.write = write
        self.repeatable = repeatable
        self.done = False
        self.result: T | None = None
        self.error: BaseException | None = None


class GroupCommitter:
    """One per engine and process; `run(write)` returns write(conn)'s result once committed."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # Options resolved once, not per write: a connection taken from it runs in autocommit.
        self._autocommit_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._cond = threading.Condition()
        self._queue: list[_Pending[Any]] = []
        self._leading = False
        self.commits = 0  # transactions committed (tests and benchmarks read it)
        self.writes = 0

    def run(self, write: Write[T], *, repeatable: bool = False) -> T:
        """write(conn)'s result once committed; repeatable: safe to run twice (see above)."""
        mine: _Pending[T] = _Pending(write, repeatable)
        with self._cond:
            self._queue.append(mine)
        # Lead until our own write is done: with more than MAX_GROUP queued, the group a
        # leader takes may not hold its own write yet.
        while True:
            with self._cond:
                while not mine.done and self._leading:
                    self._cond.wait()
                if mine.done:
                    break
                self._leading = True
                group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
            try:
                self._commit(group)
            finally:
                with self._cond:
                    self._leading = False
                    self._cond.notify_all()
        if mine.error is not None:
            raise mine.error
        return mine.result  # type: ignore[return-value]

    def _commit(self, group: list[_Pending[Any]], *, retry: bool = True) -> None:
        try:
            results = self._transaction(group)
        except _Dropped as dropped:
            # The pool does not ping on checkout: a connection found dropped before COMMIT
            # was sent wrote nothing; once more on a fresh one (the pool discarded the rest).
            # Dropped again: a lone write fails with the database's error (a 503 upstream),
            # a group is tried write by write, each once.
            if retry:
                self._commit(group, retry=False)
            elif len(group) == 1:
                self._finish(group[0], error=dropped.__cause__)
            else:
                self._fail(group, retry=False)
            return
        except SQLAlchemyError as exc:
            if len(group) == 1:
                self._finish(group[0], error=exc)
            else:
                self._fail(group, retry=retry)
            return
        self.commits += 1
        self.writes += len(group)
        for item, result in zip(group, results, strict=True):
            self._finish(item, result=result)

    def _fail(self, group: list[_Pending[Any]], *, retry: bool) -> None:
        """The group failed: each write alone, so only the one at fault fails."""
        for item in group:
            self._commit([item], retry=retry)

    def _transaction(self, group: list[_Pending[Any]]) -> list[Any]:
        if len(group) == 1 and group[0].repeatable:
            return [self._autocommit(group[0])]
        stage = "write"
        try:
            with self._engine.connect() as conn, conn.begin():
                results = [item.write(conn) for item in group]
                stage = "commit"  # leaving the block commits
        except DBAPIError as exc:
            if exc.connection_invalidated and stage == "write":
                raise _Dropped from exc
            raise
        return results

    def _autocommit(self, item: _Pending[Any]) -> Any:
        try:
            with self._autocommit_engine.connect() as conn:
                return item.write(conn)
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise _Dropped from exc  # run again: the write is repeatable
            raise

    def _finish(
        self, item: _Pending[Any], *, result: Any = None, error: BaseException | None = None
    ) -> None:
        with self._cond:
            item.result, item.error, item.done = result, error, True
