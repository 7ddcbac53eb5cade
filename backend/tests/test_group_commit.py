"""Group commit (app.services.group_commit): concurrent writes share one COMMIT, each caller
gets its own result only once committed, and one failing write fails only its caller."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.services.analytics_service import AnalyticsService, _store_repeatable
from app.services.group_commit import GroupCommitter

WAIT = 10.0  # seconds any condition below may take before the test fails


def db_is_postgresql(app: Any) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "postgresql"


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    event = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        event.wait(0.001)


def _insert_user(conn: Connection, email: str) -> int:
    return conn.execute(
        text(
            "INSERT INTO users (email, password_hash, display_name, timezone, is_admin,"
            " is_internal, analytics_opt_out, token_version, created_at)"
            " VALUES (:email, 'x', 'G', 'UTC', false, false, false, 0, CURRENT_TIMESTAMP)"
            " RETURNING id"
        ),
        {"email": email},
    ).scalar_one()


def _five_queued_behind_a_held_leader(committer: GroupCommitter, prefix: str) -> dict[int, Any]:
    """Write 0 leads and holds its commit open while writes 1..5 queue; then all finish.
    Each inserts user <prefix><n>@example.com; returns each caller's result by n."""
    release = threading.Event()
    results: dict[int, Any] = {}

    def leader_write(conn: Connection) -> int:
        release.wait(WAIT)  # hold the first commit open while the others queue
        return _insert_user(conn, f"{prefix}0@example.com")

    def call(n: int, write: Callable[[Connection], Any]) -> None:
        results[n] = committer.run(write)

    leader = threading.Thread(target=call, args=(0, leader_write))
    leader.start()
    _wait_for(lambda: committer._leading)
    followers = [
        threading.Thread(
            target=call, args=(n, lambda conn, n=n: _insert_user(conn, f"{prefix}{n}@example.com"))
        )
        for n in range(1, 6)
    ]
    for thread in followers:
        thread.start()
    _wait_for(lambda: len(committer._queue) == 5)
    release.set()
    for thread in [leader, *followers]:
        thread.join(WAIT)
    return results


def test_concurrent_writes_share_one_commit_and_each_gets_its_own_result(app, query):
    with app.app_context():
        committer = GroupCommitter(db.engine)
    results = _five_queued_behind_a_held_leader(committer, "f")
    assert committer.writes == 6
    assert committer.commits == 2  # the leader's alone, then the five queued meanwhile
    stored = dict(query("SELECT email, id FROM users"))
    assert results[0] == stored["f0@example.com"]
    assert {results[n] for n in range(1, 6)} == {stored[f"f{n}@example.com"] for n in range(1, 6)}


def test_a_failing_write_fails_only_its_own_caller(app, query):
    with app.app_context():
        committer = GroupCommitter(db.engine)
    release = threading.Event()
    outcome: dict[str, Any] = {}

    def call(name: str, write: Callable[[Connection], Any]) -> None:
        try:
            outcome[name] = committer.run(write)
        except SQLAlchemyError as exc:
            outcome[name] = exc

    def hold(conn: Connection) -> int:
        release.wait(WAIT)
        return _insert_user(conn, "first@example.com")

    threads = [threading.Thread(target=call, args=("first", hold))]
    threads[0].start()
    _wait_for(lambda: committer._leading)
    threads += [
        threading.Thread(target=call, args=("good", lambda c: _insert_user(c, "g@example.com"))),
        threading.Thread(target=call, args=("bad", lambda c: c.execute(text("SELECT * FROM nil")))),
        threading.Thread(target=call, args=("also", lambda c: _insert_user(c, "a@example.com"))),
    ]
    for thread in threads[1:]:
        thread.start()
    _wait_for(lambda: len(committer._queue) == 3)
    release.set()
    for thread in threads:
        thread.join(WAIT)
    assert isinstance(outcome["bad"], SQLAlchemyError)
    emails = {row[0] for row in query("SELECT email FROM users")}
    assert emails == {"first@example.com", "g@example.com", "a@example.com"}
    assert all(isinstance(outcome[k], int) for k in ("first", "good", "also"))


