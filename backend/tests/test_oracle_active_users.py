"""Active users against a plain-Python reference, cell by cell: random events in odd-offset
zones and on DST days, late arrivals, erasure; users counted as persons (anonymous ids linked
to users, some late, some never); every interval (week with both week starts); through the
rollup and the raw path; filtered and broken down by platform and identified (the raw path,
and the app database under ClickHouse); on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import clock
from app.services.insights import breakdown
from app.services.insights.params import build_period
from app.services.insights.reports import active_users
from app.services.privacy import erasure
from tests.oracle_support import (
    EVERYTHING,
    ContextAsk,
    Links,
    assert_sliced,
    context_asks,
    forget_links,
    person,
    rollup_modes,
    store_links,
)
from tests.zoned_events import Ev, World, add_users, reset_database, store, worlds

# About 260 s on one worker, under load: started first (conftest.py, `heavy`).
pytestmark = pytest.mark.heavy(260)


@pytest.fixture
def app(store_app):
    """Every test here on the app database and on ClickHouse (chDB)."""
    return store_app

URL = "/api/v2/insights/active-users"
WEEKDAY = {"monday": 0, "sunday": 6}
REPORTS = (("day", "monday"), ("week", "monday"), ("week", "sunday"), ("month", "monday"))


@dataclass(frozen=True)
class Ask:
    start: date
    end: date
    now: datetime
    include_internal: bool
    context: ContextAsk = ContextAsk()
    report: int = 0  # the REPORTS entry the context is checked on


# (person, occurred_at, platform) of a stored event.
Row = tuple[int, datetime, str | None]


# ---- the reference: sets of users per local day, nothing else -------------------------


def _bucket_start(day: date, interval: str, week_start: str) -> date:
    if interval == "week":
        return day - timedelta(days=(day.weekday() - WEEKDAY[week_start]) % 7)
    if interval == "month":
        return day.replace(day=1)
    return day


def _bucket_end(start: date, interval: str) -> date:
    if interval == "week":
        return start + timedelta(days=6)
    if interval == "month":
        following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        return following - timedelta(days=1)
    return start


def reference(
    rows: list[Row], internal: set[int], tz: str, ask: Ask, interval: str,
    week_start: str, context: ContextAsk = EVERYTHING,
) -> dict[str, Any]:
    """rows: (person, occurred_at, platform) of every stored event (a person: a user id, or
    a negative unlinked anonymous actor, never internal); those `context` keeps count, and
    data_start is the first of all."""
    zone = ZoneInfo(tz)
    active: dict[date, set[int]] = {}
    for user, at, platform in rows:
        if not context.keeps(platform, user > 0):
            continue
        if ask.include_internal or user not in internal:
            active.setdefault(at.astimezone(zone).date(), set()).add(user)
    data_start = min((at for _, at, _ in rows), default=None)
    first_day = None if data_start is None else data_start.astimezone(zone).date()

    def users(lo: date, hi: date) -> set[int]:
        found: set[int] = set()
        day = lo
        while day <= hi:
            found |= active.get(day, set())
            day += timedelta(days=1)
        return found

    today = ask.now.astimezone(zone).date()
    points = []
    bucket = _bucket_start(ask.start, interval, week_start)
    while bucket <= ask.end:
        end = _bucket_end(bucket, interval)
        lo, hi = max(bucket, ask.start), min(end, ask.end)
        wau = len(users(hi - timedelta(days=6), hi))
        mau = len(users(hi - timedelta(days=29), hi))
        days = (hi - lo).days + 1
        mean = sum(len(active.get(lo + timedelta(days=i), ())) for i in range(days)) / days
        points.append({
            "day": bucket.isoformat(),
            "partial": end >= today,
            "dau": len(users(lo, hi)),
            "wau": wau,
            "mau": mau,
            "stickiness": round(mean / mau, 4) if mau else None,
            "wau_complete": first_day is not None and hi - timedelta(days=6) >= first_day,
            "mau_complete": first_day is not None and hi - timedelta(days=29) >= first_day,
        })
        bucket = end + timedelta(days=1)
    data_start_day = None if first_day is None else first_day.isoformat()
    return {"data_start": data_start_day, "days": points}


# ---- the property ----------------------------------------------------------------------


def _person_id(event: Ev, ids: list[int], known: Links) -> int:
    """The event's person: its user's id, or its unlinked anonymous actor (negative)."""
    who = person(event.user, known)
    return ids[who] if who >= 0 else who



@st.composite
def asks(draw: st.DrawFn, world: World) -> Ask:
    first = world.start.date() + timedelta(days=draw(st.integers(-3, 25)))
    last = first + timedelta(days=draw(st.integers(0, 40)))
    now = world.end - timedelta(hours=draw(st.integers(-48, 24 * 15)))
    return Ask(first, last, now, draw(st.booleans()), draw(context_asks()),
               draw(st.integers(0, len(REPORTS) - 1)))


def _period(world: World, ask: Ask, interval: str, week_start: str) -> Any:
    return build_period(tz=world.tz, start=ask.start, end=ask.end, interval=interval,
                        week_start=week_start, include_internal=ask.include_internal)


def _produced(world: World, ask: Ask, interval: str, week_start: str, rollup: bool
              ) -> dict[str, Any]:
    period = _period(world, ask, interval, week_start)
    return _answer(active_users.run(period=period, rollup=rollup))


def _answer(result: active_users.ActiveUsersResult) -> dict[str, Any]:
    return {
        "data_start": result.data_start,
        "days": [
            {k: getattr(d, k) for k in ("day", "partial", "dau", "wau", "mau", "stickiness",
                                        "wau_complete", "mau_complete")}
            for d in result.days
        ],
    }


def _check(world: World, ask: Ask, rows: list[Row], internal: set[int], phase: str) -> None:
    for interval, week_start in REPORTS:
        expected = reference(rows, internal, world.tz, ask, interval, week_start)
        for rollup in rollup_modes():
            got = _produced(world, ask, interval, week_start, rollup)
            assert got["data_start"] == expected["data_start"], (phase, interval, rollup)
            for mine, theirs in zip(got["days"], expected["days"], strict=True):
                assert mine == theirs, (phase, interval, week_start, rollup, world.tz)
    _check_context(world, ask, rows, internal, phase)


def _check_context(world: World, ask: Ask, rows: list[Row], internal: set[int], phase: str
                   ) -> None:
    """The drawn filter and breakdown, on one drawn interval, asking for the rollup and not
    (a filtered report never reads it, so both give the reference)."""
    interval, week_start = REPORTS[ask.report]
    period = _period(world, ask, interval, week_start)
    seen = [
        (platform, user > 0) for user, at, platform in rows
        if period.utc_start <= at < period.utc_end
        and (ask.include_internal or user not in internal)
    ]
    for rollup in rollup_modes():
        sliced = breakdown.run(
            lambda c, rollup=rollup: active_users.run(period=period, context=c, rollup=rollup),
            context=ask.context.context(), breakdown_property=ask.context.breakdown,
            period=period,
        )
        assert_sliced(
            sliced, _answer,
            lambda c: reference(rows, internal, world.tz, ask, interval, week_start, c),
            ask.context, seen, (phase, interval, week_start, rollup, world.tz),
        )


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_active_users_match_the_reference(app, data):
    world = data.draw(worlds(anonymous=True, context=True))
    ask = data.draw(asks(world))
    with app.app_context():
        reset_database()
        clock.set_clock(lambda: ask.now)
        ids = add_users(world)
        internal = {ids[i] for i, flag in enumerate(world.internal) if flag}
        known: Links = {}
        store_links(world.links, known, ids)
        store(world.events, ids)
        stored = list(world.events)

        def rows() -> list[Row]:
            return [(_person_id(e, ids, known), e.at, e.platform) for e in stored]

        _check(world, ask, rows(), internal, "first")

        # Late events, and late links: anonymous histories already counted join their users.
        store(world.late, ids, received=ask.now)
        stored += world.late
        store_links(world.late_links, known, ids)
        _check(world, ask, rows(), internal, "late")

        if world.erase is not None:
            gone = ids[world.erase]
            erasure.erase_user(user_id=gone, requested_by="admin", admin_user_id=None)
            stored = [e for e in stored if person(e.user, known) != world.erase]
            known = forget_links(known, world.erase)
            _check(world, ask, rows(), internal, "erased")
        clock.set_clock(None)


# ---- the contract, by example ----------------------------------------------------------


def _get(client: Any, data: dict[str, Any], **query: Any) -> Any:
    return client.get(URL, headers=data["admin"], query_string=query)


def test_week_start_decides_the_weekly_buckets(client, data):
    """Europe/Berlin; 2026-03-28 is a Saturday. Monday weeks start 03-23 and 03-30; Sunday
    weeks 03-22 and 03-29. u1 was active 03-28 and 03-30, u2 03-29 and 03-30, u3 03-30."""
    rng = {"from": "2026-03-28", "to": "2026-04-01", "tz": "Europe/Berlin", "interval": "week"}
    monday = _get(client, data, **rng).get_json()
    sunday = _get(client, data, week_start="sunday", **rng).get_json()
    assert [(d["day"], d["dau"], d["wau"], d["mau"]) for d in monday["days"]] == [
        ("2026-03-23", 2, 2, 3), ("2026-03-30", 3, 3, 3),
    ]
    assert [(d["day"], d["dau"], d["wau"], d["mau"]) for d in sunday["days"]] == [
        ("2026-03-22", 1, 1, 2), ("2026-03-29", 3, 3, 3),
    ]
    assert monday["data_start"] == "2026-03-05"
    assert [d["partial"] for d in monday["days"]] == [False, True]
    # Mean DAU 03-30..04-01 is (3 + 0 + 0) / 3, over MAU 3.
    assert monday["days"][1]["stickiness"] == round(1 / 3, 4)


def test_stickiness_says_while_mau_is_still_filling(client, data):
    """The data start on 2026-03-05 (Berlin): MAU is complete from 04-03, WAU from 03-11."""
    body = _get(client, data, tz="Europe/Berlin", **{"from": "2026-03-10", "to": "2026-04-03"}
                ).get_json()
    flags = {d["day"]: (d["wau_complete"], d["mau_complete"]) for d in body["days"]}
    assert flags["2026-03-10"] == (False, False)
    assert flags["2026-03-11"] == (True, False)
    assert flags["2026-04-02"] == (True, False)
    assert flags["2026-04-03"] == (True, True)


def test_hourly_active_users_are_refused_with_a_problem(client, data):
    r = _get(client, data, interval="hour")
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    assert r.get_json()["errors"][0]["field"] == "interval"


def test_monthly_buckets_count_the_users_of_the_month_within_the_range(client, data):
    body = _get(client, data, tz="Europe/Berlin", interval="month",
                **{"from": "2026-03-01", "to": "2026-04-01"}).get_json()
    assert [(d["day"], d["dau"], d["wau"], d["mau"]) for d in body["days"]] == [
        ("2026-03-01", 3, 3, 3), ("2026-04-01", 0, 3, 3),
    ]
