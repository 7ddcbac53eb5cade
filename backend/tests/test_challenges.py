"""Challenges, joining and leaving them, and the enrollments a user has."""

from __future__ import annotations

import json

import pytest

PROBLEM = "application/problem+json"


def _events(query, event_type: str) -> list[tuple]:
    return [
        (row[0], row[1])
        for row in query(
            "SELECT user_id, event_data FROM analytics_events WHERE event_type = :t ORDER BY id",
            {"t": event_type},
        )
    ]


def _as_dict(value):
    return json.loads(value) if isinstance(value, str) else value


def test_list_challenges_returns_items_object(client, seeded, auth):
    r = client.get("/api/v2/challenges", headers=auth().headers)
    assert r.status_code == 200
    body = r.get_json()
    assert list(body) == ["items"]
    assert [c["id"] for c in body["items"]] == [seeded["challenge_id"]]
    assert body["items"][0]["duration_days"] == 30
    assert body["items"][0]["slug"] == "30-day-fitness"


def test_list_challenges_requires_a_token(client, seeded):
    r = client.get("/api/v2/challenges")
    assert r.status_code == 401
    assert r.content_type == PROBLEM


def test_get_challenge_and_unknown_challenge_is_404_problem(client, seeded, auth):
    h = auth().headers
    r = client.get(f"/api/v2/challenges/{seeded['challenge_id']}", headers=h)
    assert r.status_code == 200
    assert r.get_json()["title"] == "30-Day Fitness Kickstart"
    r = client.get("/api/v2/challenges/999999", headers=h)
    assert r.status_code == 404
    assert r.content_type == PROBLEM
    assert r.get_json()["status"] == 404
    assert "999999" in r.get_json()["detail"]


@pytest.mark.parametrize(
    ("zone", "start"),
    [("Asia/Tokyo", "2026-03-02"), ("America/Los_Angeles", "2026-03-01"), ("UTC", "2026-03-01")],
)
def test_join_starts_today_in_the_users_time_zone(client, seeded, auth, at, query, zone, start):
    at("2026-03-01T23:30:00Z")
    user = auth(timezone=zone)
    r = client.post(f"/api/v2/challenges/{seeded['challenge_id']}/join", headers=user.headers)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["start_date"] == start
    assert body["active"] is True and body["ended_at"] is None
    assert body["day_of_challenge"] == 1
    assert body["challenge"]["id"] == seeded["challenge_id"]
    rows = query("SELECT start_date FROM enrollments WHERE user_id = :u", {"u": user.user["id"]})
    assert [str(row[0]) for row in rows] == [start]


def test_join_twice_is_idempotent_and_records_one_event(client, seeded, auth, at, query):
    at("2026-03-01T12:00:00Z")
    user = auth()
    url = f"/api/v2/challenges/{seeded['challenge_id']}/join"
    first = client.post(url, headers=user.headers)
    second = client.post(url, headers=user.headers)
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.get_json() == first.get_json()
    rows = query("SELECT id FROM enrollments WHERE user_id = :u", {"u": user.user["id"]})
    assert [row[0] for row in rows] == [first.get_json()["id"]]
    events = _events(query, "challenge_joined")
    assert [(uid, _as_dict(data)) for uid, data in events] == [
        (
            user.user["id"],
            {"challenge_id": seeded["challenge_id"], "enrollment_id": first.get_json()["id"]},
        )
    ]


def test_join_unknown_challenge_is_404_and_writes_nothing(client, seeded, auth, query):
    r = client.post("/api/v2/challenges/424242/join", headers=auth().headers)
    assert r.status_code == 404
    assert r.content_type == PROBLEM
    assert query("SELECT count(*) FROM enrollments")[0][0] == 0
    assert query("SELECT count(*) FROM analytics_events")[0][0] == 0


