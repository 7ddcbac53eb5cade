"""Videos: the paginated list, detail, likes, and the like events."""

from __future__ import annotations

import json

import pytest

PROBLEM = "application/problem+json"


@pytest.fixture
def video_ids(seeded, query) -> list[int]:
    return [r[0] for r in query("SELECT id FROM videos ORDER BY id")]


def _like_events(query) -> list[tuple[str, int, dict]]:
    rows = query(
        "SELECT event_type, user_id, event_data FROM analytics_events "
        "WHERE event_type IN ('video_liked', 'video_unliked') ORDER BY id"
    )
    return [(r[0], r[1], json.loads(r[2]) if isinstance(r[2], str) else r[2]) for r in rows]


def test_list_defaults_to_20_with_a_cursor(client, auth, video_ids):
    r = client.get("/api/v2/videos", headers=auth().headers)
    assert r.status_code == 200
    body = r.get_json()
    assert set(body) == {"items", "next_cursor"}
    assert [v["id"] for v in body["items"]] == video_ids[:20]
    assert isinstance(body["next_cursor"], str)
    first = body["items"][0]
    assert set(first) == {"id", "title", "description", "url", "duration_s", "liked"}
    assert first["liked"] is False


def test_cursor_walks_every_video_exactly_once(client, auth, video_ids):
    h = auth().headers
    seen: list[int] = []
    pages = 0
    url = "/api/v2/videos?limit=7"
    while True:
        r = client.get(url, headers=h)
        assert r.status_code == 200
        body = r.get_json()
        pages += 1
        seen.extend(v["id"] for v in body["items"])
        if body["next_cursor"] is None:
            break
        url = f"/api/v2/videos?limit=7&cursor={body['next_cursor']}"
        assert pages < 10
    assert len(video_ids) == 30
    assert seen == video_ids
    assert pages == 5


def test_last_full_page_has_no_next_cursor(client, auth, video_ids):
    h = auth().headers
    r = client.get("/api/v2/videos?limit=30", headers=h)
    assert len(r.get_json()["items"]) == 30 and r.get_json()["next_cursor"] is None
    r = client.get("/api/v2/videos?limit=100", headers=h)
    assert len(r.get_json()["items"]) == 30 and r.get_json()["next_cursor"] is None


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten"])
def test_limit_out_of_range_is_422_naming_limit(client, auth, seeded, limit):
    r = client.get(f"/api/v2/videos?limit={limit}", headers=auth().headers)
    assert r.status_code == 422
    assert r.content_type == PROBLEM
    assert [e["field"] for e in r.get_json()["errors"]] == ["limit"]


@pytest.mark.parametrize("cursor", ["abc", "-5", "1.5", "9" * 40, "x" * 65])
def test_bad_cursor_is_422_naming_cursor(client, auth, seeded, cursor):
    r = client.get(f"/api/v2/videos?cursor={cursor}", headers=auth().headers)
    assert r.status_code == 422
    assert r.content_type == PROBLEM
    assert [e["field"] for e in r.get_json()["errors"]] == ["cursor"]


def test_get_video_and_unknown_video_is_404(client, auth, video_ids):
    h = auth().headers
    r = client.get(f"/api/v2/videos/{video_ids[4]}", headers=h)
    assert r.status_code == 200
    assert r.get_json()["id"] == video_ids[4] and r.get_json()["liked"] is False
    assert r.get_json()["title"] == "Day 5: Cardio"
    r = client.get("/api/v2/videos/999999", headers=h)
    assert r.status_code == 404 and r.content_type == PROBLEM


def test_videos_require_a_token(client, seeded, video_ids):
    for method, path in [
        ("get", "/api/v2/videos"),
        ("get", f"/api/v2/videos/{video_ids[0]}"),
        ("get", "/api/v2/videos/liked"),
        ("post", f"/api/v2/videos/{video_ids[0]}/like"),
        ("delete", f"/api/v2/videos/{video_ids[0]}/like"),
    ]:
        r = getattr(client, method)(path)
        assert r.status_code == 401, path
        assert r.content_type == PROBLEM


def test_like_is_idempotent_with_one_row_and_one_event(client, auth, video_ids, query):
    user = auth()
    vid = video_ids[2]
    for _ in range(2):
        r = client.post(f"/api/v2/videos/{vid}/like", headers=user.headers)
        assert r.status_code == 200
        assert r.get_json() == {"video_id": vid, "liked": True}
    rows = query("SELECT user_id, video_id FROM user_liked_videos")
    assert [tuple(r) for r in rows] == [(user.user["id"], vid)]
    assert _like_events(query) == [("video_liked", user.user["id"], {"video_id": vid})]


