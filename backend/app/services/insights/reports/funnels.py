"""Funnels: persons (insights/persons.py; "users" below) who did ordered steps within a
window counted from step 1.

A user's path starts at a step-1 event in the period (the attempt: their first one, or
with attempt=best the one that gets furthest); each later step is the earliest event
matching it strictly after the previous step's event in (occurred_at, id) order, and no
later than the window after the attempt. So each step uses an event of its own, and of
two events at one instant the one stored first is the earlier. The statements are in
funnel_paths.py: one per report, a MATERIALIZED CTE per step.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, true, union_all

from app.config import SERVER_EVENT_TYPES
from app.services.analytics_store import reading as store_reading
from app.services.analytics_store.reports import funnels as store_funnels
from app.services.insights import persons
from app.services.insights.context import NO_FILTER, ContextFilter
from app.services.insights.params import Period, invalid
from app.services.insights.reader import reader
from app.services.insights.reports import funnel_paths
from app.services.insights.sql import is_postgres

# first: a user's first step-1 event in the period starts their only path (the default).
# best: every step-1 event in the period starts one; the furthest-reaching counts (PostHog).
ATTEMPTS = ("first", "best")


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
    attempt: str
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


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def run(
    *,
    period: Period,
    steps: list[Step],
    window_days: int = 14,
    attempt: str = "first",
    context: ContextFilter = NO_FILTER,
) -> FunnelResult:
    """The report; `attempt` (ATTEMPTS) says which step-1 event starts a user's path; only
    the events `context` lets through are steps."""
    if attempt not in ATTEMPTS:
        raise invalid("attempt", f"Must be one of {', '.join(ATTEMPTS)}.")
    # ClickHouse does not filter on context yet: a filtered funnel reads the app database.
    store = store_reading.for_reports() if not context else None
    if store is not None:
        counts = store_funnels.tally(
            store, period, steps=list(steps), window_days=window_days, attempt=attempt
        )
        return _result(period, window_days, attempt, steps, counts)
    build = funnel_paths.first_attempt if attempt == "first" else funnel_paths.best_attempt
    parts = build(
        period=period, steps=list(steps), window_days=window_days,
        persons=persons.persons(context),
    )
    session = reader()
    if is_postgres():
        # For this transaction: no JIT (a CTE's rows have no statistics, so the plan's cost
        # grows with the steps and crosses jit_above_cost while the statement takes well
        # under a second: compiling cost +0.1 s, and +1.8 s past the optimize threshold),
        # and memory to hash and sort a step's events without spilling to disk.
        session.execute(select(func.set_config("jit", "off", true())))
        session.execute(select(func.set_config("work_mem", "32MB", true())))
    counts: list[tuple[int, float | None]] = [(0, None)] * len(steps)
    for i, users, median in session.execute(union_all(*parts)):
        counts[i] = (users, None if median is None else round(float(median), 3))
    return _result(period, window_days, attempt, steps, counts)


def _result(
    period: Period,
    window_days: int,
    attempt: str,
    steps: list[Step],
    counts: list[tuple[int, float | None]],
) -> FunnelResult:
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
    return FunnelResult(period, window_days, attempt, result)
