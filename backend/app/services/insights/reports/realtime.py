"""Realtime: active persons (insights/persons.py) in the last 5 minutes and events per
minute over the last 30."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, cast, func, select

from app import clock
from app.services.analytics_store import reading as store_reading
from app.services.analytics_store.reports import realtime as store_realtime
from app.services.insights import breakdown, persons
from app.services.insights.context import NO_FILTER, ContextFilter
from app.services.insights.params import Period
from app.services.insights.reader import reader
from app.services.insights.sql import epoch, event_user_filter

MINUTES = 30


@dataclass(frozen=True)
class MinutePoint:
    start: datetime
    partial: bool
    events: int


@dataclass(frozen=True)
class RealtimeResult:
    now: datetime
    active_users_5m: int
    minutes: list[MinutePoint]

    def csv_rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = [["minute", "partial", "events"]]
        rows += [[m.start.isoformat(), m.partial, m.events] for m in self.minutes]
        return rows


def window() -> tuple[datetime, datetime]:
    """The first minute's start and now."""
    now = clock.now().astimezone(UTC)
    return now.replace(second=0, microsecond=0) - timedelta(minutes=MINUTES - 1), now


def scope_of(now: datetime, *, include_internal: bool) -> Period:
    """The period whose include_internal the report's user filter reads."""
    return Period("UTC", now.date(), now.date(), include_internal=include_internal)


def sliced(
    *, include_internal: bool, context: ContextFilter, breakdown_property: str | None
) -> breakdown.Sliced[RealtimeResult]:
    """The report filtered, and per breakdown value (breakdown.run): the values of the
    events of the last 30 minutes, now included."""
    start, now = window()
    return breakdown.run(
        lambda c: run(include_internal=include_internal, context=c),
        context=context,
        breakdown_property=breakdown_property,
        period=scope_of(now, include_internal=include_internal),
        start=start,
        end=now + timedelta(microseconds=1),
    )


def run(*, include_internal: bool = False, context: ContextFilter = NO_FILTER) -> RealtimeResult:
    start, now = window()
    scope = scope_of(now, include_internal=include_internal)
    # ClickHouse does not filter on context yet: a filtered report reads the app database.
    store = store_reading.for_reports() if not context else None
    if store is not None:
        events = store_realtime.scope(store, scope, start, now)
        active = store_realtime.active_users(store, events, now - timedelta(minutes=5))
        counts = store_realtime.minute_counts(store, events)
        return RealtimeResult(now, active, _points(start, counts))
    E = persons.persons(context).events()
    active = reader().scalar(
        select(func.count(func.distinct(E.user_id))).where(
            E.occurred_at > now - timedelta(minutes=5),
            E.occurred_at <= now,
            event_user_filter(scope, E.user_id),
        )
    )
    offset = cast(func.floor((epoch(E.occurred_at) - start.timestamp()) / 60), Integer)
    minutes = (
        select(offset.label("minute"))
        .where(E.occurred_at >= start, E.occurred_at <= now, event_user_filter(scope, E.user_id))
        .subquery("minutes")
    )
    counts = dict(
        reader().execute(select(minutes.c.minute, func.count()).group_by(minutes.c.minute)).all()
    )
    return RealtimeResult(now, active or 0, _points(start, counts))


def _points(start: datetime, counts: dict[int, int]) -> list[MinutePoint]:
    return [
        MinutePoint(start + timedelta(minutes=i), i == MINUTES - 1, counts.get(i, 0))
        for i in range(MINUTES)
    ]
