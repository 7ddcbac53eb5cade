"""Two completions of one day racing: one row, one plan_completed, both answer 200."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import event, insert

from app import clock
from app.extensions import db
from app.models import Completion, Enrollment, Plan, User
from app.services.plans import service as plan_service

WINNER_AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_completion_losing_a_race_returns_the_winners_row(app, client, seeded, auth, query):
    """Another request stores the completion between complete_day's check and its insert."""
    clock.set_clock(lambda: datetime(2026, 3, 1, 10, 0, tzinfo=UTC))
    user = auth()
    r = client.post(f"/api/v2/challenges/{seeded['challenge_id']}/join", headers=user.headers)
    assert r.status_code == 201
    events_before = query("SELECT count(*) FROM analytics_events")[0][0]
    with app.app_context():
        me = db.session.get(User, user.user["id"])
        enrollment = db.session.scalars(db.select(Enrollment)).one()
        plan = db.session.scalars(
            db.select(Plan).where(Plan.challenge_id == seeded["challenge_id"], Plan.day == 1)
        ).one()
        ids = {"enrollment": enrollment.id, "plan": plan.id, "user": me.id}
        session = db.session()
        winner: list[int] = []

        def competing_complete(*_args: object) -> None:
            if winner:
                return
            with db.engine.begin() as conn:
                winner.append(
                    conn.execute(
                        insert(Completion.__table__)
                        .values(
                            enrollment_id=ids["enrollment"],
                            user_id=ids["user"],
                            plan_id=ids["plan"],
                            day=1,
                            completed_at=WINNER_AT,
                        )
                        .returning(Completion.__table__.c.id)
                    ).scalar_one()
                )

        event.listen(session, "before_flush", competing_complete)
        try:
            view, created = plan_service.complete_day(user=me, day=1)
        finally:
            event.remove(session, "before_flush", competing_complete)
        assert winner, "the competing insert did not run"
        assert created is False
        assert view.completed is True and view.completed_at == WINNER_AT
        db.session.remove()
    assert [r[0] for r in query("SELECT id FROM completions")] == winner
    # The loser wrote no plan_completed: it is the winner's request that records it.
    assert query("SELECT count(*) FROM analytics_events")[0][0] == events_before
    r = client.get("/api/v2/plans/1", headers=user.headers)
    assert r.get_json()["completed"] is True
    assert r.get_json()["completed_at"].startswith("2026-03-01T09:00:00")
