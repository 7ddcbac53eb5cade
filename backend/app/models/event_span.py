"""Each user's first and last event of each type, and an index the cohort reports scan.

user_event_spans is derived from analytics_events by app/services/insights/rollups/event_spans.py
(which documents how it is folded); it can be dropped and rebuilt at any time. Instants,
not local days: the local day of the first (last) event in any zone is the local day of
first_at (last_at), because the local date never goes backwards as time goes on.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime


class UserEventSpan(Base):
    """When a user first and last did an event type (occurred_at).

    User first in the key: erasure deletes by user, and retention looks up the last
    return event of each cohort member. No foreign key to users (bulk-built derived
    data); erasure deletes these rows.
    """

    __tablename__ = "user_event_spans"
    __table_args__ = (
        # First-time cohorts: the users whose first event of a type falls in a range.
        Index("idx_user_event_spans_first", "event_type", "first_at", "user_id"),
    )

    # A person's key: a user id, or an unlinked anonymous id's (insights/persons.py).
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    event_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())
