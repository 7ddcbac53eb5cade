"""Event spans: each person's first and last event (occurred_at) of each event type.

A person's key is their user id, or an unlinked anonymous id's own key (insights/
persons.py); links are folded by id with a second watermark ("event_spans:links"), as in
activity.py: events are keyed by the links folded, and the spans an anonymous id's key got
before its link merge into its user's (least first_at, greatest last_at).

The retention report reads first-time cohorts (a user's first-ever start event) from
first_at instead of every event a user ever had (recurring cohorts read the range's start
events). last_at is still folded, but no report reads it now: retention counts returns
only up to the report's `to`, which a user's last event cannot answer. The
table holds instants, not local days, so one row serves every zone (see
`local_date_monotone` for the one condition that needs).

Kept exact by an id watermark (services/insights/rollups/watermark.py, state row "event_spans"):
`refresh`, called by the report on the primary, folds the committed events not yet counted
in the same transaction that moves the watermark: per (user, type), first_at = least(old,
new), last_at = greatest(old, new). A late event (an old occurred_at, a new id) is folded
like any other. A first build runs in chunks of ids, a few seconds per report call (the
report reads raw events until it is done). The rows hold every user; reports leave
internal users out when they read.

Deleting events: erasure calls `forget_user` and deletes the user's rows in the same
transaction; the retention job, which deletes old events, calls `reset` afterwards: the
spans are rebuilt by the next reports (a first or last event may be among those deleted).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from datetime import time as wall_time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, delete, func, or_, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import AnalyticsEvent, AnonymousIdentity, RollupState, UserEventSpan
from app.services.database import upsert
from app.services.insights.rollups import watermark as rollup_watermark
from app.services.insights.sql import anonymous_key
from app.services.insights.sqlite_functions import anonymous_key as anonymous_key_of

NAME = "event_spans"
LINKS_NAME = "event_spans:links"  # reset with NAME (a prefix of it)
EVENTS: Table = AnalyticsEvent.__table__  # type: ignore[assignment]
LINKS: Table = AnonymousIdentity.__table__  # type: ignore[assignment]
SPANS: Table = UserEventSpan.__table__  # type: ignore[assignment]
ANALYZE_AFTER = 100_000  # events in one fold
# A first build (10 million events: about 12 s here) runs in transactions of this many
# event ids, for at most this long per report call; the call reads raw events if unfinished.
FOLD_CHUNK = 4_000_000
FOLD_SECONDS = 5.0


def refresh() -> bool:
    """Fold committed events and links not yet counted into user_event_spans (building it
    on first use), committing every FOLD_CHUNK event ids; False when it is not up to date
    (a build past FOLD_SECONDS, continued by the next calls, or an insert that held the
    events or links table too long): read raw events then."""
    session = db.session
    high = rollup_watermark.committed_high_id(EVENTS)
    links_high = rollup_watermark.committed_high_id(LINKS)
    if high is None or links_high is None:
        return False
    state = RollupState.__table__.c
    folded = session.execute(select(state.folded_id).where(state.name == NAME)).scalar_one_or_none()
    if folded is None:
        # Committed before any fold: erasure locks the committed state row, so it waits
        # for (or is waited for by) every fold; an uncommitted row would escape it.
        rollup_watermark.claim(session, NAME, None)
        session.commit()
        folded = 0
    started = last = time.monotonic()
    while True:
        now = time.monotonic()
        if now > started and (now - started) + (now - last) > FOLD_SECONDS:
            return False  # another chunk as long as the last would pass the budget
        last = now
        try:
            span = rollup_watermark.claim(session, NAME, min(high, folded + FOLD_CHUNK))
            links = rollup_watermark.claim(session, LINKS_NAME, links_high)
            seen = links.high if links else rollup_watermark.folded_id(session, LINKS_NAME)
            if span is not None:
                _fold(session.connection(), span, seen)
            if links is not None:
                _merge(session.connection(), links)
            session.commit()
        except Exception:
            session.rollback()
            raise
        folded = span.high if span else rollup_watermark.folded_id(session, NAME)
        if folded >= high:
            return True


def _upsert(conn: Connection, rows: Any) -> None:
    """Insert (user_id, event_type, first_at, last_at) rows, widening existing spans."""
    statement = upsert.insert_from(conn, SPANS, select(rows))
    # SQLite's two-argument min() and max() are PostgreSQL's least() and greatest().
    postgres = conn.dialect.name == "postgresql"
    least, greatest = (func.least, func.greatest) if postgres else (func.min, func.max)
    statement = statement.on_conflict_do_update(
        index_elements=["user_id", "event_type"],
        set_={
            "first_at": least(SPANS.c.first_at, statement.excluded.first_at),
            "last_at": greatest(SPANS.c.last_at, statement.excluded.last_at),
        },
    )
    conn.execute(statement)


def _fold(conn: Connection, span: rollup_watermark.Span, links_seen: int) -> None:
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        # A cold build groups every event: let it hash in memory rather than spill.
        conn.execute(text("SET LOCAL work_mem = '64MB'"))
    e, link = EVENTS.c, LINKS.c
    person = func.coalesce(
        e.user_id, link.user_id, anonymous_key(e.anonymous_id, postgres=postgres)
    ).label("user_id")
    linked = and_(
        e.user_id.is_(None), link.anonymous_id == e.anonymous_id, link.id <= links_seen
    )
    events = (
        select(person, e.event_type, e.occurred_at)
        .select_from(EVENTS.outerjoin(LINKS, linked))
        .where(
            e.id > span.low,
            e.id <= span.high,
            or_(e.user_id.is_not(None), e.anonymous_id.is_not(None)),
        )
        .subquery("events")
    )
    rows = (
        select(
            events.c.user_id,
            events.c.event_type,
            func.min(events.c.occurred_at).label("first_at"),
            func.max(events.c.occurred_at).label("last_at"),
        )
        .group_by(events.c.user_id, events.c.event_type)
        .subquery("source")
    )
    _upsert(conn, rows)
    if postgres and span.high - span.low > ANALYZE_AFTER:
        # Fresh statistics for the reports' plans after a build (autovacuum may lag).
        conn.execute(text(f"ANALYZE {SPANS.name}"))


def _merge(conn: Connection, links: rollup_watermark.Span) -> None:
    """Links made since the last fold: the spans kept under their anonymous ids' own keys
    widen their users' spans, and go."""
    link, s = LINKS.c, SPANS.c
    key = anonymous_key(link.anonymous_id, postgres=conn.dialect.name == "postgresql")
    new_links = and_(link.id > links.low, link.id <= links.high)
    moved = (
        select(
            link.user_id,
            s.event_type,
            func.min(s.first_at).label("first_at"),
            func.max(s.last_at).label("last_at"),
        )
        .select_from(LINKS.join(SPANS, s.user_id == key))
        .where(new_links)
        .group_by(link.user_id, s.event_type)
        .subquery("moved")
    )
    _upsert(conn, moved)
    conn.execute(delete(SPANS).where(s.user_id.in_(select(key).where(new_links))))


