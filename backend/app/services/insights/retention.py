"""Retention: first-time cohorts of a start event, and who came back per period.

A user's cohort is the local day (or week) of their first-ever start event; cohorts
whose first day falls in the period are reported. Period p of a cohort counts the
users with a return event p days (weeks) after their cohort's; "on_or_after" counts
those who returned in period p or any later one. Period 0 is the cohort itself.
Cells of periods that have not begun yet (today in tz) are null.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from app.models import AnalyticsEvent
from app.services import clock
from app.services.insights.params import Period, day_number, from_day_number
from app.services.insights.reader import reader
from app.services.insights.sql import day_key, user_filter, week_of
from app.sqlite_functions import WEEK_OFFSETS

E = AnalyticsEvent


@dataclass(frozen=True)
class RetentionCell:
    period: int
    on: int | None
    on_or_after: int | None


@dataclass(frozen=True)
class RetentionCohort:
    start: str
    size: int
    periods: list[RetentionCell]


@dataclass(frozen=True)
class RetentionResult:
    period: Period
    start_event: str
    return_event: str
    unit: str
    periods: int
    cohorts: list[RetentionCohort]

    def csv_rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = [["cohort", "size", "period", "on", "on_or_after"]]
        for c in self.cohorts:
            rows += [[c.start, c.size, p.period, p.on, p.on_or_after] for p in c.periods]
        return rows


def run(
    *, period: Period, start_event: str, return_event: str, unit: str = "day", periods: int = 7
) -> RetentionResult:
    tz, step = period.tz, 7 if unit == "week" else 1
    first_day, last_day = day_number(period.start_date), day_number(period.end_date)

    def unit_of(day: Any) -> Any:
        return week_of(day, period.week_start) if unit == "week" else day

    firsts = (
        select(E.user_id, func.min(day_key(E.occurred_at, tz)).label("day"))
        .where(E.event_type == start_event, user_filter(period, E.user_id))
        .group_by(E.user_id)
        .subquery("firsts")
    )
    cohorts = (
        select(firsts.c.user_id, unit_of(firsts.c.day).label("cohort"))
        .where(firsts.c.day >= first_day, firsts.c.day <= last_day)
        .subquery("cohorts")
    )
    sizes = dict(
        reader().execute(select(cohorts.c.cohort, func.count()).group_by(cohorts.c.cohort)).all()
    )
    returns = (
        select(
            cohorts.c.user_id, cohorts.c.cohort, unit_of(day_key(E.occurred_at, tz)).label("unit")
        )
        .join(E, E.user_id == cohorts.c.user_id)
        .where(E.event_type == return_event)
        .subquery("returns")
    )
    offsets = (
        select(
            returns.c.user_id,
            returns.c.cohort,
            ((returns.c.unit - returns.c.cohort) // step).label("p"),
        )
        .where(returns.c.unit > returns.c.cohort)
        .distinct()
        .subquery("offsets")
    )
    on: dict[tuple[int, int], int] = dict(
        ((c, p), n)
        for c, p, n in reader().execute(
            select(offsets.c.cohort, offsets.c.p, func.count())
            .where(offsets.c.p <= periods)
            .group_by(offsets.c.cohort, offsets.c.p)
        )
    )
    furthest = (
        select(offsets.c.cohort, func.max(offsets.c.p).label("p"))
        .group_by(offsets.c.user_id, offsets.c.cohort)
        .subquery("furthest")
    )
    reached: dict[int, dict[int, int]] = defaultdict(dict)
    for c, p, n in reader().execute(
        select(furthest.c.cohort, furthest.c.p, func.count()).group_by(
            furthest.c.cohort, furthest.c.p
        )
    ):
        reached[c][p] = n

    today = day_number(clock.today_in(tz))
    current = today - (today + WEEK_OFFSETS[period.week_start]) % 7 if step == 7 else today
    result = []
    for cohort in sorted(sizes):
        size = sizes[cohort]
        cells = [RetentionCell(0, size, size)]
        for p in range(1, periods + 1):
            if cohort + p * step > current:
                cells.append(RetentionCell(p, None, None))
                continue
            after = sum(n for q, n in reached[cohort].items() if q >= p)
            cells.append(RetentionCell(p, on.get((cohort, p), 0), after))
        result.append(RetentionCohort(from_day_number(cohort).isoformat(), size, cells))
    return RetentionResult(period, start_event, return_event, unit, periods, result)
