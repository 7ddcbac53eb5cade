"""Shared by the funnel and retention oracles (test_oracle_funnels.py,
test_oracle_retention.py): the zones and DST instants they draw around, a hypothesis
strategy for events (of users, and of anonymous ids: oracle_support.actors), and the
database steps of an example (reset, insert, link, erase). The references themselves live in
the test modules, in plain Python, over `as_persons(events)`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from app.extensions import db
from app.models import AnalyticsEvent, Base, User
from app.services.privacy.erasure import erase_user
from tests import services as svc
from tests.oracle_support import Links as Links  # the oracles take these from here too
from tests.oracle_support import actors, anonymous_id, forget_links, person, store_links
from tests.oracle_support import links as links
from tests.store_support import empty_store

# +12:45/+13:45, +5:45, +5:30, +10:30/+11 (a 30-minute change), and Berlin's 23/25-hour days.
ZONES = (
    "UTC",
    "Pacific/Chatham",
    "Asia/Kathmandu",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Europe/Berlin",
)
# 2026's DST changes in those zones (UTC instants).
CHANGES = (
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # Berlin, spring forward
    datetime(2026, 4, 4, 14, 0, tzinfo=UTC),  # Chatham, fall back
    datetime(2026, 4, 4, 15, 0, tzinfo=UTC),  # Lord Howe, fall back (30 minutes)
    datetime(2026, 9, 26, 14, 0, tzinfo=UTC),  # Chatham, spring forward
    datetime(2026, 10, 3, 15, 30, tzinfo=UTC),  # Lord Howe, spring forward
    datetime(2026, 10, 25, 1, 0, tzinfo=UTC),  # Berlin, fall back
)
KINDS = ("challenge_joined", "plan_viewed", "video_started")
DATA: tuple[dict[str, Any], ...] = ({}, {"key": "val"}, {"key": "other"})


@dataclass(frozen=True)
class Event:
    id: int
    user: int | None  # the stored user id; after as_persons, the person (see there)
    kind: str
    data: dict[str, Any]
    at: datetime
    actor: int = 0  # oracle_support's actor: a user index, or -1 - k for anonymous id k
    platform: str | None = None


# (actor, kind, data, seconds from the anchor): whole seconds, and often whole hours,
# so that events share instants (ties) and sit on local midnights.
Drawn = tuple[int, str, dict[str, Any], int]


def drawn_events(
    users: int, *, days: int, kinds: tuple[str, ...] = KINDS, anonymous: bool = True
) -> Any:
    """Events of users and (`anonymous`) of anonymous ids."""
    span = days * 86400
    offset = st.one_of(
        st.integers(-days * 24, days * 24).map(lambda h: h * 3600),
        st.integers(-span, span),
        st.integers(-3, 3),
    )
    who = actors(users) if anonymous else st.integers(0, users - 1)
    return st.tuples(who, st.sampled_from(kinds), st.sampled_from(DATA), offset)


def local_date(moment: datetime, tz: str) -> date:
    return moment.astimezone(ZoneInfo(tz)).date()


def reset() -> None:
    """Every table emptied (rollups and watermarks too): each example starts clean."""
    db.session.rollback()
    db.session.close()
    svc.empty_all_tables(db.engine, Base.metadata)
    empty_store()


def add_users(count: int, *, internal: set[int]) -> list[int]:
    users = [
        User(
            email=f"o{i}@example.com",
            password_hash="x",
            display_name=f"o{i}",
            is_internal=i in internal,
        )
        for i in range(count)
    ]
    db.session.add_all(users)
    db.session.commit()
    return [u.id for u in users]


def insert(
    drawn: list[Drawn], users: list[int], anchor: datetime,
    platforms: list[str | None] | None = None,
) -> list[Event]:
    """Store the drawn events in their order (ids follow it, not occurred_at), each with
    its platform in `platforms` (by position; None beyond it)."""
    sent = list(platforms or [])
    sent += [None] * (len(drawn) - len(sent))
    rows = [
        AnalyticsEvent(
            user_id=None if u < 0 else users[u],
            anonymous_id=anonymous_id(u),
            event_type=kind,
            event_data=data,
            occurred_at=anchor + timedelta(seconds=s),
            created_at=anchor,
            platform=platform,
        )
        for (u, kind, data, s), platform in zip(drawn, sent, strict=False)
    ]
    for row in rows:  # one flush each: ids in the drawn order on both databases
        db.session.add(row)
        db.session.flush()
    db.session.commit()
    return [
        Event(r.id, r.user_id, r.event_type, r.event_data, r.occurred_at, u, r.platform)
        for r, (u, *_) in zip(rows, drawn, strict=True)
    ]


def link(new: Links, known: Links, users: list[int]) -> None:
    """Link anonymous ids to users (the first link of an id stands; `known` follows)."""
    store_links(new, known, users)


def as_persons(events: list[Event], known: Links, users: list[int]) -> list[Event]:
    """The events with `user` their person: the user's id, that of the user an anonymous id
    is linked to, or the (negative, never internal) actor of an unlinked anonymous id."""
    result = []
    for e in events:
        who = person(e.actor, known)
        result.append(replace(e, user=users[who] if who >= 0 else who))
    return result


def erase(user: int, events: list[Event], known: Links, users: list[int]) -> tuple[
    list[Event], Links
]:
    """Erase users[user]: their events go, with their linked anonymous ids' (and links)."""
    erase_user(user_id=users[user], requested_by="admin")
    left = [e for e in events if person(e.actor, known) != user]
    return left, forget_links(known, user)
