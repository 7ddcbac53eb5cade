"""Active users per local day: DAU, WAU (rolling 7 days), MAU (rolling 30), stickiness."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import Integer, and_, case, func, literal, select

from app.models import AnalyticsEvent
from app.services import clock
from app.services.insights.params import Period, day_number, from_day_number
from app.services.insights.reader import reader
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


def run(*, period: Period) -> ActiveUsersResult:
    first, last = day_number(period.start_date), day_number(period.end_date)
    # A user is active on a local day when they have any event on it.
    window = replace(period, start_date=period.start_date - timedelta(days=29))
    active = (
        select(E.user_id, day_key(E.occurred_at, period.tz).label("day"))
        .where(
            E.occurred_at >= window.utc_start,
            E.occurred_at < window.utc_end,
            user_filter(period, E.user_id),
        )
        .distinct()
        .subquery("active")
    )
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
    found = {row.d: (row.dau, row.wau, row.mau) for row in reader().execute(stmt)}
    today = day_number(clock.today_in(period.tz))
    return ActiveUsersResult(
        period=period,
        days=[
            ActiveUsersDay(from_day_number(d).isoformat(), d >= today, *found.get(d, (0, 0, 0)))
            for d in range(first, last + 1)
        ],
    )
