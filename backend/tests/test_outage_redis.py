"""Redis goes down and comes back: limits fall back to memory (and say so), requests work,
readiness degrades, limits return to Redis, and revoked tokens stay revoked.

A private redis-server on a spare port (outage_support.py), killed and restarted here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
import redis

from app.extensions import limiter
from tests.outage_support import PrivateRedis, private_redis
from tests.problem_helpers import assert_problem

TRACK = "/api/v2/analytics/track"
EVENT = {"event_type": "app_opened", "event_data": {"source": "redis-outage"}}


@pytest.fixture(scope="module")
def redis_server() -> Iterator[PrivateRedis]:
    yield from private_redis()


@pytest.fixture
def own_redis(redis_server: PrivateRedis) -> Iterator[PrivateRedis]:
    if redis_server.process is None or redis_server.process.poll() is not None:
        redis_server.start()
    redis.Redis.from_url(redis_server.url).flushdb()
    yield redis_server
    if redis_server.process is None or redis_server.process.poll() is not None:
        redis_server.start()
    # One limiter per process remembers "storage dead": later tests start on their own.
    limiter._storage_dead = False


def _limit_counters(url: str) -> int:
    """The sum of every rate-limit counter held in Redis."""
    client = redis.Redis.from_url(url)
    keys = [key for key in client.keys("*") if client.type(key) == b"string"]
    return sum(int(client.get(key) or 0) for key in keys)


def test_redis_outage_falls_back_to_memory_says_so_and_recovers(
    app_factory, own_redis, caplog, auth
):
    app = app_factory(RATELIMIT_STORAGE_URI=own_redis.url, WRITE_LIMIT="50 per minute")
    client = app.test_client()
    headers = auth().headers
    assert client.post(TRACK, json=EVENT, headers=headers).status_code == 201
    counted = _limit_counters(own_redis.url)
    assert counted > 0  # the write limit counts in Redis

    own_redis.stop()
    with caplog.at_level(logging.INFO):
        assert [client.post(TRACK, json=EVENT, headers=headers).status_code for _ in range(2)] == [
            201,
            201,
        ]
        r = client.get("/readyz")
    assert r.status_code == 200
    assert r.get_json()["checks"] == {
        "database": "ok",
        "rate_limit_storage": "degraded (per-process memory fallback)",
    }
    messages = [rec.getMessage() for rec in caplog.records]
    assert any("falling back to in-memory storage" in m for m in messages)
    assert any("limits fall back to per-process memory" in m for m in messages)

    own_redis.start()  # empty: no persistence
    assert client.get("/readyz").get_json()["checks"]["rate_limit_storage"] == "ok"
    # Flask-Limiter re-checks a dead storage with a back-off of a second or two: requests
    # keep succeeding meanwhile, and then count in Redis again.
    deadline = time.monotonic() + 10
    while _limit_counters(own_redis.url) == 0:
        assert time.monotonic() < deadline, "limits never went back to Redis"
        assert client.post(TRACK, json=EVENT, headers=headers).status_code == 201
        time.sleep(0.2)
    before = _limit_counters(own_redis.url)
    assert client.post(TRACK, json=EVENT, headers=headers).status_code == 201
    assert _limit_counters(own_redis.url) > before


def test_revoked_token_stays_revoked_while_redis_is_down(app_factory, own_redis, auth, login):
    app = app_factory(RATELIMIT_STORAGE_URI=own_redis.url)
    client = app.test_client()
    user = auth()
    other_session = login(user.user["email"], user.user["password"])
    assert client.post("/api/v2/auth/logout", headers=user.headers).status_code == 200

    own_redis.stop()
    r = client.get("/api/v2/auth/me", headers=user.headers)
    body = assert_problem(r, 401)
    assert "revoked" in body["detail"]
    # Logout ended the session: its refresh token is refused too (issue 13)...
    refresh = {"Authorization": f"Bearer {user.tokens['refresh_token']}"}
    assert_problem(client.post("/api/v2/auth/refresh", headers=refresh), 401)
    # ...while the user's other session still works.
    other = {"Authorization": f"Bearer {other_session['refresh_token']}"}
    assert client.post("/api/v2/auth/refresh", headers=other).status_code == 200
