"""Funnel people: the persons who reached a step and not the next (dropped there), PostHog's
"dropped off" actors of a funnel step, on the funnel's own paths (attempt=first, the
default: funnel_paths.first_attempt_stages, so they are exactly the step's drop_off).

Users are listed (id, email, display name; by id, up to `limit`); anonymous visitors linked
to no user (persons with a negative key) are counted, not listed: they have no account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, exists, func, select, true

from app.models import User
from app.services.insights import persons
from app.services.insights.context import NO_FILTER, ContextFilter
from app.services.insights.params import Period, invalid
from app.services.insights.reader import reader
from app.services.insights.reports import funnel_paths
from app.services.insights.sql import is_postgres


@dataclass(frozen=True)
class DroppedUser:
    id: int
    email: str
    display_name: str


@dataclass(frozen=True)
class FunnelPeopleResult:
    period: Period
    step: int  # dropped after step - 1, before this step (1-based)
    dropped: int  # every person who dropped there, anonymous ones included
    anonymous: int
    items: list[DroppedUser]

    def csv_rows(self) -> list[list[Any]]:
        return [["id", "email", "display_name"]] + [
            [u.id, u.email, u.display_name] for u in self.items
        ]


def dropped(
    *,
    period: Period,
    steps: list[Any],
    window_days: int,
    step: int,
    limit: int = 100,
    context: ContextFilter = NO_FILTER,
) -> FunnelPeopleResult:
    """The persons who reached step `step - 1` and not step `step` (2..len(steps))."""
    if not 2 <= step <= len(steps):
        raise invalid("step", f"A step from 2 to {len(steps)}: the one they did not reach.")
    stages = funnel_paths.first_attempt_stages(
        period=period, steps=steps[:step], window_days=window_days,
        persons=persons.persons(context),
    )
    reached, lost_at = stages[step - 2], stages[step - 1]
    lost = (
        select(reached.c.user_id.label("key"))
        .where(~exists().where(lost_at.c.user_id == reached.c.user_id))
        .cte("lost")
    )
    counted = select(
        lost.c.key,
        func.count().over().label("dropped"),
        func.sum(case((lost.c.key < 0, 1), else_=0)).over().label("anonymous"),
    ).subquery("counted")
    statement = (
        select(counted.c.dropped, counted.c.anonymous, User.id, User.email, User.display_name)
        .select_from(counted.outerjoin(User, User.id == counted.c.key))
        .order_by(counted.c.key < 0, counted.c.key)
        .limit(limit)
    )
    session = reader()
    if is_postgres():  # as funnels.run: no JIT for the stages' CTEs
        session.execute(select(func.set_config("jit", "off", true())))
    rows = session.execute(statement).all()
    total = int(rows[0].dropped) if rows else 0
    anonymous = int(rows[0].anonymous or 0) if rows else 0
    items = [DroppedUser(r.id, r.email, r.display_name) for r in rows if r.id is not None]
    return FunnelPeopleResult(period, step, total, anonymous, items)
