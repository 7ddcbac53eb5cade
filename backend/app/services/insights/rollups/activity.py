"""Activity rollups: the active-users and daily trends reports without scanning raw events.

Per time zone, built on the first report in that zone and then folded on every report call
(`refresh`), on the primary, each fold in one transaction with the zone's id watermark
(services/insights/rollups/watermark.py), so every committed event is counted exactly once:

- activity_user_days: (user, zone, local day, event type) -> events. The set every counter
  below is kept from; a late event (occurred_at long ago) simply lands on its old day.
- activity_type_counts: per type and local day, events and distinct users.
- activity_day_counts: per local day, DAU, and the day-to-day changes of WAU and MAU.

A fold groups the new events by (user, day, type) and, against the rows that existed before
it, adds: events; a user to a type's day when the (user, day, type) row is new; a user to a
day's DAU when the (user, day) is new. A rolling window W (7, 30) counts a user on day e when
they were active on some day in [e-W+1, e]: a user's days cover the union of [d, d+W-1]. The
part of that union the new days add, not covered by the user's old days, is a few disjoint
ranges, computed in SQL with window functions over the user's days near the new ones; each
range adds +1 at its first day and -1 after its last (the *_change columns). Removing days
(erasure) is the same computation with the opposite sign, so counters stay exact.

"User" above is a person (insights/persons.py): an event is folded under its user, the user
its anonymous id is linked to, or the anonymous id's own key. Links are folded by id, with
a second watermark per zone (rollup_state "activity-links:<tz>"), claimed with the events'
in each fold: events are keyed by the links up to it, and the links past the previous one
are merged (`_merge`): the rows an anonymous id's key got from earlier folds move to its
user, the counters subtracting the key's whole contribution and adding the rows as a fold
adds them. So a link made after its anonymous events were counted corrects the rollup on
the next call, wherever those events fell.

Counters include internal users; reports subtract the internal users' rows at read time
(activity_counts.py), so a change of users.is_internal needs nothing here. Events leave the
counts in the transaction that deletes them: erasure (`forget_user`, a person's every row)
and the retention job (`forget_events`, the reverse of a fold). `reset` drops every zone's
rollup, rebuilt from the first event on the next report.

Concurrency: a fold holds its zone's rollup_state row (rollup_watermark.claim); erasure and
retention lock every activity state row first, so they wait for folds in progress and folds
wait for them. A zone's state row is committed before its first fold, so none escapes that.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import (
    ActivityDayCount,
    ActivityTypeCount,
    ActivityUserDay,
    ActivityZone,
    AnalyticsEvent,
    AnonymousIdentity,
    RollupState,
)
from app.services.database import statistics, upsert
from app.services.insights.rollups import activity_windows
from app.services.insights.rollups import watermark as rollup_watermark
from app.services.insights.sql import anonymous_key, day_key
from app.services.insights.sqlite_functions import anonymous_key as anonymous_key_of

PREFIX = "activity:"
LINKS_PREFIX = "activity-links:"
# A first build (10 million events: a minute or two here) runs in transactions of this many
# event ids (a few seconds each), for at most about this long per report call, which reads
# raw rows while the build is unfinished: a call stays well within gunicorn's timeout.
FOLD_CHUNK = 250_000
FOLD_SECONDS = 5.0
ANALYZE_AFTER = 100_000  # event ids: a fold this big refreshes the planner's statistics

EVENTS: Table = AnalyticsEvent.__table__  # type: ignore[assignment]
LINKS: Table = AnonymousIdentity.__table__  # type: ignore[assignment]
USER_DAYS: Table = ActivityUserDay.__table__  # type: ignore[assignment]
DAY_COUNTS: Table = ActivityDayCount.__table__  # type: ignore[assignment]
TYPE_COUNTS: Table = ActivityTypeCount.__table__  # type: ignore[assignment]
ZONES: Table = ActivityZone.__table__  # type: ignore[assignment]
STATES: Table = RollupState.__table__  # type: ignore[assignment]
USER_DAY_KEY = ["user_id", "zone_id", "day", "event_type"]
ROLLUP_TABLES = (USER_DAYS.name, DAY_COUNTS.name, TYPE_COUNTS.name)

# A fold's scratch tables (one connection, one transaction): its events grouped by
# (user, day, type), and the (user, day) pairs that are new to the rollup.
_scratch = MetaData()
FOLD_ROWS = Table(
    "activity_fold_rows",
    _scratch,
    Column("user_id", BigInteger),
    Column("day", Integer),
    Column("event_type", String(64)),
    Column("events", Integer),
    prefixes=["TEMPORARY"],
)
NEW_DAYS = Table(
    "activity_fold_days",
    _scratch,
    Column("user_id", BigInteger),
    Column("day", Integer),
    prefixes=["TEMPORARY"],
)


def refresh(*, tz: str) -> int | None:
    """Fold committed events not yet counted into tz's rollup (building it on first use),
    committing every FOLD_CHUNK event ids, and the links made since the last fold; the zone
    id to read with, or None when the rollup is not up to date (a first build past
    FOLD_SECONDS, to be continued by the next calls, or an insert that held the events or
    links table too long): read raw rows then."""
    session = db.session
    high = rollup_watermark.committed_high_id(EVENTS)
    links_high = rollup_watermark.committed_high_id(LINKS)
    if high is None or links_high is None:
        return None
    name = PREFIX + tz
    known = session.execute(
        select(ZONES.c.id, STATES.c.folded_id)
        .outerjoin(STATES, STATES.c.name == name)
        .where(ZONES.c.tz == tz)
    ).one_or_none()
    if known is None:
        zone_id, folded = _create_zone(session, tz), 0
    else:
        zone_id, folded = known.id, known.folded_id or 0
    started = time.monotonic()
    while True:
        try:
            # The zone's row first: folds of a zone, erasure and retention serialize on it.
            span = rollup_watermark.claim(session, name, min(high, folded + FOLD_CHUNK))
            links = rollup_watermark.claim(session, LINKS_PREFIX + tz, links_high)
            seen = links.high if links else rollup_watermark.folded_id(session, LINKS_PREFIX + tz)
            if span is not None:
                _fold(session.connection(), zone_id, tz, span, seen)
            if links is not None:
                _merge(session.connection(), zone_id, links)
            session.commit()
        except Exception:
            session.rollback()
            raise
        if span is not None and span.high - span.low < ANALYZE_AFTER:
            statistics.note_writes(db.engine, ROLLUP_TABLES, span.high - span.low)
        folded = span.high if span else rollup_watermark.folded_id(session, name)
        if folded >= high:
            return zone_id
        if time.monotonic() - started > FOLD_SECONDS:
            return None  # the next calls go on; a request must not outlive the server's timeout


def _create_zone(session: Session, tz: str) -> int:
    # Committed before any fold: an erasure locks every committed state row, so it waits
    # for (or is waited for by) this zone's folds; an uncommitted row would escape it.
    session.execute(upsert.insert(session, ZONES).values(tz=tz).on_conflict_do_nothing())
    rollup_watermark.claim(session, PREFIX + tz, None)
    session.commit()
    return session.execute(select(ZONES.c.id).where(ZONES.c.tz == tz)).scalar_one()


def _create_scratch(conn: Connection) -> None:
    FOLD_ROWS.create(conn)
    NEW_DAYS.create(conn)


def _stage(conn: Connection, tz: str, where: Any, links_seen: int) -> None:
    """Create the scratch tables; fill FOLD_ROWS from the events matching `where`, each
    under its person's key: its user, the user its anonymous id is linked to by a link this
    zone has folded (id <= links_seen), or else the anonymous id's own key."""
    postgres = conn.dialect.name == "postgresql"
    _create_scratch(conn)
    e, link = EVENTS.c, LINKS.c
    person = func.coalesce(
        e.user_id, link.user_id, anonymous_key(e.anonymous_id, postgres=postgres)
    )
    linked = and_(
        e.user_id.is_(None), link.anonymous_id == e.anonymous_id, link.id <= links_seen
    )
    # The local day in a subquery, grouped outside it (bound parameters, see trends.py).
    events = (
        select(
            person.label("user_id"),
            day_key(e.occurred_at, tz, postgres=postgres).label("day"),
            e.event_type,
        )
        .select_from(EVENTS.outerjoin(LINKS, linked))
        .where(where, or_(e.user_id.is_not(None), e.anonymous_id.is_not(None)))
        .subquery()
    )
    keys = [events.c.user_id, events.c.day, events.c.event_type]
    conn.execute(
        FOLD_ROWS.insert().from_select(
            ["user_id", "day", "event_type", "events"],
            select(*keys, func.count()).group_by(*keys),
        )
    )
    if postgres:
        conn.execute(text(f"ANALYZE {FOLD_ROWS.name}"))  # from 1 to FOLD_CHUNK rows: plan for it