def forget_user(*, session: Session, user_id: int, anonymous_ids: Iterable[str] = ()) -> None:
    """Erasure of `user_id`: wait for a fold in progress and keep new ones out until the
    caller's transaction ends; the caller then deletes the user's events and their
    user_event_spans rows in it, and no fold can bring those back. The spans their linked
    `anonymous_ids` still have under their own keys are deleted here. (These rows hold no
    counters to take the person out of.)"""
    rollup_watermark.hold(session, NAME)
    keys = [anonymous_key_of(a) for a in anonymous_ids]
    if keys:
        session.execute(delete(SPANS).where(SPANS.c.user_id.in_(keys)))


def reset(*, session: Session) -> None:
    """Forget the spans (rows and watermark) in the caller's transaction: for the retention
    job once it has deleted old events (a first or last event may be among them, wherever
    its occurred_at). The next reports rebuild them."""
    rollup_watermark.hold(session, NAME)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"TRUNCATE {SPANS.name}"))
    else:
        session.execute(delete(SPANS))
    rollup_watermark.reset(session, NAME)


def local_date_monotone(tz: str, first: date, last: date) -> bool:
    """Whether the local date in tz never goes backwards between the starts of days first
    and last (inclusive) and the next day: then the local day of a user's first (last)
    event is the earliest (latest) local day of their events, and local day d of any
    instant t means local_midnight(d) <= t < local_midnight(d + 1).

    A date goes backwards only where clocks are set back across midnight (say from 00:30
    to 23:30): then 23:59:59 of one day and 00:00 of the next are both ambiguous wall
    times. No zone does that in this century, but some did."""
    zone = ZoneInfo(tz)
    day = first - timedelta(days=1)
    while day <= last:
        before = datetime.combine(day, wall_time(23, 59, 59), tzinfo=zone)
        after = datetime.combine(day + timedelta(days=1), wall_time(0, 0), tzinfo=zone)
        if _ambiguous(before) and _ambiguous(after):
            return False
        day += timedelta(days=1)
    return True


def _ambiguous(wall: datetime) -> bool:
    # Repeated wall times have the larger offset first (fold=0); skipped ones the smaller.
    early, late = wall.replace(fold=0).utcoffset(), wall.replace(fold=1).utcoffset()
    assert early is not None and late is not None
    return early > late
