"""Synthetic challenge activity at scale, for `flask analytics generate` (benchmarks, demos).

A simulation rather than random rows, because the reports are only exercised by data of
the real shape: members sign up over the whole range (more on Mondays, so join weeks make
cohorts), join a challenge, come back day after day at their own hour in their own zone
and thin out, complete days, watch and like the day's video, and keep opening the app
now and then afterwards; the API meanwhile logs its requests.

- people.py: who signs up when, where, joins what, and their habits (drawn once);
- installs.py: each member's device, onboarded anonymously and linked at sign-up, and
  strangers' installs that never register (issue 15);
- sessions.py: the day-by-day simulation and the events it leaves (run twice: count,
  then write, so that --events is met exactly);
- api_traffic.py: the request logs of the last days;
- sinks.py: binary COPY on PostgreSQL, executemany on SQLite, in chunks; one day's rows
  are the most ever held in memory.

Generated users are recognisable by their address (@generated.example) and share one
password hash. Everything is written in one transaction, then vacuumed and analyzed
(PostgreSQL: services/database/statistics.py).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from app import clock
from app.errors import Conflict, ValidationFailed
from app.extensions import db
from app.models import AnonymousIdentity, Challenge, Plan, User, Video
from app.services.database import statistics
from app.services.demo import seed as seed_service
from app.services.demo.generator import api_traffic
from app.services.demo.generator.installs import BUDGET_SHARE, Installs
from app.services.demo.generator.people import (
    DAY_US,
    EMAIL_DOMAIN,
    Calendar,
    ChallengeInfo,
    Member,
    epoch_date,
    insert_people,
    population,
)
from app.services.demo.generator.sessions import Census, Emitter, Simulation
from app.services.demo.generator.sinks import (
    Writer,
    from_us,
    indexes_deferred,
    make_sink,
    to_us,
)
from app.services.request_logs import partitions

__all__ = ["EMAIL_DOMAIN", "Options", "Result", "generate"]

# slug, title, days, share of the joiners
CHALLENGES = (
    ("generated-30-day-fitness", "30-Day Fitness (generated)", 30, 6),
    ("generated-21-day-mobility", "21-Day Mobility (generated)", 21, 3),
    ("generated-7-day-reset", "7-Day Reset (generated)", 7, 2),
)
BULK_TABLES = ("analytics_events", "request_logs", "completions", "user_liked_videos")
TABLES = ("users", "enrollments", "analytics_events", "completions", "user_liked_videos",
          "request_logs", "anonymous_identities")


@dataclass(frozen=True)
class Options:
    users: int = 50_000
    events: int = 10_000_000
    days: int = 90
    request_logs: int = 5_000_000
    log_days: int = 7
    seed: int = 1
    append: bool = False
    chunk_rows: int = 20_000
    defer_indexes: bool | None = None  # None: when the load is big (see _deferral)


@dataclass
class Result:
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def generate(*, options: Options, progress: Callable[[int], object] = lambda _n: None) -> Result:
    """Write the activity, ending now, into the app's database; Conflict when it already
    holds generated users and options.append is off. `progress` gets rows written (events
    and request logs)."""
    started = time.monotonic()
    offset = generated_users()
    if offset and not options.append:
        raise Conflict(f"The database already holds {offset} generated users "
                       f"(@{EMAIL_DOMAIN}); pass --append to add more.")
    if options.log_days > options.days:
        raise ValidationFailed("The request logs must fall within the days generated.",
                               errors=[{"field": "log_days", "message": "At most days."}])
    now_us = to_us(clock.now())
    start_us = now_us - options.days * DAY_US
    log_start = _log_start(now_us, options.log_days)
    key = f"{options.seed}:{offset}"
    cal, challenges = Calendar(), _challenges()
    members, census = _fit(options, key, cal, challenges, start_us, now_us)
    budget = min(int(options.events * BUDGET_SHARE), options.events - census.mandatory)
    installs = Installs(members, key=key, budget=max(budget, 0), start_us=start_us,
                        now_us=now_us)
    anonymous = installs.count()
    extra = options.events - census.mandatory - anonymous
    if extra < 0 or (extra > 0 and census.weight == 0):
        raise ValidationFailed("Too few users or days for that many events.",
                               errors=[{"field": "events", "message": "Raise users or days."}])
    _prepare_partitions(log_start, now_us)
    deferred = _deferral(options)
    try:
        with Writer(make_sink(db.session), options.chunk_rows, progress) as writer:
            writer.counts["users"], writer.counts["enrollments"] = insert_people(
                members, first_number=offset + 1)
            writer.counts["anonymous_identities"] = _insert_links(installs)
            with deferred:
                emitter = Emitter(
                    key=f"{key}:details", writer=writer, now_us=now_us, active_since=log_start,
                    extra=extra, weight=census.weight,
                    max_rows=max(10 * options.chunk_rows, 100_000),
                )
                emitter.run(Simulation(members, cal, start_us, now_us, f"{key}:sessions"),
                            installs.rows())
                api_traffic.write(rng=random.Random(f"{key}:requests"), writer=writer,
                                   total=options.request_logs, start_us=log_start,
                                   now_us=now_us, active=emitter.active,
                                   everyone=[m.uid for m in members])
                writer.finish()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    # Planner statistics for the bulk of new rows, and the visibility map that index-only
    # scans (funnels, retention) rely on: without them a fresh load plans as if empty.
    statistics.vacuum_analyze(db.engine, TABLES)
    return Result({name: writer.counts.get(name, 0) for name in TABLES},
                  time.monotonic() - started)


def _insert_links(installs: Installs) -> int:
    """The members' anonymous ids, linked at register (their onboarding before it)."""
    table = AnonymousIdentity.__table__
    links = [
        {"anonymous_id": anonymous_id, "user_id": uid, "linked_by": "register",
         "linked_at": from_us(at)}
        for anonymous_id, uid, at in installs.links()
    ]
    for i in range(0, len(links), 5000):
        db.session.execute(table.insert(), links[i : i + 5000])  # type: ignore[attr-defined]
    return len(links)