def _same_row(zone_id: int) -> Any:
    """A staged row's USER_DAYS row: same user, zone, day and event type."""
    f, u = FOLD_ROWS.c, USER_DAYS.c
    return and_(
        u.user_id == f.user_id, u.zone_id == zone_id, u.day == f.day, u.event_type == f.event_type
    )


def _keep_days_without_rows(conn: Connection, zone_id: int) -> None:
    """NEW_DAYS := the staged (user, day) pairs with no USER_DAYS row in the zone (yet, when
    folding; any more, when unfolding)."""
    f, u = FOLD_ROWS.c, USER_DAYS.c
    has_row = exists().where(u.user_id == f.user_id, u.zone_id == zone_id, u.day == f.day)
    conn.execute(
        NEW_DAYS.insert().from_select(
            ["user_id", "day"], select(f.user_id, f.day).where(~has_row).distinct()
        )
    )


def _unstage(conn: Connection) -> None:
    NEW_DAYS.drop(conn)
    FOLD_ROWS.drop(conn)


def _fold(
    conn: Connection, zone_id: int, tz: str, span: rollup_watermark.Span, links_seen: int
) -> None:
    _stage(conn, tz, and_(EVENTS.c.id > span.low, EVENTS.c.id <= span.high), links_seen)
    _add_staged(conn, zone_id)
    _unstage(conn)
    if span.high - span.low >= ANALYZE_AFTER:
        # Planner statistics that still show this zone empty would make the next fold's
        # anti-joins, and the reports' reads, nested loops over millions of rows.
        statistics.analyze(conn, ROLLUP_TABLES)


