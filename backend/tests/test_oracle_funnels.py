"""Funnels against a plain-Python reference, on random events in odd zones and DST days,
with ties (events at one instant), same-type steps with different filters, late arrivals
and erasure; users counted as persons (anonymous ids linked to users, some after their
events were reported, some never); both attempt rules; on SQLite and PostgreSQL, each
read from the app database and from ClickHouse (chDB).

Funnels have one path (raw events; no rollup), so each example runs that statement for
`first` and for `best`; and again for a drawn platform or identified filter and breakdown.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as label
from hypothesis import strategies as st

from app.services.insights import breakdown
from app.services.insights.params import build_period
from app.services.insights.reports import funnel_people, funnels
from tests import cohort_oracle as oracle
from tests.cohort_oracle import Event
from tests.oracle_support import ContextAsk, assert_sliced, context_asks, platforms

# About 300 s on one worker, under load: started first (conftest.py, `heavy`).
pytestmark = pytest.mark.heavy(300)

NOW = oracle.CHANGES[-1] + timedelta(days=30)


@pytest.fixture
def app(store_app):
    """Every test here on the app database and on ClickHouse (chDB)."""
    return store_app


def _matches(step: funnels.Step, event: Event) -> bool:
    return event.kind == step.event_type and all(
        key in event.data and type(event.data[key]) is type(value) and event.data[key] == value
        for key, value in step.where.items()
    )


def _path(events: list[Event], start: int, steps: list[funnels.Step], window: int) -> list[Any]:
    """The greedy path from events[start]: (position, occurred_at) per step reached."""
    path = [(start, events[start].at)]
    for step in steps[1:]:
        after = [j for j in range(path[-1][0] + 1, len(events)) if _matches(step, events[j])]
        if not after or (events[after[0]].at - events[start].at).total_seconds() > window:
            break
        path.append((after[0], events[after[0]].at))
    return path


def reference(
    events: list[Event],
    internal: set[int],
    steps: list[funnels.Step],
    period: Any,
    window_days: int,
    attempt: str,
) -> list[tuple[int, float | None]]:
    """(users, median seconds from the previous step) per step, as the docs define them."""
    by_user: dict[int, list[Event]] = defaultdict(list)
    for event in events:
        if event.user not in internal:
            by_user[event.user].append(event)
    paths = []
    for mine in by_user.values():
        mine.sort(key=lambda e: (e.at, e.id))
        starts = [
            i
            for i, e in enumerate(mine)
            if _matches(steps[0], e) and period.utc_start <= e.at < period.utc_end
        ]
        if not starts:
            continue
        if attempt == "first":
            starts = starts[:1]
        tried = [_path(mine, s, steps, window_days * 86400) for s in starts]
        # Furthest; then the earliest last event; then the latest start.
        paths.append(min(tried, key=lambda p: (-len(p), p[-1][0], -p[0][0])))
    return _rows(paths, len(steps))


def first_paths(
    events: list[Event], internal: set[int], steps: list[funnels.Step], period: Any,
    window_days: int,
) -> dict[int, list[Any]]:
    """attempt=first: each person's path from their first step-1 event in the period."""
    by_user: dict[int, list[Event]] = defaultdict(list)
    for event in events:
        if event.user not in internal:
            by_user[event.user].append(event)
    paths = {}
    for who, mine in by_user.items():
        mine.sort(key=lambda e: (e.at, e.id))
        starts = [i for i, e in enumerate(mine)
                  if _matches(steps[0], e) and period.utc_start <= e.at < period.utc_end]
        if starts:
            paths[who] = _path(mine, starts[0], steps, window_days * 86400)
    return paths


def _rows(paths: list[list[Any]], count: int) -> list[tuple[int, float | None]]:
    rows = []
    for i in range(count):
        through = [p for p in paths if len(p) > i]
        gaps = [(p[i][1] - p[i - 1][1]).total_seconds() for p in through] if i else []
        rows.append((len(through), round(statistics.median(gaps), 3) if gaps else None))
    return rows


