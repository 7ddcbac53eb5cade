"""Trends: total events and unique users per local bucket, per event type."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, select

from app.models import AnalyticsEvent
from app.services.insights.params import Period, day_number
from app.services.insights.reader import reader, reads_primary
from app.services.insights.rollups import activity as activity_rollup
from app.services.insights.rollups import activity_counts
from app.services.insights.sql import bucket_key, event_user_filter, json_text

TOP_VALUES = 25
E = AnalyticsEvent


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


def _scope(period: Period, event_types: list[str]) -> list[Any]:
    return [
        E.event_type.in_(event_types),
        E.occurred_at >= period.utc_start,
        E.occurred_at < period.utc_end,
        event_user_filter(period, E.user_id),
    ]


def top_values(*, period: Period, event_types: list[str], key: str) -> list[str]:
    """The TOP_VALUES most frequent values of event_data[key] in the period."""
    values = (
        select(json_text(E.event_data, key).label("value"))
        .where(*_scope(period, event_types))
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
    period: Period, event_types: list[str], key: str | None, top: list[str]
) -> list[TrendSeries]:
    # Bucket and value are computed in a subquery and grouped outside it: PostgreSQL
    # would not match GROUP BY expressions whose parameters are bound separately.
    columns: list[Any] = [
        E.user_id,
        E.event_type,
        bucket_key(E.occurred_at, period).label("bucket"),
    ]
    if key is not None:
        raw = json_text(E.event_data, key)
        columns.append(case((raw.in_(top), raw), else_=None).label("value"))
        columns.append(case((raw.is_(None), 0), (raw.in_(top), 0), else_=1).label("other"))
    rows = select(*columns).where(*_scope(period, event_types)).subquery()
    keys = [c for c in rows.c if c.name != "user_id"]
    stmt = select(
        *keys,
        func.count().label("events"),
        func.count(func.distinct(rows.c.user_id)).label("users"),
    ).group_by(*keys)
    cells: dict[tuple[str, str | None, bool], dict[int, tuple[int, int]]] = defaultdict(dict)
    for row in reader().execute(stmt):
        name = (
            (row.event_type, row.value, bool(row.other)) if key else (row.event_type, None, False)
        )
        cells[name][row.bucket] = (row.events, row.users)
    if key is None:
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
    compare_previous: bool = False,
    rollup: bool = True,
) -> TrendsResult:
    """The report; daily buckets without a breakdown come from the zone's activity rollup
    (unless `rollup` is False or reports read a replica), the rest from raw events."""
    counts = None
    if rollup and period.interval == "day" and breakdown is None and reads_primary():
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
        return _series(of, event_types, breakdown, top)

    top = top_values(period=period, event_types=event_types, key=breakdown) if breakdown else []
    return TrendsResult(
        period=period,
        event_types=event_types,
        breakdown=breakdown,
        series=series(period),
        previous=series(period.previous()) if compare_previous else None,
    )
