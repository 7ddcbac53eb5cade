"""Reading daily plans: today's plan, earlier days, locked and unknown days, plan_viewed."""

from __future__ import annotations

import json

import pytest

PROBLEM = "application/problem+json"
PLAN_KEYS = {
    "id", "challenge_id", "day", "title", "description", "tasks", "video", "completed",
    "completed_at",
}


@pytest.fixture
def second_challenge(app):
    """Another challenge (5 days), made through the seed service."""
    from app.extensions import db
    from app.services.demo import seed as seed_service

    with app.app_context():
        challenge_id = seed_service.create_challenge(slug="5-day-core", title="Core", days=5).id
        db.session.remove()
    return challenge_id


def _viewed(query) -> list[tuple[int, dict]]:
    rows = query(
        "SELECT user_id, event_data FROM analytics_events WHERE event_type = 'plan_viewed' "
        "ORDER BY id"
    )
    return [(row[0], json.loads(row[1]) if isinstance(row[1], str) else row[1]) for row in rows]


def _plan_id(query, challenge_id: int, day: int) -> int:
    return query(
        "SELECT id FROM plans WHERE challenge_id = :c AND day = :d", {"c": challenge_id, "d": day}
    )[0][0]


def test_today_returns_the_plan_of_the_current_day(client, seeded, enrolled, query):
    r = client.get("/api/v2/plans/today", headers=enrolled.headers)
    assert r.status_code == 200
    plan = r.get_json()
    assert set(plan) == PLAN_KEYS
    assert plan["day"] == 3
    assert plan["id"] == _plan_id(query, seeded["challenge_id"], 3)
    assert plan["challenge_id"] == seeded["challenge_id"]
    assert plan["title"] == "Day 3: Legs"
    assert [t["title"] for t in plan["tasks"]] == ["Warm-up", "Legs", "Cool-down"]
    assert plan["video"]["url"].endswith("day-03.mp4")
    assert plan["completed"] is False and plan["completed_at"] is None


def test_today_without_enrollment_is_404_telling_to_join(client, seeded, auth, query):
    r = client.get("/api/v2/plans/today", headers=auth().headers)
    assert r.status_code == 404
    assert r.content_type == PROBLEM
    assert "join a challenge" in r.get_json()["detail"]
    assert _viewed(query) == []


def test_today_defaults_to_the_most_recently_joined_challenge(
    client, seeded, enrolled, second_challenge, at
):
    h = enrolled.headers
    assert client.post(f"/api/v2/challenges/{second_challenge}/join", headers=h).status_code == 201
    r = client.get("/api/v2/plans/today", headers=h)
    assert r.status_code == 200
    assert (r.get_json()["challenge_id"], r.get_json()["day"]) == (second_challenge, 1)
    r = client.get(f"/api/v2/plans/today?challenge_id={seeded['challenge_id']}", headers=h)
    assert r.status_code == 200
    assert (r.get_json()["challenge_id"], r.get_json()["day"]) == (seeded["challenge_id"], 3)
    r = client.get(f"/api/v2/plans/2?challenge_id={seeded['challenge_id']}", headers=h)
    assert (r.status_code, r.get_json()["challenge_id"]) == (200, seeded["challenge_id"])
    # Day 2 of the newer challenge is still locked: the default really is that one.
    assert client.get("/api/v2/plans/2", headers=h).status_code == 403


def test_today_for_a_challenge_the_user_is_not_in_is_404(
    client, seeded, enrolled, second_challenge, query
):
    r = client.get(f"/api/v2/plans/today?challenge_id={second_challenge}", headers=enrolled.headers)
    assert r.status_code == 404
    assert r.content_type == PROBLEM
    assert f"challenge {second_challenge}" in r.get_json()["detail"]
    r = client.get("/api/v2/plans/today?challenge_id=987654", headers=enrolled.headers)
    assert r.status_code == 404
    assert _viewed(query) == []


@pytest.mark.parametrize("value", ["abc", "0", "1.5"])
def test_today_with_an_invalid_challenge_id_is_422_naming_it(client, enrolled, value):
    r = client.get(f"/api/v2/plans/today?challenge_id={value}", headers=enrolled.headers)
    assert r.status_code == 422
    assert r.content_type == PROBLEM
    assert [e["field"] for e in r.get_json()["errors"]] == ["challenge_id"]


def test_today_after_leaving_the_newest_falls_back_to_the_other(
    client, seeded, enrolled, second_challenge
):
    h = enrolled.headers
    client.post(f"/api/v2/challenges/{second_challenge}/join", headers=h)
    client.post(f"/api/v2/challenges/{second_challenge}/leave", headers=h)
    r = client.get("/api/v2/plans/today", headers=h)
    assert r.status_code == 200 and r.get_json()["challenge_id"] == seeded["challenge_id"]


