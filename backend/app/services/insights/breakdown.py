"""Breakdowns any report shares (issue 15): the report run once per value of a context
column or of `identified` (insights/context.py), each run as the request's filter plus that
value, beside the report as filtered.

The values are those of the events the report reads in its range (its filter applied), the
BREAKDOWN_LIMIT most frequent first (of equal counts, the empty value last, then by text);
the empty value (events sent without that context) is a group of its own, `value` null.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import func, select

from app.services.insights import persons
from app.services.insights.context import ContextFilter, breakdown_value
from app.services.insights.params import Period
from app.services.insights.reader import reader
from app.services.insights.sql import event_user_filter

BREAKDOWN_LIMIT = 10
R = TypeVar("R")


class _Delegates:
    """Reads as its `report` besides its own fields (for the response schemas)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "report":
            raise AttributeError(name)
        return getattr(self.report, name)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Group(_Delegates, Generic[R]):
    value: str | None
    report: R


@dataclass(frozen=True)
class Sliced(_Delegates, Generic[R]):
    """A report as filtered, and its groups when broken down."""

    report: R
    context: ContextFilter
    breakdown_property: str | None = None
    groups: list[Group[R]] | None = None

    @property
    def filters(self) -> dict[str, Any]:
        return self.context.as_dict()

    def csv_rows(self) -> list[list[Any]]:
        """The report's rows; broken down, each row led by its group ("all", or the value's
        group) and value."""
        rows: list[list[Any]] = self.report.csv_rows()  # type: ignore[attr-defined]
        if self.groups is None:
            return rows
        out = [["group", "value", *rows[0]]] + [["all", None, *row] for row in rows[1:]]
        for group in self.groups:
            group_rows = group.report.csv_rows()  # type: ignore[attr-defined]
            out += [[self.breakdown_property, group.value, *row] for row in group_rows[1:]]
        return out


def values(
    *,
    context: ContextFilter,
    prop: str,
    period: Period,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[str | None]:
    """The breakdown's values among the events from start (the period's) to end (its end)."""
    E = persons.persons(context).events()
    value = breakdown_value(E, prop, persons.is_identified(E)).label("value")
    rows = (
        select(value)
        .where(
            E.occurred_at >= (period.utc_start if start is None else start),
            E.occurred_at < (period.utc_end if end is None else end),
            event_user_filter(period, E.user_id),
        )
        .subquery("values")
    )
    counts = reader().execute(select(rows.c.value, func.count()).group_by(rows.c.value)).all()
    ordered = sorted(counts, key=lambda row: (-row[1], row[0] is None, row[0] or ""))
    return [row[0] for row in ordered[:BREAKDOWN_LIMIT]]


def run(
    report: Callable[[ContextFilter], R],
    *,
    context: ContextFilter,
    breakdown_property: str | None,
    period: Period,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Sliced[R]:
    """`report` (a function of the filter) as filtered, and per value when broken down."""
    whole = report(context)
    if breakdown_property is None:
        return Sliced(whole, context)
    found = values(context=context, prop=breakdown_property, period=period, start=start, end=end)
    groups = [Group(v, report(context.with_value(breakdown_property, v))) for v in found]
    return Sliced(whole, context, breakdown_property, groups)
