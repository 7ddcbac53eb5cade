"""Daily plans: which one a user sees today, and completing a day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import clock
from app.errors import Forbidden, NotFound
from app.extensions import db
from app.models import Completion, Enrollment, Plan, User
from app.services.analytics_service import AnalyticsService
from app.services.challenges import service as challenge_service
from app.services.videos import service as video_service


@dataclass(frozen=True)
class PlanView:
    plan: Plan
    enrollment: Enrollment
    day_of_challenge: int
    completed: bool
    completed_at: datetime | None
    video_liked: bool = False


def current_enrollment(*, user: User, challenge_id: int | None) -> Enrollment:
    """The active enrollment asked for, or the most recently joined one."""
    query = select(Enrollment).where(
        Enrollment.user_id == user.id, Enrollment.ended_at.is_(None)
    )
    if challenge_id is not None:
        query = query.where(Enrollment.challenge_id == challenge_id)
    enrollment = db.session.scalars(
        query.order_by(Enrollment.joined_at.desc(), Enrollment.id.desc())
    ).first()
    if enrollment is None:
        which = f"challenge {challenge_id}" if challenge_id is not None else "any challenge"
        raise NotFound(
            f"You are not enrolled in {which}: join a challenge with "
            "POST /api/v2/challenges/<id>/join first."
        )
    return enrollment


def _plan_for(*, enrollment: Enrollment, user: User, day: int) -> tuple[Plan, int]:
    total = enrollment.challenge.duration_days
    if day < 1 or day > total:
        raise NotFound(f"This challenge has days 1 to {total}; there is no day {day}.")
    current = challenge_service.day_of_challenge(
        enrollment=enrollment, today=clock.today_in(user.timezone)
    )
    if day > current:
        unlocks = challenge_service.unlock_date(enrollment=enrollment, day=day)
        raise Forbidden(
            f"Day {day} is locked; it unlocks on {unlocks.isoformat()}.",
            extra={"unlocks_on": unlocks.isoformat(), "day": day},
        )
    plan = db.session.scalars(
        select(Plan).where(Plan.challenge_id == enrollment.challenge_id, Plan.day == day)
    ).first()
    if plan is None:
        raise NotFound(f"Day {day} has no plan yet.")
    return plan, current


def _completion(*, enrollment: Enrollment, day: int) -> Completion | None:
    return db.session.scalars(
        select(Completion).where(Completion.enrollment_id == enrollment.id, Completion.day == day)
    ).first()


def _video_liked(*, user: User, plan: Plan) -> bool:
    if plan.video_id is None:
        return False
    return bool(video_service.liked_ids(user_id=user.id, video_ids=[plan.video_id]))


def view_day(*, user: User, day: int | None, challenge_id: int | None = None) -> PlanView:
    """The plan of `day` (None: today) for the user; records plan_viewed."""
    enrollment = current_enrollment(user=user, challenge_id=challenge_id)
    if day is None:
        day = challenge_service.day_of_challenge(
            enrollment=enrollment, today=clock.today_in(user.timezone)
        )
    plan, _current = _plan_for(enrollment=enrollment, user=user, day=day)
    done = _completion(enrollment=enrollment, day=day)
    view = PlanView(
        plan,
        enrollment,
        day,
        completed=done is not None,
        completed_at=done.completed_at if done else None,
        video_liked=_video_liked(user=user, plan=plan),
    )
    AnalyticsService.track(user.id, "plan_viewed", {"plan_id": plan.id, "day_of_challenge": day})
    return view


def complete_day(*, user: User, day: int, challenge_id: int | None = None) -> tuple[PlanView, bool]:
    """Mark a day done (idempotent); (view, newly completed)."""
    enrollment = current_enrollment(user=user, challenge_id=challenge_id)
    plan, _current = _plan_for(enrollment=enrollment, user=user, day=day)
    liked = _video_liked(user=user, plan=plan)
    done = _completion(enrollment=enrollment, day=day)
    if done is not None:
        return PlanView(plan, enrollment, day, True, done.completed_at, liked), False
    done = Completion(
        enrollment_id=enrollment.id,
        user_id=user.id,
        plan_id=plan.id,
        day=day,
        completed_at=clock.now(),
    )
    db.session.add(done)
    try:
        db.session.flush()
    except IntegrityError:  # completed concurrently: the other request's row stands
        db.session.rollback()
        done = _completion(enrollment=enrollment, day=day)
        if done is None:
            raise
        return PlanView(plan, enrollment, day, True, done.completed_at, liked), False
    # In the same transaction (a savepoint): the event is stored exactly when the row is.
    AnalyticsService.track(
        user.id,
        "plan_completed",
        {"plan_id": plan.id, "day_of_challenge": day, "challenge_id": enrollment.challenge_id},
    )
    db.session.commit()
    return PlanView(plan, enrollment, day, True, done.completed_at, liked), True


def completed_days(*, enrollment_id: int) -> list[int]:
    return list(
        db.session.scalars(
            select(Completion.day)
            .where(Completion.enrollment_id == enrollment_id)
            .order_by(Completion.day)
        )
    )
