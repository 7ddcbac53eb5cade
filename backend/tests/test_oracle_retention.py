"""Retention against a plain-Python reference, on random events in odd zones and DST days,
with late arrivals and erasure, users counted as persons (anonymous ids linked to users,
some late, some never): both cohort types, days and weeks (both week starts), on
and on_or_after, through the rollup path (user_event_spans) and the raw path; filtered and
broken down by platform and identified (the raw path: a first-time cohort is that of the
first start event the filter keeps); on SQLite and PostgreSQL, app database and chDB."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as label
from hypothesis import strategies as st

from app.services.insights import breakdown, persons
from app.services.insights.params import build_period
from app.services.insights.reports import retention
from tests import cohort_oracle as oracle
from tests.cohort_oracle import Event
from tests.oracle_support import (
    ContextAsk,
    assert_sliced,
    context_asks,
    platforms,
    rollup_modes,
)

# About 190 s on one worker, under load: started first (conftest.py, `heavy`).
pytestmark = pytest.mark.heavy(190)

KINDS = ("challenge_joined", "plan_viewed")
Row = tuple[str, int, list[tuple[int | None, int | None]]]


@pytest.fixture
def app(store_app):
    """Every test here on the app database and on ClickHouse (chDB)."""
    return store_app


def reference(
    events: list[Event], internal: set[int], case: dict[str, Any], now: datetime
) -> list[Row]:
    """The report as the docs define it, from the events' local dates."""
    tz, first, last = case["tz"], case["first"], case["last"]
    step = 7 if case["unit"] == "week" else 1

    def unit_of(day: date) -> date:
        if step == 1:
            return day
        back = day.weekday() if case["week_start"] == "monday" else (day.weekday() + 1) % 7
        return day - timedelta(days=back)

    starts: dict[int, list[date]] = defaultdict(list)
    returns: dict[int, set[date]] = defaultdict(set)
    for e in events:
        if e.user in internal:
            continue
        day = oracle.local_date(e.at, tz)
        if e.kind == case["start"]:
            starts[e.user].append(day)
        if e.kind == case["back"] and day <= last:
            returns[e.user].add(unit_of(day))
    cohorts: dict[date, set[int]] = defaultdict(set)
    for user, days in starts.items():
        chosen = [min(days)] if case["cohort_type"] == "first_time" else days
        for day in chosen:
            if first <= day <= last:
                cohorts[unit_of(day)].add(user)
    seen = min(oracle.local_date(now, tz), last)
    rows = []
    for cohort in sorted(cohorts):
        members = cohorts[cohort]
        cells: list[tuple[int | None, int | None]] = [(len(members), len(members))]
        for p in range(1, case["periods"] + 1):
            if cohort + timedelta(days=p * step) > seen:
                cells.append((None, None))
                continue
            later = [cohort + timedelta(days=q * step) for q in range(p, case["periods"] + 1)]
            on = sum(1 for u in members if later[0] in returns[u])
            after = sum(1 for u in members if any(d in returns[u] for d in later))
            cells.append((on, after))
        rows.append((cohort.isoformat(), len(members), cells))
    return rows


def _drawn(users: int) -> Any:
    """(actor, kind, data, seconds from the anchor): whole days from the anchor, then often a
    local midnight's worth of hours or a few seconds, so cohorts and returns meet."""
    seconds = st.one_of(
        st.integers(-3, 3), st.integers(-14, 14).map(lambda h: h * 3600), st.integers(0, 86399)
    )
    return st.builds(
        lambda u, kind, days, s: (u, kind, {}, days * 86400 + s),
        oracle.actors(users),
        st.sampled_from(KINDS),
        st.integers(-4, 9),
        seconds,
    )


