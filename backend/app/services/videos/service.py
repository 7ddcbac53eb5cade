"""Workout videos and likes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from app import clock
from app.errors import NotFound
from app.extensions import db
from app.models import User, UserLikedVideo, Video
from app.services.analytics_service import AnalyticsService


@dataclass(frozen=True)
class VideoPage:
    items: list[Video]
    next_cursor: int | None


@dataclass(frozen=True)
class LikedVideo:
    video: Video
    liked_at: datetime


def list_videos(*, limit: int, after_id: int | None) -> VideoPage:
    query = select(Video).order_by(Video.id).limit(limit + 1)
    if after_id is not None:
        query = query.where(Video.id > after_id)
    rows = list(db.session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return VideoPage(rows, rows[-1].id if more and rows else None)


def get(*, video_id: int) -> Video:
    video = db.session.get(Video, video_id)
    if video is None:
        raise NotFound(f"Video {video_id} does not exist.")
    return video


def liked_ids(*, user_id: int, video_ids: list[int]) -> set[int]:
    if not video_ids:
        return set()
    return set(
        db.session.scalars(
            select(UserLikedVideo.video_id).where(
                UserLikedVideo.user_id == user_id, UserLikedVideo.video_id.in_(video_ids)
            )
        )
    )


def like(*, user: User, video_id: int) -> bool:
    """Like a video (idempotent); True when the like is new."""
    video = get(video_id=video_id)
    if liked_ids(user_id=user.id, video_ids=[video.id]):
        return False
    db.session.add(UserLikedVideo(user_id=user.id, video_id=video.id, created_at=clock.now()))
    try:
        db.session.flush()
    except IntegrityError:  # liked concurrently: the other request's like stands
        db.session.rollback()
        return False
    # In the same transaction (a savepoint): the event is stored exactly when the like is.
    AnalyticsService.track(user.id, "video_liked", {"video_id": video.id})
    db.session.commit()
    return True


def unlike(*, user: User, video_id: int) -> bool:
    """Remove a like (idempotent); True when there was one."""
    video = get(video_id=video_id)
    removed = db.session.execute(
        delete(UserLikedVideo).where(
            UserLikedVideo.user_id == user.id, UserLikedVideo.video_id == video.id
        )
    ).rowcount
    if removed:
        AnalyticsService.track(user.id, "video_unliked", {"video_id": video.id})
    db.session.commit()
    return bool(removed)


def liked_videos(*, user_id: int) -> list[LikedVideo]:
    rows = db.session.execute(
        select(Video, UserLikedVideo.created_at)
        .join(UserLikedVideo, UserLikedVideo.video_id == Video.id)
        .where(UserLikedVideo.user_id == user_id)
        .order_by(UserLikedVideo.created_at.desc(), Video.id.desc())
    ).all()
    return [LikedVideo(video, liked_at) for video, liked_at in rows]
