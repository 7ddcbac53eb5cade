"""Batch ingestion: up to 100 client events in one call, each stored exactly once.

Duplicates are decided by the database, not by a lookup: the accepted events go into
one `INSERT ... ON CONFLICT (user_id, event_id) DO NOTHING RETURNING event_id`, and an
event_id that does not come back was already stored (by an earlier batch, /track, or a
concurrent request). The transaction commits before the answer is sent.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.dml import Insert

from app import metrics
from app.errors import ServiceUnavailable
from app.extensions import db
from app.models import AnalyticsEvent
from app.services.database import statistics, upsert
from app.services.ingestion import rejected_events
from app.services.ingestion.checks import (
    EventRefused,
    IngestPolicy,
    PreparedEvent,
    prepare_batch_event,
)
from app.services.privacy.opt_out import tracking_allowed
from app.web import json_codec

log = logging.getLogger(__name__)

MAX_BATCH_EVENTS = 100
_events = AnalyticsEvent.__table__


@dataclass(slots=True)  # not frozen: built 100 times per batch
class EventResult:
    event_id: Any
    status: str  # "accepted" | "duplicate" | "rejected"
    reason: str | None = None
    message: str | None = None
    clamped: bool = False


@dataclass(frozen=True)
class BatchResult:
    results: list[EventResult]

    @cached_property
    def _counts(self) -> Counter[str]:
        return Counter(r.status for r in self.results)

    def count(self, status: str) -> int:
        return self._counts[status]

    @property
    def accepted(self) -> int:
        return self.count("accepted")

    @property
    def duplicate(self) -> int:
        return self.count("duplicate")

    @property
    def rejected(self) -> int:
        return self.count("rejected")


def insert_ignoring_duplicates(conn: Connection, rows: list[dict[str, Any]]) -> Insert:
    """`INSERT ... ON CONFLICT (user_id, event_id) DO NOTHING` in the connection's dialect."""
    return (
        upsert.insert(conn, _events)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["user_id", "event_id"])
    )


# PostgreSQL: one statement of constant text whatever the batch size (prepared once per
# connection), the events as one JSON array that the server unpacks (json_to_recordset):
# one parameter to send instead of four arrays of Python objects to adapt, and event_data
# is the JSON text the checks already produced (never serialized twice). The inserted
# event_ids come back as one comma-separated text, not as a hundred rows.
_PG_INSERT = (
    "WITH inserted AS ("
    " INSERT INTO analytics_events"
    " (user_id, event_id, event_type, event_data, occurred_at, created_at)"
    " SELECT %(user_id)s, e.i, e.t, e.d, e.o, %(created_at)s"
    " FROM json_to_recordset(%(events)s::json) AS e(i uuid, t text, d jsonb, o timestamptz)"
    " ON CONFLICT (user_id, event_id) DO NOTHING RETURNING event_id"
    ") SELECT string_agg(event_id::text, ',') FROM inserted"
)


def _events_json(events: list[PreparedEvent]) -> str:
    """The events as the JSON array _PG_INSERT unpacks; event_data goes in as the checked
    text itself (a Fragment), occurred_at as RFC 3339 with its offset."""
    return json_codec.dumps_events([
        {"i": e.event_id, "t": e.event_type, "d": json_codec.Fragment(e.data_json),
         "o": e.occurred_at}
        for e in events
    ])


def _insert_new(conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
    """Insert rows in one statement; the event_ids actually inserted (the rest existed)."""
    if not rows:
        return set()
    stmt = insert_ignoring_duplicates(conn, rows).returning(_events.c.event_id)
    return {str(event_id) for event_id in conn.execute(stmt).scalars()}


def _insert_new_prepared(
    conn: Connection, *, user_id: int, received_at: datetime, events: list[PreparedEvent]
) -> set[str]:
    """_insert_new for checked events; on PostgreSQL one INSERT ... SELECT of a JSON array."""
    if not events:
        return set()
    if conn.dialect.name != "postgresql" or any(e.data_json is None for e in events):
        return _insert_new(conn, _rows(user_id, received_at, events))
    params = {"user_id": user_id, "created_at": received_at, "events": _events_json(events)}
    inserted = conn.exec_driver_sql(_PG_INSERT, params).scalar()
    return set(inserted.split(",")) if inserted else set()


def _rows(user_id: int, received_at: datetime, events: list[PreparedEvent]) -> list[dict]:
    return [
        {
            "user_id": user_id,
            "event_id": uuid.UUID(e.event_id),
            "event_type": e.event_type,
            "event_data": e.event_data,
            "created_at": received_at,
            "occurred_at": e.occurred_at,
        }
        for e in events
    ]


def _echo(raw: Any) -> Any:
    """The event_id as the client sent it, so a client can match results; None if absent."""
    value = raw.get("event_id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None


def ingest_batch(
    *,
    user_id: int,
    events: list[Any],
    sent_at: datetime,
    received_at: datetime,
    policy: IngestPolicy,
    backfill: bool = False,
) -> BatchResult:
    """Check every event, store the good ones once, keep the refused ones; one commit.

    Raises ServiceUnavailable (nothing stored, nothing recorded) when the database fails,
    so the client retries the same batch and its event_ids make the retry exact.
    """
    results: list[EventResult | None] = [None] * len(events)
    prepared: list[tuple[int, PreparedEvent]] = []
    rejections: list[rejected_events.Rejection] = []
    seen: set[str] = set()
    for index, raw in enumerate(events):
        try:
            event = prepare_batch_event(
                raw, policy=policy, sent_at=sent_at, received_at=received_at, backfill=backfill
            )
        except EventRefused as exc:
            results[index] = EventResult(_echo(raw), "rejected", exc.reason, exc.message)
            rejections.append(rejected_events.Rejection(exc.reason, raw))
            continue
        if event.event_id in seen:
            results[index] = EventResult(_echo(raw), "duplicate")
            continue
        seen.add(event.event_id)
        prepared.append((index, event))

    to_store = [e for _, e in prepared]
    if to_store and not tracking_allowed(user_id):
        # Opted out: checked and answered as usual, never stored (privacy/opt_out.py).
        to_store = []
        opted_out = True
    else:
        opted_out = False
    session = db.session()
    try:
        inserted = _insert_new_prepared(
            session.connection(), user_id=user_id, received_at=received_at, events=to_store
        )
        rejected_events.add_in_savepoint(
            session, user_id=user_id, source="batch", received_at=received_at,
            rejections=rejections,
        )
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        log.exception(
            "could not store a batch of %d events for user %s", len(to_store), user_id
        )
        raise ServiceUnavailable(
            "The events could not be stored. Retry the same batch later.",
            headers={"Retry-After": "5"},
        ) from None

    # At volume (autovacuum off or behind), the planner's statistics are refreshed in the
    # background every statistics.CHECK_ROWS rows this process stores.
    statistics.note_writes(db.engine, [_events.name], len(inserted))
    for index, event in prepared:
        status = "accepted" if opted_out or event.event_id in inserted else "duplicate"
        # A checked event is an object whose event_id is a string: _echo's answer, read directly.
        results[index] = EventResult(events[index]["event_id"], status, clamped=event.clamped)
    result = BatchResult([r for r in results if r is not None])
    if result.accepted:
        metrics.count_events("accepted", result.accepted)
    if result.duplicate:
        metrics.count_events("duplicate", result.duplicate)
    rejected_events.count_rejections(rejections)
    return result
