"""EVENT_LIMIT: events per user beside WRITE_LIMIT; a batch over it is refused whole."""

from __future__ import annotations

from tests.ingest_support import NOW, TRACK, event, event_count, post_batch, rejected, statuses
from tests.problem_helpers import assert_problem


def test_batch_over_the_event_limit_is_refused_whole_and_consumes_nothing(
    app_factory, auth, query, at
):
    at(NOW)
    client = app_factory(EVENT_LIMIT="150 per minute").test_client()
    user = auth()
    assert statuses(post_batch(client, user.headers, [event() for _ in range(100)])) == [
        "accepted"
    ] * 100
    r = post_batch(client, user.headers, [event() for _ in range(51)])
    assert_problem(r, 429)
    assert 1 <= int(r.headers["Retry-After"]) <= 61
    assert event_count(query) == 100
    assert rejected(query) == []
    # The refused batch used none of the budget: exactly the 50 left still go through.
    assert statuses(post_batch(client, user.headers, [event() for _ in range(50)])) == [
        "accepted"
    ] * 50
    assert_problem(post_batch(client, user.headers, [event()]), 429)
    assert event_count(query) == 150


def test_track_is_bounded_by_the_write_limit_alone(app_factory, auth, query, at):
    """One limit check per /track (issue 14): a spent EVENT_LIMIT refuses batches, not
    /track, which WRITE_LIMIT bounds."""
    at(NOW)
    client = app_factory(EVENT_LIMIT="3 per minute", WRITE_LIMIT="4 per minute").test_client()
    user = auth()
    assert statuses(post_batch(client, user.headers, [event() for _ in range(3)])) == [
        "accepted"
    ] * 3
    for _ in range(4):  # EVENT_LIMIT is spent; WRITE_LIMIT counts per route: 4 /track
        r = client.post(TRACK, json={"event_type": "app_opened"}, headers=user.headers)
        assert r.status_code == 201, r.get_json()
    r = client.post(TRACK, json={"event_type": "app_opened"}, headers=user.headers)
    assert_problem(r, 429)
    assert "Retry-After" in r.headers
    assert event_count(query) == 7


def test_event_limit_on_redis_is_shared_and_refunds(app_factory, auth, query, at, redis_url):
    from app.extensions import limiter

    at(NOW)
    client = app_factory(EVENT_LIMIT="10 per minute", RATELIMIT_STORAGE_URI=redis_url).test_client()
    limiter.reset()
    user = auth()
    assert statuses(post_batch(client, user.headers, [event() for _ in range(6)])) == [
        "accepted"
    ] * 6
    assert_problem(post_batch(client, user.headers, [event() for _ in range(5)]), 429)
    assert statuses(post_batch(client, user.headers, [event() for _ in range(4)])) == [
        "accepted"
    ] * 4
    assert event_count(query) == 10


def test_write_limit_still_counts_batch_calls(app_factory, auth, at):
    at(NOW)
    client = app_factory(WRITE_LIMIT="2 per minute").test_client()
    user = auth()
    for _ in range(2):
        assert post_batch(client, user.headers, [event()]).status_code == 200
    assert_problem(post_batch(client, user.headers, [event()]), 429)
