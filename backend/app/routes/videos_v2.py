"""/api/v2/videos: workout videos and likes."""

from __future__ import annotations

from typing import Any

from flask_jwt_extended import current_user

from app.errors import ValidationFailed
from app.extensions import limiter
from app.routes._common import ApiBlueprint, auth_required, write_limit
from app.schemas.videos import (
    LikedVideoListRead,
    LikeRead,
    VideoListQuery,
    VideoListRead,
    VideoRead,
)
from app.services.videos import service as video_service

blp = ApiBlueprint("videos_v2", __name__, url_prefix="/api/v2/videos", description="Videos")


def serialize_video(video: Any, liked: bool) -> dict[str, Any]:
    """A video as VideoRead expects it, with the caller's liked flag."""
    return {
        "id": video.id,
        "title": video.title,
        "description": video.description,
        "url": video.url,
        "duration_s": video.duration_s,
        "liked": liked,
    }


def _cursor(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10 or int(raw) > 2**31 - 1:
        raise ValidationFailed(
            "The request has invalid fields.",
            errors=[{"field": "cursor", "message": "Not a cursor this API returned."}],
        )
    return int(raw)


@blp.route("", methods=["GET"])
@auth_required()
@blp.arguments(VideoListQuery, location="query")
@blp.response(200, VideoListRead)
def list_videos(query: dict[str, Any]) -> Any:
    """Videos, oldest first, paginated with next_cursor"""
    page = video_service.list_videos(limit=query["limit"], after_id=_cursor(query.get("cursor")))
    liked = video_service.liked_ids(user_id=current_user.id, video_ids=[v.id for v in page.items])
    return {
        "items": [serialize_video(v, v.id in liked) for v in page.items],
        "next_cursor": str(page.next_cursor) if page.next_cursor is not None else None,
    }


@blp.route("/liked", methods=["GET"])
@auth_required()
@blp.response(200, LikedVideoListRead)
def list_liked() -> Any:
    """The calling user's liked videos, most recent like first"""
    rows = video_service.liked_videos(user_id=current_user.id)
    return {"items": [serialize_video(r.video, True) | {"liked_at": r.liked_at} for r in rows]}


@blp.route("/<int:video_id>", methods=["GET"])
@auth_required()
@blp.response(200, VideoRead)
def get_video(video_id: int) -> Any:
    """One video"""
    video = video_service.get(video_id=video_id)
    liked = video_service.liked_ids(user_id=current_user.id, video_ids=[video.id])
    return serialize_video(video, bool(liked))


@blp.route("/<int:video_id>/like", methods=["POST"])
@auth_required()
@limiter.limit(write_limit)
@blp.response(200, LikeRead)
def like_video(video_id: int) -> Any:
    """Like a video (idempotent)"""
    video_service.like(user=current_user, video_id=video_id)
    return {"video_id": video_id, "liked": True}


@blp.route("/<int:video_id>/like", methods=["DELETE"])
@auth_required()
@limiter.limit(write_limit)
@blp.response(200, LikeRead)
def unlike_video(video_id: int) -> Any:
    """Remove a like (idempotent)"""
    video_service.unlike(user=current_user, video_id=video_id)
    return {"video_id": video_id, "liked": False}
