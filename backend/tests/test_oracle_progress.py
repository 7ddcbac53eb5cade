"""Challenge progress against a plain-Python reference: members in zones ahead of and behind
the report's, enrollments and completions arriving after a report ran, and erasure; through
the progress rollup and the raw statement, on both databases. A share never exceeds 1."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import Challenge, Completion, Enrollment, Plan, User
from app.services.insights.params import build_period
from app.services.insights.reports import challenge_progress
from app.services.privacy import erasure as erasure_service
from tests.oracle_support import KOLKATA, ZONES, empty_tables, local_date, settings_kwargs

URL = "/api/v2/insights"
# Moments when the zones' dates differ (Chatham is already on the next day), two of them on
# days of a DST change.
NOWS = (
    datetime(2026, 10, 27, 19, 0, tzinfo=UTC),  # already the 28th east of +5:00
    datetime(2026, 10, 27, 11, 20, tzinfo=UTC),
    datetime(2026, 9, 26, 14, 5, tzinfo=UTC),
    datetime(2026, 10, 3, 15, 40, tzinfo=UTC),
)


def _cells(cohort: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (d["day"], d["eligible"], d["on"], d["on_or_after"], d["on_share"]) for d in cohort["days"]
    ]


def test_a_member_in_a_zone_ahead_never_lifts_a_share_above_one(app, client, auth, at):
    """Seen in issue 12: one UTC member and one Kolkata member who started a day later,
    both with days 1-3 done, gave {"day": 3, "eligible": 1, "on": 2, "on_share": 2.0}."""
    with app.app_context():
        challenge = Challenge(slug="seven", title="Seven days", duration_days=7)
        db.session.add(challenge)
        db.session.flush()
        db.session.add_all(
            Plan(challenge_id=challenge.id, day=d, title=f"D{d}") for d in range(1, 8)
        )
        db.session.commit()
        challenge_id = challenge.id
    admin = auth()
    with app.app_context():
        db.session.get(User, admin.user["id"]).is_admin = True
        db.session.commit()
    at("2026-03-02T10:00:00Z")  # Monday
    utc_member = auth(timezone="UTC")
    assert (
        client.post(
            f"/api/v2/challenges/{challenge_id}/join", headers=utc_member.headers
        ).status_code
        == 201
    )
    at("2026-03-03T00:00:00Z")  # 05:30 on Tuesday in Kolkata
    kolkata_member = auth(timezone=KOLKATA)
    assert (
        client.post(
            f"/api/v2/challenges/{challenge_id}/join", headers=kolkata_member.headers
        ).status_code
        == 201
    )
    at("2026-03-04T20:00:00Z")  # day 3 for both: Wednesday in UTC, Thursday 01:30 in Kolkata
    for member in (utc_member, kolkata_member):
        for day in (1, 2, 3):
            r = client.post(
                f"/api/v2/plans/{day}/complete",
                query_string={"challenge_id": challenge_id},
                headers=member.headers,
            )
            assert r.status_code in (200, 201), r.get_data(as_text=True)

    def report(tz: str) -> dict[str, Any]:
        r = client.get(
            f"{URL}/challenge-progress",
            query_string={
                "challenge_id": challenge_id,
                "tz": tz,
                "from": "2026-03-01",
                "to": "2026-03-04",
            },
            headers=admin.headers,
        )
        assert r.status_code == 200, r.get_data(as_text=True)
        return r.get_json()

    [cohort] = report("UTC")["cohorts"]
    assert (cohort["week_start"], cohort["size"]) == ("2026-03-02", 2)
    # Day 3 is reached in UTC by the UTC member only: the Kolkata member's day 3 counts from
    # the day it is day 3 in UTC for them (their start + 2), numerator and denominator alike.
    assert _cells(cohort)[:4] == [
        (1, 2, 2, 2, 1.0),
        (2, 2, 2, 2, 1.0),
        (3, 1, 1, 1, 1.0),
        (4, 0, None, None, None),
    ]
    [cohort] = report(KOLKATA)["cohorts"]
    assert _cells(cohort)[2] == (3, 2, 2, 2, 1.0)
    with app.app_context():
        period = build_period(tz="UTC", start=date(2026, 3, 1), end=date(2026, 3, 4))
        assert challenge_progress.run(
            period=period, challenge_id=challenge_id
        ) == challenge_progress.run(period=period, challenge_id=challenge_id, rollup=False)


# -- the property ------------------------------------------------------------------------------


@dataclass
class World:
    """What the test put in the database: the reference reads only this."""

    zones: list[str]
    internal: list[bool]
    user_ids: list[int] = field(default_factory=list)
    enrollments: list[tuple[int, int, date]] = field(default_factory=list)  # id, user, start
    done: set[tuple[int, int, int]] = field(default_factory=set)  # enrollment id, user, day


def _scenario() -> st.SearchStrategy[dict[str, Any]]:
    users = st.lists(st.tuples(st.sampled_from(ZONES), st.booleans()), min_size=3, max_size=6)
    joins = st.lists(st.tuples(st.integers(0, 5), st.integers(-4, 0)), min_size=3, max_size=10)
    # A day, or (8) the member's current day in their own zone, the likeliest to be done.
    completions = st.lists(
        st.tuples(st.integers(0, 20), st.integers(1, 8)), min_size=3, max_size=25
    )
    return st.fixed_dictionaries(
        {
            "now": st.sampled_from(NOWS),
            "duration": st.integers(3, 7),
            "users": users,
            "joins": joins,
            "completions": completions,
            "late_joins": st.lists(st.tuples(st.integers(0, 5), st.integers(-12, 0)), max_size=3),
            "late_completions": completions,
            "erase": st.none() | st.integers(0, 5),
            "tz": st.sampled_from(ZONES),
            "week_start": st.sampled_from(("monday", "sunday")),
            "include_internal": st.booleans(),
            "end": st.integers(-2, 1),
            "days": st.integers(6, 20),
        }
    )


def _enroll(world: World, challenge_id: int, user: int, start: date) -> None:
    """A new enrollment; the user's active one (if any) ends, as leaving and rejoining do."""
    active = select(Enrollment).where(
        Enrollment.user_id == world.user_ids[user],
        Enrollment.challenge_id == challenge_id,
        Enrollment.ended_at.is_(None),
    )
    for row in db.session.scalars(active):
        row.ended_at = clock.now()
    row = Enrollment(user_id=world.user_ids[user], challenge_id=challenge_id, start_date=start)
    db.session.add(row)
    db.session.commit()
    world.enrollments.append((row.id, user, start))


