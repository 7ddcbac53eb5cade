"""The server-owned events of a whole journey: exactly one row per real state change."""

from __future__ import annotations

import json
from datetime import datetime

from app import clock


def _at(iso: str) -> None:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    clock.set_clock(lambda: moment)


def test_journey_records_one_event_per_state_change(client, seeded, auth, query):
    cid = seeded["challenge_id"]
    _at("2026-03-01T08:00:00Z")
    user = auth(timezone="Europe/Berlin")
    h = user.headers
    enrollment = client.post(f"/api/v2/challenges/{cid}/join", headers=h).get_json()
    assert client.post(f"/api/v2/challenges/{cid}/join", headers=h).status_code == 200
    _at("2026-03-02T08:00:00Z")
    today = client.get("/api/v2/plans/today", headers=h).get_json()
    assert client.get("/api/v2/plans/3", headers=h).status_code == 403
    assert client.post("/api/v2/plans/3/complete", headers=h).status_code == 403
    _at("2026-03-02T08:05:00Z")
    assert client.post("/api/v2/plans/2/complete", headers=h).status_code == 200
    assert client.post("/api/v2/plans/2/complete", headers=h).status_code == 200
    vid = today["video"]["id"]
    _at("2026-03-02T08:10:00Z")
    for _ in range(2):
        assert client.post(f"/api/v2/videos/{vid}/like", headers=h).status_code == 200
    for _ in range(2):
        assert client.delete(f"/api/v2/videos/{vid}/like", headers=h).status_code == 200
    assert client.post(f"/api/v2/challenges/{cid}/leave", headers=h).status_code == 200

    rows = query(
        "SELECT user_id, event_type, event_data, created_at FROM analytics_events ORDER BY id"
    )
    got = [
        (r[0], r[1], json.loads(r[2]) if isinstance(r[2], str) else r[2], str(r[3])[:16])
        for r in rows
    ]
    uid = user.user["id"]
    assert got == [
        (uid, "challenge_joined", {"challenge_id": cid, "enrollment_id": enrollment["id"]},
         "2026-03-01 08:00"),
        (uid, "plan_viewed", {"plan_id": today["id"], "day_of_challenge": 2}, "2026-03-02 08:00"),
        (uid, "plan_completed",
         {"plan_id": today["id"], "day_of_challenge": 2, "challenge_id": cid},
         "2026-03-02 08:05"),
        (uid, "video_liked", {"video_id": vid}, "2026-03-02 08:10"),
        (uid, "video_unliked", {"video_id": vid}, "2026-03-02 08:10"),
    ]
