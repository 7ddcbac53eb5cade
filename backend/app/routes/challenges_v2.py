"""/api/v2/challenges and /api/v2/me/enrollments."""

from __future__ import annotations

from typing import Any

from flask_jwt_extended import current_user

from app.extensions import limiter
from app.routes._common import ApiBlueprint, auth_required, write_limit
from app.schemas.challenges import (
    ChallengeListRead,
    ChallengeRead,
    EnrollmentListRead,
    EnrollmentRead,
)
from app.services.challenges import service as challenge_service

blp = ApiBlueprint("challenges_v2", __name__, url_prefix="/api/v2", description="Challenges")


@blp.route("/challenges", methods=["GET"])
@auth_required()
@blp.response(200, ChallengeListRead)
def list_challenges() -> Any:
    """All challenges"""
    return {"items": challenge_service.list_challenges()}


@blp.route("/challenges/<int:challenge_id>", methods=["GET"])
@auth_required()
@blp.response(200, ChallengeRead)
def get_challenge(challenge_id: int) -> Any:
    """One challenge"""
    return challenge_service.get(challenge_id=challenge_id)


@blp.route("/challenges/<int:challenge_id>/join", methods=["POST"])
@auth_required()
@limiter.limit(write_limit)
@blp.response(200, EnrollmentRead, description="Already enrolled: the active enrollment")
@blp.alt_response(201, schema=EnrollmentRead, description="Enrolled, starting today")
def join_challenge(challenge_id: int) -> Any:
    """Join a challenge, starting today in the user's time zone (idempotent)"""
    enrollment, created = challenge_service.join(user=current_user, challenge_id=challenge_id)
    view = challenge_service.describe(enrollment=enrollment, user=current_user)
    return view.as_dict(), 201 if created else 200


@blp.route("/challenges/<int:challenge_id>/leave", methods=["POST"])
@auth_required()
@limiter.limit(write_limit)
@blp.response(200, EnrollmentRead)
def leave_challenge(challenge_id: int) -> Any:
    """End the active enrollment; its history is kept"""
    enrollment = challenge_service.leave(user=current_user, challenge_id=challenge_id)
    return challenge_service.describe(enrollment=enrollment, user=current_user).as_dict()


@blp.route("/me/enrollments", methods=["GET"])
@auth_required()
@blp.response(200, EnrollmentListRead)
def list_enrollments() -> Any:
    """The calling user's enrollments, newest first"""
    views = challenge_service.list_enrollments(user=current_user)
    return {"items": [view.as_dict() for view in views]}