@st.composite
def cases(draw: Any) -> dict[str, Any]:
    users = draw(st.integers(1, 3))
    drawn = _drawn(users)
    anchor = draw(st.sampled_from(oracle.CHANGES))
    tz = draw(st.sampled_from(oracle.ZONES))
    first = oracle.local_date(anchor, tz) + timedelta(days=draw(st.integers(-4, 0)))
    return {
        "users": users,
        "internal": draw(st.sets(st.integers(0, users - 1), max_size=1)),
        "events": draw(st.lists(drawn, min_size=12, max_size=40)),
        "late": draw(st.lists(drawn, min_size=1, max_size=10)),
        "links": draw(oracle.links(users)),
        "late_links": draw(oracle.links(users)),
        "anchor": anchor,
        "now": anchor + timedelta(hours=draw(st.integers(0, 24 * 12))),
        "tz": tz,
        "first": first,
        "last": first + timedelta(days=draw(st.integers(0, 10))),
        "start": draw(st.sampled_from(KINDS)),
        "back": draw(st.sampled_from(KINDS)),
        "unit": draw(st.sampled_from(("day", "week"))),
        "week_start": draw(st.sampled_from(("monday", "sunday"))),
        "periods": draw(st.integers(1, 4)),
        "cohort_type": draw(st.sampled_from(retention.COHORT_TYPES)),
        "erase": draw(st.integers(0, users - 1)),
        "platforms": draw(st.lists(platforms(), min_size=40, max_size=40)),
        "late_platforms": draw(st.lists(platforms(), min_size=10, max_size=10)),
        "context": draw(context_asks()),
    }


def _rows(result: retention.RetentionResult) -> list[Row]:
    return [(c.start, c.size, [(p.on, p.on_or_after) for p in c.periods]) for c in result.cohorts]


def _check(events: list[Event], internal: set[int], case: dict[str, Any], when: str) -> None:
    period = build_period(
        tz=case["tz"], start=case["first"], end=case["last"], week_start=case["week_start"]
    )
    expected = reference(events, internal, case, case["now"])
    cells = [cell for _, _, row in expected for cell in row[1:]]
    label(f"{when}: {'some' if any(c[0] for c in cells) else 'no'} return counted")
    label(f"{when}: {'some' if any(c[0] is None for c in cells) else 'no'} null cell")
    label(f"{when}: {'some' if any(c[0] != c[1] for c in cells) else 'no'} on != on_or_after")
    for rollup in rollup_modes():
        result = retention.run(
            period=period,
            start_event=case["start"],
            return_event=case["back"],
            unit=case["unit"],
            periods=case["periods"],
            cohort_type=case["cohort_type"],
            rollup=rollup,
        )
        assert _rows(result) == expected, (when, rollup, case, events)
    # The scan that serves zones whose local date goes backwards agrees too.
    query = retention._Query(
        period,
        case["start"],
        case["back"],
        7 if case["unit"] == "week" else 1,
        case["periods"],
        recurring=case["cohort_type"] == "recurring",
        events=persons.persons().events(),
    )
    assert query.scan_counts() == query.counts(spans=False), when
    _check_context(events, internal, case, when, period)


def _check_context(events: list[Event], internal: set[int], case: dict[str, Any], when: str,
                   period: Any) -> None:
    """The drawn filter and breakdown, asking for the rollup and not."""
    ask: ContextAsk = case["context"]
    seen = [(e.platform, e.user > 0) for e in events
            if period.utc_start <= e.at < period.utc_end and e.user not in internal]
    for rollup in rollup_modes():
        sliced = breakdown.run(
            lambda c, rollup=rollup: retention.run(
                period=period, start_event=case["start"], return_event=case["back"],
                unit=case["unit"], periods=case["periods"], cohort_type=case["cohort_type"],
                context=c, rollup=rollup,
            ),
            context=ask.context(), breakdown_property=ask.breakdown, period=period,
        )
        assert_sliced(
            sliced, _rows,
            lambda c: reference(
                [e for e in events if c.keeps(e.platform, e.user > 0)], internal, case,
                case["now"],
            ),
            ask, seen, (when, rollup, case, events),
        )


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=cases())
def test_retention_equals_the_reference(app, at, case):
    at(case["now"].isoformat())
    with app.app_context():
        oracle.reset()
        users = oracle.add_users(case["users"], internal=case["internal"])
        internal = {users[i] for i in case["internal"]}
        known: oracle.Links = {}
        oracle.link(case["links"], known, users)
        events = oracle.insert(case["events"], users, case["anchor"], case["platforms"])
        _check(oracle.as_persons(events, known, users), internal, case, "first rows")
        # Late arrivals after the spans were folded: new ids, often older occurred_at (a
        # new first event moves a user to an earlier cohort); late links likewise (an
        # anonymous first event moves its user's cohort).
        events += oracle.insert(case["late"], users, case["anchor"], case["late_platforms"])
        oracle.link(case["late_links"], known, users)
        _check(oracle.as_persons(events, known, users), internal, case, "late rows")
        events, known = oracle.erase(case["erase"], events, known, users)
        _check(oracle.as_persons(events, known, users), internal, case, "after erasure")