@st.composite
def cases(draw: Any) -> dict[str, Any]:
    users = draw(st.integers(1, 2))
    drawn = oracle.drawn_events(users, days=3)
    anchor = draw(st.sampled_from(oracle.CHANGES))
    tz = draw(st.sampled_from(oracle.ZONES))
    first = oracle.local_date(anchor, tz) + timedelta(days=draw(st.integers(-2, 0)))
    step = st.builds(
        funnels.Step,
        st.sampled_from(oracle.KINDS),
        st.sampled_from(({}, {}, {"key": "val"})),
    )
    return {
        "users": users,
        "internal": draw(st.sets(st.integers(0, users - 1), max_size=1)),
        "events": draw(st.lists(drawn, min_size=3, max_size=30)),
        "late": draw(st.lists(drawn, max_size=8)),
        "links": draw(oracle.links(users)),
        "late_links": draw(oracle.links(users)),
        "anchor": anchor,
        "period": build_period(
            tz=tz, start=first, end=first + timedelta(days=draw(st.integers(0, 3)))
        ),
        "steps": draw(st.lists(step, min_size=2, max_size=4)),
        "window_days": draw(st.integers(1, 2)),
        "erase": draw(st.integers(0, users - 1)),
        "platforms": draw(st.lists(platforms(), min_size=30, max_size=30)),
        "late_platforms": draw(st.lists(platforms(), min_size=8, max_size=8)),
        "context": draw(context_asks()),
    }


def _check(events: list[Event], internal: set[int], case: dict[str, Any], when: str) -> None:
    answers = []
    for attempt in funnels.ATTEMPTS:
        result = funnels.run(
            period=case["period"],
            steps=case["steps"],
            window_days=case["window_days"],
            attempt=attempt,
        )
        got = [(s.users, s.median_seconds_from_previous) for s in result.steps]
        expected = reference(
            events, internal, case["steps"], case["period"], case["window_days"], attempt
        )
        assert got == expected, (when, attempt, case, events)
        answers.append(got)
    # The people of each step's drop-off: who reached the step before it and not it.
    paths = first_paths(events, internal, case["steps"], case["period"], case["window_days"])
    for step in range(2, len(case["steps"]) + 1):
        people = funnel_people.dropped(period=case["period"], steps=case["steps"],
                                       window_days=case["window_days"], step=step)
        lost = sorted(who for who, path in paths.items() if len(path) == step - 1)
        assert people.dropped == len(lost), (when, step, case, events)
        assert [u.id for u in people.items] == [who for who in lost if who > 0]
        assert people.anonymous == sum(1 for who in lost if who < 0)
    _check_context(events, internal, case, when)
    label(f"{when}: best {'differs from' if answers[0] != answers[1] else 'equals'} first")
    if any(a.at == b.at and a.user == b.user for a in events for b in events if a.id < b.id):
        label("a user has two events at one instant")


def _check_context(events: list[Event], internal: set[int], case: dict[str, Any], when: str
                   ) -> None:
    """The drawn filter and breakdown: the steps are the events the filter keeps."""
    ask: ContextAsk = case["context"]
    period = case["period"]
    seen = [(e.platform, e.user > 0) for e in events
            if period.utc_start <= e.at < period.utc_end and e.user not in internal]
    for attempt in funnels.ATTEMPTS:
        sliced = breakdown.run(
            lambda c, attempt=attempt: funnels.run(
                period=period, steps=case["steps"], window_days=case["window_days"],
                attempt=attempt, context=c,
            ),
            context=ask.context(), breakdown_property=ask.breakdown, period=period,
        )
        assert_sliced(
            sliced,
            lambda result: [(s.users, s.median_seconds_from_previous) for s in result.steps],
            lambda c, attempt=attempt: reference(
                [e for e in events if c.keeps(e.platform, e.user > 0)], internal,
                case["steps"], period, case["window_days"], attempt,
            ),
            ask, seen, (when, attempt, case, events),
        )


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cases())
def test_funnels_equal_the_reference(app, at, case):
    at(NOW.isoformat())
    with app.app_context():
        oracle.reset()
        users = oracle.add_users(case["users"], internal=case["internal"])
        internal = {users[i] for i in case["internal"]}
        known: oracle.Links = {}
        oracle.link(case["links"], known, users)
        events = oracle.insert(case["events"], users, case["anchor"], case["platforms"])
        _check(oracle.as_persons(events, known, users), internal, case, "first rows")
        # Late arrivals: new ids, occurred_at anywhere (often before the report's rows), and
        # late links: anonymous steps already reported join their users' paths.
        events += oracle.insert(case["late"], users, case["anchor"], case["late_platforms"])
        oracle.link(case["late_links"], known, users)
        _check(oracle.as_persons(events, known, users), internal, case, "late rows")
        events, known = oracle.erase(case["erase"], events, known, users)
        _check(oracle.as_persons(events, known, users), internal, case, "after erasure")
