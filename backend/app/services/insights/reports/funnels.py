"""Funnels: users who did ordered steps within a window counted from step 1.

Each user enters at their first step-1 event in the period; each later step is the
first matching event at or after the previous step's (strictly after it when the
two steps are the same definition) and within the window from step 1.

One statement: a MATERIALIZED CTE per step, each joining the previous step's users to the
events of its own type once, over the only time range its events can have (from the
period's start to its end plus the window), which the (event_type, occurred_at, user_id)
index serves without visiting the table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, literal_column, select, union_all

from app.config import SERVER_EVENT_TYPES
from app.models import AnalyticsEvent
from app.services.insights.params import Period, invalid
from app.services.insights.reader import reader
from app.services.insights.sql import epoch, json_equals, percentile, user_filter

E = AnalyticsEvent


@dataclass(frozen=True)
class Step:
    event_type: str
    where: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FunnelStep:
    index: int
    event_type: str
    where: dict[str, Any]
    users: int
    conversion_from_first: float | None
    conversion_from_previous: float | None
    drop_off: int
    median_seconds_from_previous: float | None


@dataclass(frozen=True)
class FunnelResult:
    period: Period
    window_days: int
    steps: list[FunnelStep]

    def csv_rows(self) -> list[list[Any]]:
        import json

        rows: list[list[Any]] = [
            [
                "step",
                "event_type",
                "where",
                "users",
                "conversion_from_first",
                "conversion_from_previous",
                "drop_off",
                "median_seconds_from_previous",
            ]
        ]
        for s in self.steps:
            rows.append(
                [
                    s.index,
                    s.event_type,
                    json.dumps(s.where, sort_keys=True),
                    s.users,
                    s.conversion_from_first,
                    s.conversion_from_previous,
                    s.drop_off,
                    s.median_seconds_from_previous,
                ]
            )
        return rows


def validate_steps(steps: list[Step], known_types: Iterable[str]) -> None:
    known = set(known_types) | set(SERVER_EVENT_TYPES)
    if not 2 <= len(steps) <= 8:
        raise invalid("steps", "Give 2 to 8 steps.")
    for i, step in enumerate(steps):
        if step.event_type not in known:
            raise invalid(f"steps.{i}.event_type", f"Unknown event type {step.event_type!r}.")


def _matches(step: Step) -> list[Any]:
    return [E.event_type == step.event_type] + [
        json_equals(E.event_data, key, value) for key, value in sorted(step.where.items())
    ]


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def run(*, period: Period, steps: list[Step], window_days: int = 14) -> FunnelResult:
    window = window_days * 86400
    first = (
        select(E.user_id, func.min(E.occurred_at).label("t"))
        .where(
            *_matches(steps[0]), E.occurred_at >= period.utc_start, E.occurred_at < period.utc_end
        )
        .group_by(E.user_id)
        .subquery("step0")
    )
    stage = (
        select(first.c.user_id, first.c.t.label("t1"), first.c.t)
        .where(user_filter(period, first.c.user_id))  # per user, not per event
        .cte("stage0")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    parts = [
        select(
            literal_column("0").label("step"),
            func.count().label("users"),
            literal_column("NULL").label("median"),
        ).select_from(stage)
    ]
    # Every later event is at or after step 1 (so after the period's start) and within
    # the window of a step 1 in the period: bounds the index can seek to.
    latest = period.utc_end + timedelta(days=window_days)
    for i in range(1, len(steps)):
        after = (
            E.occurred_at > stage.c.t if steps[i] == steps[i - 1] else E.occurred_at >= stage.c.t
        )
        stage = (
            # One row per user in every stage: t1 and prev are the user's, grouped by user.
            select(
                E.user_id,
                func.min(stage.c.t1).label("t1"),
                func.min(stage.c.t).label("prev"),
                func.min(E.occurred_at).label("t"),
            )
            .join(E, and_(E.user_id == stage.c.user_id, *_matches(steps[i]), after))
            .where(E.occurred_at >= period.utc_start, E.occurred_at <= latest)
            .group_by(E.user_id)  # the events' column: its statistics size the groups
            # The first event after prev is in the window, or none after prev is.
            .having(epoch(func.min(E.occurred_at)) - epoch(func.min(stage.c.t1)) <= window)
            .cte(f"stage{i}")
            .prefix_with("MATERIALIZED", dialect="postgresql")
        )
        gap = select((epoch(stage.c.t) - epoch(stage.c.prev)).label("seconds")).subquery(f"gap{i}")
        parts.append(
            select(
                literal_column(str(i)).label("step"),
                func.count().label("users"),
                percentile(0.5, gap.c.seconds).label("median"),
            )
        )
    counts: list[tuple[int, float | None]] = [(0, None)] * len(steps)
    for i, users, median in reader().execute(union_all(*parts)):
        counts[i] = (users, None if median is None else round(float(median), 3))
    top = counts[0][0]
    result = []
    for i, (step, (users, median)) in enumerate(zip(steps, counts, strict=True)):
        before = counts[i - 1][0] if i else users
        result.append(
            FunnelStep(
                index=i + 1,
                event_type=step.event_type,
                where=step.where,
                users=users,
                conversion_from_first=_ratio(users, top),
                conversion_from_previous=_ratio(users, before),
                drop_off=before - users,
                median_seconds_from_previous=median,
            )
        )
    return FunnelResult(period, window_days, result)
