"""Completing a day: idempotent, only reached days, plan_completed once, nothing half-written."""

from __future__ import annotations

import json

import pytest

PROBLEM = "application/problem+json"


def _snapshot(query) -> dict[str, list]:
    return {
        "completions": [tuple(r) for r in query("SELECT * FROM completions ORDER BY id")],
        "events": [tuple(r) for r in query("SELECT * FROM analytics_events ORDER BY id")],
        "enrollments": [tuple(r) for r in query("SELECT * FROM enrollments ORDER BY id")],
    }


def _completed_events(query) -> list[dict]:
    rows = query(
        "SELECT event_data FROM analytics_events WHERE event_type = 'plan_completed' ORDER BY id"
    )
    return [json.loads(r[0]) if isinstance(r[0], str) else r[0] for r in rows]


def test_complete_marks_the_day_done(client, seeded, enrolled, query):
    r = client.post("/api/v2/plans/3/complete", headers=enrolled.headers)
    assert r.status_code == 200
    body = r.get_json()
    assert body["day"] == 3 and body["completed"] is True
    assert body["completed_at"].startswith("2026-03-03T09:00:00")
    r = client.get("/api/v2/plans/today", headers=enrolled.headers)
    assert r.get_json()["completed"] is True
    assert r.get_json()["completed_at"] == body["completed_at"]
    # Other days stay open.
    assert client.get("/api/v2/plans/2", headers=enrolled.headers).get_json()["completed"] is False
    rows = query("SELECT enrollment_id, user_id, plan_id, day FROM completions")
    assert [tuple(r) for r in rows] == [
        (enrolled.enrollment_id, enrolled.user["id"], body["id"], 3)
    ]


def test_complete_twice_keeps_one_row_and_one_event(client, seeded, enrolled, query, at):
    first = client.post("/api/v2/plans/2/complete", headers=enrolled.headers)
    at("2026-03-03T10:00:00Z")
    second = client.post("/api/v2/plans/2/complete", headers=enrolled.headers)
    assert first.status_code == second.status_code == 200
    # The second call reports the original completion time.
    assert second.get_json() == first.get_json()
    assert query("SELECT count(*) FROM completions")[0][0] == 1
    assert _completed_events(query) == [
        {
            "plan_id": first.get_json()["id"],
            "day_of_challenge": 2,
            "challenge_id": seeded["challenge_id"],
        }
    ]
    users = query("SELECT DISTINCT user_id FROM analytics_events")
    assert [r[0] for r in users] == [enrolled.user["id"]]


def test_complete_a_locked_day_is_403_and_writes_nothing(client, enrolled, query):
    before = _snapshot(query)
    r = client.post("/api/v2/plans/4/complete", headers=enrolled.headers)
    assert r.status_code == 403
    assert r.content_type == PROBLEM
    assert r.get_json()["unlocks_on"] == "2026-03-04"
    assert _snapshot(query) == before


@pytest.mark.parametrize("day", [0, 31])
def test_complete_outside_the_challenge_is_404_and_writes_nothing(client, enrolled, query, day):
    before = _snapshot(query)
    r = client.post(f"/api/v2/plans/{day}/complete", headers=enrolled.headers)
    assert r.status_code == 404 and r.content_type == PROBLEM
    assert _snapshot(query) == before


def test_complete_without_enrollment_is_404_and_writes_nothing(client, seeded, auth, query):
    user = auth()
    before = _snapshot(query)
    r = client.post("/api/v2/plans/1/complete", headers=user.headers)
    assert r.status_code == 404
    assert "join a challenge" in r.get_json()["detail"]
    assert _snapshot(query) == before


def test_complete_with_invalid_challenge_id_is_422_and_writes_nothing(client, enrolled, query):
    before = _snapshot(query)
    r = client.post("/api/v2/plans/1/complete?challenge_id=abc", headers=enrolled.headers)
    assert r.status_code == 422
    assert [e["field"] for e in r.get_json()["errors"]] == ["challenge_id"]
    assert _snapshot(query) == before


def test_complete_counts_per_enrollment_after_rejoining(client, seeded, enrolled, query, at):
    cid = seeded["challenge_id"]
    h = enrolled.headers
    client.post("/api/v2/plans/1/complete", headers=h)
    client.post(f"/api/v2/challenges/{cid}/leave", headers=h)
    at("2026-03-10T09:00:00Z")
    new = client.post(f"/api/v2/challenges/{cid}/join", headers=h).get_json()
    # A fresh run: day 1 is open again, and completing it is new.
    assert client.get("/api/v2/plans/today", headers=h).get_json()["completed"] is False
    r = client.post("/api/v2/plans/1/complete", headers=h)
    assert r.status_code == 200
    rows = query("SELECT enrollment_id, day FROM completions ORDER BY id")
    assert [tuple(r) for r in rows] == [(enrolled.enrollment_id, 1), (new["id"], 1)]
    assert len(_completed_events(query)) == 2


def test_complete_only_the_chosen_challenge(client, seeded, enrolled, app, query):
    from app.extensions import db
    from app.services.demo import seed as seed_service

    with app.app_context():
        other = seed_service.create_challenge(slug="3-day-core", title="Core", days=3).id
        db.session.remove()
    h = enrolled.headers
    client.post(f"/api/v2/challenges/{other}/join", headers=h)
    r = client.post(f"/api/v2/plans/2/complete?challenge_id={seeded['challenge_id']}", headers=h)
    assert r.status_code == 200 and r.get_json()["challenge_id"] == seeded["challenge_id"]
    # The newest enrollment (the default) is on day 1: day 2 is locked there.
    assert client.post("/api/v2/plans/2/complete", headers=h).status_code == 403
    r = client.post(f"/api/v2/plans/2/complete?challenge_id={other}", headers=h)
    assert r.status_code == 403
    assert query("SELECT count(*) FROM completions")[0][0] == 1
