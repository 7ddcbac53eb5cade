"""Funnels: users who did ordered steps within a window counted from step 1.

Each user enters at their first step-1 event in the period; each later step is the
first matching event at or after the previous step's (strictly after it when the
two steps are the same definition) and within the window from step 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select

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
    first = (
        select(E.user_id, func.min(E.occurred_at).label("t"))
        .where(
            *_matches(steps[0]),
            E.occurred_at >= period.utc_start,
            E.occurred_at < period.utc_end,
            user_filter(period, E.user_id),
        )
        .group_by(E.user_id)
        .subquery("step0")
    )
    stage = select(first.c.user_id, first.c.t.label("t1"), first.c.t).subquery("stage0")
    counts = [(reader().scalar(select(func.count()).select_from(stage)) or 0, None)]
    for i in range(1, len(steps)):
        after = (
            E.occurred_at > stage.c.t if steps[i] == steps[i - 1] else E.occurred_at >= stage.c.t
        )
        reached = (
            select(
                stage.c.user_id,
                stage.c.t1,
                stage.c.t.label("prev"),
                func.min(E.occurred_at).label("t"),
            )
            .join(E, and_(E.user_id == stage.c.user_id, *_matches(steps[i]), after))
            .where(epoch(E.occurred_at) - epoch(stage.c.t1) <= window_days * 86400)
            .group_by(stage.c.user_id, stage.c.t1, stage.c.t)
            .subquery(f"reached{i}")
        )
        gap = select((epoch(reached.c.t) - epoch(reached.c.prev)).label("seconds")).subquery(
            f"gap{i}"
        )
        row = reader().execute(select(func.count(), percentile(0.5, gap.c.seconds))).one()
        counts.append((row[0], None if row[1] is None else round(float(row[1]), 3)))
        stage = select(reached.c.user_id, reached.c.t1, reached.c.t).subquery(f"stage{i}")
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
