"""Random cohort-report data for the scale-path tests, and the reports computed from it
here, in Python, as the reference the database paths must equal."""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.extensions import db
from app.models import AnalyticsEvent, Challenge, Completion, Enrollment, Plan, User
from app.services.insights.params import day_number, local_midnight
from app.services.insights.reports import funnels
from app.services.insights.sqlite_functions import WEEK_OFFSETS

# Kathmandu is +5:45; Sao Paulo's summer time began at midnight on 2018-11-04 (that local day
# starts at 01:00) and Berlin's ended on 2018-10-28 (a 25-hour day).
ZONES = ("UTC", "Asia/Kathmandu", "America/Sao_Paulo", "Europe/Berlin")
TYPES = ("app_opened", "plan_viewed", "video_started")
NOW = datetime(2018, 12, 5, 15, 0, tzinfo=UTC)
FIRST = datetime(2018, 9, 1, tzinfo=UTC)

Event = tuple[int, str, datetime, dict[str, Any]]


def add_user(name: str, *, internal: bool = False) -> int:
    user = User(
        email=f"{name}@example.com", password_hash="x", display_name=name, is_internal=internal
    )
    db.session.add(user)
    db.session.commit()
    return user.id


def moments(rng: random.Random, count: int, start: datetime, end: datetime) -> list[datetime]:
    seconds = int((end - start).total_seconds())
    moments = [start + timedelta(seconds=rng.randrange(seconds)) for _ in range(count)]
    # And some on either side of local midnights, where a zone's days split.
    for tz in ZONES:
        for _ in range(count // 10):
            day = (start + timedelta(seconds=rng.randrange(seconds))).date()
            midnight = local_midnight(day, ZoneInfo(tz))
            moments.append(midnight - timedelta(seconds=rng.choice((1, 0))))
    return [m for m in moments if start <= m < end]


def add_events(
    rng: random.Random, users: list[int], moments: list[datetime], joined: dict[int, datetime]
) -> list[Event]:
    """Events at these moments, each of a user who had joined by then (in random order:
    ids do not follow occurred_at, as with late events)."""
    added = []
    for moment in moments:
        present = [u for u in users if joined[u] <= moment]
        if not present:
            continue
        kind = rng.choice(TYPES)
        data = {"day_of_challenge": rng.randint(1, 2)} if kind == "plan_viewed" else {}
        added.append((rng.choice(present), kind, moment, data))
    rng.shuffle(added)
    db.session.add_all(
        AnalyticsEvent(user_id=u, event_type=k, event_data=d, occurred_at=t, created_at=NOW)
        for u, k, t, d in added
    )
    db.session.commit()
    return added


class World:
    """Users joining over three months (one of them internal) and their events."""

    def __init__(self, app: Any, at: Any, seed: int) -> None:
        at(NOW.isoformat())
        self.rng = random.Random(seed)
        with app.app_context():
            self.users = [add_user(f"u{i}") for i in range(40)] + [add_user("staff", internal=True)]
            self.internal = {self.users[-1]}
            span = int((NOW - FIRST).total_seconds())
            self.joined = {
                u: FIRST + timedelta(seconds=self.rng.randrange(span)) for u in self.users
            }
            self.events = self.more(1500, FIRST)

    def more(self, count: int, start: datetime) -> list[Event]:
        at = moments(self.rng, count, start, NOW)
        return add_events(self.rng, self.users, at, self.joined)


def _local_day(moment: datetime, tz: str) -> int:
    return day_number(moment.astimezone(ZoneInfo(tz)).date())


def expected_retention(
    events: list[Event],
    internal: set[int],
    *,
    tz: str,
    first: date,
    last: date,
    start: str,
    back: str,
    unit: str,
    periods: int,
    include_internal: bool,
) -> list[tuple[str, int, list[tuple[int | None, int | None]]]]:
    step = 7 if unit == "week" else 1

    def unit_of(day: int) -> int:
        return day - (day + WEEK_OFFSETS["monday"]) % 7 if step == 7 else day

    firsts: dict[int, int] = {}
    for user, kind, moment, _ in events:
        if kind == start and (include_internal or user not in internal):
            day = _local_day(moment, tz)
            firsts[user] = min(firsts.get(user, day), day)
    cohorts = {
        u: unit_of(d) for u, d in firsts.items() if day_number(first) <= d <= day_number(last)
    }
    offsets: dict[int, set[int]] = defaultdict(set)
    for user, kind, moment, _ in events:
        # Only returns up to the range's last day, in periods 1..periods, count.
        if kind == back and user in cohorts and _local_day(moment, tz) <= day_number(last):
            later = unit_of(_local_day(moment, tz))
            if cohorts[user] < later <= cohorts[user] + periods * step:
                offsets[user].add((later - cohorts[user]) // step)
    # A period that begins after the range's last day, or after today, is null.
    seen = min(_local_day(NOW, tz), day_number(last))
    rows = []
    for cohort in sorted(set(cohorts.values())):
        members = [u for u, c in cohorts.items() if c == cohort]
        cells: list[tuple[int | None, int | None]] = [(len(members), len(members))]
        for p in range(1, periods + 1):
            if cohort + p * step > seen:
                cells.append((None, None))
                continue
            on = sum(1 for u in members if p in offsets[u])
            after = sum(1 for u in members if offsets[u] and max(offsets[u]) >= p)
            cells.append((on, after))
        rows.append(
            (
                date.fromordinal(date(1970, 1, 1).toordinal() + cohort).isoformat(),
                len(members),
                cells,
            )
        )
    return rows


def expected_funnel(
    events: list[Event],
    internal: set[int],
    steps: list[funnels.Step],
    *,
    start: datetime,
    end: datetime,
    window_days: int,
) -> list[tuple[int, float | None]]:
    def matches(step: funnels.Step, kind: str, data: dict[str, Any]) -> bool:
        return kind == step.event_type and all(data.get(k) == v for k, v in step.where.items())

    by_user: dict[int, list[tuple[datetime, str, dict[str, Any]]]] = defaultdict(list)
    for user, kind, moment, data in events:
        if user not in internal:
            by_user[user].append((moment, kind, data))
    reached: list[list[float]] = [[] for _ in steps]
    for items in by_user.values():
        firsts = [t for t, k, d in items if matches(steps[0], k, d) and start <= t < end]
        if not firsts:
            continue
        t1 = prev = min(firsts)
        reached[0].append(0.0)
        for i in range(1, len(steps)):
            later = [
                t
                for t, k, d in items
                if matches(steps[i], k, d)
                and (t > prev if steps[i] == steps[i - 1] else t >= prev)
                and (t - t1).total_seconds() <= window_days * 86400
            ]
            if not later:
                break
            reached[i].append((min(later) - prev).total_seconds())
            prev = min(later)
    return [
        (len(gaps), round(statistics.median(gaps), 3) if i and gaps else None)
        for i, gaps in enumerate(reached)
    ]


class ProgressWorld:
    """Enrollments and completions added through the test, and the report they imply."""

    def __init__(self, rng: random.Random, users: list[int], internal: set[int]) -> None:
        self.rng, self.users, self.internal = rng, users, internal
        self.challenge = Challenge(slug="ten", title="Ten days", duration_days=10)
        db.session.add(self.challenge)
        db.session.flush()
        self.plans = [
            Plan(challenge_id=self.challenge.id, day=d, title=f"D{d}") for d in range(1, 11)
        ]
        db.session.add_all(self.plans)
        db.session.commit()
        self.enrollments: list[tuple[int, int, date]] = []  # id, user, start
        self.done: list[tuple[int, int, int]] = []  # enrollment id, completion user, day

    def enroll(self, user: int, start: date) -> int:
        active = db.session.execute(
            select(Enrollment).where(
                Enrollment.user_id == user,
                Enrollment.ended_at.is_(None),
                Enrollment.challenge_id == self.challenge.id,
            )
        ).scalar_one_or_none()
        if active is not None:
            active.ended_at = NOW
        row = Enrollment(user_id=user, challenge_id=self.challenge.id, start_date=start)
        db.session.add(row)
        db.session.commit()
        self.enrollments.append((row.id, user, start))
        return row.id

    def complete(self, enrollment: int, user: int, day: int) -> None:
        if any(e == enrollment and d == day for e, _, d in self.done):
            return
        db.session.add(
            Completion(
                enrollment_id=enrollment, user_id=user, plan_id=self.plans[day - 1].id, day=day
            )
        )
        db.session.commit()
        self.done.append((enrollment, user, day))

    def grow(self, count: int) -> None:
        for _ in range(count):
            user = self.rng.choice(self.users)
            mine = [e for e, u, _ in self.enrollments if u == user]
            if not mine or self.rng.random() < 0.15:
                start = date(2018, 11, 1) + timedelta(days=self.rng.randrange(35))
                mine.append(self.enroll(user, start))
            # Now and then a completion recorded under another user's id (it counts for
            # that user, as the raw report joins completions to members by user).
            who = self.rng.choice(self.users) if self.rng.random() < 0.05 else user
            self.complete(self.rng.choice(mine), who, self.rng.randint(1, 10))

    def expected(self, period: Any) -> list[tuple[str, int, list[Any]]]:
        first, last = day_number(period.start_date), day_number(period.end_date)
        starts: dict[int, int] = {}
        for _, user, start in self.enrollments:
            if period.include_internal or user not in self.internal:
                starts[user] = min(starts.get(user, day_number(start)), day_number(start))
        members = {u: s for u, s in starts.items() if first <= s <= last}
        done: dict[int, set[int]] = defaultdict(set)
        for _, user, day in self.done:
            done[user].add(day)
        offset = WEEK_OFFSETS[period.week_start]
        today = day_number(NOW.date())
        cohorts: dict[int, list[int]] = defaultdict(list)
        for user, start in members.items():
            cohorts[start - (start + offset) % 7].append(user)
        rows = []
        for cohort in sorted(cohorts):
            people = cohorts[cohort]
            cells = []
            for k in range(1, 11):
                eligible = [u for u in people if members[u] + k - 1 <= today]
                if not eligible:
                    cells.append((k, 0, None, None))
                    continue
                on = sum(1 for u in eligible if k in done[u])
                after = sum(1 for u in eligible if done[u] and max(done[u]) >= k)
                cells.append((k, len(eligible), on, after))
            week = date.fromordinal(date(1970, 1, 1).toordinal() + cohort).isoformat()
            rows.append((week, len(people), cells))
        return rows
