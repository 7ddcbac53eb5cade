"""Realtime against a plain-Python reference: active users in the last 5 minutes and
events per UTC minute over the last 30, with "now" on local midnights and DST changes of
odd-offset zones, events a microsecond either side of minute edges, late arrivals and an
erasure; filtered and broken down by platform and identified (realtime.sliced), on both
stores."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import clock
from app.services.insights.reports import realtime
from app.services.privacy import erasure
from tests.oracle_support import EVERYTHING, ContextAsk, assert_sliced, context_asks, platforms
from tests.zoned_events import TYPES, Ev, add_users, moments, reset_database, store, worlds

# About 80 s on one worker, under load: started first (conftest.py, `heavy`).
pytestmark = pytest.mark.heavy(80)

MINUTE = timedelta(minutes=1)


def reference(rows: list[tuple[int, datetime, str | None]], internal: set[int],
              now: datetime, include_internal: bool, context: ContextAsk = EVERYTHING,
              ) -> dict[str, Any]:
    """rows: (user id, occurred_at, platform); those `context` keeps count."""
    rows = [(u, at) for u, at, platform in rows
            if (include_internal or u not in internal) and context.keeps(platform, True)]
    start = now.replace(second=0, microsecond=0) - 29 * MINUTE
    return {
        "active_users_5m": len({u for u, at in rows if now - 5 * MINUTE < at <= now}),
        "minutes": [
            (start + i * MINUTE, i == 29,
             sum(1 for _, at in rows if start + i * MINUTE <= at < start + (i + 1) * MINUTE
                 and at <= now))
            for i in range(30)
        ],
    }


def produced(include_internal: bool) -> dict[str, Any]:
    return _answer(realtime.run(include_internal=include_internal))


def _answer(result: realtime.RealtimeResult) -> dict[str, Any]:
    return {
        "active_users_5m": result.active_users_5m,
        "minutes": [(m.start, m.partial, m.events) for m in result.minutes],
    }


@st.composite
def around(draw: st.DrawFn, now: datetime, users: int) -> Ev:
    """An event near now: anywhere in the last 35 minutes (or just after now), or a
    microsecond either side of a minute edge or of now itself."""
    if draw(st.booleans()):
        at = now - timedelta(microseconds=draw(st.integers(-90_000_000, 35 * 60_000_000)))
    else:
        edge = now.replace(second=0, microsecond=0) - draw(st.integers(-1, 31)) * MINUTE
        edge = draw(st.sampled_from((edge, now, now - 5 * MINUTE)))
        at = edge + timedelta(microseconds=draw(st.sampled_from((-1, 0, 1))))
    return Ev(draw(st.integers(0, users - 1)), at, draw(st.sampled_from(TYPES)),
              draw(platforms()))


def _check_context(rows: list[tuple[int, datetime, str | None]], internal: set[int],
                   now: datetime, ask: ContextAsk) -> None:
    """The drawn filter and breakdown (values: the events of the last 30 minutes)."""
    start = now.replace(second=0, microsecond=0) - 29 * MINUTE
    seen = [(platform, True) for u, at, platform in rows
            if start <= at <= now and u not in internal]
    sliced = realtime.sliced(include_internal=False, context=ask.context(),
                             breakdown_property=ask.breakdown)
    assert_sliced(sliced, _answer, lambda c: reference(rows, internal, now, False, c), ask,
                  seen, now)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_realtime_matches_the_reference(store_app, data):
    app = store_app
    world = data.draw(worlds(max_events=0))
    now = data.draw(moments(world.tz, world.start, world.end))
    users = len(world.internal)
    first = tuple(data.draw(st.lists(around(now, users), max_size=30)))
    late = tuple(data.draw(st.lists(around(now - 10 * MINUTE, users), max_size=8)))
    ask = data.draw(context_asks())
    with app.app_context():
        reset_database()
        clock.set_clock(lambda: now)
        ids = add_users(world)
        internal = {ids[i] for i, flag in enumerate(world.internal) if flag}
        rows = [(ids[e.user], e.at, e.platform) for e in first]
        store(first, ids)
        for include_internal in (False, True):
            assert produced(include_internal) == reference(rows, internal, now, include_internal)
        _check_context(rows, internal, now, ask)
        store(late, ids, received=now)
        rows += [(ids[e.user], e.at, e.platform) for e in late]
        for include_internal in (False, True):
            assert produced(include_internal) == reference(rows, internal, now, include_internal)
        _check_context(rows, internal, now, ask)
        if world.erase is not None:
            gone = ids[world.erase]
            erasure.erase_user(user_id=gone, requested_by="admin", admin_user_id=None)
            rows = [row for row in rows if row[0] != gone]
            for include_internal in (False, True):
                assert produced(include_internal) == reference(
                    rows, internal, now, include_internal
                )
        clock.set_clock(None)