def test_unlike_is_idempotent_and_records_only_a_real_change(client, auth, video_ids, query):
    user = auth()
    vid = video_ids[0]
    # Unliking what was never liked is fine and changes nothing.
    r = client.delete(f"/api/v2/videos/{vid}/like", headers=user.headers)
    assert r.status_code == 200 and r.get_json() == {"video_id": vid, "liked": False}
    assert _like_events(query) == []
    client.post(f"/api/v2/videos/{vid}/like", headers=user.headers)
    for _ in range(2):
        r = client.delete(f"/api/v2/videos/{vid}/like", headers=user.headers)
        assert r.status_code == 200 and r.get_json()["liked"] is False
    assert query("SELECT count(*) FROM user_liked_videos")[0][0] == 0
    uid = user.user["id"]
    assert _like_events(query) == [
        ("video_liked", uid, {"video_id": vid}),
        ("video_unliked", uid, {"video_id": vid}),
    ]


def test_like_unknown_video_is_404_and_writes_nothing(client, auth, seeded, query):
    h = auth().headers
    assert client.post("/api/v2/videos/999999/like", headers=h).status_code == 404
    assert client.delete("/api/v2/videos/999999/like", headers=h).status_code == 404
    assert query("SELECT count(*) FROM user_liked_videos")[0][0] == 0
    assert query("SELECT count(*) FROM analytics_events")[0][0] == 0


def test_liked_flag_is_per_user_in_list_and_detail(client, auth, video_ids):
    alice, bob = auth(), auth()
    client.post(f"/api/v2/videos/{video_ids[1]}/like", headers=alice.headers)
    client.post(f"/api/v2/videos/{video_ids[25]}/like", headers=alice.headers)

    def liked_in_list(user) -> set[int]:
        items = client.get("/api/v2/videos?limit=100", headers=user.headers).get_json()["items"]
        return {v["id"] for v in items if v["liked"]}

    assert liked_in_list(alice) == {video_ids[1], video_ids[25]}
    assert liked_in_list(bob) == set()
    assert client.get(f"/api/v2/videos/{video_ids[1]}", headers=alice.headers).get_json()["liked"]
    assert not client.get(f"/api/v2/videos/{video_ids[1]}", headers=bob.headers).get_json()["liked"]
    # A liked video on a later page is flagged there too.
    r = client.get(f"/api/v2/videos?cursor={video_ids[19]}", headers=alice.headers)
    assert [v["id"] for v in r.get_json()["items"] if v["liked"]] == [video_ids[25]]


def test_liked_lists_the_users_likes_newest_first_with_liked_at(
    client, auth, video_ids, at, query
):
    alice, bob = auth(), auth()
    at("2026-03-01T08:00:00Z")
    client.post(f"/api/v2/videos/{video_ids[3]}/like", headers=alice.headers)
    at("2026-03-02T08:00:00Z")
    client.post(f"/api/v2/videos/{video_ids[7]}/like", headers=alice.headers)
    client.post(f"/api/v2/videos/{video_ids[9]}/like", headers=bob.headers)
    at("2026-03-03T08:00:00Z")
    # Liking again does not move the like: liked_at is when it was first liked.
    client.post(f"/api/v2/videos/{video_ids[3]}/like", headers=alice.headers)
    r = client.get("/api/v2/videos/liked", headers=alice.headers)
    assert r.status_code == 200
    items = r.get_json()["items"]
    assert [(v["id"], v["liked"]) for v in items] == [(video_ids[7], True), (video_ids[3], True)]
    assert items[0]["liked_at"].startswith("2026-03-02T08:00:00")
    assert items[1]["liked_at"].startswith("2026-03-01T08:00:00")
    client.delete(f"/api/v2/videos/{video_ids[7]}/like", headers=alice.headers)
    items = client.get("/api/v2/videos/liked", headers=alice.headers).get_json()["items"]
    assert [v["id"] for v in items] == [video_ids[3]]


def test_liked_is_empty_for_a_new_user(client, auth, seeded):
    r = client.get("/api/v2/videos/liked", headers=auth().headers)
    assert r.status_code == 200 and r.get_json() == {"items": []}