def _add_staged(conn: Connection, zone_id: int) -> None:
    """Add the staged (person, day, type) rows to the zone's rows and counters."""
    f = FOLD_ROWS.c
    u = USER_DAYS.c
    _keep_days_without_rows(conn, zone_id)
    # Both counters are computed against the rows that existed before this fold.
    type_rows = (
        select(
            literal(zone_id).label("zone_id"),
            f.event_type,
            f.day,
            func.sum(f.events).label("events"),
            func.sum(case((u.user_id.is_(None), 1), else_=0)).label("users"),
        )
        .select_from(FOLD_ROWS.outerjoin(USER_DAYS, _same_row(zone_id)))
        .group_by(f.event_type, f.day)
    )
    activity_windows.add(conn, TYPE_COUNTS, type_rows, ["zone_id", "event_type", "day"])
    n = NEW_DAYS.c
    activity_windows.count_days(
        conn, select(literal(zone_id).label("zone_id"), n.user_id, n.day), neighbours=True
    )
    rows = select(f.user_id, literal(zone_id).label("zone_id"), f.day, f.event_type, f.events)
    activity_windows.add(conn, USER_DAYS, rows, USER_DAY_KEY)


def _merge(conn: Connection, zone_id: int, links: rollup_watermark.Span) -> None:
    """Links made since the zone's last fold (links.low < id <= links.high): the rows its
    earlier folds kept under the anonymous id's own key move to the user, and the counters
    follow (the key's rows taken out, then added to the user's like a fold)."""
    postgres = conn.dialect.name == "postgresql"
    link, u = LINKS.c, USER_DAYS.c
    key = anonymous_key(link.anonymous_id, postgres=postgres)
    new_links = and_(link.id > links.low, link.id <= links.high)
    keys = select(key).where(new_links)
    if conn.execute(select(exists().where(u.zone_id == zone_id, u.user_id.in_(keys)))).scalar():
        _create_scratch(conn)
        moved = (
            select(link.user_id, u.day, u.event_type, func.sum(u.events))
            .select_from(LINKS.join(USER_DAYS, and_(u.user_id == key, u.zone_id == zone_id)))
            .where(new_links)
            .group_by(link.user_id, u.day, u.event_type)
        )
        columns = ["user_id", "day", "event_type", "events"]
        conn.execute(FOLD_ROWS.insert().from_select(columns, moved))
        in_zone = and_(u.zone_id == zone_id, u.user_id.in_(keys))
        _forget(conn, in_zone)
        conn.execute(delete(USER_DAYS).where(in_zone))
        _add_staged(conn, zone_id)
        _unstage(conn)


