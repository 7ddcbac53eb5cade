"""Active users per local day, week or month: DAU, WAU (rolling 7 days), MAU (rolling 30),
stickiness, and whether the rolling windows were still filling (docs/REPORTS.md).

interval=day: one point per local day. interval=week (starting on week_start) or month:
one point per local week or month, covering its days within the range; `dau` is the users
active on any of those days, WAU and MAU are those of its last day within the range, and
stickiness is the mean DAU of those days over that MAU. A window is complete on day d when
it starts on or after the data's first day (the local day of the earliest stored event).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, Subquery, and_, case, func, literal, select
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import AnalyticsEvent
from app.services.analytics_store import reading as store_reading
from app.services.analytics_store.reports import active_users as store_active
from app.services.insights import persons
from app.services.insights.context import NO_FILTER, ContextFilter
from app.services.insights.params import Period, day_number, from_day_number, invalid, zone
from app.services.insights.reader import reader, reads_primary
from app.services.insights.rollups import activity as activity_rollup
from app.services.insights.rollups import activity_counts
from app.services.insights.sql import bucket_key, day_key, event_user_filter

E = AnalyticsEvent
WAU_DAYS, MAU_DAYS = 7, 30
INTERVALS = ("day", "week", "month")


@dataclass(frozen=True)
class ActiveUsersDay:
    """One point: a local day, or a week or month (named by its first day)."""

    day: str
    partial: bool
    dau: int
    wau: int
    mau: int
    stickiness: float | None
    wau_complete: bool
    mau_complete: bool


@dataclass(frozen=True)
class ActiveUsersResult:
    period: Period
    data_start: str | None  # the local day of the earliest stored event
    days: list[ActiveUsersDay]

    def csv_rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = [
            ["day", "partial", "dau", "wau", "mau", "stickiness", "wau_complete", "mau_complete"]
        ]
        rows += [
            [d.day, d.partial, d.dau, d.wau, d.mau, d.stickiness, d.wau_complete, d.mau_complete]
            for d in self.days
        ]
        return rows


def run(
    *, period: Period, context: ContextFilter = NO_FILTER, rollup: bool = True
) -> ActiveUsersResult:
    """The report; daily counts from the zone's activity rollup unless `rollup` is False,
    reports read a replica, or `context` filters (the raw scan then). data_start stays the
    first day of all events, filtered or not."""
    if period.interval not in INTERVALS:
        raise invalid("interval", "Active users are counted per day, week or month.")
    first, last = day_number(period.start_date), day_number(period.end_date)
    # ClickHouse does not filter on context yet: a filtered report reads the app database.
    store = store_reading.for_reports() if not context else None
    if store is not None:
        events = store_active.scope(store, period)
        found = store_active.window_counts(store, events, first, last)
        moment = store_active.first_event_at(store)
        start = None if moment is None else day_number(moment.astimezone(period.zone).date())
        bucket_users = (
            None if period.interval == "day" else store_active.bucket_users(store, events, period)
        )
        return _result(period, found, start, bucket_users)
    found = None
    who = persons.persons(context)
    if rollup and reads_primary() and not context:
        zone_id = activity_rollup.refresh(tz=period.tz)
        if zone_id is not None:
            found = _from_rollup(period, zone_id, first, last)
    if found is None:
        found = _window_counts(reader(), _raw_active(period, who.events()), first, last)
    start = first_event_day(period.tz)
    bucket_users = None if period.interval == "day" else _bucket_users(period, who.events())
    return _result(period, found, start, bucket_users)


def _result(
    period: Period,
    found: dict[int, tuple[int, int, int]],
    start: int | None,
    bucket_users: dict[int, int] | None,
) -> ActiveUsersResult:
    """The points from daily (DAU, WAU, MAU), the first event's day and, for weeks or
    months, the distinct persons per bucket."""
    first, last = day_number(period.start_date), day_number(period.end_date)
    daily = {d: found.get(d, (0, 0, 0)) for d in range(first, last + 1)}
    points = []
    for bucket in period.buckets():
        lo, hi = _days_of(period.interval, bucket.key)
        lo, hi = max(lo, first), min(hi, last)
        dau, wau, mau = daily[hi]
        mean_dau = sum(daily[d][0] for d in range(lo, hi + 1)) / (hi - lo + 1)
        if bucket_users is not None:
            dau = bucket_users.get(bucket.key, 0)
        points.append(
            ActiveUsersDay(
                day=bucket.start,
                partial=bucket.partial,
                dau=dau,
                wau=wau,
                mau=mau,
                stickiness=round(mean_dau / mau, 4) if mau else None,
                wau_complete=_complete(hi, WAU_DAYS, start),
                mau_complete=_complete(hi, MAU_DAYS, start),
            )
        )
    data_start = None if start is None else from_day_number(start).isoformat()
    return ActiveUsersResult(period=period, data_start=data_start, days=points)


def _complete(day: int, width: int, start: int | None) -> bool:
    """Whether the window of `width` days ending on `day` lies within the recorded days."""
    return start is not None and day - width + 1 >= start


def _days_of(interval: str, key: int) -> tuple[int, int]:
    """The first and last day numbers of a bucket (see params.Period.label)."""
    if interval == "week":
        return key, key + 6
    if interval == "month":
        year, month = 1970 + key // 12, key % 12 + 1
        following = date(year + month // 12, month % 12 + 1, 1)
        return day_number(date(year, month, 1)), day_number(following) - 1
    return key, key


def first_event_at() -> datetime | None:
    """The earliest occurred_at of any stored event: one index probe per event type (a
    loose index scan over idx_events_type_occurred_user), not a scan of the table."""
    types = select(func.min(E.event_type).label("t")).cte("event_types", recursive=True)
    following = select(func.min(E.event_type)).where(E.event_type > types.c.t)
    types = types.union_all(
        select(following.scalar_subquery().label("t")).where(types.c.t.is_not(None))
    )
    earliest = (
        select(func.min(E.occurred_at)).where(E.event_type == types.c.t).scalar_subquery()
    )
    firsts = select(earliest.label("at")).select_from(types).subquery("firsts")
    at = func.min(firsts.c.at, type_=E.occurred_at.type)
    return reader().scalar(select(at))


def first_event_day(tz: str) -> int | None:
    """The local day (in tz) of the earliest stored event, as a day number."""
    moment = first_event_at()
    if moment is None:
        return None
    return day_number(moment.astimezone(zone(tz)).date())


def _bucket_users(period: Period, E: Any) -> dict[int, int]:
    """Distinct persons per week or month, over the range's events (raw rows, as trends at
    those intervals); E: the events as persons.Persons.events() gives them."""
    pairs = (
        select(E.user_id, bucket_key(E.occurred_at, period).label("bucket"))
        .where(
            E.occurred_at >= period.utc_start,
            E.occurred_at < period.utc_end,
            event_user_filter(period, E.user_id),
        )
        .distinct()
        .subquery("pairs")
    )
    stmt = select(pairs.c.bucket, func.count()).group_by(pairs.c.bucket)
    return {int(key): int(users) for key, users in reader().execute(stmt)}


def _raw_active(period: Period, E: Any) -> Subquery:
    """(user_id, day) of every person with an event on a local day, from raw events (E: as
    persons.Persons.events() gives them)."""
    window = replace(period, start_date=period.start_date - timedelta(days=MAU_DAYS - 1))
    return (
        select(E.user_id, day_key(E.occurred_at, period.tz).label("day"))
        .where(
            E.occurred_at >= window.utc_start,
            E.occurred_at < window.utc_end,
            event_user_filter(period, E.user_id),
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
            func.count(func.distinct(case((active.c.day > days.c.d - WAU_DAYS, user)))).label(
                "wau"
            ),
            func.count(func.distinct(user)).label("mau"),
        )
        .join(active, and_(active.c.day > days.c.d - MAU_DAYS, active.c.day <= days.c.d))
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
    internal_days = activity_counts.internal_days(
        zone_id=zone_id, first=first - MAU_DAYS + 1, last=last
    )
    internal = _window_counts(db.session, internal_days, first, last)
    result = {}
    for day, (dau, wau, mau) in counts.items():
        less_dau, less_wau, less_mau = internal.get(day, (0, 0, 0))
        result[day] = (dau - less_dau, wau - less_wau, mau - less_mau)
    return result
