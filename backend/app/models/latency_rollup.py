"""The latency histogram rollup of request_logs (kept by services/insights/rollups/latency.py).

One row per route template, method, UTC time bucket, latency bin and internal user: how
many requests fell in it, and how many of them answered 4xx and 5xx. Every request is
counted at three grains (15 minutes, 1 hour, 1 day, all UTC), so a long range reads a few
coarse rows and only its edges read fine ones.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime


class LatencyRollup(Base):
    __tablename__ = "latency_rollups"
    __table_args__ = (
        # The series of one route reads its rows only.
        Index("idx_latency_rollups_route", "endpoint", "method", "grain", "bucket_start"),
        # The few rows of internal users, found when one stops being internal.
        Index(
            "idx_latency_rollups_internal",
            "internal_user_id",
            postgresql_where=text("internal_user_id <> 0"),
            sqlite_where=text("internal_user_id <> 0"),
        ),
    )

    # The bucket's width in minutes: 15, 60 or 1440.
    grain: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    # The bucket's first instant (UTC, a multiple of the grain since 1970).
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(255), primary_key=True)
    method: Mapped[str] = mapped_column(String(10), primary_key=True)
    # floor(ln(latency_ms) / ln(1.04)); a reserved value for 0 ms (see the service).
    bin: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # The user's id for requests of an internal user (latency_rollup_users), else 0.
    internal_user_id: Mapped[int] = mapped_column(
        Integer, primary_key=True, autoincrement=False
    )
    requests: Mapped[int] = mapped_column(Integer)
    n4xx: Mapped[int] = mapped_column(Integer)
    n5xx: Mapped[int] = mapped_column(Integer)


class LatencyRollupUser(Base):
    """The internal users whose requests latency_rollups counts apart, as of its last fold
    (no foreign key: an erased user's rows are merged back by the next fold)."""

    __tablename__ = "latency_rollup_users"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