def _deferral(options: Options) -> AbstractContextManager[None]:
    """Defer the indexes and keys of the loaded tables (PostgreSQL) when the load is large
    and at least as big as what the tables hold; otherwise keep them."""
    if db.engine.dialect.name != "postgresql":
        return nullcontext()
    defer = options.defer_indexes
    if defer is None:
        held = db.session.scalar(text(
            "SELECT count(*) FROM (SELECT 1 FROM analytics_events LIMIT :n) AS s"
        ), {"n": options.events})
        defer = options.events >= 100_000 and (held or 0) < options.events
    if not defer:
        return nullcontext()
    return indexes_deferred(db.session, BULK_TABLES)


def generated_users() -> int:
    stmt = select(func.count()).select_from(User).where(User.email.like(f"%@{EMAIL_DOMAIN}"))
    return db.session.scalar(stmt) or 0


def _fit(
    options: Options, key: str, cal: Calendar, challenges: list[tuple[ChallengeInfo, int]],
    start_us: int, now_us: int,
) -> tuple[list[Member], Census]:
    """The members, and the census of their sessions, quiet enough for the event budget
    (full habits unless the budget is small for the users: then fewer join and return)."""
    scale = 1.0
    for _ in range(30):
        members = population(users=options.users, key=f"{key}:people", scale=scale, cal=cal,
                             challenges=challenges, start_us=start_us, now_us=now_us)
        census = Simulation(members, cal, start_us, now_us, f"{key}:sessions").census()
        if census.mandatory <= options.events or scale == 0.0:
            break
        scale = 0.0 if scale < 1e-3 else scale * 0.8 * options.events / census.mandatory
    return members, census


def _log_start(now_us: int, log_days: int) -> int:
    """UTC midnight log_days - 1 days before today: a "last N days" report holds them all."""
    first = epoch_date(now_us) - timedelta(days=log_days - 1)
    return to_us(datetime(first.year, first.month, first.day, tzinfo=UTC))


def _prepare_partitions(log_start: int, now_us: int) -> None:
    """request_logs' monthly partitions for the log window (PostgreSQL), so rows do not
    pile up in the default partition."""
    if db.engine.dialect.name != "postgresql" or not partitions.is_partitioned(db.engine):
        return
    first = partitions.month_start(from_us(log_start))
    last = partitions.month_start(from_us(now_us))
    months = (last.year - first.year) * 12 + last.month - first.month
    partitions.ensure_partitions(db.engine, now=first, months_ahead=months)


def _challenges() -> list[tuple[ChallengeInfo, int]]:
    """The generator's challenges (created with plans and videos when absent), weighted."""
    found = []
    for slug, title, days, weight in CHALLENGES:
        challenge = db.session.scalars(select(Challenge).where(Challenge.slug == slug)).first()
        if challenge is None:
            challenge = seed_service.create_challenge(slug=slug, title=title, days=days)
        rows = db.session.execute(
            select(Plan.day, Plan.id, Plan.video_id, Video.duration_s)
            .outerjoin(Video, Video.id == Plan.video_id)
            .where(Plan.challenge_id == challenge.id)
        )
        plans = {day: (pid, vid, secs or 600) for day, pid, vid, secs in rows}
        # Members go through days 1.. up to the first day without a plan (none, normally).
        usable = next(d - 1 for d in range(1, challenge.duration_days + 2) if d not in plans)
        if usable:
            found.append((ChallengeInfo(challenge.id, usable, plans), weight))
    return found
