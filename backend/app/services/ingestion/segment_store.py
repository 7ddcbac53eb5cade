"""Storing Segment messages: every message checked, the good ones stored exactly once.

One transaction per call: the identity links, the events (one `INSERT ... ON CONFLICT DO
NOTHING RETURNING`) and the refused messages (rejected_events, in a SAVEPOINT so a failing
store never fails the call), then one commit. A database failure rolls all of it back and
raises ServiceUnavailable (503 with Retry-After): the SDK resends the same messages, and
their messageIds make the retry exact. Nothing is ever half-written.

Exactly once: an event's key is its person and its event_id (the messageId, or uuid5 of it
when it is not a UUID): (user_id, event_id) for a user's events (uq_events_user_event_id),
(anonymous_id, event_id) for anonymous ones (uq_events_anonymous_event_id, partial: user_id
IS NULL). ON CONFLICT DO NOTHING without a target honours both.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from app import metrics
from app.errors import ServiceUnavailable
from app.extensions import db
from app.models import AnalyticsEvent, User
from app.services.database import upsert
from app.services.identity import links
from app.services.ingestion import rejected_events
from app.services.ingestion.checks import IngestPolicy
from app.services.ingestion.segment import (
    MessageRefused,
    PreparedMessage,
    Sender,
    prepare_message,
)
from app.services.ingestion.segment_context import COLUMNS as CONTEXT_COLUMNS
from app.web import json_codec

log = logging.getLogger(__name__)

SOURCE = "v1"  # rejected_events.source of every /v1 refusal
_events: Table = AnalyticsEvent.__table__  # type: ignore[assignment]


@dataclass(slots=True)
class MessageResult:
    message_id: str | None  # the messageId as sent, so a client can match results
    status: str  # "accepted" | "duplicate" | "rejected"
    reason: str | None = None
    message: str | None = None
    field: str | None = None


@dataclass(frozen=True)
class IngestResult:
    results: list[MessageResult]

    @cached_property
    def counts(self) -> Counter[str]:
        return Counter(r.status for r in self.results)


def _echo(raw: Any) -> str | None:
    value = raw.get("messageId") if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None


def _scrubbed(raw: Any) -> Any:
    """A refused message as kept in rejected_events: without context.ip and traits (an
    address and a profile are not needed to debug a client, and are not ours to keep)."""
    if not isinstance(raw, dict):
        return raw
    kept = {key: value for key, value in raw.items() if key != "traits"}
    context = kept.get("context")
    if isinstance(context, dict):
        kept["context"] = {k: v for k, v in context.items() if k not in ("ip", "traits")}
    return kept


def _refuse(results: list[MessageResult | None], rejections: list[rejected_events.Rejection],
            index: int, raw: Any, exc: MessageRefused) -> None:
    results[index] = MessageResult(_echo(raw), "rejected", exc.reason, exc.message, exc.field)
    rejections.append(rejected_events.Rejection(exc.reason, _scrubbed(raw)))


def _with_context(raw: Any, batch_context: Any) -> Any:
    if not isinstance(batch_context, dict) or not batch_context or not isinstance(raw, dict):
        return raw
    context = raw.get("context")
    if context is None:
        return raw | {"context": batch_context}
    if isinstance(context, dict):
        return raw | {"context": batch_context | context}
    return raw  # not an object: refused as it is


def _users(conn: Connection, user_ids: set[int]) -> dict[int, bool]:
    """user id -> whether their events are kept (False: opted out); unknown ids left out."""
    if not user_ids:
        return {}
    rows = conn.execute(
        select(User.id, User.analytics_opt_out).where(User.id.in_(sorted(user_ids)))
    )
    return {user_id: not opted_out for user_id, opted_out in rows}


def _row(m: PreparedMessage, received_at: datetime) -> dict[str, Any]:
    return {
        "user_id": m.user_id,
        "anonymous_id": m.anonymous_id,
        "event_id": uuid.UUID(m.event_id),
        "event_type": m.event_type,
        "event_data": m.event_data,
        "occurred_at": m.occurred_at,
        "created_at": received_at,
        **m.columns,
    }


# PostgreSQL: one statement of constant text (prepared once per connection) whatever the
# batch, the messages as one JSON array the server unpacks, as /api/v2's batch does
# (services/ingestion/batch.py). A multi-row VALUES of 100 messages x 18 columns was
# compiled by SQLAlchemy and split by psycopg on every call: over 0.1 s of CPU a batch.
_TYPED_COLUMNS = (
    ("user_id", "bigint"), ("anonymous_id", "text"), ("event_id", "uuid"),
    ("event_type", "text"), ("event_data", "jsonb"), ("occurred_at", "timestamptz"),
    *((column, "text") for column in CONTEXT_COLUMNS),
)
# The inserted rows' keys come back as one JSON array of [user_id, anonymous_id, event_id]
# (one value to read, not a hundred rows through the result machinery).
_PG_INSERT = (
    f"WITH inserted AS (INSERT INTO {_events.name}"
    f" ({', '.join(name for name, _ in _TYPED_COLUMNS)}, created_at)"
    f" SELECT {', '.join('e.' + name for name, _ in _TYPED_COLUMNS)}, %(created_at)s"
    " FROM json_to_recordset(%(messages)s::json)"
    f" AS e({', '.join(f'{name} {kind}' for name, kind in _TYPED_COLUMNS)})"
    " ON CONFLICT DO NOTHING RETURNING user_id, anonymous_id, event_id)"
    " SELECT json_agg(json_build_array(user_id, anonymous_id, event_id))::text FROM inserted"
)


def _messages_json(messages: list[PreparedMessage]) -> str:
    """The events as the JSON array _PG_INSERT unpacks; event_data as the checked text."""
    return json_codec.dumps_events([
        {"user_id": m.user_id, "anonymous_id": m.anonymous_id, "event_id": m.event_id,
         "event_type": m.event_type, "event_data": json_codec.Fragment(m.data_json),
         "occurred_at": m.occurred_at, **m.columns}
        for m in messages
    ])


def _insert_events(conn: Connection, messages: list[PreparedMessage],
                   received_at: datetime) -> set[tuple[Any, ...]]:
    """Insert; the (user_id, anonymous_id or None, event_id) of the rows actually inserted."""
    if not messages:
        return set()
    if conn.dialect.name == "postgresql":
        params = {"created_at": received_at, "messages": _messages_json(messages)}
        keys = conn.exec_driver_sql(_PG_INSERT, params).scalar()
        inserted = json_codec.loads(keys.encode()) if keys else []
    else:
        rows = [_row(m, received_at) for m in messages]
        inserted = conn.execute(
            upsert.insert(conn, _events)
            .values(rows)
            .on_conflict_do_nothing()
            .returning(_events.c.user_id, _events.c.anonymous_id, _events.c.event_id)
        )
    return {
        (user_id, anonymous_id if user_id is None else None, str(event_id))
        for user_id, anonymous_id, event_id in inserted
    }


def ingest_messages(
    *,
    messages: list[Any],
    kind: str | None,
    sender: Sender,
    policy: IngestPolicy,
    received_at: datetime,
    batch_sent_at: Any = None,
    batch_context: Any = None,
) -> IngestResult:
    """Check, link and store the messages of one /v1 call; one commit for all of it.

    batch_context (a batch's top-level context) is the default of each message's context.
    """
    results: list[MessageResult | None] = [None] * len(messages)
    rejections: list[rejected_events.Rejection] = []
    prepared: list[tuple[int, PreparedMessage]] = []
    seen: set[tuple[Any, ...]] = set()
    for index, raw in enumerate(messages):
        try:
            message = prepare_message(
                _with_context(raw, batch_context), kind=kind, sender=sender, policy=policy,
                received_at=received_at, batch_sent_at=batch_sent_at,
            )
        except MessageRefused as exc:
            _refuse(results, rejections, index, raw, exc)
            continue
        if message.dedupe_key in seen:
            results[index] = MessageResult(_echo(raw), "duplicate")
            continue
        seen.add(message.dedupe_key)
        prepared.append((index, message))

    session = db.session()
    try:
        conn = session.connection()
        _store(conn, messages, prepared, results, rejections, received_at)
        rejected_events.add_in_savepoint(
            session, user_id=None, source=SOURCE, received_at=received_at,
            rejections=rejections,
        )
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        log.exception("could not store %d /v1 message(s)", len(prepared))
        raise ServiceUnavailable(
            "The messages could not be stored. Retry the same messages later.",
            headers={"Retry-After": "5"},
        ) from None
    result = IngestResult([r for r in results if r is not None])
    for status in ("accepted", "duplicate"):
        metrics.count_events(status, result.counts[status])
    rejected_events.count_rejections(rejections)
    return result


def _store(
    conn: Connection,
    raws: list[Any],
    prepared: list[tuple[int, PreparedMessage]],
    results: list[MessageResult | None],
    rejections: list[rejected_events.Rejection],
    received_at: datetime,
) -> None:
    """The database half of ingest_messages, inside its transaction."""
    anonymous = [m.anonymous_id for _, m in prepared
                 if m.kind == "event" and m.user_id is None and m.anonymous_id]
    owners = links.owners(conn, anonymous)
    wanted = {m.user_id for _, m in prepared if m.user_id is not None} | set(owners.values())
    users = _users(conn, wanted)
    to_insert: list[tuple[int, PreparedMessage]] = []
    for index, message in prepared:
        raw = raws[index]
        if message.user_id is not None and message.user_id not in users:
            _refuse(results, rejections, index, raw, MessageRefused(
                "invalid_user_id", "userId", "userId must be the id of a user of this app."))
        elif message.kind == "link":
            results[index] = _link(conn, message, raw, received_at)
            if results[index].status == "rejected":  # type: ignore[union-attr]
                rejections.append(
                    rejected_events.Rejection("anonymous_id_taken", _scrubbed(raw))
                )
        else:
            person = message.user_id or owners.get(message.anonymous_id or "")
            if person is not None and not users.get(person, False):
                # Opted out (or its owner is): answered as usual, never stored.
                results[index] = MessageResult(_echo(raw), "accepted")
            else:
                to_insert.append((index, message))
    inserted = _insert_events(conn, [m for _, m in to_insert], received_at)
    for index, message in to_insert:
        key = (message.user_id, message.anonymous_id if message.user_id is None else None,
               message.event_id)
        status = "accepted" if key in inserted else "duplicate"
        results[index] = MessageResult(_echo(raws[index]), status)


def _link(conn: Connection, message: PreparedMessage, raw: Any,
          received_at: datetime) -> MessageResult:
    if message.user_id is None or message.anonymous_id is None:
        # identify with one id only: nothing to link (traits are not stored).
        return MessageResult(_echo(raw), "accepted")
    outcome = links.link(
        conn, anonymous_id=message.anonymous_id, user_id=message.user_id,
        linked_by=message.linked_by, at=received_at,
    )
    if outcome is links.LinkOutcome.TAKEN:
        return MessageResult(
            _echo(raw), "rejected", "anonymous_id_taken",
            "This anonymous id is already linked to another user.", "anonymousId",
        )
    status = "accepted" if outcome is links.LinkOutcome.LINKED else "duplicate"
    return MessageResult(_echo(raw), status)
