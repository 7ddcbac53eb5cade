"""Two joins racing: the partial unique index keeps one active enrollment per user+challenge."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import event, insert
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Enrollment
from app.services.challenges import service as challenge_service

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _enrollment(user_id: int, challenge_id: int, **extra) -> Enrollment:
    return Enrollment(
        user_id=user_id, challenge_id=challenge_id, start_date=date(2026, 3, 1), joined_at=NOW,
        **extra,
    )


def test_index_rejects_a_second_active_enrollment(app, seeded, auth, query):
    user_id = auth().user["id"]
    with app.app_context():
        db.session.add(_enrollment(user_id, seeded["challenge_id"]))
        db.session.commit()
        db.session.add(_enrollment(user_id, seeded["challenge_id"]))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
    assert query("SELECT count(*) FROM enrollments")[0][0] == 1


def test_index_allows_ended_enrollments_next_to_the_active_one(app, seeded, auth, query):
    user_id = auth().user["id"]
    with app.app_context():
        db.session.add_all(
            [
                _enrollment(user_id, seeded["challenge_id"], ended_at=NOW),
                _enrollment(user_id, seeded["challenge_id"], ended_at=NOW),
                _enrollment(user_id, seeded["challenge_id"]),
            ]
        )
        db.session.commit()
    assert query("SELECT count(*) FROM enrollments WHERE ended_at IS NULL")[0][0] == 1
    assert query("SELECT count(*) FROM enrollments")[0][0] == 3


def test_join_losing_a_race_returns_the_winners_enrollment(app, seeded, auth, query):
    """Another request inserts the active enrollment between join's check and its insert."""
    user_id = auth().user["id"]
    challenge_id = seeded["challenge_id"]
    with app.app_context():
        from app.models import User

        user = db.session.get(User, user_id)
        session = db.session()
        winner: list[int] = []

        def competing_join(*_args: object) -> None:
            if winner:
                return
            # A separate connection and transaction: the concurrent request, committed first.
            with db.engine.begin() as conn:
                winner.append(
                    conn.execute(
                        insert(Enrollment.__table__)
                        .values(
                            user_id=user_id,
                            challenge_id=challenge_id,
                            start_date=date(2026, 3, 1),
                            joined_at=NOW,
                        )
                        .returning(Enrollment.__table__.c.id)
                    ).scalar_one()
                )

        event.listen(session, "before_flush", competing_join)
        try:
            enrollment, created = challenge_service.join(user=user, challenge_id=challenge_id)
        finally:
            event.remove(session, "before_flush", competing_join)
        assert winner, "the competing insert did not run"
        assert created is False
        assert enrollment.id == winner[0]
        assert enrollment.ended_at is None
        db.session.remove()
    assert [row[0] for row in query("SELECT id FROM enrollments")] == winner
    # The loser recorded no challenge_joined: the winner's request records its own.
    assert query("SELECT count(*) FROM analytics_events")[0][0] == 0