def _grow(
    world: World,
    challenge_id: int,
    plans: list[int],
    joins: list[Any],
    completions: list[Any],
    now: datetime,
) -> None:
    for user, days in joins:
        user %= len(world.user_ids)
        # A start date is the member's own local date when they joined.
        _enroll(
            world, challenge_id, user, local_date(now, world.zones[user]) + timedelta(days=days)
        )
    for which, day in completions:
        if not world.enrollments:
            return
        enrollment, user, start = world.enrollments[which % len(world.enrollments)]
        # Only a day the member has reached in their own zone, as the API allows.
        current = (local_date(now, world.zones[user]) - start).days + 1
        day = min(current, len(plans)) if day == 8 else min(day, len(plans), current)
        if day < 1:
            continue
        if (enrollment, user, day) in world.done:
            continue
        db.session.add(
            Completion(
                enrollment_id=enrollment,
                user_id=world.user_ids[user],
                plan_id=plans[day - 1],
                day=day,
            )
        )
        db.session.commit()
        world.done.add((enrollment, user, day))


def expected(
    world: World,
    *,
    duration: int,
    tz: str,
    first: date,
    last: date,
    week_start: str,
    include_internal: bool,
    now: datetime,
) -> list[tuple[Any, ...]]:
    """Cohorts by the week of each member's first start date; cell k counts the members whose
    day k has come by today in tz (start + k - 1 <= today), and of them who did day k, and
    who did day k or a later one."""
    starts: dict[int, date] = {}
    for _, user, start in world.enrollments:
        if include_internal or not world.internal[user]:
            starts[user] = min(starts.get(user, start), start)
    members = {u: s for u, s in starts.items() if first <= s <= last}
    done: dict[int, set[int]] = defaultdict(set)
    for _, user, day in world.done:
        done[user].add(day)
    today = local_date(now, tz)
    weeks: dict[date, list[int]] = defaultdict(list)
    for user, start in members.items():
        back = start.weekday() if week_start == "monday" else (start.weekday() + 1) % 7
        weeks[start - timedelta(days=back)].append(user)
    rows = []
    for week in sorted(weeks):
        people = weeks[week]
        cells = []
        for k in range(1, duration + 1):
            eligible = [u for u in people if members[u] + timedelta(days=k - 1) <= today]
            if not eligible:
                cells.append((k, 0, None, None))
                continue
            on = sum(1 for u in eligible if k in done[u])
            after = sum(1 for u in eligible if done[u] and max(done[u]) >= k)
            cells.append((k, len(eligible), on, after))
        rows.append((week.isoformat(), len(people), cells))
    return rows