def test_leave_ends_enrollment_and_keeps_row_and_completions(client, seeded, auth, at, query):
    at("2026-03-01T12:00:00Z")
    user = auth()
    cid = seeded["challenge_id"]
    joined = client.post(f"/api/v2/challenges/{cid}/join", headers=user.headers).get_json()
    assert client.post("/api/v2/plans/1/complete", headers=user.headers).status_code == 200
    at("2026-03-02T08:00:00Z")
    r = client.post(f"/api/v2/challenges/{cid}/leave", headers=user.headers)
    assert r.status_code == 200
    body = r.get_json()
    assert body["id"] == joined["id"]
    assert body["active"] is False
    assert body["ended_at"].startswith("2026-03-02T08:00:00")
    rows = query("SELECT id, ended_at FROM enrollments")
    assert len(rows) == 1 and rows[0][0] == joined["id"] and rows[0][1] is not None
    completions = query("SELECT enrollment_id, day FROM completions")
    assert [tuple(row) for row in completions] == [(joined["id"], 1)]
    # Without an active enrollment there is no plan of the day.
    assert client.get("/api/v2/plans/today", headers=user.headers).status_code == 404


def test_leave_when_not_enrolled_is_404(client, seeded, auth, query):
    user = auth()
    cid = seeded["challenge_id"]
    r = client.post(f"/api/v2/challenges/{cid}/leave", headers=user.headers)
    assert r.status_code == 404
    assert r.content_type == PROBLEM
    assert "not enrolled" in r.get_json()["detail"]
    client.post(f"/api/v2/challenges/{cid}/join", headers=user.headers)
    assert client.post(f"/api/v2/challenges/{cid}/leave", headers=user.headers).status_code == 200
    # Leaving twice: the second time there is nothing active to end.
    r = client.post(f"/api/v2/challenges/{cid}/leave", headers=user.headers)
    assert r.status_code == 404
    assert client.post("/api/v2/challenges/31337/leave", headers=user.headers).status_code == 404


def test_rejoin_after_leaving_creates_a_new_enrollment(client, seeded, auth, at, query):
    at("2026-03-01T12:00:00Z")
    user = auth()
    cid = seeded["challenge_id"]
    old = client.post(f"/api/v2/challenges/{cid}/join", headers=user.headers).get_json()
    at("2026-03-05T12:00:00Z")
    client.post(f"/api/v2/challenges/{cid}/leave", headers=user.headers)
    at("2026-03-10T12:00:00Z")
    r = client.post(f"/api/v2/challenges/{cid}/join", headers=user.headers)
    assert r.status_code == 201
    new = r.get_json()
    assert new["id"] != old["id"]
    assert new["start_date"] == "2026-03-10" and new["day_of_challenge"] == 1
    rows = query("SELECT id, ended_at IS NULL FROM enrollments ORDER BY id")
    assert [(row[0], bool(row[1])) for row in rows] == [(old["id"], False), (new["id"], True)]
    assert len(_events(query, "challenge_joined")) == 2


def test_my_enrollments_newest_first_with_active_flag_and_day(client, seeded, auth, at, app):
    from app.extensions import db
    from app.services.demo import seed as seed_service

    with app.app_context():
        other = seed_service.create_challenge(slug="7-day-yoga", title="Yoga", days=7).id
        db.session.remove()
    at("2026-03-01T12:00:00Z")
    user = auth()
    h = user.headers
    first = client.post(f"/api/v2/challenges/{seeded['challenge_id']}/join", headers=h).get_json()
    at("2026-03-02T12:00:00Z")
    client.post(f"/api/v2/challenges/{seeded['challenge_id']}/leave", headers=h)
    at("2026-03-03T12:00:00Z")
    second = client.post(f"/api/v2/challenges/{other}/join", headers=h).get_json()
    at("2026-03-04T12:00:00Z")
    r = client.get("/api/v2/me/enrollments", headers=h)
    assert r.status_code == 200
    items = r.get_json()["items"]
    assert [(e["id"], e["active"], e["day_of_challenge"]) for e in items] == [
        (second["id"], True, 2),
        (first["id"], False, None),
    ]
    assert items[0]["challenge"]["slug"] == "7-day-yoga"


def test_my_enrollments_are_only_the_callers(client, seeded, auth):
    alice, bob = auth(), auth()
    client.post(f"/api/v2/challenges/{seeded['challenge_id']}/join", headers=alice.headers)
    r = client.get("/api/v2/me/enrollments", headers=bob.headers)
    assert r.status_code == 200 and r.get_json() == {"items": []}
    assert len(client.get("/api/v2/me/enrollments", headers=alice.headers).get_json()["items"]) == 1
