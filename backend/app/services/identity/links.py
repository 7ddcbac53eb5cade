"""Links from anonymous ids to users, and the anonymous history they bring along."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import Enum

from sqlalchemy import Select, Table, and_, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from app.models import AnalyticsEvent, AnonymousIdentity
from app.services.database import upsert

LINKS: Table = AnonymousIdentity.__table__  # type: ignore[assignment]
EVENTS: Table = AnalyticsEvent.__table__  # type: ignore[assignment]
LINKED_BY = ("identify", "alias", "login", "register")


class LinkOutcome(Enum):
    LINKED = "linked"  # a new link
    ALREADY = "already"  # the same link existed: nothing changed
    TAKEN = "taken"  # the anonymous id is another user's: refused, nothing changed


def link(
    conn: Connection, *, anonymous_id: str, user_id: int, linked_by: str, at: datetime
) -> LinkOutcome:
    """Link an anonymous id to a user in the caller's transaction; the first link stands.

    Decided by the primary key (INSERT ... ON CONFLICT DO NOTHING), so two concurrent
    links of one anonymous id to two users leave exactly one, whichever commits first.
    """
    if linked_by not in LINKED_BY:
        raise ValueError(f"linked_by must be one of {LINKED_BY}, not {linked_by!r}")
    inserted = conn.execute(
        upsert.insert(conn, LINKS)
        .values(anonymous_id=anonymous_id, user_id=user_id, linked_by=linked_by, linked_at=at)
        .on_conflict_do_nothing(index_elements=["anonymous_id"])
        .returning(LINKS.c.anonymous_id)
    ).first()
    if inserted is not None:
        return LinkOutcome.LINKED
    owner = conn.execute(
        select(LINKS.c.user_id).where(LINKS.c.anonymous_id == anonymous_id)
    ).scalar_one()
    return LinkOutcome.ALREADY if owner == user_id else LinkOutcome.TAKEN


def owners(conn: Connection, anonymous_ids: Iterable[str]) -> dict[str, int]:
    """The user each of these anonymous ids is linked to (unlinked ones are left out)."""
    wanted = sorted(set(anonymous_ids))
    if not wanted:
        return {}
    rows = conn.execute(
        select(LINKS.c.anonymous_id, LINKS.c.user_id).where(LINKS.c.anonymous_id.in_(wanted))
    )
    return {anonymous_id: user_id for anonymous_id, user_id in rows}


def anonymous_ids_of(user_id: int) -> Select[tuple[str]]:
    """The anonymous ids linked to a user, as a subquery-ready SELECT."""
    return select(LINKS.c.anonymous_id).where(LINKS.c.user_id == user_id)


def events_of_person(user_id: int) -> ColumnElement[bool]:
    """A WHERE clause for a person's events: the user's own, and the anonymous events of
    every anonymous id linked to the user (uq_events_anonymous_event_id finds those)."""
    return or_(
        EVENTS.c.user_id == user_id,
        and_(EVENTS.c.user_id.is_(None), EVENTS.c.anonymous_id.in_(anonymous_ids_of(user_id))),
    )
