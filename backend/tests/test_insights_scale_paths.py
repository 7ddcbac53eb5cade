"""The cohort reports' fast paths (retention from user_event_spans, challenge progress from
its rollup, funnels in one statement) equal a reference computed from the rows the test
inserted (tests/cohort_reference.py) and the raw paths, on random data in several zones, as
rows arrive (late events too) and after erasure; on both databases."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from app.extensions import db
from app.models import (
    AnalyticsEvent,
    Completion,
    Enrollment,
    ProgressCount,
    ProgressDay,
    ProgressUser,
    UserEventSpan,
)
from app.services.insights.params import build_period
from app.services.insights.reports import challenge_progress, funnels, retention
from app.services.insights.rollups import event_spans
from app.services.insights.rollups import progress as progress_rollup
from tests.cohort_reference import (
    FIRST,
    NOW,
    ProgressWorld,
    World,
    add_user,
    expected_funnel,
    expected_retention,
)

# -- retention ------------------------------------------------------------------------------


def _retention_rows(result: retention.RetentionResult) -> list[Any]:
    return [(c.start, c.size, [(p.on, p.on_or_after) for p in c.periods]) for c in result.cohorts]


CASES = [
    # zone, from, to, start event, return event, unit, periods, include_internal
    ("UTC", date(2018, 9, 1), date(2018, 10, 31), "app_opened", "app_opened", "day", 30, False),
    (
        "America/Sao_Paulo",
        date(2018, 10, 20),
        date(2018, 11, 10),
        "plan_viewed",
        "video_started",
        "day",
        12,
        True,
    ),
    (
        "Europe/Berlin",
        date(2018, 10, 1),
        date(2018, 11, 30),
        "app_opened",
        "plan_viewed",
        "week",
        6,
        False,
    ),
    (
        "Asia/Kathmandu",
        date(2018, 11, 1),
        date(2018, 12, 5),
        "video_started",
        "app_opened",
        "day",
        40,
        False,
    ),
]


def test_retention_fast_paths_equal_the_reference_as_events_arrive(app, at):
    world = World(app, at, seed=4)
    events, internal = world.events, world.internal
    with app.app_context():
        for round_ in range(2):
            for tz, first, last, start, back, unit, periods, everyone_too in CASES:
                period = build_period(tz=tz, start=first, end=last, include_internal=everyone_too)
                expected = expected_retention(
                    events,
                    internal,
                    tz=tz,
                    first=first,
                    last=last,
                    start=start,
                    back=back,
                    unit=unit,
                    periods=periods,
                    include_internal=everyone_too,
                )
                assert expected, "the case has cohorts"
                for rollup in (True, False):
                    result = retention.run(
                        period=period,
                        start_event=start,
                        return_event=back,
                        unit=unit,
                        periods=periods,
                        rollup=rollup,
                    )
                    assert _retention_rows(result) == expected, (round_, tz, rollup)
                query = retention._Query(period, start, back, 7 if unit == "week" else 1, periods)
                # The scan that serves zones whose local date goes backwards agrees too.
                assert query.scan_counts() == query.counts(spans=True)
            # Late events (old occurred_at, new ids), some before users' first ones.
            world.joined = {u: t - timedelta(days=10) for u, t in world.joined.items()}
            events += world.more(200, FIRST)


def test_event_spans_equal_each_users_first_and_last_event_and_forget_erased_users(app, at):
    world = World(app, at, seed=6)
    e = AnalyticsEvent

    def raw() -> set[tuple[Any, ...]]:
        rows = db.session.execute(
            select(
                e.user_id, e.event_type, func.min(e.occurred_at), func.max(e.occurred_at)
            ).group_by(e.user_id, e.event_type)
        )
        return {tuple(row) for row in rows}

    def spans() -> set[tuple[Any, ...]]:
        s = UserEventSpan
        return {
            tuple(r)
            for r in db.session.execute(select(s.user_id, s.event_type, s.first_at, s.last_at))
        }

    with app.app_context():
        assert event_spans.refresh() is True
        assert spans() == raw() and len(raw()) > 60
        world.more(50, FIRST)
        assert event_spans.refresh() is True
        assert spans() == raw()
        # Erasure: the user's rows go in the transaction that deletes their events.
        gone = world.users[0]
        event_spans.forget_user(session=db.session, user_id=gone)
        db.session.execute(delete(UserEventSpan).where(UserEventSpan.user_id == gone))
        db.session.execute(delete(e).where(e.user_id == gone))
        db.session.commit()
        assert event_spans.refresh() is True
        assert spans() == raw() and all(row[0] != gone for row in spans())
        # Retention deleted events: reset, and the next report rebuilds.
        db.session.execute(delete(e).where(e.occurred_at < datetime(2018, 10, 1, tzinfo=UTC)))
        event_spans.reset(session=db.session)
        db.session.commit()
        assert spans() == set()
        assert event_spans.refresh() is True
        assert spans() == raw()


def test_local_date_monotone_finds_days_that_go_backwards():
    assert event_spans.local_date_monotone("Europe/Berlin", date(2018, 1, 1), date(2018, 12, 31))
    assert event_spans.local_date_monotone(
        "America/Sao_Paulo", date(2018, 1, 1), date(2019, 12, 31)
    )
    # Alaska moved across the date line in 1867: the local date went back a day.
    assert not event_spans.local_date_monotone(
        "America/Sitka", date(1867, 10, 10), date(1867, 10, 25)
    )


# -- funnels ----------------------------------------------------------------------------------


FUNNELS = [
    [funnels.Step("app_opened"), funnels.Step("plan_viewed"), funnels.Step("video_started")],
    [
        funnels.Step("plan_viewed", {"day_of_challenge": 1}),
        funnels.Step("plan_viewed", {"day_of_challenge": 1}),
        funnels.Step("app_opened"),
        funnels.Step("app_opened"),
    ],
]


@pytest.mark.parametrize("steps", FUNNELS)
def test_funnels_equal_the_reference(app, at, steps):
    world = World(app, at, seed=9)
    events, internal = world.events, world.internal
    with app.app_context():
        for tz, first, last, window in (
            ("UTC", date(2018, 10, 1), date(2018, 10, 31), 14),
            ("America/Sao_Paulo", date(2018, 11, 1), date(2018, 11, 20), 3),
        ):
            period = build_period(tz=tz, start=first, end=last)
            result = funnels.run(period=period, steps=steps, window_days=window)
            expected = expected_funnel(
                events,
                internal,
                steps,
                start=period.utc_start,
                end=period.utc_end,
                window_days=window,
            )
            assert expected[0][0] > 0 and expected[1][0] > 0
            got = [(s.users, s.median_seconds_from_previous) for s in result.steps]
            assert got == expected, (tz, steps)


# -- challenge progress -----------------------------------------------------------------------


def _progress_rows(result: challenge_progress.ChallengeProgressResult) -> list[Any]:
    return [
        (c.week_start, c.size, [(d.day, d.eligible, d.on, d.on_or_after) for d in c.days])
        for c in result.cohorts
    ]


def test_challenge_progress_rollup_equals_the_reference_as_rows_arrive(app, at):
    at(NOW.isoformat())
    with app.app_context():
        users = [add_user(f"p{i}") for i in range(25)]
        internal = {add_user("staff", internal=True)}
        world = ProgressWorld(random.Random(11), users + list(internal), internal)
        world.grow(150)
        periods = [
            build_period(tz="UTC", start=date(2018, 11, 1), end=date(2018, 12, 5)),
            build_period(
                tz="UTC",
                start=date(2018, 11, 10),
                end=date(2018, 11, 30),
                week_start="sunday",
                include_internal=True,
            ),
        ]
        for round_ in range(3):
            for period in periods:
                expected = world.expected(period)
                assert expected
                for rollup in (True, False):
                    result = challenge_progress.run(
                        period=period, challenge_id=world.challenge.id, rollup=rollup
                    )
                    assert _progress_rows(result) == expected, (round_, rollup)
            world.grow(60)
            # A rejoin with an earlier start moves a user to an earlier cohort.
            mover = users[round_]
            world.complete(world.enroll(mover, date(2018, 10, 30 - round_)), mover, 1)

        # Erasure takes the user's rows out of the counters: a user on one of whose
        # enrollments someone else, enrolled too, has a completion (theirs goes as well).
        owner = {e: u for e, u, _ in world.enrollments}
        starts: dict[int, date] = {}
        for _, u, start in world.enrollments:
            starts[u] = min(starts.get(u, start), start)
        gone = next(
            owner[e]
            for e, u, _ in world.done
            if u != owner[e]
            and starts.get(u, NOW.date()) >= date(2018, 11, 1)
            and owner[e] in users
        )
        theirs = {e for e, u in owner.items() if u == gone}
        assert progress_rollup.refresh() is True  # all folded: nothing left to re-touch them
        progress_rollup.forget_user(session=db.session, user_id=gone)
        # As erasure does (the cascade from enrollments, on SQLite too).
        for table in (ProgressDay, ProgressUser):
            db.session.execute(delete(table).where(table.user_id == gone))
        db.session.execute(
            delete(Completion).where(
                (Completion.user_id == gone) | Completion.enrollment_id.in_(theirs)
            )
        )
        db.session.execute(delete(Enrollment).where(Enrollment.user_id == gone))
        db.session.commit()
        world.enrollments = [e for e in world.enrollments if e[1] != gone]
        world.done = [d for d in world.done if d[1] != gone and d[0] not in theirs]
        for period in periods:
            result = challenge_progress.run(period=period, challenge_id=world.challenge.id)
            assert _progress_rows(result) == world.expected(period)
        assert db.session.scalar(select(func.min(ProgressCount.users))) >= 0
