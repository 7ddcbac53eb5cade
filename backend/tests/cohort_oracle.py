"""Shared by the funnel and retention oracles (test_oracle_funnels.py,
test_oracle_retention.py): the zones and DST instants they draw around, a hypothesis
strategy for events, and the database steps of an example (reset, insert, erase). The
references themselves live in the test modules, in plain Python."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from app.extensions import db
from app.models import AnalyticsEvent, Base, User
from app.services.privacy.erasure import erase_user
from tests import services as svc

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
    user: int
    kind: str
    data: dict[str, Any]
    at: datetime


# (user index, kind, data, seconds from the anchor): whole seconds, and often whole hours,
# so that events share instants (ties) and sit on local midnights.
Drawn = tuple[int, str, dict[str, Any], int]


def drawn_events(users: int, *, days: int, kinds: tuple[str, ...] = KINDS) -> Any:
    span = days * 86400
    offset = st.one_of(
        st.integers(-days * 24, days * 24).map(lambda h: h * 3600),
        st.integers(-span, span),
        st.integers(-3, 3),
    )
    return st.tuples(
        st.integers(0, users - 1), st.sampled_from(kinds), st.sampled_from(DATA), offset
    )


def local_date(moment: datetime, tz: str) -> date:
    return moment.astimezone(ZoneInfo(tz)).date()


def reset() -> None:
    """Every table emptied (rollups and watermarks too): each example starts clean."""
    db.session.rollback()
    db.session.close()
    svc.empty_all_tables(db.engine, Base.metadata)


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


def insert(drawn: list[Drawn], users: list[int], anchor: datetime) -> list[Event]:
    """Store the drawn events in their order (ids follow it, not occurred_at)."""
    rows = [
        AnalyticsEvent(
            user_id=users[u],
            event_type=kind,
            event_data=data,
            occurred_at=anchor + timedelta(seconds=s),
            created_at=anchor,
        )
        for u, kind, data, s in drawn
    ]
    for row in rows:  # one flush each: ids in the drawn order on both databases
        db.session.add(row)
        db.session.flush()
    db.session.commit()
    return [Event(r.id, r.user_id, r.event_type, r.event_data, r.occurred_at) for r in rows]


def erase(user_id: int, events: list[Event]) -> list[Event]:
    erase_user(user_id=user_id, requested_by="admin")
    return [e for e in events if e.user != user_id]
