"""The context every report filters on (issue 15): the events sent from a platform, OS, app
version or locale, and the persons who are identified (linked to a user) or anonymous.

One ContextFilter, built once from the request, is applied by every report to the events it
reads (persons.Persons.events() applies it for the reports that read through it), so a
filtered report is the report over the matching events only. Breakdowns (breakdown.py) run
a report once per value, each as this filter plus that value.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import case, not_
from sqlalchemy.sql import ColumnElement

from app.services.insights.params import invalid

# Context columns of analytics_events that every report filters and breaks down by.
COLUMNS = ("platform", "os_name", "app_version", "locale")
PLATFORMS = ("ios", "android", "web", "server")
IDENTIFIED = "identified"
# What a report can be broken down by: a context column, or identified (the values
# "identified" and "anonymous").
BREAKDOWNS = (*COLUMNS, IDENTIFIED)
MAX_LENGTH = 64


@dataclass(frozen=True)
class ContextFilter:
    """Context columns and their required values (None: the column is empty), and whether
    the person must be identified (True), anonymous (False) or either (None)."""

    columns: tuple[tuple[str, str | None], ...] = ()
    identified: bool | None = None

    def __bool__(self) -> bool:
        return bool(self.columns) or self.identified is not None

    def conditions(self, table: Any, identified: ColumnElement[bool]) -> list[ColumnElement[bool]]:
        """WHERE conditions on an events table; `identified`: true when the row's person
        has a user."""
        found: list[ColumnElement[bool]] = []
        for name, value in self.columns:
            column = getattr(table, name)
            found.append(column.is_(None) if value is None else column == value)
        if self.identified is not None:
            found.append(identified if self.identified else not_(identified))
        return found

    def with_value(self, prop: str, value: str | None) -> ContextFilter:
        """This filter and `prop` equal to a breakdown value."""
        if prop == IDENTIFIED:
            return replace(self, identified=value == IDENTIFIED)
        return replace(self, columns=tuple(sorted({*self.columns, (prop, value)})))

    def as_dict(self) -> dict[str, Any]:
        """The filter as the request gave it (the response's `filters`)."""
        found: dict[str, Any] = dict(self.columns)
        if self.identified is not None:
            found[IDENTIFIED] = self.identified
        return found


NO_FILTER = ContextFilter()


def context_filter(
    *,
    platform: str | None = None,
    os_name: str | None = None,
    app_version: str | None = None,
    locale: str | None = None,
    identified: bool | None = None,
) -> ContextFilter:
    """Validate the context parameters (422 naming the parameter) into a ContextFilter."""
    given = {"platform": platform, "os_name": os_name, "app_version": app_version,
             "locale": locale}
    if platform is not None and platform not in PLATFORMS:
        raise invalid("platform", f"Must be one of {', '.join(PLATFORMS)}.")
    for name, value in given.items():
        if value is not None and not 1 <= len(value) <= MAX_LENGTH:
            raise invalid(name, f"Give 1 to {MAX_LENGTH} characters.")
    columns = tuple(sorted((k, v) for k, v in given.items() if v is not None))
    return ContextFilter(columns=columns, identified=identified)


def breakdown_value(table: Any, prop: str, identified: ColumnElement[bool]) -> Any:
    """The value a breakdown groups an event by: its context column, or for identified
    "identified" or "anonymous"."""
    if prop == IDENTIFIED:
        return case((identified, IDENTIFIED), else_="anonymous")
    if prop not in COLUMNS:
        raise invalid("breakdown_property", f"Must be one of {', '.join(BREAKDOWNS)}.")
    return getattr(table, prop)
