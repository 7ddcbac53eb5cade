"""Challenge progress rollup: who completed which day of a challenge, and counters per start.

Derived from enrollments and completions by app/services/insights/rollups/progress.py (which
documents how it is folded); it can be dropped and rebuilt at any time. Days of the
challenge (1..N) and start days (a DATE as days since 1970-01-01), no time zones.
"""

from __future__ import annotations

from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class ProgressUser(Base):
    """A user enrolled in a challenge: their first start day and the furthest day they
    completed (None before their first completion). User first in the key: erasure
    deletes by user. No foreign keys (derived data); erasure deletes these rows."""

    __tablename__ = "progress_users"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    challenge_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    start_day: Mapped[int] = mapped_column(Integer)
    max_day: Mapped[int | None] = mapped_column(Integer)


class ProgressDay(Base):
    """A day of a challenge that a user completed (once, however many enrollments)."""

    __tablename__ = "progress_days"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    challenge_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class ProgressCount(Base):
    """Users per (challenge, start day), over all users (reports subtract internal ones):

    kind 0: enrolled users (day 0); kind 1: users who completed `day`; kind 2: users whose
    furthest completed day is `day`.
    """

    __tablename__ = "progress_counts"

    challenge_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    start_day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    users: Mapped[int] = mapped_column(Integer, default=0)
