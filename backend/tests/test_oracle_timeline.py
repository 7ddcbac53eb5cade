"""The user timeline against a plain-Python reference: one user's events and requests,
newest first, walked page by page with random page sizes while late rows (older times,
newer ids) arrive mid-walk; then an erasure. The cursor must never skip or repeat a row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.errors import NotFound
from app.extensions import db
from app.models import RequestLog
from app.services.insights.reports import user_timeline
from app.services.privacy import erasure
from tests.zoned_events import World, add_users, moments, reset_database, store, worlds

# About 78 s on one worker, under load: started first (conftest.py, `heavy`).
pytestmark = pytest.mark.heavy(78)

Key = tuple[datetime, int, int]  # (at, 1 for a request or 0 for an event, id): newest first
RANK = {"request": 1, "event": 0}


def _logs(world: World, n: int) -> st.SearchStrategy[list[tuple[int, datetime]]]:
    one = st.tuples(st.integers(0, len(world.internal) - 1),
                    moments(world.tz, world.start, world.end))
    return st.lists(one, max_size=n)


def _store_logs(
    logs: list[tuple[int, datetime]], ids: list[int]
) -> list[tuple[int, int, datetime]]:
    rows = [RequestLog(endpoint="/api/v2/plans/today", method="GET", status=200,
                       latency_ms=1.0, user_id=ids[user], created_at=at)
            for user, at in reversed(logs)]
    db.session.add_all(rows)
    db.session.commit()
    return [(row.id, ids[user], at) for row, (user, at) in zip(rows, reversed(logs), strict=True)]


def _keys(events: list[tuple[int, Any]], logs: list[tuple[int, int, datetime]], ids: list[int],
          user: int) -> list[Key]:
    keys = [(e.at, 0, event_id) for event_id, e in events if ids[e.user] == user]
    keys += [(at, 1, log_id) for log_id, owner, at in logs if owner == user]
    return keys


def _walk(user: int, limits: list[int], late: Any = None, late_after: int = 0
          ) -> tuple[list[Key], Key | None, bool]:
    """Every page until next_cursor is None; `late()` runs before page `late_after` + 1.
    Returns the keys seen, the key of the cursor when late() ran (None: before the first
    page) and whether it ran within the walk (else it runs after the last page)."""
    seen: list[Key] = []
    cursor: str | None = None
    at_late: Key | None = None
    page = 0
    while True:
        if late is not None and page == late_after:
            late()
            at_late = seen[-1] if seen else None
        result = user_timeline.run(user_id=user, limit=limits[page % len(limits)],
                                   cursor=cursor)
        seen += [(i.at, RANK[i.kind], i.id) for i in result.items]
        page += 1
        assert page < 500, "the cursor does not advance"
        cursor = result.next_cursor
        if cursor is None:
            if late is not None and page <= late_after:
                late()
                return seen, None, False
            return seen, at_late, late is not None


def _newest_first(keys: list[Key]) -> list[Key]:
    return sorted(keys, reverse=True)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_timeline_pages_match_the_reference(store_app, data):
    app = store_app
    world = data.draw(worlds(min_users=2, max_events=30))
    logs = data.draw(_logs(world, 15))
    late_logs = data.draw(_logs(world, 5))
    limits = data.draw(st.lists(st.integers(1, 7), min_size=1, max_size=4))
    late_after = data.draw(st.integers(0, 6))
    with app.app_context():
        reset_database()
        ids = add_users(world)
        subject = ids[0]
        events = store(world.events, ids)
        stored_logs = _store_logs(logs, ids)
        before = _keys(events, stored_logs, ids, subject)
        late_rows: list[Key] = []

        def arrive() -> None:
            late_events = store(world.late, ids)
            late_log_rows = _store_logs(late_logs, ids)
            late_rows.extend(_keys(late_events, late_log_rows, ids, subject))

        seen, cursor_key, during = _walk(subject, limits, arrive, late_after)
        assert len(seen) == len(set(seen)), "a row came twice"
        # Every row there before the walk, once; a late row exactly when it arrived during
        # the walk and sorts after the cursor the walk had reached then.
        shown_late = [k for k in late_rows if during and (cursor_key is None or k < cursor_key)]
        assert seen == _newest_first(before + shown_late)

        if world.erase is not None:
            gone = ids[world.erase]
            erasure.erase_user(user_id=gone, requested_by="admin", admin_user_id=None)
            if gone == subject:
                with pytest.raises(NotFound):
                    user_timeline.run(user_id=subject)
                return
        seen, _, _ = _walk(subject, limits)
        assert seen == _newest_first(before + late_rows)


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "WyIyMDI2LTAzLTMwVDEwOjAwOjAwKzAwOjAwIiwgImV2ZW50IiwgMTAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMF0",
        "WyIyMDI2LTAzLTMwVDEwOjAwOjAwKzAwOjAwIiwgImV2ZW50IiwgdHJ1ZV0",
        "WyIyMDI2LTAzLTMwVDEwOjAwOjAwIiwgImV2ZW50IiwgMV0",
        "eyJhIjogMSwgImIiOiAyLCAiYyI6IDN9",
        "WyI5OTk5LTEyLTMxVDIzOjU5OjU5LTE0OjAwIiwgImV2ZW50IiwgMV0",
        "WyIwMDAxLTAxLTAxVDAwOjAwOjAwKzE0OjAwIiwgImV2ZW50IiwgMV0",
    ],
    ids=["garbage", "id beyond 64 bits", "id true", "no offset", "an object",
         "after year 9999 in UTC", "before year 1 in UTC"],
)
def test_a_cursor_it_did_not_issue_is_a_422_problem(client, data, cursor):
    r = client.get("/api/v2/insights/user-timeline", headers=data["admin"],
                   query_string={"user_id": data["u1"], "cursor": cursor})
    assert r.status_code == 422 and r.mimetype == "application/problem+json", r.get_data()
    assert r.get_json()["errors"][0]["field"] == "cursor"
