"""Random events for the property tests: odd-offset zones, DST days, local midnights.

Hypothesis strategies draw a small world (users, some internal; events placed uniformly
or one second either side of a local midnight or a DST change), plus helpers that store it
the way production rows look (ids out of time order) and empty the database between
examples. The references the tests compare with are plain Python over these same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from app.extensions import db
from app.models import AnalyticsEvent, Base, User
from tests.oracle_support import Links, actors, anonymous_id, links, platforms
from tests.store_support import empty_store

# +12:45/+13:45, +5:45, +5:30, and a half-hour DST (+10:30/+11).
ZONES = ("Pacific/Chatham", "Asia/Kathmandu", "Asia/Kolkata", "Australia/Lord_Howe")
TYPES = ("app_opened", "plan_viewed", "video_started")
# Two windows of 2026, each holding DST changes of Chatham and Lord Howe: the autumn one
# (fall back on 04-05) and the spring one (Chatham forward on 09-27, Lord Howe on 10-04).
WINDOWS = (
    (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 20, tzinfo=UTC)),
    (datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 10, 20, tzinfo=UTC)),
)
DST_CHANGES = (
    datetime(2026, 4, 4, 14, 0, tzinfo=UTC),  # Chatham +13:45 -> +12:45
    datetime(2026, 4, 4, 15, 0, tzinfo=UTC),  # Lord Howe +11 -> +10:30
    datetime(2026, 9, 26, 14, 0, tzinfo=UTC),  # Chatham +12:45 -> +13:45
    datetime(2026, 10, 3, 15, 30, tzinfo=UTC),  # Lord Howe +10:30 -> +11
)


@dataclass(frozen=True)
class Ev:
    user: int  # an index into World.internal, or an anonymous actor (oracle_support.actors)
    at: datetime
    event_type: str
    platform: str | None = None


@dataclass(frozen=True)
class World:
    tz: str
    start: datetime  # the window events fall in
    end: datetime
    internal: tuple[bool, ...]  # per user
    events: tuple[Ev, ...]
    late: tuple[Ev, ...]  # stored after the first reports ran (older occurred_at, new ids)
    erase: int | None  # a user erased after that
    links: Links = field(default_factory=dict)  # anonymous ids linked before the first reports
    late_links: Links = field(default_factory=dict)  # and with the late events


def local_midnight(day: date, tz: str) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz)).astimezone(UTC)


@st.composite
def moments(draw: st.DrawFn, tz: str, start: datetime, end: datetime) -> datetime:
    """A UTC instant in [start, end): uniform, or a second either side of an edge."""
    kind = draw(st.sampled_from(("uniform", "midnight", "dst")))
    if kind == "uniform":
        seconds = draw(st.integers(0, int((end - start).total_seconds()) - 1))
        return start + timedelta(seconds=seconds)
    if kind == "midnight":
        day = draw(st.integers(1, (end - start).days - 2))
        edge = local_midnight((start + timedelta(days=day)).date(), tz)
    else:
        edge = draw(st.sampled_from([c for c in DST_CHANGES if start < c < end]))
    nudge = timedelta(seconds=draw(st.sampled_from((-1, 0, 1))))
    return edge + nudge + timedelta(microseconds=draw(st.sampled_from((0, 0, 1, 999_999))))


@st.composite
def worlds(draw: st.DrawFn, *, min_users: int = 1, max_users: int = 5, max_events: int = 40,
           anonymous: bool = False, context: bool = False) -> World:
    """`anonymous`: events of anonymous ids too, some linked to users (some late);
    `context`: events with a platform (or none)."""
    tz = draw(st.sampled_from(ZONES))
    start, end = draw(st.sampled_from(WINDOWS))
    users = draw(st.integers(min_users, max_users))
    internal = tuple(draw(st.lists(st.booleans(), min_size=users, max_size=users)))

    def events(n: int, until: datetime) -> tuple[Ev, ...]:
        who = actors(users) if anonymous else st.integers(0, users - 1)
        platform = platforms() if context else st.none()
        one = st.builds(Ev, who, moments(tz, start, until), st.sampled_from(TYPES), platform)
        return tuple(draw(st.lists(one, max_size=n)))

    first = events(max_events, end)
    late = events(max_events // 4, end - timedelta(days=3))
    erase = draw(st.none() | st.integers(0, users - 1))
    if not anonymous:
        return World(tz, start, end, internal, first, late, erase)
    return World(tz, start, end, internal, first, late, erase, draw(links(users)),
                 draw(links(users)))


def reset_database() -> None:
    """Every table emptied (each Hypothesis example starts from nothing). DELETE, not
    TRUNCATE: a TRUNCATE of every table costs about half a second on PostgreSQL, a DELETE
    of a few dozen rows a few milliseconds."""
    db.session.remove()
    with db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    empty_store()


def add_users(world: World) -> list[int]:
    rows = [
        User(email=f"z{i}@example.com", password_hash="x", display_name=f"z{i}",
             is_internal=flag)
        for i, flag in enumerate(world.internal)
    ]
    db.session.add_all(rows)
    db.session.commit()
    return [u.id for u in rows]


def store(events: tuple[Ev, ...], ids: list[int], *, received: datetime | None = None
          ) -> list[tuple[int, Ev]]:
    """Insert the events, newest first (ids out of time order, as late batches make them);
    (event id, event) of each."""
    ordered = sorted(events, key=lambda e: e.at, reverse=True)
    rows = [
        AnalyticsEvent(user_id=None if e.user < 0 else ids[e.user],
                       anonymous_id=anonymous_id(e.user), event_type=e.event_type,
                       event_data={}, occurred_at=e.at, created_at=received or e.at,
                       platform=e.platform)
        for e in ordered
    ]
    db.session.add_all(rows)
    db.session.commit()
    return [(row.id, e) for row, e in zip(rows, ordered, strict=True)]
