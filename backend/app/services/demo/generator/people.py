"""The generated members: who signs up when, in which zone, joins what, and their habits.

Everything about a member that does not unfold day by day is drawn here, once, from its
own seeded generator, so the two runs of the simulation (count, then write) see the same
people. Times are integer microseconds since 1970; local dates are date ordinals.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table

from app.extensions import db
from app.models import Enrollment, User
from app.services.auth import service as auth_service
from app.services.demo.generator.sinks import EPOCH, from_us, insert_with_ids, to_us

EMAIL_DOMAIN = "generated.example"
PASSWORD = "generated-password-123"  # every generated user's, behind one shared hash
DAY_US = 86_400_000_000
S = 1_000_000  # microseconds per second
ZONES = (("UTC", 3), ("Europe/Berlin", 3), ("Europe/London", 2), ("America/New_York", 2),
         ("America/Los_Angeles", 1), ("Asia/Tokyo", 1))
_BATCH = 5000
_USERS: Table = User.__table__  # type: ignore[assignment]
_ENROLLMENTS: Table = Enrollment.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class ChallengeInfo:
    id: int
    days: int  # the days that have a plan, from day 1 on
    plans: dict[int, tuple[int, int | None, int]]  # day -> (plan id, video id, video seconds)


class Member:
    """One generated user and the habits the simulation follows."""

    __slots__ = ("uid", "zone", "hour_s", "signup_us", "signup_ord", "opens", "challenge",
                 "join_us", "start_ord", "enrollment_id", "last_day", "attend", "complete",
                 "revisit", "weight", "ended_us", "done", "device")

    uid: int
    zone: str
    hour_s: int  # the usual local time of day of their sessions, in seconds
    signup_us: int
    signup_ord: int
    opens: bool  # a casual session at signup (joiners at signup have the join session)
    challenge: ChallengeInfo | None
    join_us: int | None
    start_ord: int  # the enrollment's start_date: the local date of joining
    enrollment_id: int | None
    last_day: int  # the last challenge day they turn up for (drop-off)
    attend: float  # the chance of turning up on a given day until then
    complete: float  # the chance of completing a day they view
    revisit: float  # the daily chance of a casual visit outside the challenge
    weight: int  # how much of the event budget their sessions draw
    ended_us: int | None  # left the challenge explicitly
    done: int  # bit k: day k completed (the simulation's state)
    device: Any  # sinks.Device: their install's anonymous id and context (installs.py)


class Calendar:
    """Local midnights per zone and date, cached: placing a session is one dict lookup."""

    def __init__(self) -> None:
        self._zones: dict[str, ZoneInfo] = {}
        self._midnights: dict[tuple[str, int], int] = {}

    def midnight(self, zone: str, ordinal: int) -> int:
        us = self._midnights.get((zone, ordinal))
        if us is None:
            d = date.fromordinal(ordinal)
            tz = self._zones.setdefault(zone, ZoneInfo(zone))
            us = self._midnights[(zone, ordinal)] = to_us(datetime(d.year, d.month, d.day,
                                                                   tzinfo=tz))
        return us

    def ordinal(self, zone: str, us: int) -> int:
        return from_us(us).astimezone(self._zones.setdefault(zone, ZoneInfo(zone))).toordinal()

    def at(self, rng: random.Random, m: Member, ordinal: int) -> int:
        """A session on a local date at the member's usual hour, give or take 45 minutes
        (usual hours lie between 6:00 and 21:00, so it stays on that local date)."""
        return self.midnight(m.zone, ordinal) + (m.hour_s + rng.randint(-2700, 2700)) * S


def population(
    *, users: int, key: str, scale: float, cal: Calendar,
    challenges: list[tuple[ChallengeInfo, int]], start_us: int, now_us: int,
) -> list[Member]:
    """Every member's signup, challenge, join and habits, in signup order. A scale below 1
    makes members quieter (fewer join, fewer come back) to fit a small event budget."""
    rng = random.Random(key)
    zones = [z for z, w in ZONES for _ in range(w)]
    picks = [c for c, w in challenges for _ in range(w)]
    members = []
    for _ in range(users):
        m = Member()
        m.zone = rng.choice(zones)
        morning = rng.random() < 0.6
        m.hour_s = rng.randint(6 * 3600, 9 * 3600) if morning else rng.randint(17 * 3600, 21 * 3600)
        m.signup_us = _signup(rng, cal, m, start_us, now_us)
        m.signup_ord = cal.ordinal(m.zone, m.signup_us)
        m.challenge, m.join_us, m.enrollment_id, m.ended_us, m.done = None, None, None, None, 0
        m.start_ord = m.last_day = 0
        m.attend, m.complete = rng.uniform(0.75, 0.97), rng.uniform(0.6, 0.95)
        m.revisit, m.weight = rng.uniform(0.02, 0.2) * scale, rng.choice((1, 1, 2, 2, 3, 4, 6))
        if picks and rng.random() < 0.9 * scale:
            _join(rng, cal, m, rng.choice(picks), now_us)
        m.opens = m.join_us != m.signup_us and rng.random() < scale
        members.append(m)
    members.sort(key=lambda m: m.signup_us)
    return members


def _signup(rng: random.Random, cal: Calendar, m: Member, start_us: int, now_us: int) -> int:
    """Signups grow over the range (density doubling), and Mondays get more of them."""
    while True:
        x = math.sqrt(1 + 3 * rng.random()) - 1  # inverse CDF of density 1 + x on [0, 1]
        ordinal = cal.ordinal(m.zone, start_us + int(x * (now_us - start_us)))
        if date.fromordinal(ordinal).weekday() == 0 or rng.random() < 0.7:
            break
    t = cal.midnight(m.zone, ordinal) + (m.hour_s + rng.randint(-1800, 1800)) * S
    if t < start_us:  # the first day's usual hour had passed when the range began
        t += DAY_US
    while t > now_us:
        t -= DAY_US
    return t if t >= start_us else start_us + int(rng.random() * (now_us - start_us))


def _join(rng: random.Random, cal: Calendar, m: Member, ch: ChallengeInfo, now_us: int) -> None:
    """Most join while signing up, some days later; the day they will stop is fixed now."""
    join_us = m.signup_us
    if rng.random() >= 0.85:
        join_us = cal.at(rng, m, m.signup_ord + rng.randint(1, 6))
    if join_us > now_us:
        return
    m.challenge, m.join_us, m.start_ord = ch, join_us, cal.ordinal(m.zone, join_us)
    hazard = rng.uniform(0.01, 0.12)
    m.last_day = ch.days
    for k in range(2, ch.days + 1):  # drop-off: steep in the first days, then flatter
        if rng.random() < hazard * (2.0 if k <= 3 else 1.0 if k <= 14 else 0.6):
            m.last_day = k - 1
            break
    if m.last_day < ch.days and rng.random() < 0.25:  # some leave the challenge explicitly
        ended = cal.at(rng, m, m.start_ord + m.last_day + rng.randint(1, 5))
        m.ended_us = ended if ended <= now_us else None


def insert_people(members: list[Member], *, first_number: int) -> tuple[int, int]:
    """Users, then enrollments, with their ids read back (events and completions need
    them); (users, enrollments) written. Emails are user<n>@generated.example."""
    password_hash = auth_service.hash_password(PASSWORD)  # once: argon2 is slow on purpose
    for i in range(0, len(members), _BATCH):
        chunk = members[i : i + _BATCH]
        rows = [
            {"email": f"user{first_number + i + n:07d}@{EMAIL_DOMAIN}",
             "password_hash": password_hash, "timezone": m.zone,
             "display_name": f"Generated user {first_number + i + n}",
             "created_at": from_us(m.signup_us)}
            for n, m in enumerate(chunk)
        ]
        for m, uid in zip(chunk, insert_with_ids(db.session, _USERS, rows), strict=True):
            m.uid = uid
    joined = sorted((m for m in members if m.join_us is not None), key=_join_time)
    for i in range(0, len(joined), _BATCH):
        chunk = joined[i : i + _BATCH]
        rows = [
            {"user_id": m.uid, "challenge_id": m.challenge.id if m.challenge else None,
             "start_date": date.fromordinal(m.start_ord), "joined_at": from_us(_join_time(m)),
             "ended_at": None if m.ended_us is None else from_us(m.ended_us)}
            for m in chunk
        ]
        for m, eid in zip(chunk, insert_with_ids(db.session, _ENROLLMENTS, rows), strict=True):
            m.enrollment_id = eid
    return len(members), len(joined)


def _join_time(m: Member) -> int:
    assert m.join_us is not None
    return m.join_us


def epoch_date(us: int) -> date:
    return (EPOCH + timedelta(microseconds=us)).date()
