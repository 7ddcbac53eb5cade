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

Counters include internal users; reports subtract the internal users' rows at read time
(activity_counts.py), so a change of users.is_internal needs nothing here. Events leave the
counts in the transaction that deletes them: erasure (`forget_user`, a user's every row) and
the retention job (`forget_events`, the reverse of a fold). `reset` drops every zone's
rollup, rebuilt from the first event on the next report.

Concurrency: a fold holds its zone's rollup_state row (rollup_watermark.claim); erasure and
retention lock every activity state row first, so they wait for folds in progress and folds
wait for them. A zone's state row is committed before its first fold, so none escapes that.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    and_,
    case,
    delete,
    exists,
    func,
    literal,
    select,
    text,
    union_all,
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
    RollupState,
)
from app.services.database import statistics, upsert
from app.services.insights.rollups import watermark as rollup_watermark
from app.services.insights.sql import day_key

PREFIX = "activity:"
WINDOWS = {"wau_change": 7, "mau_change": 30}
REACH = max(WINDOWS.values())
# A first build (10 million events: a minute or two here) runs in transactions of this many
# event ids (a few seconds each), for at most about this long per report call, which reads
# raw rows while the build is unfinished: a call stays well within gunicorn's timeout.
FOLD_CHUNK = 250_000
FOLD_SECONDS = 5.0
ANALYZE_AFTER = 100_000  # event ids: a fold this big refreshes the planner's statistics

EVENTS: Table = AnalyticsEvent.__table__  # type: ignore[assignment]
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
    Column("user_id", Integer),
    Column("day", Integer),
    Column("event_type", String(64)),
    Column("events", Integer),
    prefixes=["TEMPORARY"],
)
NEW_DAYS = Table(
    "activity_fold_days",
    _scratch,
    Column("user_id", Integer),
    Column("day", Integer),
    prefixes=["TEMPORARY"],
)


def refresh(*, tz: str) -> int | None:
    """Fold committed events not yet counted into tz's rollup (building it on first use),
    committing every FOLD_CHUNK event ids; the zone id to read with, or None when the
    rollup is not up to date (a first build past FOLD_SECONDS, to be continued by the next
    calls, or an insert that held the events table too long): read raw rows then."""
    session = db.session
    high = rollup_watermark.committed_high_id(EVENTS)
    if high is None:
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
    while folded < high:
        try:
            span = rollup_watermark.claim(session, name, min(high, folded + FOLD_CHUNK))
            if span is not None:
                _fold(session.connection(), zone_id, tz, span)
            session.commit()
        except Exception:
            session.rollback()
            raise
        if span is not None and span.high - span.low < ANALYZE_AFTER:
            statistics.note_writes(db.engine, ROLLUP_TABLES, span.high - span.low)
        folded = span.high if span else rollup_watermark.folded_id(session, name)
        if folded < high and time.monotonic() - started > FOLD_SECONDS:
            return None  # the next calls go on; a request must not outlive the server's timeout
    return zone_id


def _create_zone(session: Session, tz: str) -> int:
    # Committed before any fold: an erasure locks every committed state row, so it waits
    # for (or is waited for by) this zone's folds; an uncommitted row would escape it.
    session.execute(upsert.insert(session, ZONES).values(tz=tz).on_conflict_do_nothing())
    rollup_watermark.claim(session, PREFIX + tz, None)
    session.commit()
    return session.execute(select(ZONES.c.id).where(ZONES.c.tz == tz)).scalar_one()


