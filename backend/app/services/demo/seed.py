"""Demo data: a 30-day challenge with a plan and a video for each day, a demo user, a demo
admin, and (for the dashboard) five weeks of activity by 40 demo members."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, insert, select

from app import clock
from app.extensions import db
from app.models import (
    AnalyticsEvent,
    AnonymousIdentity,
    Challenge,
    Completion,
    Enrollment,
    Plan,
    RequestLog,
    User,
    UserLikedVideo,
    Video,
)
from app.services.auth import service as auth_service
from app.services.database import statistics
from app.services.demo import installs

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password-123"
DEMO_SLUG = "30-day-fitness"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-123"
MEMBER_EMAIL = "demo-member-{:02d}@example.com"
ACTIVITY_SEED = 20260101
SEEDED_TABLES = ("users", "enrollments", "analytics_events", "completions",
                 "user_liked_videos", "request_logs", "anonymous_identities")
# Anonymous installs that never register, per member (services/demo/installs.py).
STRANGERS_PER_MEMBER = 5
# Client events that carry the device's context (server-owned ones do not).

_FOCUS = ["Mobility", "Core", "Legs", "Upper body", "Cardio", "Stretch", "Rest and walk"]


@dataclass(frozen=True)
class SeedResult:
    challenge: Challenge
    user: User
    created: bool


def create_challenge(
    *, slug: str, title: str, description: str = "", days: int, with_videos: bool = True
) -> Challenge:
    """A challenge with one plan per day (and one video per plan unless with_videos=False)."""
    challenge = Challenge(slug=slug, title=title, description=description, duration_days=days)
    db.session.add(challenge)
    db.session.flush()
    for day in range(1, days + 1):
        focus = _FOCUS[(day - 1) % len(_FOCUS)]
        video = None
        if with_videos:
            video = Video(
                title=f"Day {day}: {focus}",
                description=f"A guided {focus.lower()} session.",
                url=f"https://videos.example.com/{slug}/day-{day:02d}.mp4",
                duration_s=600 + 30 * (day % 10),
            )
            db.session.add(video)
            db.session.flush()
        db.session.add(
            Plan(
                challenge_id=challenge.id,
                day=day,
                title=f"Day {day}: {focus}",
                description=f"Warm up, then {focus.lower()} work, then cool down.",
                tasks=[
                    {"title": "Warm-up", "minutes": 5},
                    {"title": focus, "minutes": 10 + day % 5},
                    {"title": "Cool-down", "minutes": 5},
                ],
                video_id=video.id if video is not None else None,
            )
        )
    db.session.commit()
    return challenge


def seed_demo(*, days: int = 30) -> SeedResult:
    """Create the demo challenge and user unless they exist (idempotent)."""
    challenge = db.session.scalars(select(Challenge).where(Challenge.slug == DEMO_SLUG)).first()
    created = challenge is None
    if challenge is None:
        challenge = create_challenge(
            slug=DEMO_SLUG,
            title="30-Day Fitness Kickstart",
            description="A short workout every day for 30 days.",
            days=days,
        )
    user = auth_service.get_by_email(email=DEMO_EMAIL)
    if user is None:
        user = auth_service.create(
            email=DEMO_EMAIL, password=DEMO_PASSWORD, display_name="Demo User"
        )
    return SeedResult(challenge, user, created)


@dataclass(frozen=True)
class ActivityResult:
    created: bool
    users: int
    events: int
    completions: int
    request_logs: int


def seed_admin() -> User:
    """The demo admin (an internal account, so insights leave it out); idempotent."""
    admin = auth_service.get_by_email(email=ADMIN_EMAIL)
    if admin is None:
        admin = auth_service.set_admin(
            email=ADMIN_EMAIL, password=ADMIN_PASSWORD, display_name="Demo Admin"
        )
        admin.is_internal = True
        db.session.commit()
    return admin


def seed_activity(*, challenge: Challenge, users: int = 40, weeks: int = 5) -> ActivityResult:
    """Members joining over the last `weeks` weeks (ending at the clock's now) who view plans
    daily, watch and like videos, complete days with drop-off, and leave request logs.

    Deterministic (a fixed random seed), written with bulk inserts, and loaded only once: a
    second call finds the first member and does nothing.
    """
    first = MEMBER_EMAIL.format(1)
    if db.session.scalar(select(func.count()).select_from(User).where(User.email == first)):
        return ActivityResult(False, 0, 0, 0, 0)
    plans = {
        p.day: p for p in db.session.scalars(select(Plan).where(Plan.challenge_id == challenge.id))
    }
    rng = random.Random(ACTIVITY_SEED)
    now = clock.now().astimezone(UTC)
    days_back = 7 * weeks
    password_hash = auth_service.hash_password(DEMO_PASSWORD)
    joins = []
    for n in range(1, users + 1):
        ago = rng.randrange(days_back)
        hour = rng.randrange(6, 21)
        joined = _at(now, ago, hour, rng.randrange(60))
        if joined > now:
            joined -= timedelta(days=1)
        joins.append((n, joined, hour, rng.uniform(0.85, 0.98)))
    user_ids = db.session.scalars(
        insert(User).returning(User.id, sort_by_parameter_order=True),
        [
            {
                "email": MEMBER_EMAIL.format(n),
                "password_hash": password_hash,
                "display_name": f"Demo member {n:02d}",
                "timezone": "UTC",
                "created_at": joined,
            }
            for n, joined, _hour, _stay in joins
        ],
    ).all()
    enrollment_ids = db.session.scalars(
        insert(Enrollment).returning(Enrollment.id, sort_by_parameter_order=True),
        [
            {
                "user_id": uid,
                "challenge_id": challenge.id,
                "start_date": joined.date(),
                "joined_at": joined,
            }
            for uid, (_n, joined, _hour, _stay) in zip(user_ids, joins, strict=True)
        ],
    ).all()
    out = _Rows(now)
    for uid, eid, (_n, joined, hour, stay) in zip(user_ids, enrollment_ids, joins, strict=True):
        _member_activity(out, rng, now, challenge, plans, uid, eid, joined, hour, stay)
    # A few members in the app right now (the realtime page), and some anonymous 401s.
    for i, uid in enumerate(rng.sample(list(user_ids), k=min(6, len(user_ids)))):
        for _ in range(rng.randrange(1, 4)):
            minutes = rng.uniform(0.5, 4.5) if i < 2 else rng.uniform(0.5, 29)
            out.event(uid, "app_opened", now - timedelta(minutes=minutes), {})
    for _ in range(3 * days_back):
        at = now - timedelta(minutes=rng.randrange(1, days_back * 24 * 60))
        out.log(rng, None, "/api/v2/plans/today", "GET", 401, at)
    links = _with_installs(out, user_ids, [j for _n, j, _h, _s in joins], now, days_back)
    for table, rows in (
        (AnalyticsEvent, out.events),
        (AnonymousIdentity, links),
        (Completion, out.completions),
        (UserLikedVideo, out.likes),
        (RequestLog, out.logs),
    ):
        if rows:
            db.session.execute(insert(table), rows)
    db.session.commit()
    # Fresh planner statistics for what was just loaded (PostgreSQL; autovacuum may be off).
    with db.engine.begin() as conn:
        statistics.analyze(conn, SEEDED_TABLES)
    return ActivityResult(True, users, len(out.events), len(out.completions), len(out.logs))


def _with_installs(out: _Rows, user_ids: list[int], joined: list[datetime], now: datetime,
                   days_back: int) -> list[dict[str, Any]]:
    """Adds the installs' anonymous events (services/demo/installs.py) and the device's
    context to members' client events; returns the identity links (made at register)."""
    rng = random.Random(ACTIVITY_SEED + 15)  # its own stream: members' activity unchanged
    anonymous, links, of_member = installs.anonymous_history(
        rng, members=list(zip(user_ids, joined, strict=True)),
        strangers=STRANGERS_PER_MEMBER * len(user_ids),
        first=now - timedelta(days=days_back - 1), now=now,
    )
    for row in out.events:
        install = of_member.get(row["user_id"])
        if install is not None and row["event_type"] in installs.CONTEXT_TYPES:
            row.update(install.context, anonymous_id=install.anonymous_id)
    out.events += anonymous
    # One shape for every row of the bulk insert.
    keys = {"anonymous_id", *installs.CONTEXT_KEYS}
    out.events = [dict.fromkeys(keys) | row for row in out.events]
    return links


@dataclass
class _Rows:
    events: list[dict[str, Any]]
    completions: list[dict[str, Any]]
    likes: list[dict[str, Any]]
    logs: list[dict[str, Any]]

    now: datetime

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.events, self.completions, self.likes, self.logs = [], [], [], []

    def event(self, uid: int, kind: str, at: datetime, data: dict[str, Any]) -> None:
        if at > self.now:
            return
        self.events.append(
            {"user_id": uid, "event_type": kind, "event_data": data, "created_at": at,
             "occurred_at": at}
        )

    def log(self, rng: random.Random, uid: int | None, route: str, method: str,
            status: int, at: datetime) -> None:
        if at > self.now:
            return
        latency = round(rng.lognormvariate(3.0, 0.6) * (4 if status >= 500 else 1), 2)
        self.logs.append(
            {"endpoint": route, "method": method, "status": status, "latency_ms": latency,
             "user_id": uid, "created_at": at}
        )


def _at(now: datetime, days_ago: int, hour: int, minute: int) -> datetime:
    day = (now - timedelta(days=days_ago)).date()
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def _member_activity(
    out: _Rows, rng: random.Random, now: datetime, challenge: Challenge,
    plans: dict[int, Plan], uid: int, eid: int, joined: datetime, hour: int, stay: float,
) -> None:
    """One member's days: they keep coming back with probability `stay` per day."""
    out.event(uid, "challenge_joined", joined, {"challenge_id": challenge.id, "enrollment_id": eid})
    out.log(rng, uid, "/api/v2/challenges/<int:challenge_id>/join", "POST", 201, joined)
    liked: set[int] = set()
    for day in range(1, challenge.duration_days + 1):
        start = joined + timedelta(days=day - 1, minutes=rng.randrange(5, 90))
        if day > 1:
            start = start.replace(hour=hour) + timedelta(minutes=rng.randrange(-40, 40))
        if start > now or (day > 1 and rng.random() > stay):
            return
        plan = plans.get(day)
        if plan is None:
            return
        t = start
        out.event(uid, "app_opened", t, {})
        if rng.random() < 0.1:  # opened the app and left
            continue
        t += timedelta(seconds=rng.randrange(5, 60))
        out.event(uid, "plan_viewed", t, {"plan_id": plan.id, "day_of_challenge": day})
        out.log(rng, uid, "/api/v2/plans/today", "GET", 200, t)
        if rng.random() < 0.04:
            out.log(rng, uid, "/api/v2/plans/<int:day>", "GET", rng.choice([404, 500]), t)
        if plan.video_id is not None and rng.random() < 0.85:
            t = _watch(out, rng, uid, plan.video_id, t, liked)
        t += timedelta(seconds=rng.randrange(10, 90))
        if rng.random() < 0.75 and t <= now:
            data = {"plan_id": plan.id, "day_of_challenge": day, "challenge_id": challenge.id}
            out.event(uid, "plan_completed", t, data)
            out.completions.append(
                {"enrollment_id": eid, "user_id": uid, "plan_id": plan.id, "day": day,
                 "completed_at": t}
            )
            out.log(rng, uid, "/api/v2/plans/<int:day>/complete", "POST", 200, t)


def _watch(
    out: _Rows, rng: random.Random, uid: int, video_id: int, t: datetime, liked: set[int]
) -> datetime:
    """Start (and usually finish) the day's video, sometimes liking it; returns the time."""
    t += timedelta(seconds=rng.randrange(20, 120))
    out.event(uid, "video_started", t, {"video_id": video_id})
    out.log(rng, uid, "/api/v2/analytics/track", "POST", 201, t)
    if rng.random() < 0.7:
        t += timedelta(minutes=rng.randrange(8, 15))
        out.event(uid, "video_completed", t, {"video_id": video_id})
        out.log(rng, uid, "/api/v2/analytics/track", "POST", 201, t)
    if video_id not in liked and rng.random() < 0.25 and t <= out.now:
        liked.add(video_id)
        out.event(uid, "video_liked", t, {"video_id": video_id})
        out.likes.append({"user_id": uid, "video_id": video_id, "created_at": t})
        out.log(rng, uid, "/api/v2/videos/<int:video_id>/like", "POST", 201, t)
    return t
