"""Persons, as PostHog counts them: a user together with every anonymous id linked to them,
or an anonymous id linked to no one, alone. An anonymous event (user_id NULL) belongs to
the user its anonymous id is linked to, whenever the link was made, events before it
included (PostHog's person merge).

Reports count a person by one integer key: the user's id, or for an unlinked anonymous id
`anonymous_key(anonymous_id)`, a negative 60-bit hash of it (md5), the same on both
databases and never a user's id; two anonymous ids share a key with odds about n^2 / 2^61
(a million anonymous ids: 1 in 2 million). `Persons.events()` is the events table as
reports read it, with `user_id` the person's key: the table itself while no anonymous
event is stored (then persons are users, and every plan and rollup stays as it was), else
the events joined to their links. A ContextFilter (insights/context.py) narrows those
events to the ones sent with some context, or to identified or anonymous persons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement

from app.models import AnalyticsEvent, AnonymousIdentity
from app.services.insights.context import NO_FILTER, ContextFilter
from app.services.insights.reader import reader
from app.services.insights.sql import anonymous_key

E = AnalyticsEvent
L = AnonymousIdentity


def person_key() -> ColumnElement[int]:
    """An event's person (with E outer-joined to its link, as in `Persons.events`)."""
    return func.coalesce(E.user_id, L.user_id, anonymous_key(E.anonymous_id))


def is_identified(events: Any) -> ColumnElement[bool]:
    """Whether a row of `Persons.events()` belongs to a person with a user (an unlinked
    anonymous id's key is negative)."""
    return events.user_id > 0


def has_anonymous_events() -> bool:
    """Whether any anonymous event is stored (an index probe of the partial unique index
    uq_events_anonymous_event_id, which holds exactly those events)."""
    anonymous = exists().where(E.user_id.is_(None), E.anonymous_id.is_not(None))
    return bool(reader().scalar(select(anonymous)))


@dataclass(frozen=True)
class Persons:
    """How one report call reads events; `anonymous`: some are (so the user-keyed rollups
    cannot answer for persons); `context`: only the events it lets through are read."""

    anonymous: bool
    context: ContextFilter = NO_FILTER

    def events(self, name: str | None = None) -> Any:
        """An entity with AnalyticsEvent's attributes whose user_id is the person's key
        (a fresh alias per call: `name` it when one statement reads it twice)."""
        if not self.anonymous and not self.context:
            return E if name is None else aliased(E, name=name)
        if self.anonymous:
            columns = [c for c in E.__table__.c if c.name != "user_id"]
            stmt = (
                select(*columns, person_key().label("user_id"))
                .select_from(E)
                .outerjoin(L, and_(E.user_id.is_(None), L.anonymous_id == E.anonymous_id))
                .where(or_(E.user_id.is_not(None), E.anonymous_id.is_not(None)))
            )
            identified = func.coalesce(E.user_id, L.user_id).is_not(None)
        else:
            stmt = select(*E.__table__.c)
            identified = E.user_id.is_not(None)
        rows = stmt.where(*self.context.conditions(E, identified)).subquery(
            name or "person_events"
        )
        return aliased(E, rows, adapt_on_names=True)


def persons(context: ContextFilter = NO_FILTER) -> Persons:
    return Persons(anonymous=has_anonymous_events(), context=context)
