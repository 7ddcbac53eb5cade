"""People: find a user by email, display name or id, with when they were last seen.

`q` matches a part of the email (compared in its stored canonical form, so any case
matches), a part of the display name (case-insensitive), or the id exactly when `q` is a
number. `%`, `_` and `\\` in `q` are matched literally, never as LIKE wildcards. Newest
users first, paginated by id (keyset: `cursor` is the last id of the page before).
Last seen is the latest of the user's events (`occurred_at`) and API requests
(`created_at`), each read by its per-user index for the page's users only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select

from app.models import AnalyticsEvent, RequestLog, User
from app.models.user import normalize_email
from app.services.insights.params import invalid
from app.services.insights.reader import reader
from app.services.insights.sql import is_postgres

ESCAPE = "\\"
MAX_ID = 2_147_483_647


@dataclass(frozen=True)
class Person:
    id: int
    email: str
    display_name: str
    created_at: datetime
    last_event_at: datetime | None
    last_request_at: datetime | None
    is_admin: bool
    is_internal: bool

    @property
    def last_seen(self) -> datetime | None:
        seen = [t for t in (self.last_event_at, self.last_request_at) if t is not None]
        return max(seen) if seen else None


@dataclass(frozen=True)
class PeopleResult:
    q: str | None
    items: list[Person]
    next_cursor: str | None

    def csv_rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = [
            ["id", "email", "display_name", "created_at", "last_seen", "is_admin", "is_internal"]
        ]
        rows += [
            [
                p.id,
                p.email,
                p.display_name,
                p.created_at.isoformat(),
                p.last_seen.isoformat() if p.last_seen else None,
                p.is_admin,
                p.is_internal,
            ]
            for p in self.items
        ]
        return rows


def like_pattern(text: str) -> str:
    """`%text%` with LIKE's wildcards and the escape character taken literally."""
    escaped = text.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")
    return f"%{escaped}%"


def _matches(q: str) -> ColumnElement[bool]:
    email = User.email.like(like_pattern(normalize_email(q)), escape=ESCAPE)
    name = like_pattern(q.strip().lower())
    lowered = func.lower(User.display_name)
    display = (
        User.display_name.ilike(like_pattern(q.strip()), escape=ESCAPE)
        if is_postgres()
        else lowered.like(name, escape=ESCAPE)
    )
    conditions = [email, display]
    digits = q.strip()
    if digits.isascii() and digits.isdigit() and 0 < int(digits) <= MAX_ID:
        conditions.append(User.id == int(digits))
    return or_(*conditions)


def _parse_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not (cursor.isascii() and cursor.isdigit()) or not 0 < int(cursor) <= MAX_ID + 1:
        raise invalid("cursor", "Not a cursor this list gave.")
    return int(cursor)


def run(*, q: str | None = None, limit: int = 50, cursor: str | None = None) -> PeopleResult:
    """One page of users matching `q` (every user without it), newest first."""
    before = _parse_cursor(cursor)
    q = q if q and q.strip() else None
    last_event = (
        select(func.max(AnalyticsEvent.occurred_at))
        .where(AnalyticsEvent.user_id == User.id)
        .scalar_subquery()
    )
    last_request = (
        select(func.max(RequestLog.created_at))
        .where(RequestLog.user_id == User.id)
        .scalar_subquery()
    )
    stmt = select(
        User.id,
        User.email,
        User.display_name,
        User.created_at,
        last_event.label("last_event_at"),
        last_request.label("last_request_at"),
        User.is_admin,
        User.is_internal,
    )
    if q is not None:
        stmt = stmt.where(_matches(q))
    if before is not None:
        stmt = stmt.where(User.id < before)
    rows = reader().execute(stmt.order_by(User.id.desc()).limit(limit + 1)).all()
    items = [Person(**row._mapping) for row in rows[:limit]]
    next_cursor = str(items[-1].id) if len(rows) > limit else None
    return PeopleResult(q=q, items=items, next_cursor=next_cursor)
