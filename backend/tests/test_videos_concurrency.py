"""Two likes of one video racing: one row, one video_liked, both answer liked."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import event, insert

from app.extensions import db
from app.models import User, UserLikedVideo
from app.services.videos import service as video_service


def test_like_losing_a_race_keeps_the_winners_like(app, seeded, auth, query):
    """Another request stores the like between like()'s check and its insert."""
    user_id = auth().user["id"]
    video_id = query("SELECT min(id) FROM videos")[0][0]
    with app.app_context():
        me = db.session.get(User, user_id)
        session = db.session()
        raced: list[bool] = []

        def competing_like(*_args: object) -> None:
            if raced:
                return
            raced.append(True)
            with db.engine.begin() as conn:
                conn.execute(
                    insert(UserLikedVideo.__table__).values(
                        user_id=user_id,
                        video_id=video_id,
                        created_at=datetime(2026, 3, 1, tzinfo=UTC),
                    )
                )

        event.listen(session, "before_flush", competing_like)
        try:
            assert video_service.like(user=me, video_id=video_id) is False
        finally:
            event.remove(session, "before_flush", competing_like)
        assert raced, "the competing insert did not run"
        db.session.remove()
    rows = query("SELECT user_id, video_id FROM user_liked_videos")
    assert [tuple(r) for r in rows] == [(user_id, video_id)]
    assert query("SELECT count(*) FROM analytics_events")[0][0] == 0
