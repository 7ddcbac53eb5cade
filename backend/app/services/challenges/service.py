"""Challenges, enrollments and the day of a challenge a user is on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import clock
from app.errors import NotFound
from app.extensions import db
from app.models import Challenge, Enrollment, User
from app.services.analytics_service import AnalyticsService


def list_challenges() -> list[Challenge]:
    return list(db.session.scalars(select(Challenge).order_by(Challenge.id)))


def get(*, challenge_id: int) -> Challenge:
    challenge = db.session.get(Challenge, challenge_id)
    if challenge is None:
        raise NotFound(f"Challenge {challenge_id} does not exist.")
    return challenge


def active_enrollment(*, user_id: int, challenge_id: int) -> Enrollment | None:
    return db.session.scalars(
        select(Enrollment).where(
            Enrollment.user_id == user_id,
            Enrollment.challenge_id == challenge_id,
            Enrollment.ended_at.is_(None),
        )
    ).first()


def join(*, user: User, challenge_id: int) -> tuple[Enrollment, bool]:
    """Enroll the user starting today in their zone; (enrollment, created)."""
    challenge = get(challenge_id=challenge_id)
    existing = active_enrollment(user_id=user.id, challenge_id=challenge.id)
    if existing is not None:
        return existing, False
    enrollment = Enrollment(
        user_id=user.id,
        challenge_id=challenge.id,
        start_date=clock.today_in(user.timezone),
        joined_at=clock.now(),
    )
    db.session.add(enrollment)
    try:
        db.session.flush()
    except IntegrityError:  # joined concurrently: the other request's row stands
        db.session.rollback()
        existing = active_enrollment(user_id=user.id, challenge_id=challenge.id)
        if existing is None:
            raise
        return existing, False
    # In the same transaction (a savepoint): the event is stored exactly when the row is.
    AnalyticsService.track(
        user.id, "challenge_joined", {"challenge_id": challenge.id, "enrollment_id": enrollment.id}
    )
    db.session.commit()
    return enrollment, True


def leave(*, user: User, challenge_id: int) -> Enrollment:
    """End the active enrollment; its history (completions) stays."""
    challenge = get(challenge_id=challenge_id)
    enrollment = active_enrollment(user_id=user.id, challenge_id=challenge.id)
    if enrollment is None:
        raise NotFound(f"You are not enrolled in challenge {challenge_id}.")
    enrollment.ended_at = clock.now()
    db.session.commit()
    return enrollment


@dataclass(frozen=True)
class EnrollmentView:
    enrollment: Enrollment
    day_of_challenge: int | None

    def as_dict(self) -> dict[str, object]:
        e = self.enrollment
        return {
            "id": e.id,
            "challenge_id": e.challenge_id,
            "challenge": e.challenge,
            "start_date": e.start_date,
            "joined_at": e.joined_at,
            "ended_at": e.ended_at,
            "active": e.ended_at is None,
            "day_of_challenge": self.day_of_challenge,
        }


def describe(*, enrollment: Enrollment, user: User) -> EnrollmentView:
    """The enrollment with the day the user is on (None once it has ended)."""
    if enrollment.ended_at is not None:
        return EnrollmentView(enrollment, None)
    today = clock.today_in(user.timezone)
    return EnrollmentView(enrollment, day_of_challenge(enrollment=enrollment, today=today))


def list_enrollments(*, user: User) -> list[EnrollmentView]:
    rows = db.session.scalars(
        select(Enrollment)
        .where(Enrollment.user_id == user.id)
        .order_by(Enrollment.joined_at.desc(), Enrollment.id.desc())
    )
    return [describe(enrollment=e, user=user) for e in rows]


def day_of_challenge(*, enrollment: Enrollment, today: date) -> int:
    """(today - start date) + 1, kept within 1..N."""
    day = (today - enrollment.start_date).days + 1
    return max(1, min(day, enrollment.challenge.duration_days))


def unlock_date(*, enrollment: Enrollment, day: int) -> date:
    return enrollment.start_date + timedelta(days=day - 1)
