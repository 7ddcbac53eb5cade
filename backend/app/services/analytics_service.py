"""Recording product events."""

from __future__ import annotations

import logging
import uuid
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from app import clock, metrics
from app.errors import ValidationFailed
from app.extensions import db
from app.models import AnalyticsEvent
from app.services.database.driver_sql import fetch_one
from app.services.group_commit import GroupCommitter
from app.services.ingestion.batch import insert_ignoring_duplicates
from app.services.ingestion.checks import (
    IngestPolicy,
    check_data_json,
    check_event_type,
    place_in_time,
)
from app.services.ingestion.storability import EventDataError, check_event_data, event_data_json
from app.services.privacy.opt_out import skip_opted_out

log = logging.getLogger(__name__)

_events = AnalyticsEvent.__table__


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        "The request has invalid fields.", errors=[{"field": field, "message": message}]
    )


def _caller_has_written(session: Session) -> bool:
    """True when the session's open transaction has already written to the database.

    SQLite: the driver opens its transaction only before the first write, so an open
    transaction means the caller holds the single write lock. Elsewhere: the session
    listeners below mark a flush or an ORM-level INSERT/UPDATE/DELETE (no round trip).
    """
    if not session.in_transaction():
        return False
    if session.info.get(_WROTE):
        return True
    if session.get_bind().dialect.name == "sqlite":
        try:
            conn = session.connection()
            return bool(conn.connection.dbapi_connection.in_transaction)  # type: ignore[union-attr]
        except SQLAlchemyError:
            log.debug("could not inspect the caller's transaction", exc_info=True)
    return False


_WROTE = "analytics_caller_wrote"


