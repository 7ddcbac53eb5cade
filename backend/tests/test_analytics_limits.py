"""/track under WRITE_LIMIT (per user, memory and Redis storage) and when the database fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from app.extensions import db, limiter

TRACK = "/api/v2/analytics/track"
EVENT = {"event_type": "app_opened", "event_data": {}}


def event_count(query, user_id: int | None = None) -> int:
    if user_id is None:
        return query("SELECT count(*) FROM analytics_events")[0][0]
    return query("SELECT count(*) FROM analytics_events WHERE user_id = :u", {"u": user_id})[0][0]


def assert_limited_after_three(limited_client, auth, query) -> None:
    first, second = auth(), auth()
    for n in range(3):
        r = limited_client.post(TRACK, json=EVENT, headers=first.headers)
        assert r.status_code == 201, r.get_json()
        assert r.headers["X-RateLimit-Limit"] == "3"
        assert r.headers["X-RateLimit-Remaining"] == str(2 - n)
    r = limited_client.post(TRACK, json=EVENT, headers=first.headers)
    assert r.status_code == 429
    assert r.mimetype == "application/problem+json"
    assert r.get_json()["status"] == 429
    assert int(r.headers["Retry-After"]) > 0
    assert r.headers["X-RateLimit-Limit"] == "3"
    assert r.headers["X-RateLimit-Remaining"] == "0"
    assert int(r.headers["X-RateLimit-Reset"]) > 0
    assert event_count(query, first.user["id"]) == 3
    # Same address, another user: the limit is per user, not per IP.
    r = limited_client.post(TRACK, json=EVENT, headers=second.headers)
    assert r.status_code == 201, r.get_json()
    assert event_count(query) == 4


def test_track_is_limited_per_user(app_factory, auth, query):
    limited = app_factory(WRITE_LIMIT="3 per minute", RATELIMIT_HEADERS_ON_SUCCESS=True)
    assert_limited_after_three(limited.test_client(), auth, query)


def test_success_responses_carry_no_limit_headers_by_default(app_factory, auth):
    limited = app_factory(WRITE_LIMIT="2 per minute").test_client()
    user = auth()
    for _ in range(2):
        r = limited.post(TRACK, json=EVENT, headers=user.headers)
        assert r.status_code == 201
        assert not [h for h in r.headers.keys() if h.startswith("X-RateLimit")]
        assert "Retry-After" not in r.headers
    r = limited.post(TRACK, json=EVENT, headers=user.headers)
    assert r.status_code == 429
    assert r.headers["X-RateLimit-Limit"] == "2"
    assert r.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(r.headers["Retry-After"]) <= 61


def test_track_is_limited_per_user_on_redis_storage(app_factory, auth, query, redis_url):
    limited = app_factory(
        WRITE_LIMIT="3 per minute",
        RATELIMIT_STORAGE_URI=redis_url,
        RATELIMIT_HEADERS_ON_SUCCESS=True,
    )
    # The one Limiter keeps the first app's key prefix for the whole process, and user ids
    # restart with every test: clear counters a previous test left in this Redis database.
    limiter.reset()
    assert_limited_after_three(limited.test_client(), auth, query)


def test_requests_without_a_token_do_not_use_up_a_users_limit(app_factory, auth, query):
    limited = app_factory(WRITE_LIMIT="3 per minute").test_client()
    user = auth()
    for _ in range(5):
        assert limited.post(TRACK, json=EVENT).status_code == 401
    for _ in range(3):
        assert limited.post(TRACK, json=EVENT, headers=user.headers).status_code == 201


# -- the database refuses the event ---------------------------------------------------


@pytest.fixture
def events_refused(app) -> Iterator[None]:
    """A real database error on every insert into analytics_events (a trigger), then undone."""
    with app.app_context():
        dialect = db.engine.dialect.name
        with db.engine.begin() as conn:
            if dialect == "sqlite":
                conn.execute(text(
                    "CREATE TRIGGER refuse_events BEFORE INSERT ON analytics_events "
                    "BEGIN SELECT RAISE(ABORT, 'events refused'); END"
                ))
            else:
                conn.execute(text(
                    "CREATE FUNCTION refuse_events() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'events refused'; END $$"
                ))
                conn.execute(text(
                    "CREATE TRIGGER refuse_events BEFORE INSERT ON analytics_events "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_events()"
                ))
    try:
        yield
    finally:
        with app.app_context(), db.engine.begin() as conn:
            if dialect == "sqlite":
                conn.execute(text("DROP TRIGGER IF EXISTS refuse_events"))
            else:
                conn.execute(text("DROP TRIGGER IF EXISTS refuse_events ON analytics_events"))
                conn.execute(text("DROP FUNCTION IF EXISTS refuse_events()"))


def test_track_answers_503_when_the_database_refuses_the_event(
    client, auth, query, events_refused, caplog
):
    user = auth()
    r = client.post(TRACK, json=EVENT, headers=user.headers)
    assert r.status_code == 503, r.get_data(as_text=True)
    assert r.mimetype == "application/problem+json"
    assert r.get_json()["status"] == 503
    assert int(r.headers["Retry-After"]) > 0
    assert "events refused" in caplog.text
    assert event_count(query) == 0
    # The failure was the event's alone: the same session serves the next request.
    assert client.get("/api/v2/auth/me", headers=user.headers).status_code == 200


def test_server_side_events_failing_do_not_break_the_request(
    client, auth, seeded, query, events_refused
):
    user = auth()
    r = client.post(f"/api/v2/challenges/{seeded['challenge_id']}/join", headers=user.headers)
    assert r.status_code == 201, r.get_json()
    r = client.get("/api/v2/plans/today", headers=user.headers)
    assert r.status_code == 200, r.get_json()
    assert query("SELECT count(*) FROM enrollments")[0][0] == 1
    assert event_count(query) == 0
