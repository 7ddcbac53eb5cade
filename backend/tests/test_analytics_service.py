"""AnalyticsService.track called directly: its transaction is its own, failures return None."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from app import clock
from app.errors import ValidationFailed
from app.extensions import db
from app.models import AnalyticsEvent, Challenge, User
from app.services.analytics_service import AnalyticsService

RECEIVED = datetime(2025, 12, 27, 8, 0, 0, tzinfo=UTC)


def new_user() -> User:
    return User(
        email=f"svc-{uuid.uuid4().hex[:10]}@example.com",
        password_hash="not-a-real-hash",
        display_name="Service",
    )


def new_challenge() -> Challenge:
    return Challenge(slug=f"c-{uuid.uuid4().hex[:10]}", title="Caller's work", duration_days=7)


@pytest.fixture
def user_id(app) -> int:
    with app.app_context():
        user = new_user()
        db.session.add(user)
        db.session.commit()
        return user.id


def stored(query) -> list[tuple]:
    return [tuple(r) for r in query("SELECT id, user_id, event_type FROM analytics_events")]


def challenge_slugs(query) -> list[str]:
    return [r[0] for r in query("SELECT slug FROM challenges")]


def test_track_returns_the_stored_event(app, user_id, query):
    clock.set_clock(lambda: RECEIVED)
    with app.app_context():
        event = AnalyticsService.track(user_id, "app_opened", {"screen": "home"})
        assert isinstance(event, AnalyticsEvent)
        assert event.id is not None
        assert (event.user_id, event.event_type, event.event_data) == (
            user_id, "app_opened", {"screen": "home"}
        )
        assert event.created_at == RECEIVED
        assert db.session.scalars(select(AnalyticsEvent)).one().id == event.id
        event_id = event.id
    assert stored(query) == [(event_id, user_id, "app_opened")]


@pytest.fixture
def poison(app) -> Iterator[str]:
    """An event type the database refuses with a real error (a trigger), then undone.

    (A user id that does not exist no longer fails: it counts as opted out, not stored.)
    """
    with app.app_context():
        dialect = db.engine.dialect.name
        with db.engine.begin() as conn:
            if dialect == "sqlite":
                conn.execute(text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON analytics_events "
                    "WHEN NEW.event_type = 'poison' BEGIN SELECT RAISE(ABORT, 'poison'); END"
                ))
            else:
                conn.execute(text(
                    "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    "BEGIN IF NEW.event_type = 'poison' THEN RAISE EXCEPTION 'poison'; END IF; "
                    "RETURN NEW; END $$"
                ))
                conn.execute(text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON analytics_events "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
                ))
    try:
        yield "poison"
    finally:
        with app.app_context(), db.engine.begin() as conn:
            if dialect == "sqlite":
                conn.execute(text("DROP TRIGGER IF EXISTS refuse_poison"))
            else:
                conn.execute(text("DROP TRIGGER IF EXISTS refuse_poison ON analytics_events"))
                conn.execute(text("DROP FUNCTION IF EXISTS refuse_poison()"))


def test_track_logs_and_returns_none_on_a_database_error(app, user_id, query, caplog, poison):
    with app.app_context():
        with caplog.at_level(logging.ERROR, logger="app.services.analytics_service"):
            assert AnalyticsService.track(user_id, poison, {}) is None
        assert "could not store poison event" in caplog.text
        # The failure left no broken state behind: the next event is stored.
        assert AnalyticsService.track(user_id, "app_opened", {}) is not None
    assert [r[1] for r in stored(query)] == [user_id]


def test_track_raises_validation_failed_for_unstorable_data(app, user_id, query):
    with app.app_context():
        with pytest.raises(ValidationFailed):
            AnalyticsService.track(user_id, "app_opened", {"s": "nul\x00"})
        with pytest.raises(ValidationFailed):
            AnalyticsService.track(user_id, "app_opened", ["not", "an", "object"])  # type: ignore[arg-type]
    assert stored(query) == []


def test_caller_rollback_discards_its_work_but_not_the_event(app, user_id, query):
    with app.app_context():
        db.session.add(new_challenge())
        assert AnalyticsService.track(user_id, "app_opened", {}) is not None
        db.session.rollback()
    assert challenge_slugs(query) == []
    assert len(stored(query)) == 1


def test_caller_commit_after_track_stores_both(app, user_id, query):
    with app.app_context():
        challenge = new_challenge()
        slug = challenge.slug
        db.session.add(challenge)
        assert AnalyticsService.track(user_id, "app_opened", {}) is not None
        db.session.commit()
    assert challenge_slugs(query) == [slug]
    assert len(stored(query)) == 1


def test_track_never_commits_a_caller_that_has_only_read(app, user_id, query):
    with app.app_context():
        db.session.get(User, user_id)
        db.session.add(new_challenge())
        assert AnalyticsService.track(user_id, "app_opened", {}) is not None
        assert db.session.new  # still pending: track neither flushed nor committed it
        db.session.rollback()
    assert challenge_slugs(query) == []
    assert len(stored(query)) == 1


def test_track_after_caller_flushed_writes_does_not_deadlock(app, user_id, query):
    # On SQLite the caller's flush holds the one write lock: a second connection would
    # wait for it forever. The event joins the caller's transaction in a SAVEPOINT.
    with app.app_context():
        challenge = new_challenge()
        slug = challenge.slug
        db.session.add(challenge)
        db.session.flush()
        event = AnalyticsService.track(user_id, "app_opened", {})
        assert event is not None and event.id is not None
        db.session.commit()
    assert challenge_slugs(query) == [slug]
    assert [r[0] for r in stored(query)] == [event.id]


def test_failed_track_inside_caller_transaction_keeps_the_callers_work(
    app, user_id, query, caplog, poison
):
    with app.app_context():
        challenge = new_challenge()
        slug = challenge.slug
        db.session.add(challenge)
        db.session.flush()
        assert AnalyticsService.track(user_id, poison, {}) is None
        assert "could not store" in caplog.text
        # Only the event's SAVEPOINT was rolled back; the caller's transaction is usable.
        assert db.session.execute(text("SELECT count(*) FROM challenges")).scalar() == 1
        db.session.commit()
    assert challenge_slugs(query) == [slug]
    assert stored(query) == []


def test_event_for_a_user_created_in_the_callers_open_transaction(app, query):
    with app.app_context():
        user = new_user()
        db.session.add(user)
        db.session.flush()
        event = AnalyticsService.track(user.id, "app_opened", {})
        assert event is not None
        db.session.commit()
        created_id = user.id
    assert [r[1] for r in stored(query)] == [created_id]


def test_event_in_callers_transaction_goes_when_the_caller_rolls_back(app, user_id, query):
    # The documented trade-off of the SAVEPOINT: the caller's rollback is the caller's.
    with app.app_context():
        db.session.add(new_challenge())
        db.session.flush()
        assert AnalyticsService.track(user_id, "app_opened", {}) is not None
        db.session.rollback()
        # The session is still usable, and a later event on its own is stored.
        assert AnalyticsService.track(user_id, "screen_viewed", {}) is not None
    assert challenge_slugs(query) == []
    assert [r[2] for r in stored(query)] == ["screen_viewed"]