def test_events_tracked_from_many_threads_are_each_stored_once(app, auth, query):
    user = auth()
    returned: list[int] = []
    lock = threading.Lock()

    def track(n: int) -> None:
        with app.app_context():
            event = AnalyticsService.track(user.user["id"], "plan_viewed", {"n": n})
            assert event is not None
            with lock:
                returned.append(event.id)
            db.session.remove()

    # Fewer threads than pooled connections: each holds one while it waits (its opt-out
    # read), and the group needs one more (gunicorn threads stay well under the pool).
    threads = [threading.Thread(target=track, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    rows = query("SELECT id, event_data FROM analytics_events WHERE user_id = :u",
                 {"u": user.user["id"]})
    assert sorted(returned) == sorted(r[0] for r in rows)
    assert len(rows) == 8


def test_a_single_caller_commits_alone(app):
    with app.app_context():
        committer = GroupCommitter(db.engine)
    assert committer.run(lambda conn: conn.execute(text("SELECT 1")).scalar_one()) == 1
    assert (committer.commits, committer.writes) == (1, 1)


def test_more_writes_queued_than_a_group_holds_each_get_their_own_result(
    app, query, monkeypatch
):
    """A leader whose own write is beyond MAX_GROUP in the queue leads again until its write
    is committed (it used to return None, as if committed, without running it)."""
    import app.services.group_commit as group_commit

    monkeypatch.setattr(group_commit, "MAX_GROUP", 2)
    with app.app_context():
        committer = GroupCommitter(db.engine)
    results = _five_queued_behind_a_held_leader(committer, "q")
    stored = dict(query("SELECT email, id FROM users"))
    assert len(stored) == 6
    assert {n: results[n] for n in range(6)} == {n: stored[f"q{n}@example.com"] for n in range(6)}
    assert committer.writes == 6


def test_a_repeatable_write_alone_runs_in_autocommit_and_others_in_a_transaction(app):
    if not db_is_postgresql(app):
        pytest.skip("psycopg's autocommit flag; SQLite's track path commits in the session")
    with app.app_context():
        committer = GroupCommitter(db.engine)

    def autocommit(conn: Connection) -> bool:
        return bool(conn.connection.dbapi_connection.autocommit)

    assert committer.run(autocommit, repeatable=True) is True  # one statement, its own
    assert committer.run(autocommit) is False  # BEGIN ... COMMIT, as a group would


def test_a_tracked_event_stored_twice_by_a_retry_is_one_row(app, auth, query):
    """The autocommitted insert may be run again after a dropped connection (its first run
    may or may not have been committed): the second run stores nothing and reads back the
    first one's event, which is not a client's duplicate."""
    if not db_is_postgresql(app):
        pytest.skip("the repeatable insert is PostgreSQL's path")
    user = auth()
    values = {
        "user_id": user.user["id"], "event_type": "app_opened", "event_data": {"n": 1},
        "created_at": datetime.now(UTC), "event_id": uuid.uuid4(),
        "occurred_at": datetime.now(UTC),
    }
    with app.app_context(), db.engine.connect() as conn:
        auto = conn.execution_options(isolation_level="AUTOCOMMIT")
        first = _store_repeatable(auto, values, '{"n": 1}', idempotent=False)
        again = _store_repeatable(auto, values, '{"n": 1}', idempotent=False)
        client_retry = _store_repeatable(auto, values, '{"n": 1}', idempotent=True)
    assert first.event.id == again.event.id == client_retry.event.id
    assert (first.duplicate, again.duplicate, client_retry.duplicate) == (False, False, True)
    rows = query("SELECT id, event_data FROM analytics_events WHERE event_id = :e",
                 {"e": str(values["event_id"])})
    assert rows == [(first.event.id, {"n": 1})]


def test_a_write_whose_connection_keeps_dropping_is_tried_twice_then_fails(app):
    """It used to recurse (retry, then 'each write alone', which retried it alone again...)
    for as long as the connections kept dropping."""
    from sqlalchemy.exc import DBAPIError

    with app.app_context():
        committer = GroupCommitter(db.engine)
    calls: list[bool] = []

    def dropped(conn: Connection) -> None:
        calls.append(True)
        raise DBAPIError("INSERT ...", {}, Exception("server closed the connection"),
                         connection_invalidated=True)

    for repeatable in (True, False):
        calls.clear()
        with pytest.raises(DBAPIError):
            committer.run(dropped, repeatable=repeatable)
        assert len(calls) == 2
