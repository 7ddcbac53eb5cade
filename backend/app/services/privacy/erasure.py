"""Erasing a person: every row about them, in one transaction, with an audit record."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import Table, delete, func, select, update

from app import clock
from app.errors import NotFound, ValidationFailed
from app.extensions import db
from app.models import (
    ActivityUserDay,
    AnalyticsEvent,
    AnonymousIdentity,
    Completion,
    Enrollment,
    ErasureAudit,
    LatencyRollupUser,
    PasswordResetToken,
    ProgressDay,
    ProgressUser,
    RejectedEvent,
    RequestLog,
    RevokedToken,
    User,
    UserEventSpan,
    UserLikedVideo,
)
from app.services.analytics_store import erasure as store_erasure
from app.services.auth.service import verify_password
from app.services.identity import links
from app.services.insights.rollups import activity as activity_rollup
from app.services.insights.rollups import event_spans
from app.services.insights.rollups import latency as latency_rollup
from app.services.insights.rollups import progress as progress_rollup
from app.services.privacy.opt_out import forget_tracking_cache

# Deleted, in this order (children before parents), by their user_id column.
ERASED_TABLES: tuple[Table, ...] = tuple(
    model.__table__  # type: ignore[misc]
    for model in (
        Completion,
        Enrollment,
        UserLikedVideo,
        AnalyticsEvent,
        AnonymousIdentity,  # after the linked anonymous events (erase_user deletes them first)
        ActivityUserDay,  # after activity_rollup.forget_user took them out of the counters
        LatencyRollupUser,  # after latency_rollup.forget_user merged their rows back
        UserEventSpan,
        ProgressDay,  # after progress_rollup.forget_user took them out of the counts
        ProgressUser,
        RejectedEvent,
        RevokedToken,
        PasswordResetToken,
    )
)
# Kept as anonymous rows (API health stays correct): their user_id becomes NULL.
ANONYMIZED_TABLES: tuple[Table, ...] = (RequestLog.__table__,)  # type: ignore[assignment]


def check_password(*, user: User, password: str) -> None:
    """ValidationFailed (422) when the password is not the user's."""
    if not verify_password(user.password_hash, password):
        raise ValidationFailed(
            "The password is wrong: nothing was erased.",
            errors=[{"field": "password", "message": "Wrong password."}],
        )


def erase_user(
    *,
    user_id: int,
    requested_by: str,
    admin_user_id: int | None = None,
    password: str | None = None,
) -> ErasureAudit:
    """Erase a user and everything about them, with the anonymous history linked to them
    (identify/alias); all of it or none of it.

    requested_by is "self" (the password is required and checked) or "admin". Request
    logs are kept without their user id, including rows still queued in this process's
    request-log writer (flushed first). Returns the audit row (who asked, row counts).
    """
    if requested_by not in ("self", "admin"):
        raise ValueError(f"requested_by must be 'self' or 'admin', not {requested_by!r}")
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    if requested_by == "self":
        check_password(user=user, password=password or "")
    elif admin_user_id == user_id:
        # An admin erasing their own account: the audit must not name them.
        requested_by, admin_user_id = "self", None
    # Before this transaction writes: on SQLite the writer's insert would wait for our
    # write lock, and our UPDATE must see the queued rows.
    _flush_request_logs()
    counts: dict[str, int] = {}
    try:
        # Lock the user row first: a request-log writer that already found this user
        # (FOR KEY SHARE) finishes before us, so our UPDATE below sees its rows; one that
        # looks later waits for us and then finds the user gone.
        db.session.execute(
            select(User.__table__.c.id).where(User.__table__.c.id == user_id).with_for_update()
        )
        # The activity rollups' counters lose the person's days (the user's rows go below;
        # those their anonymous ids still have under their own keys go there).
        anonymous_ids = list(db.session.scalars(links.anonymous_ids_of(user_id)))
        activity_rollup.forget_user(
            session=db.session, user_id=user_id, anonymous_ids=anonymous_ids
        )
        # An internal user's counted requests join the shared ones (their logs stay, anonymous).
        latency_rollup.forget_user(db.session, user_id)
        event_spans.forget_user(session=db.session, user_id=user_id, anonymous_ids=anonymous_ids)
        progress_rollup.forget_user(session=db.session, user_id=user_id)
        # The analytics store (ClickHouse) first: if it cannot erase, nothing is erased.
        store_erasure.erase_user(
            db.session,
            user_id=user_id,
            anonymous_ids=list(db.session.scalars(links.anonymous_ids_of(user_id))),
        )
        # The person's anonymous history: events of every anonymous id linked to the user
        # (before the links go with ERASED_TABLES).
        events = AnalyticsEvent.__table__
        result = db.session.execute(
            delete(events).where(
                events.c.user_id.is_(None),
                events.c.anonymous_id.in_(links.anonymous_ids_of(user_id)),
            )
        )
        counts["analytics_events_anonymous"] = result.rowcount or 0
        for table in ERASED_TABLES:
            result = db.session.execute(delete(table).where(table.c.user_id == user_id))
            counts[table.name] = result.rowcount or 0
        for table in ANONYMIZED_TABLES:
            result = db.session.execute(
                update(table).where(table.c.user_id == user_id).values(user_id=None)
            )
            counts[f"{table.name}_anonymized"] = result.rowcount or 0
        result = db.session.execute(delete(User.__table__).where(User.__table__.c.id == user_id))
        counts["users"] = result.rowcount or 0
        store_erasure.after_erasure(db.session)
        audit = ErasureAudit(
            requested_by=requested_by,
            admin_user_id=admin_user_id if requested_by == "admin" else None,
            erased_at=clock.now(),
            row_counts=counts,
        )
        db.session.add(audit)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    forget_tracking_cache()
    return audit


def _flush_request_logs() -> None:
    writer = current_app.extensions.get("request_log_writer")
    if writer is not None and not writer.flush(timeout=10.0):
        current_app.logger.warning("request-log writer not flushed before an erasure")


def count_rows_about(*, user_id: int) -> dict[str, int]:
    """Rows that still refer to the user, per table (the tests' and operators' check)."""
    counts = {
        table.name: db.session.scalar(
            select(func.count()).select_from(table).where(table.c.user_id == user_id)
        )
        or 0
        for table in (*ERASED_TABLES, *ANONYMIZED_TABLES)
    }
    counts["users"] = db.session.scalar(
        select(func.count()).select_from(User).where(User.id == user_id)
    ) or 0
    return counts


def audit_summary(audit: ErasureAudit) -> dict[str, Any]:
    return {
        "erased_at": audit.erased_at,
        "requested_by": audit.requested_by,
        "row_counts": dict(audit.row_counts),
    }