@event.listens_for(Session, "after_flush")
def _mark_flush(session: Session, _flush_context: Any) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _mark_dml(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True


@event.listens_for(Session, "after_transaction_end")
def _clear_mark(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_WROTE, None)


def _caller_is_clean(session: Session) -> bool:
    """The session has nothing of the caller's to write: no pending objects, no writes."""
    return not (session.new or session.dirty or session.deleted)


@dataclass(frozen=True)
class TrackedEvent:
    """A stored event; duplicate when its event_id was already stored (this is the original)."""

    event: AnalyticsEvent
    duplicate: bool = False
    clamped: bool = False


def _store(conn: Connection, values: dict[str, Any], *, idempotent: bool) -> TrackedEvent:
    """Insert one event. idempotent: a stored (user_id, event_id) is returned, not repeated."""
    if not idempotent:
        stmt = insert(_events).values(**values)
    else:
        stmt = insert_ignoring_duplicates(conn, [values])
    event_id = conn.execute(stmt.returning(_events.c.id)).scalar_one_or_none()
    if event_id is not None:
        return TrackedEvent(AnalyticsEvent(id=event_id, **values))
    return TrackedEvent(_original(conn, values), duplicate=True)


def _original(conn: Connection, values: dict[str, Any]) -> AnalyticsEvent:
    """The event stored before under values' (user_id, event_id)."""
    original = conn.execute(
        select(_events).where(
            _events.c.user_id == values["user_id"], _events.c.event_id == values["event_id"]
        )
    ).one()
    return AnalyticsEvent(**original._asdict())


# PostgreSQL, one event: a statement of constant text run by psycopg itself (prepared, no
# SQLAlchemy compilation or execution context: services/database/driver_sql.py), event_data
# as the JSON text the checks produced. ON CONFLICT makes it repeatable: run again after a
# dropped connection, it stores nothing twice and the event stored the first time is read
# back.
_PG_INSERT_ONE = (
    f"INSERT INTO {_events.name}"
    " (user_id, event_type, event_data, created_at, event_id, occurred_at)"
    " VALUES (%(user_id)s, %(event_type)s, %(event_data_json)s::jsonb, %(created_at)s,"
    " %(event_id)s, %(occurred_at)s)"
    " ON CONFLICT (user_id, event_id) DO NOTHING RETURNING id"
)


def _store_repeatable(
    conn: Connection, values: dict[str, Any], data_json: str, *, idempotent: bool
) -> TrackedEvent:
    """_store for PostgreSQL, safe to run twice (see _PG_INSERT_ONE).

    A conflict is a duplicate only when the client chose the event_id (idempotent); an
    event_id of ours conflicts only with this very event, stored by an earlier attempt.
    """
    row = fetch_one(conn, _PG_INSERT_ONE, values | {"event_data_json": data_json})
    if row is not None:
        return TrackedEvent(AnalyticsEvent(id=row[0], **values))
    return TrackedEvent(_original(conn, values), duplicate=idempotent)


def _store_and_commit(session: Session, values: dict[str, Any], *,
                      idempotent: bool) -> TrackedEvent:
    """Insert and commit in the session's own transaction, which holds only reads.

    Committing it commits nothing of the caller's, and it spares a second pooled
    connection (checkout, pre-ping, BEGIN): the cheapest durable path for /track.
    Loaded objects stay loaded; on failure the read-only transaction is rolled back.
    """
    expire = session.expire_on_commit
    session.expire_on_commit = False
    try:
        try:
            tracked = _store(session.connection(), values, idempotent=idempotent)
        except DBAPIError as exc:
            # The pool does not ping on checkout: a connection found dropped before the
            # insert reached the database is retried once on a fresh one. (Not a failed
            # COMMIT: whether that one was stored is unknown, so it is not repeated.)
            if not exc.connection_invalidated:
                raise
            session.rollback()
            tracked = _store(session.connection(), values, idempotent=idempotent)
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        raise
    finally:
        session.expire_on_commit = expire
    return tracked


class AnalyticsService:
    """Product events. The class form is the product's existing call site."""

    @staticmethod
    def validate(event_type: Any, event_data: Any) -> dict[str, Any]:
        """The event data when storable; ValidationFailed naming the field otherwise."""
        if not isinstance(event_type, str) or not 0 < len(event_type) <= 64:
            raise _invalid("event_type", "Must be a string of 1 to 64 characters.")
        try:
            return check_event_data({} if event_data is None else event_data)
        except EventDataError as exc:
            raise _invalid("event_data", str(exc)) from None

    @staticmethod
    def track(
        user_id: int,
        event_type: str,
        event_data: dict[str, Any] | None = None,
        *,
        received_at: datetime | None = None,
    ) -> AnalyticsEvent | None:
        """Validate, store and commit one server-owned event; None (logged) when the database fails.

        The event gets a fresh event_id and occurred_at = created_at. Invalid data raises
        ValidationFailed. The event's transaction is its own, and it never commits or
        discards the caller's pending work:

        - On PostgreSQL, when the caller's open transaction has not written, the event is
          inserted on a connection of its own and committed together with the events of
          concurrent requests (services/group_commit.py); this returns once it is committed.
        - Otherwise (SQLite), when the caller's session holds nothing to write (it has only
          read, like the /track route or a plan view), the event is inserted and committed
          in the session's own transaction: there is nothing of the caller's in it to commit.
        - When the caller has pending objects it has not flushed, the event is inserted
          and committed at once on a separate connection: it is stored even if the
          caller rolls back later.
        - When the caller's open transaction has already written, the event goes into a
          SAVEPOINT of the caller's session instead, and so is stored when the caller
          commits. A separate connection would wait on the caller's own locks: SQLite's
          single write lock (a certain deadlock until the busy timeout), or on PostgreSQL
          rows the caller has locked or inserted (a user created in the same transaction
          is invisible to another connection, so the foreign key would fail).

        Either way a failure rolls back only the event's own work.
        """
        data = AnalyticsService.validate(event_type, event_data)
        skipped = skip_opted_out(user_id, event_type, data, received_at)
        if skipped is not None:
            return skipped
        created_at = received_at or clock.now()
        values = {
            "user_id": user_id,
            "event_type": event_type,
            "event_data": data,
            "created_at": created_at,
            "event_id": uuid.uuid4(),
            "occurred_at": created_at,
        }
        tracked = _record(values, event_data_json(data), idempotent=False)
        return tracked.event if tracked is not None else None

    @staticmethod
    def track_client_event(
        *,
        user_id: int,
        event_type: str,
        event_data: dict[str, Any] | None,
        policy: IngestPolicy,
        received_at: datetime,
        event_id: uuid.UUID | None = None,
        occurred_at: datetime | None = None,
        sent_at: datetime | None = None,
    ) -> TrackedEvent | None:
        """One event a client sent (/track): whitelisted type, storable data matching its
        schema, occurred_at corrected like a batch's. A repeated event_id returns the
        original, stored once. Raises EventRefused (a ValidationFailed with a reason code);
        None (logged) when the database fails.
        """
        check_event_type(event_type, policy)
        data, data_json = check_data_json(event_type, event_data, policy)
        occurred, clamped = place_in_time(
            occurred_at=occurred_at, sent_at=sent_at, received_at=received_at
        )
        skipped = skip_opted_out(user_id, event_type, data, received_at)
        if skipped is not None:
            return TrackedEvent(skipped)
        values = {
            "user_id": user_id,
            "event_type": event_type,
            "event_data": data,
            "created_at": received_at,
            "event_id": event_id or uuid.uuid4(),
            "occurred_at": occurred,
        }
        tracked = _record(values, data_json, idempotent=event_id is not None)
        if tracked is None:
            return None
        metrics.count_events("duplicate" if tracked.duplicate else "accepted", 1)
        return TrackedEvent(tracked.event, tracked.duplicate, clamped)


def _committer(session: Session) -> GroupCommitter | None:
    """The process's group committer for the session's engine (PostgreSQL only: SQLite has
    one writer at a time, and its commits are not what a request waits for)."""
    engine = session.get_bind()
    if engine.dialect.name != "postgresql":
        return None
    committer = _COMMITTERS.get(engine)
    if committer is None:
        committer = _COMMITTERS.setdefault(engine, GroupCommitter(engine))  # type: ignore[arg-type]
    return committer


_COMMITTERS: weakref.WeakKeyDictionary[Any, GroupCommitter] = weakref.WeakKeyDictionary()


def _record(values: dict[str, Any], data_json: str, *, idempotent: bool) -> TrackedEvent | None:
    """Store one event in a transaction of its own (see AnalyticsService.track).

    data_json: event_data's compact JSON text, as stored.
    """
    session = db.session()
    try:
        if _caller_has_written(session):
            with session.begin_nested():
                return _store(session.connection(), values, idempotent=idempotent)
        committer = _committer(session)
        if committer is not None:
            # Committed with the events of concurrent requests, on a connection of its own
            # (nothing of the caller's is in it); returns once committed. Alone, it is one
            # autocommitted statement: repeatable, so it may be run twice (see the committer).
            return committer.run(
                lambda conn: _store_repeatable(conn, values, data_json, idempotent=idempotent),
                repeatable=True,
            )
        if _caller_is_clean(session):
            return _store_and_commit(session, values, idempotent=idempotent)
        with db.engine.begin() as conn:
            return _store(conn, values, idempotent=idempotent)
    except SQLAlchemyError:
        log.exception(
            "could not store %s event for user %s", values["event_type"], values["user_id"]
        )
        return None
