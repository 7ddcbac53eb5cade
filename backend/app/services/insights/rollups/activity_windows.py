"""The activity rollup's day counters: DAU and the rolling-window changes that new (or
removed) active days of a person add (see activity.py for the idea). Separate from the
folding so each file reads at once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Table, and_, case, func, literal, select, union_all
from sqlalchemy.engine import Connection

from app.models import ActivityDayCount, ActivityUserDay
from app.services.database import upsert

WINDOWS = {"wau_change": 7, "mau_change": 30}
REACH = max(WINDOWS.values())
USER_DAYS: Table = ActivityUserDay.__table__  # type: ignore[assignment]
DAY_COUNTS: Table = ActivityDayCount.__table__  # type: ignore[assignment]


def count_days(
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
    add(conn, DAY_COUNTS, totals, ["zone_id", "day"])


def add(conn: Connection, table: Table, rows: Select[Any], keys: list[str]) -> None:
    """INSERT rows, adding their values to the existing row of the same key."""
    upsert.add_counts(conn, table, rows, keys, in_key_order=True)


