"""Everything stored about one user, as one JSON document produced piece by piece.

The document is yielded in pieces: each table's rows are read in chunks (yield_per:
a server-side cursor on PostgreSQL), so a user with a million events is never held
in memory. The caller streams the pieces (the route wraps them in
stream_with_context).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, Table, select

from app import clock
from app.errors import NotFound
from app.extensions import db
from app.models import (
    AnalyticsEvent,
    AnonymousIdentity,
    Completion,
    Enrollment,
    RejectedEvent,
    RequestLog,
    RevokedToken,
    User,
    UserLikedVideo,
)
from app.services.identity import links

FORMAT = "challenge-data-export/1"
# The document's sections after "user": (key, table, order column), each a JSON array.
SECTIONS: tuple[tuple[str, Table, str], ...] = tuple(
    (key, model.__table__, order)  # type: ignore[misc]
    for key, model, order in (
        ("enrollments", Enrollment, "id"),
        ("completions", Completion, "id"),
        ("liked_videos", UserLikedVideo, "video_id"),
        ("analytics_events", AnalyticsEvent, "id"),
        ("rejected_events", RejectedEvent, "id"),
        ("request_logs", RequestLog, "id"),
        ("revoked_tokens", RevokedToken, "id"),
        ("anonymous_ids", AnonymousIdentity, "anonymous_id"),
    )
)
_EVENTS: Table = AnalyticsEvent.__table__  # type: ignore[assignment]
# Never exported: a password hash is a secret of the service, not data about the person.
_PRIVATE_USER_COLUMNS = frozenset({"password_hash"})


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_default, ensure_ascii=False, separators=(",", ":"))


def _row(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return dict(mapping)


def export_user(*, user_id: int, chunk_rows: int = 1000) -> Iterator[str]:
    """The pieces of the user's export document; NotFound at once for an unknown user.

    Checked before the first piece so that an HTTP caller can still answer 404.
    """
    users = User.__table__
    columns = [c for c in users.c if c.name not in _PRIVATE_USER_COLUMNS]
    profile = db.session.execute(select(*columns).where(users.c.id == user_id)).mappings().first()
    if profile is None:
        raise NotFound("No such user.")
    return _pieces(user_id=user_id, profile=_row(profile), chunk_rows=max(1, chunk_rows))


def _sections(user_id: int) -> Iterator[tuple[str, Select[Any]]]:
    """Each section's key and rows: the user's rows of each table, then the anonymous
    events of the anonymous ids linked to the user (the history from before they logged in)."""
    for key, table, order in SECTIONS:
        yield key, select(table).where(table.c.user_id == user_id).order_by(table.c[order])
    anonymous = select(_EVENTS).where(
        _EVENTS.c.user_id.is_(None), _EVENTS.c.anonymous_id.in_(links.anonymous_ids_of(user_id))
    )
    yield "anonymous_events", anonymous.order_by(_EVENTS.c.id)


def _pieces(*, user_id: int, profile: dict[str, Any], chunk_rows: int) -> Iterator[str]:
    head = {"format": FORMAT, "exported_at": clock.now(), "user": profile}
    yield _dumps(head)[:-1]  # the object stays open for the sections
    for key, statement in _sections(user_id):
        yield f",{_dumps(key)}:["
        first = True
        result = db.session.execute(statement.execution_options(yield_per=chunk_rows))
        try:
            for chunk in result.mappings().partitions():
                text = ",".join(_dumps(_row(row)) for row in chunk)
                yield text if first else "," + text
                first = False
        finally:
            result.close()
        yield "]"
    yield "}"