@pytest.mark.parametrize("day", [1, 2, 3])
def test_days_up_to_today_are_readable(client, seeded, enrolled, query, day):
    r = client.get(f"/api/v2/plans/{day}", headers=enrolled.headers)
    assert r.status_code == 200
    assert r.get_json()["day"] == day
    assert r.get_json()["id"] == _plan_id(query, seeded["challenge_id"], day)


def test_a_later_day_is_403_with_its_unlock_date(client, enrolled, query):
    r = client.get("/api/v2/plans/4", headers=enrolled.headers)
    assert r.status_code == 403
    assert r.content_type == PROBLEM
    body = r.get_json()
    assert body["unlocks_on"] == "2026-03-04"
    assert "2026-03-04" in body["detail"]
    r = client.get("/api/v2/plans/30", headers=enrolled.headers)
    assert r.status_code == 403 and r.get_json()["unlocks_on"] == "2026-03-30"
    assert _viewed(query) == []


def test_unlock_date_is_the_users_local_date(client, seeded, auth, at):
    at("2026-03-01T23:30:00Z")  # already the 2nd in Tokyo
    user = auth(timezone="Asia/Tokyo")
    client.post(f"/api/v2/challenges/{seeded['challenge_id']}/join", headers=user.headers)
    r = client.get("/api/v2/plans/2", headers=user.headers)
    assert r.status_code == 403 and r.get_json()["unlocks_on"] == "2026-03-03"
    at("2026-03-02T15:00:00Z")  # midnight of the 3rd in Tokyo
    assert client.get("/api/v2/plans/2", headers=user.headers).status_code == 200


@pytest.mark.parametrize("day", [0, 31])
def test_days_outside_the_challenge_are_404(client, enrolled, query, day):
    r = client.get(f"/api/v2/plans/{day}", headers=enrolled.headers)
    assert r.status_code == 404
    assert r.content_type == PROBLEM
    assert _viewed(query) == []


def test_negative_day_is_a_route_miss(client, enrolled):
    r = client.get("/api/v2/plans/-1", headers=enrolled.headers)
    assert r.status_code == 404 and r.content_type == PROBLEM


def test_plans_require_a_token(client, seeded):
    for path in ("/api/v2/plans/today", "/api/v2/plans/1"):
        r = client.get(path)
        assert r.status_code == 401 and r.content_type == PROBLEM


def test_each_successful_view_records_plan_viewed(client, seeded, enrolled, query):
    h = enrolled.headers
    cid = seeded["challenge_id"]
    assert client.get("/api/v2/plans/today", headers=h).status_code == 200
    assert client.get("/api/v2/plans/today", headers=h).status_code == 200
    assert client.get("/api/v2/plans/1", headers=h).status_code == 200
    assert client.get("/api/v2/plans/5", headers=h).status_code == 403
    assert client.get("/api/v2/plans/0", headers=h).status_code == 404
    uid = enrolled.user["id"]
    assert _viewed(query) == [
        (uid, {"plan_id": _plan_id(query, cid, 3), "day_of_challenge": 3}),
        (uid, {"plan_id": _plan_id(query, cid, 3), "day_of_challenge": 3}),
        (uid, {"plan_id": _plan_id(query, cid, 1), "day_of_challenge": 1}),
    ]
    created = query("SELECT created_at FROM analytics_events WHERE event_type = 'plan_viewed'")
    assert {str(row[0])[:10] for row in created} == {"2026-03-03"}


def test_plan_video_carries_the_users_liked_flag(client, enrolled):
    h = enrolled.headers
    video = client.get("/api/v2/plans/today", headers=h).get_json()["video"]
    assert video["liked"] is False
    assert client.post(f"/api/v2/videos/{video['id']}/like", headers=h).status_code == 200
    assert client.get("/api/v2/plans/today", headers=h).get_json()["video"]["liked"] is True
    r = client.post("/api/v2/plans/3/complete", headers=h)
    assert r.get_json()["video"] == video | {"liked": True}
    assert client.get("/api/v2/plans/2", headers=h).get_json()["video"]["liked"] is False


def test_plan_without_a_video_has_video_null(client, auth, app):
    from app.extensions import db
    from app.services.demo import seed as seed_service

    with app.app_context():
        cid = seed_service.create_challenge(slug="no-video", title="Walks", days=3,
                                            with_videos=False).id
        db.session.remove()
    user = auth()
    client.post(f"/api/v2/challenges/{cid}/join", headers=user.headers)
    r = client.get("/api/v2/plans/today", headers=user.headers)
    assert r.status_code == 200 and r.get_json()["video"] is None
