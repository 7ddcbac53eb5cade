"""Recording product events."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from app.config import SERVER_EVENT_TYPES
from app.errors import ValidationFailed
from app.extensions import db
from app.models import AnalyticsEvent
from app.services import clock
from app.services.event_validation import EventDataError, check_event_data

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


def _insert_and_commit(session: Session, values: dict[str, Any]) -> int:
    """Insert and commit in the session's own transaction, which holds only reads.

    Committing it commits nothing of the caller's, and it spares a second pooled
    connection (checkout, pre-ping, BEGIN): the cheapest durable path for /track.
    Loaded objects stay loaded; on failure the read-only transaction is rolled back.
    """
    expire = session.expire_on_commit
    session.expire_on_commit = False
    try:
        event_id = _insert(session.connection(), values)
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        raise
    finally:
        session.expire_on_commit = expire
    return event_id


def _insert(conn: Connection, values: dict[str, Any]) -> int:
    return conn.execute(insert(_events).values(**values).returning(_events.c.id)).scalar_one()


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
        """Validate, store and commit one event; None (logged) when the database fails.

        Invalid data raises ValidationFailed. The event's transaction is its own, and it
        never commits or discards the caller's pending work:

        - When the caller's session holds nothing to write (it has only read, like the
          /track route or a plan view), the event is inserted and committed in the
          session's own transaction: there is nothing of the caller's in it to commit.
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
        values = {
            "user_id": user_id,
            "event_type": event_type,
            "event_data": data,
            "created_at": received_at or clock.now(),
        }
        session = db.session()
        try:
            if _caller_has_written(session):
                with session.begin_nested():
                    event_id = _insert(session.connection(), values)
            elif _caller_is_clean(session):
                event_id = _insert_and_commit(session, values)
            else:
                with db.engine.begin() as conn:
                    event_id = _insert(conn, values)
        except SQLAlchemyError:
            log.exception("could not store %s event for user %s", event_type, user_id)
            return None
        return AnalyticsEvent(id=event_id, **values)

    @staticmethod
    def track_client_event(
        *,
        user_id: int,
        event_type: str,
        event_data: dict[str, Any] | None,
        allowed_types: Iterable[str],
        received_at: datetime | None = None,
    ) -> AnalyticsEvent | None:
        """track() for an event a client sent: only whitelisted types are accepted."""
        allowed = tuple(t for t in allowed_types if t not in SERVER_EVENT_TYPES)
        listing = "allowed: " + ", ".join(allowed) + "."
        if event_type in SERVER_EVENT_TYPES:
            raise _invalid(
                "event_type",
                f"{event_type!r} is recorded by the server and cannot be sent by a client; "
                + listing,
            )
        if event_type not in allowed:
            raise _invalid("event_type", f"Unknown event type {event_type!r}; {listing}")
        return AnalyticsService.track(user_id, event_type, event_data, received_at=received_at)
