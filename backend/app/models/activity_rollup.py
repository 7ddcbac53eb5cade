"""Activity rollups: who was active on which local day of a zone, and per-day counters.

Derived from analytics_events by app/services/insights/rollups/activity.py (which documents
how they are folded); each zone's rows can be dropped and rebuilt at any time. Days are
local dates of the zone, as days since 1970-01-01 (the reports' day keys).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base
from app.models.user import User


class ActivityZone(Base):
    """A time zone some report asked for: its rollup rows carry this small id."""

    __tablename__ = "activity_zones"

    id: Mapped[int] = mapped_column(primary_key=True)
    tz: Mapped[str] = mapped_column(String(64), unique=True)


class ActivityUserDay(Base):
    """A user's events of one type on one local day: the set the counters are kept from.

    User first in the key: erasure deletes by user, and folds look up a user's days.
    No foreign key to users (bulk-built derived data); erasure deletes these rows.
    """

    __tablename__ = "activity_user_days"

    # A person's key: a user id, or an unlinked anonymous id's (insights/persons.py).
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    zone_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    event_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    events: Mapped[int] = mapped_column(Integer)


class ActivityDayCount(Base):
    """Per local day, over all users (internal ones too: the reports subtract them).

    dau is the day's active users; wau_change and mau_change are changes of the rolling
    7- and 30-day counts from the previous day: WAU on day d is the sum of wau_change
    over the days up to d. Stored as changes, a late event touches two rows, not 30.
    """

    __tablename__ = "activity_day_counts"

    zone_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    dau: Mapped[int] = mapped_column(Integer, default=0)
    wau_change: Mapped[int] = mapped_column(Integer, default=0)
    mau_change: Mapped[int] = mapped_column(Integer, default=0)


class ActivityTypeCount(Base):
    """Per event type and local day, over all users: events and distinct users."""

    __tablename__ = "activity_type_counts"

    zone_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    event_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    events: Mapped[int] = mapped_column(BigInteger, default=0)
    users: Mapped[int] = mapped_column(Integer, default=0)


# The reports take internal users out of the rollups' counts when they read: this partial
# index finds those few users without scanning every user.
Index(
    "ix_users_internal",
    User.__table__.c.id,
    postgresql_where=User.__table__.c.is_internal,
    sqlite_where=User.__table__.c.is_internal,
)
