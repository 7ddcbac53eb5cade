"""Retention: cohorts of a start event, and who came back per period; "users" are persons
(insights/persons.py).

Cohorts (cohort_type): first_time (default), the local day (or week) of a user's
first-ever start event, for users whose first day falls in the range; recurring, every
day (week) of the range in which a user did the start event (a user can be in several).
Period p of a cohort counts its users with a return event in the day (week) p after the
cohort's; "on_or_after" those with one in some period p..n. Period 0 is the cohort
itself. Only returns up to `to` count: a period that begins after `to`, or after today in
tz, is null.

Where the zone's local date never goes backwards over the days involved (every zone in
this century: see event_spans.local_date_monotone), a user's first local day is the local
day of their first event, so first-time cohorts come from user_event_spans (kept by an id
watermark; raw events, grouped per user, on a read replica); recurring cohorts from the
start events of the range (an index-only scan); then only the return events from the
first cohort's period 1 to the end of the range are read, in one statement. Elsewhere
every event is grouped by its local day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal_column, select, union_all

from app import clock
from app.models import AnalyticsEvent, UserEventSpan
from app.services.analytics_store import reading as store_reading
from app.services.analytics_store.reports import retention as store_retention
from app.services.insights import persons
from app.services.insights.context import NO_FILTER, ContextFilter
from app.services.insights.params import (
    Period,
    day_number,
    from_day_number,
    invalid,
    local_midnight,
)
from app.services.insights.reader import reader, reads_primary
from app.services.insights.rollups import event_spans
from app.services.insights.sql import day_key, event_user_filter, week_of

E = AnalyticsEvent
S = UserEventSpan
# first_time: a user's cohort is the period of their first-ever start event (the default).
# recurring: a user is in the cohort of every period with a start event (PostHog's default).
COHORT_TYPES = ("first_time", "recurring")
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
    cohort_type: str
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
    cohort_type: str = "first_time",
    context: ContextFilter = NO_FILTER,
    rollup: bool = True,
) -> RetentionResult:
    """The report; first-time cohorts from user_event_spans unless `rollup` is False,
    reports read a replica or `context` filters (then from raw events: the filtered events
    only, so a first-time cohort is that of the first start event matching the filter)."""
    if cohort_type not in COHORT_TYPES:
        raise invalid("cohort_type", f"Must be one of {', '.join(COHORT_TYPES)}.")
    step = 7 if unit == "week" else 1
    recurring = cohort_type == "recurring"
    # ClickHouse does not filter on context yet: a filtered report reads the app database.
    store = store_reading.for_reports() if not context else None
    if store is not None:
        rows = store_retention.tally(
            store,
            period,
            start_event=start_event,
            return_event=return_event,
            step=step,
            periods=periods,
            recurring=recurring,
            first_day=day_number(period.start_date),
            last_day=day_number(period.end_date),
        )
        seen = min(day_number(clock.today_in(period.tz)), day_number(period.end_date))
        return _result(
            period, start_event, return_event, unit, periods, cohort_type, step, seen,
            _counts(rows),
        )
    who = persons.persons(context)
    query = _Query(
        period, start_event, return_event, step, periods, recurring=recurring, events=who.events()
    )
    last_day = day_number(period.end_date)
    # The last day the report sees: a period that begins after it is null, as is one that
    # has not begun by today in tz.
    seen = min(day_number(clock.today_in(period.tz)), last_day)
    first_unit = query.unit_of(day_number(period.start_date))
    if event_spans.local_date_monotone(
        period.tz, from_day_number(first_unit), from_day_number(max(last_day, first_unit + step))
    ):
        spans = (
            not recurring and rollup and not context and reads_primary()
            and event_spans.refresh()
        )
        sizes, on, reached = query.counts(spans=spans)
    else:
        sizes, on, reached = query.scan_counts()
    return _result(
        period, start_event, return_event, unit, periods, cohort_type, step, seen,
        (sizes, on, reached),
    )


def _result(
    period: Period,
    start_event: str,
    return_event: str,
    unit: str,
    periods: int,
    cohort_type: str,
    step: int,
    seen: int,
    counts: Counts,
) -> RetentionResult:
    sizes, on, reached = counts
    result = []
    for cohort in sorted(sizes):
        size = sizes[cohort]
        cells = [RetentionCell(0, size, size)]
        for p in range(1, periods + 1):
            if cohort + p * step > seen:
                cells.append(RetentionCell(p, None, None))
                continue
            after = sum(n for q, n in reached[cohort].items() if q >= p)
            cells.append(RetentionCell(p, on.get((cohort, p), 0), after))
        result.append(RetentionCohort(from_day_number(cohort).isoformat(), size, cells))
    return RetentionResult(period, start_event, return_event, unit, periods, cohort_type, result)


def _materialized(query: Select[Any], name: str) -> Any:
    return query.cte(name).prefix_with("MATERIALIZED", dialect="postgresql")


class _Query:
    def __init__(
        self,
        period: Period,
        start_event: str,
        return_event: str,
        step: int,
        periods: int,
        *,
        recurring: bool = False,
        events: Any = AnalyticsEvent,
    ) -> None:
        self.period, self.step, self.periods = period, step, periods
        self.events = events  # as persons.Persons.events() gives them: user_id, a person
        self.start_event, self.return_event = start_event, return_event
        self.recurring = recurring

    def unit_of(self, day: Any) -> Any:
        """The cohort key of a day key (its week's first day for weeks): SQL or int."""
        return week_of(day, self.period.week_start) if self.step == 7 else day

    def local_unit(self, column: Any) -> ColumnElement[int]:
        return self.unit_of(day_key(column, self.period.tz))

    def counts(self, *, spans: bool) -> Counts:
        """One statement over time ranges; valid only where the local date is monotone (see
        run). `spans`: first-time cohorts from user_event_spans."""
        period, step, E = self.period, self.step, self.events
        in_range = (period.utc_start, period.utc_end)
        if self.recurring:
            # Every (user, day or week) with a start event in the range: an index-only scan.
            cohorts = (
                select(E.user_id, self.local_unit(E.occurred_at).label("cohort"))
                .where(
                    E.event_type == self.start_event,
                    E.occurred_at >= in_range[0],
                    E.occurred_at < in_range[1],
                    event_user_filter(period, E.user_id),
                )
                .distinct()
            )
        else:
            if spans:
                firsts = select(S.user_id, S.first_at.label("t")).where(
                    S.event_type == self.start_event,
                    S.first_at >= in_range[0],
                    S.first_at < in_range[1],
                    event_user_filter(period, S.user_id),
                )
            else:
                first_at = func.min(E.occurred_at)
                firsts = (
                    select(E.user_id, first_at.label("t"))
                    .where(E.event_type == self.start_event, event_user_filter(period, E.user_id))
                    .group_by(E.user_id)
                    .having(first_at >= in_range[0], first_at < in_range[1])
                )
            first = firsts.subquery("firsts")
            # Grouped by user (one row each already): PostgreSQL then converts each first
            # time to its zone once, and knows user_id is unique when it plans the joins.
            cohorts = select(
                first.c.user_id, self.local_unit(func.min(first.c.t)).label("cohort")
            ).group_by(first.c.user_id)
        members = _materialized(cohorts, "cohorts")
        # The return events that can fall in some cohort's periods 1..n: from the first
        # cohort's period 1 to the end of the range (later returns are not counted).
        low = self.unit_of(day_number(period.start_date)) + step
        offsets = _materialized(
            select(
                members.c.user_id,
                members.c.cohort,
                ((self.local_unit(E.occurred_at) - members.c.cohort) // step).label("p"),
            )
            .join(E, E.user_id == members.c.user_id)
            .where(
                E.event_type == self.return_event,
                E.occurred_at >= local_midnight(from_day_number(low), period.zone),
                E.occurred_at < period.utc_end,
            )
            .distinct(),
            "offsets",
        )
        return self._tally(members, offsets)

    def scan_counts(self) -> Counts:
        """Every event grouped by its local day: right in any zone."""
        period, tz, E = self.period, self.period.tz, self.events
        first_day, last_day = day_number(period.start_date), day_number(period.end_date)
        if self.recurring:
            day = day_key(E.occurred_at, tz)
            cohorts = (
                select(E.user_id, self.unit_of(day).label("cohort"))
                .where(
                    E.event_type == self.start_event,
                    day >= first_day,
                    day <= last_day,
                    event_user_filter(period, E.user_id),
                )
                .distinct()
            )
        else:
            firsts = (
                select(E.user_id, func.min(day_key(E.occurred_at, tz)).label("day"))
                .where(E.event_type == self.start_event, event_user_filter(period, E.user_id))
                .group_by(E.user_id)
                .subquery("firsts")
            )
            cohorts = select(firsts.c.user_id, self.unit_of(firsts.c.day).label("cohort")).where(
                firsts.c.day >= first_day, firsts.c.day <= last_day
            )
        members = _materialized(cohorts, "cohorts")
        day = day_key(E.occurred_at, tz)
        offsets = _materialized(
            select(
                members.c.user_id,
                members.c.cohort,
                ((self.unit_of(day) - members.c.cohort) // self.step).label("p"),
            )
            .join(E, E.user_id == members.c.user_id)
            .where(E.event_type == self.return_event, day <= last_day)
            .distinct(),
            "offsets",
        )
        return self._tally(members, offsets)

    def _tally(self, members: Any, offsets: Any) -> Counts:
        """Sizes, users per (cohort, period 1..n) with a return, and users per (cohort,
        furthest such period), in one statement."""
        kept = select(offsets).where(offsets.c.p >= 1, offsets.c.p <= self.periods).subquery("kept")
        furthest = (
            select(kept.c.cohort, func.max(kept.c.p).label("p"))
            .group_by(kept.c.user_id, kept.c.cohort)
            .subquery("furthest")
        )
        # One result: (0, cohort, 0, size), (1, cohort, p, on), (2, cohort, p, reached).
        size, on_p, reach = (literal_column(str(k)).label("kind") for k in range(3))
        statement = union_all(
            select(size, members.c.cohort, literal_column("0"), func.count()).group_by(
                members.c.cohort
            ),
            select(on_p, kept.c.cohort, kept.c.p, func.count()).group_by(kept.c.cohort, kept.c.p),
            select(reach, furthest.c.cohort, furthest.c.p, func.count()).group_by(
                furthest.c.cohort, furthest.c.p
            ),
        )
        return _counts(reader().execute(statement))


def _counts(rows: Iterable[Any]) -> Counts:
    """Counts from (kind, cohort, period, users) rows: 0 sizes, 1 returned in period p,
    2 furthest period returned in."""
    sizes: dict[int, int] = {}
    on: dict[tuple[int, int], int] = {}
    reached: dict[int, dict[int, int]] = defaultdict(dict)
    for which, cohort, p, n in rows:
        if which == 0:
            sizes[cohort] = n
        elif which == 1:
            on[(cohort, p)] = n
        else:
            reached[cohort][p] = n
    return sizes, on, reached
