"""Reading the activity rollups (kept by activity_rollup.py): per-day counts of a zone.

The counters include internal users; unless a report asks for them, their own rows in
activity_user_days are taken away here, at read time, so users.is_internal can change
freely. A partial index (ix_users_internal) finds those few users.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, literal, select, union_all

from app.extensions import db
from app.services.insights.rollups.activity import DAY_COUNTS, TYPE_COUNTS, USER_DAYS
from app.services.insights.rollups.activity_windows import REACH
from app.services.insights.sql import internal_user_ids


def day_counts(*, zone_id: int, first: int, last: int) -> dict[int, tuple[int, int, int]]:
    """DAU, WAU and MAU of every day first..last, all users included."""
    c = DAY_COUNTS.c
    running = (
        select(
            c.day,
            c.dau,
            func.sum(c.wau_change).over(order_by=c.day).label("wau"),
            func.sum(c.mau_change).over(order_by=c.day).label("mau"),
        )
        .where(c.zone_id == zone_id, c.day <= last)
        .subquery()
    )
    # A day without a row keeps the counts of the last row before it; a window count on
    # `first` comes from a change within REACH days before it, or is 0.
    found = {
        row.day: row
        for row in db.session.execute(select(running).where(running.c.day >= first - REACH))
    }
    counts: dict[int, tuple[int, int, int]] = {}
    wau = mau = 0
    for day in range(first - REACH, last + 1):
        row = found.get(day)
        if row is not None:
            wau, mau = int(row.wau), int(row.mau)
        if day >= first:
            counts[day] = (row.dau if row is not None else 0, wau, mau)
    return counts


def internal_days(*, zone_id: int, first: int, last: int) -> Any:
    """The (user_id, day) pairs of internal users in first..last, as a subquery."""
    u = USER_DAYS.c
    return (
        select(u.user_id, u.day)
        .where(
            u.zone_id == zone_id,
            u.user_id.in_(internal_user_ids()),
            u.day >= first,
            u.day <= last,
        )
        .distinct()
        .subquery("active")
    )


def type_counts(
    *, zone_id: int, event_types: list[str], first: int, last: int, include_internal: bool
) -> dict[tuple[str, int], tuple[int, int]]:
    """(events, users) per (event type, day) with any events, in one statement."""
    t, u = TYPE_COUNTS.c, USER_DAYS.c
    parts = [
        select(t.event_type, t.day, t.events, t.users).where(
            t.zone_id == zone_id, t.event_type.in_(event_types), t.day >= first, t.day <= last
        )
    ]
    if not include_internal:
        # The counters hold every user: take the internal users' own rows away.
        parts.append(
            select(u.event_type, u.day, -u.events, literal(-1)).where(
                u.zone_id == zone_id,
                u.user_id.in_(internal_user_ids()),
                u.event_type.in_(event_types),
                u.day >= first,
                u.day <= last,
            )
        )
    rows = union_all(*parts).subquery()
    kind, day, events, users = rows.c
    totals = select(kind, day, func.sum(events), func.sum(users)).group_by(kind, day)
    return {
        (kind, day): (int(events), int(users))
        for kind, day, events, users in db.session.execute(totals)
        if events
    }