def _unfold(conn: Connection, zone_id: int, tz: str, where: Any, links_seen: int) -> None:
    """The reverse of _fold for the (counted) events matching `where`."""
    _stage(conn, tz, where, links_seen)
    f, u, n = FOLD_ROWS.c, USER_DAYS.c, NEW_DAYS.c
    zone = literal(zone_id).label("zone_id")
    less = select(f.user_id, zone, f.day, f.event_type, (-f.events).label("events"))
    activity_windows.add(conn, USER_DAYS, less, USER_DAY_KEY)
    # A type's day loses a user where their row has no event left.
    type_rows = (
        select(
            literal(zone_id).label("zone_id"),
            f.event_type,
            f.day,
            (-func.sum(f.events)).label("events"),
            (-func.sum(case((u.events == 0, 1), else_=0))).label("users"),
        )
        .select_from(FOLD_ROWS.join(USER_DAYS, _same_row(zone_id)))
        .group_by(f.event_type, f.day)
    )
    activity_windows.add(conn, TYPE_COUNTS, type_rows, ["zone_id", "event_type", "day"])
    conn.execute(
        delete(USER_DAYS).where(
            u.zone_id == zone_id, u.events == 0, u.user_id.in_(select(f.user_id))
        )
    )
    _keep_days_without_rows(conn, zone_id)
    # Removing days S from A takes away what adding S to A minus S (the rows left) adds.
    activity_windows.count_days(
        conn,
        select(literal(zone_id).label("zone_id"), n.user_id, n.day),
        neighbours=True,
        sign=-1,
    )
    _unstage(conn)


def _forget(conn: Connection, rows: Any) -> None:
    """Subtract the contributions of whole persons' USER_DAYS rows (`rows`: a WHERE clause
    on them) from the counters; the caller deletes the rows."""
    u = USER_DAYS.c
    type_rows = (
        select(
            u.zone_id,
            u.event_type,
            u.day,
            (-func.sum(u.events)).label("events"),
            (-func.count()).label("users"),
        )
        .where(rows)
        .group_by(u.zone_id, u.event_type, u.day)
    )
    activity_windows.add(conn, TYPE_COUNTS, type_rows, ["zone_id", "event_type", "day"])
    days = select(u.zone_id, u.user_id, u.day).where(rows).distinct()
    activity_windows.count_days(conn, days, neighbours=False, sign=-1)


def forget_user(
    *, session: Session, user_id: int, anonymous_ids: Iterable[str] = ()
) -> None:
    """Subtract a person's contributions from every zone's counters, in the caller's
    transaction: the user's (whose activity_user_days rows the caller then deletes, with
    their events) and those their linked `anonymous_ids` still have under their own keys
    (deleted here)."""
    conn = session.connection()
    rollup_watermark.hold(conn, PREFIX)
    u = USER_DAYS.c
    keys = [anonymous_key_of(a) for a in anonymous_ids]
    _forget(conn, u.user_id.in_([user_id, *keys]))
    if keys:
        conn.execute(delete(USER_DAYS).where(u.user_id.in_(keys)))


def forget_events(*, conn: Connection, event_ids: list[int]) -> None:
    """Subtract events that the caller's transaction is about to delete (the retention job)
    from every zone that counted them."""
    if not event_ids:
        return
    rollup_watermark.hold(conn, PREFIX)
    links = STATES.alias("links_state")
    zones = conn.execute(
        select(ZONES.c.id, ZONES.c.tz, STATES.c.folded_id, links.c.folded_id)
        .join(STATES, STATES.c.name == literal(PREFIX) + ZONES.c.tz)
        .outerjoin(links, links.c.name == literal(LINKS_PREFIX) + ZONES.c.tz)
    ).all()
    for zone_id, tz, folded, links_seen in zones:
        counted = [i for i in event_ids if i <= folded]
        if counted:
            _unfold(conn, zone_id, tz, EVENTS.c.id.in_(counted), links_seen or 0)


def built_zones() -> list[str]:
    """The zones whose rollup exists (built, or being built)."""
    return list(db.session.scalars(select(ZONES.c.tz).order_by(ZONES.c.tz)))


def reset(*, session: Session) -> None:
    """Forget every zone's rollup (rows and watermarks): the next report rebuilds it. For
    operators (after a repair of analytics_events by hand, say); nothing calls it."""
    rollup_watermark.hold(session, PREFIX)
    for table in (USER_DAYS, DAY_COUNTS, TYPE_COUNTS):
        session.execute(delete(table))
    rollup_watermark.reset(session, PREFIX)