def _stage(conn: Connection, tz: str, where: Any) -> None:
    """Create the scratch tables; fill FOLD_ROWS from the events matching `where`."""
    postgres = conn.dialect.name == "postgresql"
    FOLD_ROWS.create(conn)
    NEW_DAYS.create(conn)
    e = EVENTS.c
    # The local day in a subquery, grouped outside it (bound parameters, see trends.py).
    events = (
        select(e.user_id, day_key(e.occurred_at, tz, postgres=postgres).label("day"), e.event_type)
        # Kept per user: reports read it only while no anonymous event is stored (persons.py).
        .where(where, e.user_id.is_not(None))
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


def _fold(conn: Connection, zone_id: int, tz: str, span: rollup_watermark.Span) -> None:
    _stage(conn, tz, and_(EVENTS.c.id > span.low, EVENTS.c.id <= span.high))
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
    _add(conn, TYPE_COUNTS, type_rows, ["zone_id", "event_type", "day"])
    n = NEW_DAYS.c
    _count_days(
        conn, select(literal(zone_id).label("zone_id"), n.user_id, n.day), neighbours=True
    )
    rows = select(f.user_id, literal(zone_id).label("zone_id"), f.day, f.event_type, f.events)
    _add(conn, USER_DAYS, rows, USER_DAY_KEY)
    _unstage(conn)
    if span.high - span.low >= ANALYZE_AFTER:
        # Planner statistics that still show this zone empty would make the next fold's
        # anti-joins, and the reports' reads, nested loops over millions of rows.
        statistics.analyze(conn, ROLLUP_TABLES)


def _unfold(conn: Connection, zone_id: int, tz: str, where: Any) -> None:
    """The reverse of _fold for the (counted) events matching `where`."""
    _stage(conn, tz, where)
    f, u, n = FOLD_ROWS.c, USER_DAYS.c, NEW_DAYS.c
    zone = literal(zone_id).label("zone_id")
    less = select(f.user_id, zone, f.day, f.event_type, (-f.events).label("events"))
    _add(conn, USER_DAYS, less, USER_DAY_KEY)
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
    _add(conn, TYPE_COUNTS, type_rows, ["zone_id", "event_type", "day"])
    conn.execute(
        delete(USER_DAYS).where(
            u.zone_id == zone_id, u.events == 0, u.user_id.in_(select(f.user_id))
        )
    )
    _keep_days_without_rows(conn, zone_id)
    # Removing days S from A takes away what adding S to A minus S (the rows left) adds.
    _count_days(
        conn,
        select(literal(zone_id).label("zone_id"), n.user_id, n.day),
        neighbours=True,
        sign=-1,
    )
    _unstage(conn)


def _count_days(
    conn: Connection, new_days: Select[Any], *, neighbours: bool, sign: int = 1
) -> None:
    """Add (sign=1) or subtract (-1) the DAU/WAU/MAU contributions of new (zone, user, day)
    rows: relative to the user's rows in activity_user_days (neighbours=True; they must not
    include the new rows yet), or to nothing (a user's whole contribution)."""
    new = new_days.cte("new_days")
    rel_parts: list[Select[Any]] = [
        select(new.c.zone_id, new.c.user_id, new.c.day, literal(1).label("new"))
    ]
    if neighbours:
        u = USER_DAYS.c
        bounds = (
            select(
                new.c.zone_id,
                new.c.user_id,
                func.min(new.c.day).label("lo"),
                func.max(new.c.day).label("hi"),
            )
            .group_by(new.c.zone_id, new.c.user_id)
            .subquery("bounds")
        )
        # Days further than REACH from every new day cannot change what they add.
        near = and_(
            u.user_id == bounds.c.user_id,
            u.zone_id == bounds.c.zone_id,
            u.day > bounds.c.lo - REACH,
            u.day < bounds.c.hi + REACH,
        )
        rel_parts.append(
            select(u.zone_id, u.user_id, u.day, literal(0).label("new"))
            .select_from(USER_DAYS.join(bounds, near))
            .group_by(u.zone_id, u.user_id, u.day)
        )
    rel = union_all(*rel_parts).subquery("rel")
    user = [rel.c.zone_id, rel.c.user_id]
    w = (
        select(
            rel.c.zone_id,
            rel.c.day,
            rel.c.new,
            func.lead(rel.c.day).over(partition_by=user, order_by=rel.c.day).label("next_day"),
            func.max(case((rel.c.new == 0, rel.c.day)))
            .over(partition_by=user, order_by=rel.c.day, rows=(None, -1))
            .label("old_day"),
        ).cte("w")
    ).c
    columns = ["dau", *WINDOWS]

    def change(day: Any, **values: int) -> Select[Any]:
        return select(
            w.zone_id, day.label("day"), *(literal(values.get(c, 0)).label(c) for c in columns)
        )

    parts = [change(w.day, dau=1).where(w.new == 1)]
    for column, width in WINDOWS.items():
        # The days that w.day adds to the window count and no old day already covered:
        # after the previous old day's reach, up to its own reach or the next day.
        first = case((w.old_day + width > w.day, w.old_day + width), else_=w.day)
        last = case((w.next_day - 1 < w.day + width - 1, w.next_day - 1), else_=w.day + width - 1)
        parts.append(change(first, **{column: 1}).where(w.new == 1, first <= last))
        parts.append(change(last + 1, **{column: -1}).where(w.new == 1, first <= last))
    changes = union_all(*parts).subquery("changes")
    totals = select(
        changes.c.zone_id,
        changes.c.day,
        *(func.sum(changes.c[c] * sign).label(c) for c in columns),
    ).group_by(changes.c.zone_id, changes.c.day)
    _add(conn, DAY_COUNTS, totals, ["zone_id", "day"])


def _add(conn: Connection, table: Table, rows: Select[Any], keys: list[str]) -> None:
    """INSERT rows, adding their values to the existing row of the same key."""
    upsert.add_counts(conn, table, rows, keys, in_key_order=True)


def forget_user(*, session: Session, user_id: int) -> None:
    """Subtract a user's contributions from every zone's counters, in the caller's
    transaction (which then deletes their activity_user_days rows, with their events)."""
    conn = session.connection()
    rollup_watermark.hold(conn, PREFIX)
    u = USER_DAYS.c
    mine = u.user_id == user_id
    type_rows = (
        select(
            u.zone_id,
            u.event_type,
            u.day,
            (-func.sum(u.events)).label("events"),
            (-func.count()).label("users"),
        )
        .where(mine)
        .group_by(u.zone_id, u.event_type, u.day)
    )
    _add(conn, TYPE_COUNTS, type_rows, ["zone_id", "event_type", "day"])
    days = select(u.zone_id, u.user_id, u.day).where(mine).distinct()
    _count_days(conn, days, neighbours=False, sign=-1)


def forget_events(*, conn: Connection, event_ids: list[int]) -> None:
    """Subtract events that the caller's transaction is about to delete (the retention job)
    from every zone that counted them."""
    if not event_ids:
        return
    rollup_watermark.hold(conn, PREFIX)
    zones = conn.execute(
        select(ZONES.c.id, ZONES.c.tz, STATES.c.folded_id).join(
            STATES, STATES.c.name == literal(PREFIX) + ZONES.c.tz
        )
    ).all()
    for zone_id, tz, folded in zones:
        counted = [i for i in event_ids if i <= folded]
        if counted:
            _unfold(conn, zone_id, tz, EVENTS.c.id.in_(counted))


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
