"""Sessions: runs of one person's events, per local bucket of the session's start.

A person is a user together with every anonymous id linked to it, or an unlinked
anonymous id alone. A session is the events of one person sharing a client session_id,
or, for events without one, a run whose gaps are all under the gap (SESSION_GAP_MINUTES).
All in SQL (window functions `lag` and a running `sum`, on both databases): events are
read from REACH before the range to REACH after it, so a session is seen whole when it
lasts under REACH (PostHog ends a session at 24 h); a longer one is cut at those edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Float, and_, case, cast, func, or_, select

from app.models import AnalyticsEvent, AnonymousIdentity
from app.services.insights.context import NO_FILTER, ContextFilter
from app.services.insights.params import Period
from app.services.insights.reader import reader
from app.services.insights.sql import bucket_key, epoch, percentile, user_filter

E = AnalyticsEvent
L = AnonymousIdentity
REACH = timedelta(hours=24)
# Epoch seconds are doubles (about 0.25 microsecond apart near 2026); stored times are
# whole microseconds, so half of one tells "a gap of exactly 30 minutes" from "just under".
_HALF_MICROSECOND = 5e-7


@dataclass(frozen=True)
class SessionPoint:
    start: str
    partial: bool
    sessions: int
    anonymous_sessions: int  # sessions of an anonymous id linked to no user
    median_seconds: float | None
    p90_seconds: float | None
    mean_events: float | None
    single_event_sessions: int
    single_event_share: float | None


@dataclass(frozen=True)
class SessionsResult:
    period: Period
    gap_minutes: int
    points: list[SessionPoint]

    def csv_rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = [
            [
                "bucket", "partial", "sessions", "anonymous_sessions", "median_seconds",
                "p90_seconds", "mean_events", "single_event_sessions", "single_event_share",
            ]
        ]
        for p in self.points:
            rows.append(
                [
                    p.start, p.partial, p.sessions, p.anonymous_sessions, p.median_seconds,
                    p.p90_seconds, p.mean_events, p.single_event_sessions, p.single_event_share,
                ]
            )
        return rows


def _sessions(period: Period, gap_seconds: float, context: ContextFilter) -> Any:
    """One row per session starting in the range: its first event's time, its length in
    seconds, its events, and whether its person is anonymous; of the events `context` lets
    through only."""
    person_user = func.coalesce(E.user_id, L.user_id)
    events = (
        select(
            person_user.label("person_user"),
            case((person_user.is_(None), E.anonymous_id), else_=None).label("person_anon"),
            E.session_id,
            E.id,
            E.occurred_at.label("at"),
            epoch(E.occurred_at).label("t"),
        )
        .select_from(E)
        .outerjoin(L, and_(E.user_id.is_(None), L.anonymous_id == E.anonymous_id))
        .where(
            E.occurred_at >= period.utc_start - REACH,
            E.occurred_at < period.utc_end + REACH,
            or_(E.user_id.is_not(None), E.anonymous_id.is_not(None)),
            user_filter(period, person_user),
            *context.conditions(E, person_user.is_not(None)),
        )
        .subquery()
    )
    person = [events.c.person_user, events.c.person_anon, events.c.session_id]
    order = [events.c.t, events.c.id]
    previous = func.lag(events.c.t).over(partition_by=person, order_by=order)
    flagged = select(
        *person,
        events.c.at,
        events.c.t,
        events.c.id,
        case(
            (events.c.session_id.is_not(None), 0),
            (previous.is_(None), 1),
            (events.c.t - previous > gap_seconds - _HALF_MICROSECOND, 1),
            else_=0,
        ).label("starts"),
    ).subquery()
    fperson = [flagged.c.person_user, flagged.c.person_anon, flagged.c.session_id]
    numbered = select(
        *fperson,
        flagged.c.at,
        flagged.c.t,
        func.sum(flagged.c.starts)
        .over(partition_by=fperson, order_by=[flagged.c.t, flagged.c.id], rows=(None, 0))
        .label("number"),
    ).subquery()
    nperson = [numbered.c.person_user, numbered.c.person_anon, numbered.c.session_id]
    grouped = (
        select(
            func.min(numbered.c.at).label("start_at"),
            (func.max(numbered.c.t) - func.min(numbered.c.t)).label("length"),
            func.count().label("events"),
            case((numbered.c.person_user.is_(None), 1), else_=0).label("anonymous"),
        )
        .group_by(*nperson, numbered.c.number)
        .subquery()
    )
    return (
        select(
            bucket_key(grouped.c.start_at, period).label("bucket"),
            grouped.c.length,
            grouped.c.events,
            grouped.c.anonymous,
        )
        .where(grouped.c.start_at >= period.utc_start, grouped.c.start_at < period.utc_end)
        .subquery()
    )


def run(
    *, period: Period, gap_minutes: int | None = None, context: ContextFilter = NO_FILTER
) -> SessionsResult:
    """The report; `gap_minutes` defaults to the SESSION_GAP_MINUTES setting."""
    if gap_minutes is None:
        gap_minutes = int(current_app.config["SESSION_GAP_MINUTES"])
    sessions = _sessions(period, gap_minutes * 60.0, context)
    single = case((sessions.c.events == 1, 1), else_=0)
    stmt = select(
        sessions.c.bucket,
        func.count().label("sessions"),
        func.sum(sessions.c.anonymous).label("anonymous"),
        percentile(0.5, sessions.c.length).label("median"),
        percentile(0.9, sessions.c.length).label("p90"),
        func.avg(cast(sessions.c.events, Float)).label("mean_events"),
        func.sum(single).label("single"),
    ).group_by(sessions.c.bucket)
    cells = {row.bucket: row for row in reader().execute(stmt)}
    points = []
    for bucket in period.buckets():
        row = cells.get(bucket.key)
        if row is None:
            points.append(SessionPoint(bucket.start, bucket.partial, 0, 0, *[None] * 3, 0, None))
            continue
        points.append(
            SessionPoint(
                start=bucket.start,
                partial=bucket.partial,
                sessions=row.sessions,
                anonymous_sessions=int(row.anonymous),
                median_seconds=_seconds(row.median),
                p90_seconds=_seconds(row.p90),
                mean_events=round(float(row.mean_events), 4),
                single_event_sessions=int(row.single),
                single_event_share=round(int(row.single) / row.sessions, 4),
            )
        )
    return SessionsResult(period=period, gap_minutes=gap_minutes, points=points)


def _seconds(value: Any) -> float | None:
    """Whole microseconds: the doubles' noise (1799.9999998 for 1800) rounded away."""
    return None if value is None else round(float(value), 6)

