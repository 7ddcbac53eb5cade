"""Retention: first-time cohorts of a start event, and who came back per period.

A user's cohort is the local day (or week) of their first-ever start event; cohorts
whose first day falls in the period are reported. Period p of a cohort counts the
users with a return event p days (weeks) after their cohort's; "on_or_after" counts
those who returned in period p or any later one. Period 0 is the cohort itself.
Cells of periods that have not begun yet (today in tz) are null.

Where the zone's local date never goes backwards over the days involved (every zone in
this century: see event_spans.local_date_monotone), a user's first local day is the local
day of their first event, so cohorts come from user_event_spans (kept by an id watermark;
raw events, grouped per user, on a read replica) and so does the furthest period reached
(from the last return event); only the return events of the cohorts' periods are read, over
their time range, in one statement. Elsewhere every event is grouped by its local day.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, literal_column, select, union_all

from app import clock
from app.models import AnalyticsEvent, UserEventSpan
from app.services.insights.params import Period, day_number, from_day_number, local_midnight
from app.services.insights.reader import reader, reads_primary
from app.services.insights.rollups import event_spans
from app.services.insights.sql import day_key, user_filter, week_of
from app.services.insights.sqlite_functions import WEEK_OFFSETS

E = AnalyticsEvent
S = UserEventSpan
# (sizes per cohort, users per (cohort, period) with a return, users per (cohort, furthest
# period with a return)).
Counts = tuple[dict[int, int], dict[tuple[int, int], int], dict[int, dict[int, int]]]


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
    *,
    period: Period,
    start_event: str,
    return_event: str,
    unit: str = "day",
    periods: int = 7,
    rollup: bool = True,
) -> RetentionResult:
    """The report; cohorts from user_event_spans unless `rollup` is False or reports read a
    replica (then from raw events)."""
    step = 7 if unit == "week" else 1
    query = _Query(period, start_event, return_event, step, periods)
    today = day_number(clock.today_in(period.tz))
    horizon = max(today + 1, query.unit_of(day_number(period.end_date)) + (periods + 1) * step)
    if event_spans.local_date_monotone(
        period.tz,
        from_day_number(query.unit_of(day_number(period.start_date))),
        from_day_number(horizon),
    ):
        spans = rollup and reads_primary() and event_spans.refresh()
        sizes, on, reached = query.counts(spans=spans)
    else:
        sizes, on, reached = query.scan_counts()

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


class _Query:
    def __init__(
        self, period: Period, start_event: str, return_event: str, step: int, periods: int
    ) -> None:
        self.period, self.step, self.periods = period, step, periods
        self.start_event, self.return_event = start_event, return_event

    def unit_of(self, day: Any) -> Any:
        """The cohort key of a day key (its week's first day for weeks): SQL or int."""
        return week_of(day, self.period.week_start) if self.step == 7 else day

    def local_unit(self, column: Any) -> ColumnElement[int]:
        return self.unit_of(day_key(column, self.period.tz))

    def counts(self, *, spans: bool) -> Counts:
        """One statement; valid only where the local date is monotone (see run)."""
        period, step = self.period, self.step
        if spans:
            firsts = select(S.user_id, S.first_at.label("t")).where(
                S.event_type == self.start_event,
                S.first_at >= period.utc_start,
                S.first_at < period.utc_end,
                user_filter(period, S.user_id),
            )
        else:
            first_at = func.min(E.occurred_at)
            firsts = (
                select(E.user_id, first_at.label("t"))
                .where(E.event_type == self.start_event, user_filter(period, E.user_id))
                .group_by(E.user_id)
                .having(first_at >= period.utc_start, first_at < period.utc_end)
            )
        first = firsts.subquery("firsts")
        # Grouped by user (one row each already): PostgreSQL then converts each first time
        # to its zone once, and knows user_id is unique when it plans the joins below.
        cohorts = (
            select(
                first.c.user_id,
                func.min(first.c.t).label("first_at"),
                self.local_unit(func.min(first.c.t)).label("cohort"),
            )
            .group_by(first.c.user_id)
            .subquery("cohorts")
        )
        members = select(cohorts.c.user_id)
        if spans:
            lasts = select(S.user_id, S.last_at.label("t")).where(
                S.event_type == self.return_event, S.user_id.in_(members)
            )
        else:
            lasts = (
                select(E.user_id, func.max(E.occurred_at).label("t"))
                .where(E.event_type == self.return_event, E.user_id.in_(members))
                .group_by(E.user_id)
            )
        last = lasts.subquery("lasts")
        furthest = (
            select(cohorts.c.cohort, self.local_unit(last.c.t).label("unit"))
            .join(last, last.c.user_id == cohorts.c.user_id)
            .subquery("furthest")
        )
        reached = (
            select(furthest.c.cohort, ((furthest.c.unit - furthest.c.cohort) // step).label("p"))
            .where(furthest.c.unit > furthest.c.cohort)
            .subquery("reached")
        )

        # The return events that can fall in some cohort's periods 1..n: a time range, and
        # for each member, after their first event. Each event's period is computed once,
        # in the DISTINCT; the periods outside 1..n are grouped too and dropped here below
        # (a filter on them would be pushed down and convert every event's time again).
        low = self.unit_of(day_number(period.start_date)) + step
        high = self.unit_of(day_number(period.end_date)) + (self.periods + 1) * step
        offsets = (
            select(
                cohorts.c.user_id,
                cohorts.c.cohort,
                ((self.local_unit(E.occurred_at) - cohorts.c.cohort) // step).label("p"),
            )
            .join(E, E.user_id == cohorts.c.user_id)
            .where(
                E.event_type == self.return_event,
                E.occurred_at >= local_midnight(from_day_number(low), period.zone),
                E.occurred_at < local_midnight(from_day_number(high), period.zone),
                E.occurred_at > cohorts.c.first_at,
            )
            .distinct()
            .subquery("offsets")
        )
        # One result: (0, cohort, 0, size), (1, cohort, p, on), (2, cohort, p, reached).
        size, on_p, reach = (literal_column(str(k)).label("kind") for k in range(3))
        statement = union_all(
            select(size, cohorts.c.cohort, literal_column("0"), func.count()).group_by(
                cohorts.c.cohort
            ),
            select(on_p, offsets.c.cohort, offsets.c.p, func.count()).group_by(
                offsets.c.cohort, offsets.c.p
            ),
            select(reach, reached.c.cohort, reached.c.p, func.count()).group_by(
                reached.c.cohort, reached.c.p
            ),
        )
        sizes: dict[int, int] = {}
        on: dict[tuple[int, int], int] = {}
        reached_by: dict[int, dict[int, int]] = defaultdict(dict)
        for which, cohort, p, n in reader().execute(statement):
            if which == 0:
                sizes[cohort] = n
            elif which == 1:
                if 1 <= p <= self.periods:
                    on[(cohort, p)] = n
            else:
                reached_by[cohort][p] = n
        return sizes, on, reached_by

    def scan_counts(self) -> Counts:
        """Every event grouped by its local day: right in any zone."""
        period, step, tz = self.period, self.step, self.period.tz
        first_day, last_day = day_number(period.start_date), day_number(period.end_date)
        firsts = (
            select(E.user_id, func.min(day_key(E.occurred_at, tz)).label("day"))
            .where(E.event_type == self.start_event, user_filter(period, E.user_id))
            .group_by(E.user_id)
            .subquery("firsts")
        )
        cohorts = (
            select(firsts.c.user_id, self.unit_of(firsts.c.day).label("cohort"))
            .where(firsts.c.day >= first_day, firsts.c.day <= last_day)
            .subquery("cohorts")
        )
        sizes = dict(
            reader()
            .execute(select(cohorts.c.cohort, func.count()).group_by(cohorts.c.cohort))
            .all()
        )
        returns = (
            select(
                cohorts.c.user_id, cohorts.c.cohort, self.local_unit(E.occurred_at).label("unit")
            )
            .join(E, E.user_id == cohorts.c.user_id)
            .where(E.event_type == self.return_event)
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
                .where(offsets.c.p <= self.periods)
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
        return sizes, on, reached
