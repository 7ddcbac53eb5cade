"""The overview: "how are we doing?" in one call, for the dashboard's first page.

Each figure is the period's value, the same figure for the period of the same length just
before (`previous`), the relative change, and one point per local day (or per join week
for day-7 completion) for a sparkline. The figures come from the other reports (active
users, trends, challenge progress), so they mean what those reports mean
(docs/REPORTS.md, Overview); only new users and the API's overall error rate and p95,
which no other report gives, are counted here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Float, case, cast, func, select

from app.models import Challenge, RequestLog, User
from app.services.insights.params import Period
from app.services.insights.reader import reader
from app.services.insights.reports import active_users, challenge_progress, trends
from app.services.insights.sql import bucket_key, percentile, user_filter

TOP_EVENTS = 5
MAX_CHALLENGES = 50  # day-7 completion reads each challenge's progress; bounded
COMPLETION_DAY = 7


@dataclass(frozen=True)
class Point:
    start: str  # a local day (a join week's first day for day-7 completion)
    partial: bool
    value: float | None


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str  # count, share (0..1) or ms
    value: float | None
    previous: float | None
    points: list[Point]

    @property
    def change(self) -> float | None:
        """Relative change against the previous period; None without a base."""
        if self.value is None or not self.previous:
            return None
        return round((self.value - self.previous) / self.previous, 4)


@dataclass(frozen=True)
class OverviewResult:
    period: Period
    previous_period: Period
    figures: list[Figure]
    top_events: list[Figure]

    def csv_rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = [["section", "key", "label", "unit", "value", "previous", "change"]]
        for section, figures in (("figure", self.figures), ("top_event", self.top_events)):
            rows += [
                [section, f.key, f.label, f.unit, f.value, f.previous, f.change] for f in figures
            ]
        return rows


def run(*, period: Period, event_types: list[str]) -> OverviewResult:
    """The overview of a period (daily points whatever its interval)."""
    period = replace(period, interval="day")
    before = period.previous()
    figures = [
        *_active(period, before),
        _new_users(period, before),
        _joins(period),
        _completion(period, before),
        *_api(period, before),
    ]
    return OverviewResult(period, before, figures, _top_events(period, event_types))


def _mean(values: list[int]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def _active(period: Period, before: Period) -> list[Figure]:
    now, then = active_users.run(period=period), active_users.run(period=before)
    figures = []
    for key, label in (("dau", "DAU (daily mean)"), ("wau", "WAU"), ("mau", "MAU")):
        points = [Point(d.day, d.partial, getattr(d, key)) for d in now.days]
        if key == "dau":
            value = _mean([getattr(d, key) for d in now.days])
            previous = _mean([getattr(d, key) for d in then.days])
        else:  # the window ending on the period's last day
            value, previous = getattr(now.days[-1], key), getattr(then.days[-1], key)
        figures.append(Figure(key, label, "count", value, previous, points))
    return figures


def _daily(period: Period, found: dict[int, float | None], default: Any = 0) -> list[Point]:
    return [Point(b.start, b.partial, found.get(b.key, default)) for b in period.buckets()]


def _new_users(period: Period, before: Period) -> Figure:
    def per_day(of: Period) -> dict[int, int]:
        day = bucket_key(User.created_at, of).label("day")
        stmt = (
            select(day, func.count())
            .where(
                User.created_at >= of.utc_start,
                User.created_at < of.utc_end,
                user_filter(of, User.id),
            )
            .group_by(day)
        )
        return {row[0]: row[1] for row in reader().execute(stmt)}

    now = per_day(period)
    previous = sum(per_day(before).values())
    points = _daily(period, now)  # type: ignore[arg-type]
    return Figure("new_users", "New users", "count", sum(now.values()), previous, points)


def _joins(period: Period) -> Figure:
    result = trends.run(period=period, event_types=["challenge_joined"], compare_previous=True)
    series, previous = result.series[0], (result.previous or [])[0]
    points = [Point(p.start, p.partial, p.events) for p in series.points]
    return Figure(
        "joins", "Challenge joins", "count", series.total_events, previous.total_events, points
    )


def _completion(period: Period, before: Period) -> Figure:
    """Of the members who joined a challenge in the period and could have reached day 7
    by today, the share who completed day 7 (challenge progress, every challenge)."""

    def weeks(of: Period) -> dict[str, tuple[int, int]]:
        found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        ids = reader().scalars(
            select(Challenge.id)
            .where(Challenge.duration_days >= COMPLETION_DAY)
            .order_by(Challenge.id)
            .limit(MAX_CHALLENGES)
        )
        for challenge_id in list(ids):
            result = challenge_progress.run(period=of, challenge_id=challenge_id)
            for cohort in result.cohorts:
                cell = cohort.days[COMPLETION_DAY - 1]
                if cell.on is not None:
                    found[cohort.week_start][0] += cell.on
                    found[cohort.week_start][1] += cell.eligible
        return {week: (done, eligible) for week, (done, eligible) in sorted(found.items())}

    def share(counts: dict[str, tuple[int, int]]) -> float | None:
        eligible = sum(e for _, e in counts.values())
        return round(sum(d for d, _ in counts.values()) / eligible, 4) if eligible else None

    now = weeks(period)
    points = [Point(week, False, round(d / e, 4) if e else None) for week, (d, e) in now.items()]
    return Figure(
        "day7_completion", "Day-7 completion", "share", share(now), share(weeks(before)), points
    )


def _api(period: Period, before: Period) -> list[Figure]:
    def stats(of: Period, by_day: bool) -> list[Any]:
        logs = RequestLog
        columns = [
            func.count().label("requests"),
            func.sum(case((logs.status >= 500, 1), else_=0)).label("n5xx"),
            percentile(0.95, cast(logs.latency_ms, Float)).label("p95"),
        ]
        day = bucket_key(logs.created_at, of).label("day")
        stmt = select(*([day] if by_day else []), *columns).where(
            logs.created_at >= of.utc_start,
            logs.created_at < of.utc_end,
            user_filter(of, logs.user_id),
        )
        return list(reader().execute(stmt.group_by(day) if by_day else stmt))

    def rate(row: Any) -> float | None:
        return round(row.n5xx / row.requests, 4) if row is not None and row.requests else None

    def ms(row: Any) -> float | None:
        return None if row is None or row.p95 is None else round(float(row.p95), 1)

    days = {row.day: row for row in stats(period, True)}
    now, then = stats(period, False)[0], stats(before, False)[0]
    return [
        Figure(
            "api_error_rate",
            "API error rate (5xx)",
            "share",
            rate(now),
            rate(then),
            _daily(period, {k: rate(r) for k, r in days.items()}, None),
        ),
        Figure(
            "api_p95_ms",
            "API latency p95",
            "ms",
            ms(now),
            ms(then),
            _daily(period, {k: ms(r) for k, r in days.items()}, None),
        ),
    ]


def _top_events(period: Period, event_types: list[str]) -> list[Figure]:
    """The event types with most events in the period, with their daily counts."""
    result = trends.run(period=period, event_types=event_types, compare_previous=True)
    previous = {s.event_type: s.total_events for s in result.previous or []}
    ranked = sorted(
        (s for s in result.series if s.total_events), key=lambda s: (-s.total_events, s.event_type)
    )
    return [
        Figure(
            s.event_type,
            s.event_type,
            "count",
            s.total_events,
            previous.get(s.event_type, 0),
            [Point(p.start, p.partial, p.events) for p in s.points],
        )
        for s in ranked[:TOP_EVENTS]
    ]
