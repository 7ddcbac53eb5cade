"""POST /api/v2/analytics/batch: results in order, each event stored exactly once."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from tests.ingest_support import (
    BATCH,
    NOW,
    TRACK,
    as_json,
    event,
    event_count,
    new_id,
    post_batch,
    rejected,
    statuses,
    stored_ids,
)
from tests.problem_helpers import assert_problem


@pytest.fixture(autouse=True)
def _frozen(at):
    """Events say they happened at NOW; the server receives them then too."""
    at(NOW)


def test_batch_of_good_events_is_all_accepted_and_stored_once(client, auth, query, at):
    received = at("2026-03-01T09:00:00Z")
    user = auth()
    events = [event("app_opened"), event("screen_viewed", {"screen": "home"}),
              event("video_progress", {"video_id": 3, "position_s": 12.5})]
    r = post_batch(client, user.headers, events)
    body = r.get_json()
    assert statuses(r) == ["accepted"] * 3
    assert [x["event_id"] for x in body["results"]] == [e["event_id"] for e in events]
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (3, 0, 0)
    assert stored_ids(query, user.user["id"]) == sorted(e["event_id"] for e in events)
    rows = query("SELECT user_id, event_type, created_at FROM analytics_events ORDER BY id")
    assert [(row[0], row[1]) for row in rows] == [
        (user.user["id"], e["event_type"]) for e in events
    ]
    for row in rows:
        created = row[2] if isinstance(row[2], datetime) else datetime.fromisoformat(row[2])
        assert created.replace(tzinfo=created.tzinfo or UTC) == received
    assert rejected(query) == []


def test_batch_event_data_keeps_integers_beyond_64_bits_exactly(client, auth, query):
    user = auth()
    data = {"big": 2**70, "neg": -(2**64) - 1, "small": 3, "f": 12.5}
    r = post_batch(client, user.headers, [event("app_opened", data), event("app_opened")])
    assert statuses(r) == ["accepted", "accepted"]
    rows = query("SELECT event_data FROM analytics_events ORDER BY id")
    assert [as_json(row[0]) for row in rows] == [data, {}]


def test_mixed_batch_answers_each_event_in_order(client, auth, query):
    user = auth()
    events = [event("app_opened"), event("plan_viewed"), event("app_opened"),
              event("video_progress", {"video_id": 1})]
    r = post_batch(client, user.headers, events)
    assert statuses(r) == ["accepted", "rejected", "accepted", "rejected"]
    results = r.get_json()["results"]
    assert results[1]["reason"] == "server_owned_type"
    assert results[3]["reason"] == "schema_violation"
    assert "position_s" in results[3]["message"]
    assert event_count(query) == 2
    assert [row[0] for row in rejected(query)] == ["server_owned_type", "schema_violation"]


def test_retried_batch_is_all_duplicate_and_stored_once(client, auth, query):
    user = auth()
    events = [event("app_opened") for _ in range(5)]
    assert statuses(post_batch(client, user.headers, events)) == ["accepted"] * 5
    r = post_batch(client, user.headers, events)
    assert statuses(r) == ["duplicate"] * 5
    assert r.get_json()["duplicate"] == 5
    assert event_count(query) == 5


def test_same_event_id_twice_in_one_batch_is_stored_once(client, auth, query):
    user = auth()
    first = event("app_opened")
    again = event("share_clicked", event_id=first["event_id"])
    assert statuses(post_batch(client, user.headers, [first, again])) == ["accepted", "duplicate"]
    rows = query("SELECT event_type FROM analytics_events")
    assert [row[0] for row in rows] == ["app_opened"]


def test_partly_new_batch_stores_only_the_new_events(client, auth, query):
    user = auth()
    old = [event() for _ in range(2)]
    post_batch(client, user.headers, old)
    r = post_batch(client, user.headers, [old[0], event(), old[1]])
    assert statuses(r) == ["duplicate", "accepted", "duplicate"]
    assert event_count(query) == 3


def test_duplicates_across_track_and_batch(client, auth, query):
    user = auth()
    tracked = event("app_opened")
    r = client.post(TRACK, json=tracked, headers=user.headers)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["duplicate"] is False
    batched = event("app_opened")
    r = post_batch(client, user.headers, [tracked, batched])
    assert statuses(r) == ["duplicate", "accepted"]
    r = client.post(TRACK, json=batched, headers=user.headers)
    assert r.status_code == 200
    assert r.get_json()["duplicate"] is True
    assert event_count(query) == 2


def test_another_user_may_use_the_same_event_id(client, auth, query):
    first, second = auth(), auth()
    shared = event("app_opened")
    assert statuses(post_batch(client, first.headers, [shared])) == ["accepted"]
    assert statuses(post_batch(client, second.headers, [shared])) == ["accepted"]
    assert stored_ids(query, first.user["id"]) == [shared["event_id"]]
    assert stored_ids(query, second.user["id"]) == [shared["event_id"]]


def test_user_comes_from_the_token_never_the_body(client, auth, query):
    user, other = auth(), auth()
    r = post_batch(client, user.headers, [event("app_opened", user_id=other.user["id"])])
    assert r.get_json()["results"][0]["reason"] == "invalid_event"
    r = post_batch(client, user.headers, [event()], user_id=other.user["id"])
    assert_problem(r, 422)
    assert event_count(query, other.user["id"]) == 0


def test_batch_where_every_event_is_rejected_is_still_200(client, auth, query):
    r = post_batch(client, auth().headers, [42, "x", None])
    assert statuses(r) == ["rejected"] * 3
    assert [x["event_id"] for x in r.get_json()["results"]] == [None, None, None]
    assert event_count(query) == 0
    assert [row[0] for row in rejected(query)] == ["invalid_event"] * 3


def test_empty_batch_is_200_with_no_results(client, auth, query):
    r = post_batch(client, auth().headers, [])
    assert r.status_code == 200
    assert r.get_json()["results"] == []


def test_batch_requires_a_token(client, query):
    assert_problem(post_batch(client, {}, [event()]), 401)
    assert event_count(query) == 0
    assert rejected(query) == []


# -- the envelope: refused whole, nothing stored -------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        [],
        "events",
        {"events": []},
        {"sent_at": "2026-03-01T09:00:00Z"},
        {"sent_at": "2026-03-01T09:00:00Z", "events": {"0": {}}},
        {"sent_at": "yesterday", "events": []},
        {"sent_at": "2026-03-01T09:00:00", "events": []},
        {"sent_at": "2026-03-01T09:00:00Z", "events": [], "extra": 1},
    ],
    ids=["list", "string", "no-sent-at", "no-events", "events-object", "sent-at-not-iso",
         "sent-at-naive", "unknown-field"],
)
def test_bad_envelope_is_422_and_stores_nothing(client, auth, query, body):
    good = [event()]
    if isinstance(body, dict) and "events" in body and body["events"] == []:
        body = body | {"events": good}
    r = client.post(BATCH, json=body, headers=auth().headers)
    assert_problem(r, 422)
    assert event_count(query) == 0
    assert rejected(query) == []


def test_body_that_is_not_json_is_400(client, auth, query):
    r = client.post(BATCH, data=b'{"sent_at": ', content_type="application/json",
                    headers=auth().headers)
    assert_problem(r, 400)
    assert event_count(query) == 0


def test_101_events_are_refused_whole(client, auth, query):
    user = auth()
    r = post_batch(client, user.headers, [event() for _ in range(101)])
    body = assert_problem(r, 422)
    assert body["errors"][0]["field"] == "events"
    assert event_count(query) == 0
    assert statuses(post_batch(client, user.headers, [event() for _ in range(100)])) == [
        "accepted"
    ] * 100
    assert event_count(query) == 100


def _padded_batch(size: int) -> bytes:
    """A valid batch of 60 events whose JSON body is exactly `size` bytes (padded)."""
    events = [event("feedback_given", {"text": "x" * 8000}) for _ in range(60)]
    raw = json.dumps({"sent_at": "2026-03-01T09:00:00Z", "events": events}).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def test_batch_body_of_exactly_512_kib_is_accepted(client, auth, query):
    r = client.post(BATCH, data=_padded_batch(512 * 1024), content_type="application/json",
                    headers=auth().headers)
    assert statuses(r) == ["accepted"] * 60
    assert event_count(query) == 60


def test_batch_body_over_512_kib_is_413(client, auth, query):
    r = client.post(BATCH, data=_padded_batch(512 * 1024 + 1), content_type="application/json",
                    headers=auth().headers)
    assert_problem(r, 413)
    assert event_count(query) == 0


def test_other_routes_keep_the_64_kib_limit(client, auth, query):
    user = auth()
    body = b'{"event_type": "app_opened", "event_data": {}}'
    r = client.post(TRACK, data=body + b" " * (64 * 1024 - len(body) + 1),
                    content_type="application/json", headers=user.headers)
    assert_problem(r, 413)
    r = client.post(TRACK, data=body + b" " * (64 * 1024 - len(body)),
                    content_type="application/json", headers=user.headers)
    assert r.status_code == 201
    assert event_count(query) == 1


# -- /track's own idempotency ---------------------------------------------------------


def test_track_with_a_repeated_event_id_returns_the_original_with_200(client, auth, query):
    user = auth()
    event_id = new_id()
    first = client.post(TRACK, json={"event_type": "app_opened", "event_data": {"n": 1},
                                      "event_id": event_id}, headers=user.headers)
    assert first.status_code == 201
    again = client.post(TRACK, json={"event_type": "app_opened", "event_data": {"n": 2},
                                     "event_id": event_id}, headers=user.headers)
    assert again.status_code == 200
    body = again.get_json()
    assert body["duplicate"] is True
    assert body["id"] == first.get_json()["id"]
    assert body["event_data"] == {"n": 1}
    assert body["event_id"] == event_id
    assert event_count(query) == 1


def test_track_without_event_id_gets_a_server_uuid(client, auth, query):
    user = auth()
    r = client.post(TRACK, json={"event_type": "app_opened"}, headers=user.headers)
    assert r.status_code == 201
    assert uuid.UUID(r.get_json()["event_id"]).version == 4
    assert stored_ids(query, user.user["id"]) == [r.get_json()["event_id"]]


def test_server_owned_events_get_an_event_id_and_occurred_at(client, auth, seeded, query, at):
    received = at("2026-03-01T09:00:00Z")
    user = auth()
    r = client.post(f"/api/v2/challenges/{seeded['challenge_id']}/join", headers=user.headers)
    assert r.status_code == 201
    rows = query("SELECT event_type, event_id, occurred_at, created_at FROM analytics_events")
    assert [row[0] for row in rows] == ["challenge_joined"]
    assert rows[0][1] is not None
    assert rows[0][2] == rows[0][3]
    occurred = rows[0][2] if isinstance(rows[0][2], datetime) else datetime.fromisoformat(
        rows[0][2])
    assert occurred.replace(tzinfo=occurred.tzinfo or UTC) == received