def _rows(result: challenge_progress.ChallengeProgressResult) -> list[tuple[Any, ...]]:
    for cohort in result.cohorts:
        for cell in cohort.days:
            assert cell.on_share is None or 0 <= cell.on_share <= 1
            assert cell.on_or_after_share is None or 0 <= cell.on_or_after_share <= 1
    return [
        (c.week_start, c.size, [(d.day, d.eligible, d.on, d.on_or_after) for d in c.days])
        for c in result.cohorts
    ]


def test_challenge_progress_equals_the_reference(app):
    @settings(**settings_kwargs(25))
    @given(scenario=_scenario())
    def check(scenario: dict[str, Any]) -> None:
        with app.app_context():
            empty_tables()
            now = scenario["now"]
            clock.set_clock(lambda: now)
            challenge = Challenge(slug="c", title="C", duration_days=scenario["duration"])
            db.session.add(challenge)
            db.session.flush()
            plan_rows = [
                Plan(challenge_id=challenge.id, day=d, title=f"D{d}")
                for d in range(1, scenario["duration"] + 1)
            ]
            db.session.add_all(plan_rows)
            world = World([z for z, _ in scenario["users"]], [i for _, i in scenario["users"]])
            for i, (_, internal) in enumerate(scenario["users"]):
                user = User(
                    email=f"p{i}@example.com",
                    password_hash="x",
                    display_name="p",
                    is_internal=internal,
                )
                db.session.add(user)
                db.session.flush()
                world.user_ids.append(user.id)
            db.session.commit()
            plans = [p.id for p in plan_rows]
            _grow(world, challenge.id, plans, scenario["joins"], scenario["completions"], now)
            today = local_date(now, scenario["tz"])
            period = build_period(
                tz=scenario["tz"],
                start=today + timedelta(days=scenario["end"] - scenario["days"]),
                end=today + timedelta(days=scenario["end"]),
                week_start=scenario["week_start"],
                include_internal=scenario["include_internal"],
            )
            args = {
                "duration": scenario["duration"],
                "tz": period.tz,
                "first": period.start_date,
                "last": period.end_date,
                "week_start": period.week_start,
                "include_internal": period.include_internal,
                "now": now,
            }

            def compare(when: str) -> None:
                reference = expected(world, **args)
                for rollup in (True, False):
                    result = challenge_progress.run(
                        period=period, challenge_id=challenge.id, rollup=rollup
                    )
                    assert _rows(result) == reference, (when, rollup)

            compare("first")
            # Late rows: enrollments with earlier starts and completions, after the rollup ran.
            _grow(
                world,
                challenge.id,
                plans,
                scenario["late_joins"],
                scenario["late_completions"],
                now,
            )
            compare("late")
            if scenario["erase"] is not None:
                gone = scenario["erase"] % len(world.user_ids)
                erasure_service.erase_user(user_id=world.user_ids[gone], requested_by="admin")
                theirs = {e for e, u, _ in world.enrollments if u == gone}
                world.enrollments = [e for e in world.enrollments if e[1] != gone]
                world.done = {d for d in world.done if d[1] != gone and d[0] not in theirs}
                compare("erased")
            clock.set_clock(None)

    check()
