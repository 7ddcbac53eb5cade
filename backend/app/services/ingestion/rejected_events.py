"""The rejected-event store: every refused client event, kept 14 days for debugging clients.

Writing here never fails a request: errors are logged and the request goes on.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app import clock, metrics
from app.extensions import db
from app.models import RejectedEvent

log = logging.getLogger(__name__)

MAX_PAYLOAD_CHARS = 2048
_table = RejectedEvent.__table__


@dataclass(frozen=True)
class Rejection:
    reason: str
    payload: Any


def payload_text(payload: Any) -> str:
    """What was received as ASCII-escaped JSON, cut to 2 KiB.

    Escaping keeps NUL characters and lone surrogates (which JSON can carry but PostgreSQL
    text cannot) as the six characters \\u0000 or \\ud800, so any payload can be stored.
    """
    try:
        text = json.dumps(payload, ensure_ascii=True, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        text = json.dumps(repr(payload), ensure_ascii=True)
    return text[:MAX_PAYLOAD_CHARS]


def _rows(*, user_id: int | None, source: str, received_at: datetime,
          rejections: list[Rejection]) -> list[dict[str, Any]]:
    return [
        {
            "user_id": user_id,
            "reason": r.reason,
            "source": source,
            "payload": payload_text(r.payload),
            "received_at": received_at,
        }
        for r in rejections
    ]


def add_in_savepoint(session: Session, *, user_id: int | None, source: str,
                     received_at: datetime, rejections: list[Rejection]) -> bool:
    """Insert in a SAVEPOINT of the caller's open transaction; False (logged) on failure."""
    if not rejections:
        return True
    try:
        with session.begin_nested():
            session.execute(
                insert(_table),
                _rows(user_id=user_id, source=source, received_at=received_at,
                      rejections=rejections),
            )
    except SQLAlchemyError:
        log.exception("could not store %d rejected event(s)", len(rejections))
        return False
    return True


def record(*, user_id: int | None, source: str, received_at: datetime | None,
           rejections: list[Rejection]) -> bool:
    """Insert and commit on a connection of its own; False (logged) on failure."""
    if not rejections:
        return True
    rows = _rows(user_id=user_id, source=source, received_at=received_at or clock.now(),
                 rejections=rejections)
    try:
        with db.engine.begin() as conn:
            conn.execute(insert(_table), rows)
    except SQLAlchemyError:
        log.exception("could not store %d rejected event(s)", len(rejections))
        return False
    return True


def count_rejections(rejections: list[Rejection]) -> None:
    by_reason: dict[str, int] = defaultdict(int)
    for r in rejections:
        by_reason[r.reason] += 1
    for reason, n in by_reason.items():
        metrics.count_events("rejected", n, reason=reason)


@dataclass
class ReasonSummary:
    reason: str
    count: int = 0
    samples: list[RejectedEvent] = field(default_factory=list)


def summarize(*, since: datetime, reason: str | None = None,
              samples: int = 3) -> list[ReasonSummary]:
    """Rejections received since `since`, by reason (most frequent first), newest samples."""
    where = [RejectedEvent.received_at >= since]
    if reason:
        where.append(RejectedEvent.reason == reason)
    counts = db.session.execute(
        select(RejectedEvent.reason, func.count())
        .where(*where)
        .group_by(RejectedEvent.reason)
        .order_by(func.count().desc(), RejectedEvent.reason)
    ).all()
    out = []
    for name, count in counts:
        newest = db.session.scalars(
            select(RejectedEvent)
            .where(*where, RejectedEvent.reason == name)
            .order_by(RejectedEvent.received_at.desc(), RejectedEvent.id.desc())
            .limit(samples)
        ).all()
        out.append(ReasonSummary(name, int(count), list(newest)))
    return out
