"""Daily plans of a challenge and the days users completed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, UTCDateTime, utcnow
from app.models.video import Video


class Plan(Base):
    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("challenge_id", "day", name="uq_plans_challenge_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"))
    day: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    tasks: Mapped[list[Any]] = mapped_column(JSON, default=list)
    video_id: Mapped[int | None] = mapped_column(
        ForeignKey("videos.id", ondelete="SET NULL"), index=True
    )

    video: Mapped[Video | None] = relationship(lazy="joined")


class Completion(Base):
    """One completed day of one enrollment."""

    __tablename__ = "completions"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "day", name="uq_completions_enrollment_day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    day: Mapped[int] = mapped_column(Integer)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
