"""The funnel's statements: each user's path through the steps, for both attempt rules.

Order: events are ordered by (occurred_at, id), a total order; a step's event comes
strictly after the previous step's in it. So every step uses an event of its own, and of
two events at the same instant the one stored first (smaller id) counts as earlier.

A path from one step-1 event (the attempt) is greedy: each later step is the earliest
matching event after the previous step's, kept while it is within the window of the
attempt's occurred_at (inclusive). Greedy reaches as far as any other choice could.

Each function returns one SELECT per step with columns (step, users, median): the users
whose path reached the step and the median seconds from the previous step on their paths.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import aliased

from app.models import AnalyticsEvent
from app.services.insights.params import Period
from app.services.insights.sql import epoch, json_equals, percentile, user_filter

E = AnalyticsEvent


class StepLike(Protocol):
    event_type: str
    where: dict[str, Any]


def matches(step: StepLike, table: Any = E) -> list[ColumnElement[bool]]:
    return [table.event_type == step.event_type] + [
        json_equals(table.event_data, key, value) for key, value in sorted(step.where.items())
    ]


def _materialized(query: Select[Any], name: str) -> Any:
    return query.cte(name).prefix_with("MATERIALIZED", dialect="postgresql")


def _count(i: int, stage: Any, seconds: Any | None) -> Select[Any]:
    step = literal_column(str(i)).label("step")
    if seconds is None:
        return select(
            step, func.count().label("users"), literal_column("NULL").label("median")
        ).select_from(stage)
    gaps = select(seconds.label("seconds")).select_from(stage).subquery(f"gap{i}")
    return select(
        step, func.count().label("users"), percentile(0.5, gaps.c.seconds).label("median")
    )


def first_attempt(*, period: Period, steps: list[StepLike], window_days: int) -> list[Any]:
    """Each user's first step-1 event in the period is their only attempt.

    A MATERIALIZED CTE per step joins the previous step's users to the events of the step's
    type once, over the only time range they can have (the period's start to its end plus
    the window), which the (event_type, occurred_at, user_id) index serves without visiting
    the table: per user the earliest candidate at or after the previous step's instant (g)
    and the earliest strictly after it (h). Only when g falls on that same instant (two
    events at one occurred_at) are ids read, by the index's equality probes: the step then
    takes the first event after the previous one's id at that instant, if any, else h.
    A stage's `c` is the id of its event when that tie decided it; otherwise its event is
    the smallest id among the step's events at `t`, looked up only if a tie needs it.
    """
    window = window_days * 86400
    first = (
        select(E.user_id, func.min(E.occurred_at).label("t"))
        .where(
            *matches(steps[0]), E.occurred_at >= period.utc_start, E.occurred_at < period.utc_end
        )
        .group_by(E.user_id)
        .subquery("step0")
    )
    stage = _materialized(
        select(
            first.c.user_id,
            first.c.t.label("t1"),
            first.c.t,
            literal(None, BigInteger).label("c"),
            first.c.t.label("prev"),
        ).where(user_filter(period, first.c.user_id)),  # per user, not per event
        "stage0",
    )
    parts = [_count(0, stage, None)]
    latest = period.utc_end + timedelta(days=window_days)
    for i in range(1, len(steps)):
        # One row per user in every stage: grouped by the events' user_id (its statistics
        # size the groups), the stage's columns through min().
        cand = (
            select(
                E.user_id,
                func.min(stage.c.t1).label("t1"),
                func.min(stage.c.t).label("prev"),
                func.min(stage.c.c).label("prev_c"),
                func.min(E.occurred_at).label("g"),
                func.min(case((E.occurred_at > stage.c.t, E.occurred_at))).label("h"),
            )
            .join(
                E,
                and_(E.user_id == stage.c.user_id, *matches(steps[i]), E.occurred_at >= stage.c.t),
            )
            .where(E.occurred_at >= period.utc_start, E.occurred_at <= latest)
            .group_by(E.user_id)
            # The first candidate is in the window, or none is.
            .having(epoch(func.min(E.occurred_at)) - epoch(func.min(stage.c.t1)) <= window)
            .subquery(f"cand{i}")
        )
        before, after = aliased(E, name=f"before{i}"), aliased(E, name=f"after{i}")
        prev_id = func.coalesce(
            cand.c.prev_c,
            select(func.min(before.id))
            .where(
                before.user_id == cand.c.user_id,
                *matches(steps[i - 1], before),
                before.occurred_at == cand.c.prev,
            )
            .correlate(cand)
            .scalar_subquery(),
        )
        tie = case(
            (
                cand.c.g == cand.c.prev,
                select(func.min(after.id))
                .where(
                    after.user_id == cand.c.user_id,
                    *matches(steps[i], after),
                    after.occurred_at == cand.c.prev,
                    after.id > prev_id,
                )
                .correlate(cand)
                .scalar_subquery(),
            )
        )
        decided = select(cand, tie.label("tie")).subquery(f"decided{i}")
        t = case((decided.c.tie.is_not(None), decided.c.prev), else_=decided.c.h)
        stage = _materialized(
            select(
                decided.c.user_id,
                decided.c.t1,
                t.label("t"),
                decided.c.tie.label("c"),
                decided.c.prev,
            ).where(t.is_not(None), epoch(t) - epoch(decided.c.t1) <= window),
            f"stage{i}",
        )
        parts.append(_count(i, stage, epoch(stage.c.t) - epoch(stage.c.prev)))
    return parts


def best_attempt(*, period: Period, steps: list[StepLike], window_days: int) -> list[Any]:
    """Every step-1 event in the period is an attempt; a user's path is that of the attempt
    that reaches the furthest step; of several, the one that reaches it with the earliest
    event; of several still, the one that started last (the shortest times).

    The events of the steps (period start to end plus window) are numbered per user in
    (occurred_at, id) order (seq). Then per step, as ClickHouse's windowFunnel does, each
    event that matches it gets the latest attempt whose path can reach it there: a running
    max, over the user's earlier events that reached the previous step, of their attempts,
    kept if within the window. The chosen attempt's greedy path gives the times.
    Reads every event of the steps' types in that range (not index-only) and sorts them
    per user: a few times the cost of `first`.
    """
    window = window_days * 86400
    latest = period.utc_end + timedelta(days=window_days)
    flags = [case((and_(*matches(s)), 1), else_=0).label(f"m{i}") for i, s in enumerate(steps)]
    ev = _materialized(
        select(
            E.user_id,
            E.occurred_at.label("t"),
            func.row_number()
            .over(partition_by=E.user_id, order_by=(E.occurred_at, E.id))
            .label("seq"),
            *flags,
        ).where(
            E.event_type.in_(sorted({s.event_type for s in steps})),
            or_(*(and_(*matches(s)) for s in steps)),
            E.occurred_at >= period.utc_start,
            E.occurred_at <= latest,
            user_filter(period, E.user_id),
        ),
        "ev",
    )
    # reached[i]: (user, seq, t, a, at) for each event at which some attempt's path reaches
    # step i; a, at: the latest such attempt's seq and occurred_at.
    reached = [
        _materialized(
            select(ev.c.user_id, ev.c.seq, ev.c.t, ev.c.seq.label("a"), ev.c.t.label("at")).where(
                ev.c.m0 == 1, ev.c.t < period.utc_end
            ),
            "reached0",
        )
    ]
    for i in range(1, len(steps)):
        prev = reached[-1]
        # At one event, the target (role 0) sorts before the source (role 1): an event
        # never follows itself.
        both = union_all(
            select(
                prev.c.user_id, prev.c.seq, prev.c.t, prev.c.a, prev.c.at, literal(1).label("role")
            ),
            select(
                ev.c.user_id,
                ev.c.seq,
                ev.c.t,
                literal(None, BigInteger).label("a"),
                ev.c.t.label("at"),  # typed like at; never read (the role 0 rows' max skips it)
                literal(0).label("role"),
            ).where(ev.c[f"m{i}"] == 1),
        ).subquery(f"both{i}")
        frame = {
            "partition_by": both.c.user_id,
            "order_by": (both.c.seq, both.c.role),
            "rows": (None, -1),
        }
        running = select(
            both.c.user_id,
            both.c.seq,
            both.c.t,
            both.c.role,
            func.max(both.c.a).over(**frame).label("a"),
            func.max(case((both.c.role == 1, both.c.at))).over(**frame).label("at"),
        ).subquery(f"running{i}")
        reached.append(
            _materialized(
                select(
                    running.c.user_id, running.c.seq, running.c.t, running.c.a, running.c.at
                ).where(
                    running.c.role == 0,
                    running.c.a.is_not(None),
                    epoch(running.c.t) - epoch(running.c.at) <= window,
                ),
                f"reached{i}",
            )
        )
    ends = union_all(
        *(
            select(r.c.user_id, literal(i).label("k"), r.c.seq, r.c.a, r.c.at)
            for i, r in enumerate(reached)
        )
    ).subquery("ends")
    ranked = select(
        ends,
        func.row_number()
        .over(partition_by=ends.c.user_id, order_by=(ends.c.k.desc(), ends.c.seq))
        .label("pick"),
    ).subquery("ranked")
    path = _materialized(
        select(
            ranked.c.user_id,
            ranked.c.k,
            ranked.c.a.label("seq"),
            ranked.c.at.label("t"),
            ranked.c.at.label("prev"),
        ).where(ranked.c.pick == 1),
        "path0",
    )
    parts = [_count(0, path, None)]
    for i in range(1, len(steps)):
        nxt = (
            select(
                path.c.user_id,
                func.min(path.c.k).label("k"),
                func.min(path.c.t).label("prev"),
                func.min(ev.c.seq).label("seq"),
            )
            .join(
                ev,
                and_(
                    ev.c.user_id == path.c.user_id,
                    ev.c[f"m{i}"] == 1,
                    ev.c.seq > path.c.seq,
                ),
            )
            .where(path.c.k >= i)
            .group_by(path.c.user_id)
            .subquery(f"next{i}")
        )
        path = _materialized(
            select(nxt.c.user_id, nxt.c.k, nxt.c.seq, ev.c.t, nxt.c.prev).join(
                ev, and_(ev.c.user_id == nxt.c.user_id, ev.c.seq == nxt.c.seq)
            ),
            f"path{i}",
        )
        parts.append(_count(i, path, epoch(path.c.t) - epoch(path.c.prev)))
    return parts
