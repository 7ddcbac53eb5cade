"""A fixture shared by the privacy tests: a user with rows in every table."""

from __future__ import annotations

import uuid

import pytest

from app.extensions import db
from app.models import User, utcnow
from app.services.insights.rollups import activity as activity_rollup
from app.services.insights.rollups import event_spans
from app.services.insights.rollups import latency as latency_rollup
from app.services.insights.rollups import progress as progress_rollup


@pytest.fixture
def full_user(client, seeded, auth, query, app, flush_logs):
    """A user with rows in every table that can refer to a user."""
    user = auth()
    h = user.headers
    r = client.post(f"/api/v2/challenges/{seeded['challenge_id']}/join", headers=h)
    assert r.status_code == 201
    plan = client.get("/api/v2/plans/today", headers=h).get_json()
    assert client.post("/api/v2/plans/1/complete", headers=h).status_code == 200
    assert client.post(f"/api/v2/videos/{plan['video']['id']}/like", headers=h).status_code == 200
    r = client.post("/api/v2/analytics/track", headers=h, json={"event_type": "app_opened"})
    assert r.status_code == 201
    # A second login's refresh token, logged out: a row in the token blocklist.
    other = client.post(
        "/api/v2/auth/login", json={"email": user.user["email"], "password": user.user["password"]}
    ).get_json()
    r = client.post(
        "/api/v2/auth/logout", headers={"Authorization": f"Bearer {other['refresh_token']}"}
    )
    assert r.status_code == 200
    # A password-reset link asked for: a row in password_reset_tokens.
    r = client.post("/api/v2/auth/password-reset", json={"email": user.user["email"]})
    assert r.status_code == 202
    with app.app_context():
        db.session.execute(
            db.metadata.tables["rejected_events"].insert().values(
                user_id=user.user["id"], reason="unknown_event_type", source="track",
                payload='{"event_type": "nope"}',
            )
        )
        db.session.commit()
    flush_logs()
    with app.app_context():
        # The rollups hold rows about a user once built: the activity rollup of a zone has
        # their active days, and an internal user's request latencies are counted apart.
        db.session.get(User, user.user["id"]).is_internal = True
        db.session.commit()
        activity_rollup.refresh(tz="UTC")
        latency_rollup.fold_latency_rollup()
        assert event_spans.refresh() and progress_rollup.refresh()
    # The anonymous history linked to the user (after the rollups: they count users only).
    user.anonymous_events = add_anonymous_history(app, user.user["id"], "full-user-device")
    return user


ANONYMOUS_EVENTS = 2


def add_anonymous_history(app, user_id: int, anonymous_id: str) -> list[int]:
    """Link anonymous_id to the user and store ANONYMOUS_EVENTS anonymous events of it;
    returns their ids."""
    events = db.metadata.tables["analytics_events"]
    with app.app_context():
        db.session.execute(
            db.metadata.tables["anonymous_identities"].insert().values(
                anonymous_id=anonymous_id, user_id=user_id, linked_by="identify",
                linked_at=utcnow(),
            )
        )
        ids = [
            db.session.execute(
                events.insert().values(
                    user_id=None, anonymous_id=anonymous_id, event_id=uuid.uuid4(),
                    event_type="app_opened", event_data={"n": n}, platform="ios",
                    created_at=utcnow(), occurred_at=utcnow(),
                ).returning(events.c.id)
            ).scalar_one()
            for n in range(ANONYMOUS_EVENTS)
        ]
        db.session.commit()
    return ids
