"""Active users per local day: DAU, WAU (rolling 7 days), MAU (rolling 30), stickiness."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import Integer, Subquery, and_, case, func, literal, select
from sqlalchemy.orm import Session

from app import clock
from app.extensions import db
from app.models import AnalyticsEvent
from app.services.insights.params import Period, day_number, from_day_number
from app.services.insights.reader import reader, reads_primary
from app.services.insights.rollups import activity as activity_rollup
from app.services.insights.rollups import activity_counts
from app.services.insights.sql import day_key, user_filter

E = AnalyticsEvent


@dataclass(frozen=True)
class ActiveUsersDay:
    day: str
    partial: bool
    dau: int
    wau: int
    mau: int

    @property
    def stickiness(self) -> float | None:
        return round(self.dau / self.mau, 4) if self.mau else None


@dataclass(frozen=True)
class ActiveUsersResult:
    period: Period
    days: list[ActiveUsersDay]

    def csv_rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = [["day", "partial", "dau", "wau", "mau", "stickiness"]]
        rows += [[d.day, d.partial, d.dau, d.wau, d.mau, d.stickiness] for d in self.days]
        return rows


def run(*, period: Period, rollup: bool = True) -> ActiveUsersResult:
    """The report; from the zone's activity rollup unless `rollup` is False or reports read
    a replica (the raw scan there)."""
    first, last = day_number(period.start_date), day_number(period.end_date)
    found = None
    if rollup and reads_primary():
        zone_id = activity_rollup.refresh(tz=period.tz)
        if zone_id is not None:
            found = _from_rollup(period, zone_id, first, last)
    if found is None:
        found = _window_counts(reader(), _raw_active(period), first, last)
    today = day_number(clock.today_in(period.tz))
    return ActiveUsersResult(
        period=period,
        days=[
            ActiveUsersDay(from_day_number(d).isoformat(), d >= today, *found.get(d, (0, 0, 0)))
            for d in range(first, last + 1)
        ],
    )


def _raw_active(period: Period) -> Subquery:
    """(user_id, day) of every user with an event on a local day, from raw events."""
    window = replace(period, start_date=period.start_date - timedelta(days=29))
    return (
        select(E.user_id, day_key(E.occurred_at, period.tz).label("day"))
        .where(
            E.occurred_at >= window.utc_start,
            E.occurred_at < window.utc_end,
            user_filter(period, E.user_id),
        )
        .distinct()
        .subquery("active")
    )


def _window_counts(
    session: Session, active: Subquery, first: int, last: int
) -> dict[int, tuple[int, int, int]]:
    """DAU, WAU, MAU per day first..last from (user_id, day) pairs that cover first-29..last."""
    days = select(literal(first, Integer).label("d")).cte("days", recursive=True)
    days = days.union_all(select((days.c.d + 1).label("d")).where(days.c.d < last))
    user = active.c.user_id
    stmt = (
        select(
            days.c.d,
            func.count(func.distinct(case((active.c.day == days.c.d, user)))).label("dau"),
            func.count(func.distinct(case((active.c.day > days.c.d - 7, user)))).label("wau"),
            func.count(func.distinct(user)).label("mau"),
        )
        .join(active, and_(active.c.day > days.c.d - 30, active.c.day <= days.c.d))
        .group_by(days.c.d)
    )
    return {row.d: (row.dau, row.wau, row.mau) for row in session.execute(stmt)}


def _from_rollup(
    period: Period, zone_id: int, first: int, last: int
) -> dict[int, tuple[int, int, int]]:
    counts = activity_counts.day_counts(zone_id=zone_id, first=first, last=last)
    if period.include_internal:
        return counts
    # The counters hold every user: take the internal users' own counts away.
    internal_days = activity_counts.internal_days(zone_id=zone_id, first=first - 29, last=last)
    internal = _window_counts(db.session, internal_days, first, last)
    result = {}
    for day, (dau, wau, mau) in counts.items():
        less_dau, less_wau, less_mau = internal.get(day, (0, 0, 0))
        result[day] = (dau - less_dau, wau - less_wau, mau - less_mau)
    return result
