"""/api/v2/plans: the daily plan and completing it."""

from __future__ import annotations

from typing import Any

from flask_jwt_extended import current_user

from app.extensions import limiter
from app.routes._common import ApiBlueprint, auth_required, problems, write_limit
from app.routes.videos_v2 import serialize_video
from app.schemas.common import ChallengeQuery
from app.schemas.plans import PlanRead
from app.services.plans import service as plan_service
from app.services.plans.service import PlanView

blp = ApiBlueprint("plans_v2", __name__, url_prefix="/api/v2/plans", description="Daily plans")


def _serialize(view: PlanView) -> dict[str, Any]:
    plan = view.plan
    video = serialize_video(plan.video, view.video_liked) if plan.video is not None else None
    return {
        "id": plan.id,
        "challenge_id": plan.challenge_id,
        "day": view.day_of_challenge,
        "title": plan.title,
        "description": plan.description,
        "tasks": plan.tasks,
        "video": video,
        "completed": view.completed,
        "completed_at": view.completed_at,
    }


@blp.route("/today", methods=["GET"])
@auth_required()
@blp.arguments(ChallengeQuery, location="query", as_kwargs=True)
@blp.response(200, PlanRead)
@problems(404)
def get_today(challenge_id: int | None = None) -> Any:
    """The plan of the user's current day of the challenge"""
    return _serialize(plan_service.view_day(user=current_user, day=None, challenge_id=challenge_id))


@blp.route("/<int:day>", methods=["GET"])
@auth_required()
@blp.arguments(ChallengeQuery, location="query", as_kwargs=True)
@blp.response(200, PlanRead)
@problems(403)
def get_day(day: int, challenge_id: int | None = None) -> Any:
    """The plan of a day already reached (a later day is 403 with its unlock date)"""
    return _serialize(plan_service.view_day(user=current_user, day=day, challenge_id=challenge_id))


@blp.route("/<int:day>/complete", methods=["POST"])
@auth_required()
@limiter.limit(write_limit)
@blp.arguments(ChallengeQuery, location="query", as_kwargs=True)
@blp.response(200, PlanRead)
@problems(403)
def complete_day(day: int, challenge_id: int | None = None) -> Any:
    """Mark a day as done (idempotent)"""
    view, _created = plan_service.complete_day(
        user=current_user, day=day, challenge_id=challenge_id
    )
    return _serialize(view)
