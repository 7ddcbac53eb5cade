"""Trends: total events and unique persons (insights/persons.py; `users` in the results)
per local bucket, per event type."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, select

from app.models import AnalyticsEvent
from app.services.analytics_store import reading as store_reading
from app.services.analytics_store.reports import trends as store_trends
from app.services.insights import persons
from app.services.insights.context import IDENTIFIED, NO_FILTER, ContextFilter, breakdown_value
from app.services.insights.params import Period, day_number, invalid
from app.services.insights.reader import reader, reads_primary
from app.services.insights.rollups import activity as activity_rollup
from app.services.insights.rollups import activity_counts
from app.services.insights.sql import bucket_key, event_user_filter, json_text

TOP_VALUES = 25
E = AnalyticsEvent
# Context columns of analytics_events a trend can be broken down by (breakdown_property),
# and identified (persons with a user, or anonymous: insights/context.py).
CONTEXT_PROPERTIES = (
    "platform", "os_name", "os_version", "app_version", "app_build", "device_model", "locale",
    "browser_name", IDENTIFIED,
)


@dataclass(frozen=True)
class TrendPoint:
    start: str
    partial: bool
    events: int
    users: int


@dataclass(frozen=True)
class TrendSeries:
    event_type: str
    value: str | None  # the breakdown value; None without breakdown or when the key is absent
    other: bool  # the values beyond the top 25, together
    points: list[TrendPoint]

    @property
    def total_events(self) -> int:
        return sum(p.events for p in self.points)


@dataclass(frozen=True)
class TrendsResult:
    period: Period
    event_types: list[str]
    breakdown: str | None
    series: list[TrendSeries]
    previous: list[TrendSeries] | None = field(default=None)
    breakdown_property: str | None = None
    filters: dict[str, Any] = field(default_factory=dict)

    def csv_rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = [
            ["period", "event_type", "value", "bucket", "partial", "events", "users"]
        ]
        for name, group in (("current", self.series), ("previous", self.previous or [])):
            for s in group:
                value = "other" if s.other else s.value
                for p in s.points:
                    rows.append([name, s.event_type, value, p.start, p.partial, p.events, p.users])
        return rows


@dataclass(frozen=True)
class Breakdown:
    """What a series is split by: an event_data key, or a context column."""

    key: str | None = None
    prop: str | None = None

    def value(self, E: Any = AnalyticsEvent) -> Any:
        """The value as text (NULL when absent); E: as persons.Persons.events() gives them."""
        if self.prop is not None:
            return breakdown_value(E, self.prop, persons.is_identified(E))
        assert self.key is not None
        return json_text(E.event_data, self.key)


def _scope(period: Period, event_types: list[str], E: Any) -> list[Any]:
    """The period's events of these types (E: persons.Persons.events(), which applies the
    context filter)."""
    return [
        E.event_type.in_(event_types),
        E.occurred_at >= period.utc_start,
        E.occurred_at < period.utc_end,
        event_user_filter(period, E.user_id),
    ]


def top_values(
    *,
    period: Period,
    event_types: list[str],
    by: Breakdown,
    events: Any = AnalyticsEvent,
) -> list[str]:
    """The TOP_VALUES most frequent values of the breakdown in the period (`events`: as
    persons.Persons.events() gives them)."""
    values = (
        select(by.value(events).label("value"))
        .where(*_scope(period, event_types, events))
        .subquery()
    )
    stmt = (
        select(values.c.value)
        .where(values.c.value.is_not(None))
        .group_by(values.c.value)
        .order_by(func.count().desc(), values.c.value)
        .limit(TOP_VALUES)
    )
    return list(reader().scalars(stmt))


def _series(
    period: Period,
    event_types: list[str],
    by: Breakdown | None,
    top: list[str],
    E: Any,
) -> list[TrendSeries]:
    # Bucket and value are computed in a subquery and grouped outside it: PostgreSQL
    # would not match GROUP BY expressions whose parameters are bound separately.
    columns: list[Any] = [
        E.user_id,
        E.event_type,
        bucket_key(E.occurred_at, period).label("bucket"),
    ]
    if by is not None:
        raw = by.value(E)
        columns.append(case((raw.in_(top), raw), else_=None).label("value"))
        columns.append(case((raw.is_(None), 0), (raw.in_(top), 0), else_=1).label("other"))
    rows = select(*columns).where(*_scope(period, event_types, E)).subquery()
    keys = [c for c in rows.c if c.name != "user_id"]
    stmt = select(
        *keys,
        func.count().label("events"),
        func.count(func.distinct(rows.c.user_id)).label("users"),
    ).group_by(*keys)
    return _build_series(period, event_types, by, reader().execute(stmt))


def _build_series(
    period: Period, event_types: list[str], by: Breakdown | None, rows: Iterable[Any]
) -> list[TrendSeries]:
    """Series from rows of (event_type, bucket, value, other, events, users)."""
    cells: dict[tuple[str, str | None, bool], dict[int, tuple[int, int]]] = defaultdict(dict)
    for row in rows:
        name = (
            (row.event_type, row.value, bool(row.other)) if by else (row.event_type, None, False)
        )
        cells[name][row.bucket] = (row.events, row.users)
    if by is None:
        for event_type in event_types:
            cells.setdefault((event_type, None, False), {})
    buckets = period.buckets()
    order = {t: i for i, t in enumerate(event_types)}
    names = sorted(
        cells,
        key=lambda n: (
            order[n[0]],
            n[2],
            n[1] is None,
            -sum(e for e, _ in cells[n].values()),
            n[1] or "",
        ),
    )
    return [
        TrendSeries(
            event_type=name[0],
            value=name[1],
            other=name[2],
            points=[
                TrendPoint(b.start, b.partial, *cells[name].get(b.key, (0, 0))) for b in buckets
            ],
        )
        for name in names
    ]


def _series_from_rollup(
    period: Period, event_types: list[str], counts: dict[tuple[str, int], tuple[int, int]]
) -> list[TrendSeries]:
    buckets = period.buckets()
    return [
        TrendSeries(
            event_type=event_type,
            value=None,
            other=False,
            points=[
                TrendPoint(b.start, b.partial, *counts.get((event_type, b.key), (0, 0)))
                for b in buckets
            ],
        )
        for event_type in event_types
    ]


def run(
    *,
    period: Period,
    event_types: list[str],
    breakdown: str | None = None,
    breakdown_property: str | None = None,
    context: ContextFilter = NO_FILTER,
    compare_previous: bool = False,
    rollup: bool = True,
) -> TrendsResult:
    """The report; daily buckets without a breakdown or filter come from the zone's
    activity rollup (unless `rollup` is False or reports read a replica), the rest from raw
    events. `breakdown` is an event_data key, `breakdown_property` a context column or
    identified (one of them); only the events `context` lets through count."""
    by = _breakdown(breakdown, breakdown_property)
    # ClickHouse serves every trend but a breakdown by an event_data key and the
    # identified filter or breakdown (the app database answers those).
    served = (
        breakdown is None
        and breakdown_property != IDENTIFIED
        and context.identified is None
        and all(value is not None for _, value in context.columns)
    )
    store = store_reading.for_reports() if served else None
    if store is not None:
        return _from_store(store, period, event_types, by, context, compare_previous)
    counts = None
    who = persons.persons(context)
    daily = period.interval == "day" and by is None and not context
    if rollup and daily and reads_primary():
        zone_id = activity_rollup.refresh(tz=period.tz)
        if zone_id is not None:
            earliest = period.previous() if compare_previous else period
            counts = activity_counts.type_counts(
                zone_id=zone_id,
                event_types=event_types,
                first=day_number(earliest.start_date),
                last=day_number(period.end_date),
                include_internal=period.include_internal,
            )

    def series(of: Period) -> list[TrendSeries]:
        if counts is not None:
            return _series_from_rollup(of, event_types, counts)
        return _series(of, event_types, by, top, who.events())

    top: list[str] = []
    if by is not None:
        top = top_values(period=period, event_types=event_types, by=by, events=who.events())
    return TrendsResult(
        period=period,
        event_types=event_types,
        breakdown=breakdown,
        series=series(period),
        previous=series(period.previous()) if compare_previous else None,
        breakdown_property=breakdown_property,
        filters=context.as_dict(),
    )


def _from_store(
    store: store_reading.ReportClient,
    period: Period,
    event_types: list[str],
    by: Breakdown | None,
    context: ContextFilter,
    compare_previous: bool,
) -> TrendsResult:
    prop = by.prop if by is not None else None
    filters: dict[str, str] = {name: value for name, value in context.columns if value}
    top: list[str] = []
    if prop is not None:
        events = store_trends.scope(store, period, event_types, filters)
        top = store_trends.top_values(store, events, prop, TOP_VALUES)

    def series(of: Period) -> list[TrendSeries]:
        events = store_trends.scope(store, of, event_types, filters)
        return _build_series(of, event_types, by, store_trends.cells(store, of, events, prop, top))

    return TrendsResult(
        period=period,
        event_types=event_types,
        breakdown=None,
        series=series(period),
        previous=series(period.previous()) if compare_previous else None,
        breakdown_property=prop,
        filters=context.as_dict(),
    )


def _breakdown(key: str | None, prop: str | None) -> Breakdown | None:
    if key is not None and prop is not None:
        raise invalid("breakdown_property", "Give breakdown or breakdown_property, not both.")
    if prop is not None and prop not in CONTEXT_PROPERTIES:
        raise invalid("breakdown_property", f"Must be one of {', '.join(CONTEXT_PROPERTIES)}.")
    if key is None and prop is None:
        return None
    return Breakdown(key=key, prop=prop)
