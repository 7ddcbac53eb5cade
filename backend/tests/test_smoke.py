"""The demo journey end to end through the HTTP API."""

from __future__ import annotations


def test_demo_journey_join_view_complete_like(client, seeded, auth, query, flush_logs):
    user = auth()
    h = user.headers
    r = client.post(f"/api/v2/challenges/{seeded['challenge_id']}/join", headers=h)
    assert r.status_code == 201, r.get_json()
    r = client.get("/api/v2/plans/today", headers=h)
    assert r.status_code == 200, r.get_json()
    plan = r.get_json()
    assert plan["day"] == 1 and plan["completed"] is False and plan["video"]["id"]
    r = client.post("/api/v2/plans/1/complete", headers=h)
    assert r.status_code == 200 and r.get_json()["completed"] is True
    r = client.post(f"/api/v2/videos/{plan['video']['id']}/like", headers=h)
    assert r.status_code == 200 and r.get_json() == {"video_id": plan["video"]["id"], "liked": True}
    flush_logs()
    types = [row[0] for row in query("SELECT event_type FROM analytics_events ORDER BY id")]
    assert types == ["challenge_joined", "plan_viewed", "plan_completed", "video_liked"]
    endpoints = {row[0] for row in query("SELECT endpoint FROM request_logs")}
    assert "/api/v2/plans/<int:day>/complete" in endpoints
