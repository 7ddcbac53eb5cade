"""Register and login are rate limited per client IP (AUTH_LIMIT), in memory or in Redis."""

from __future__ import annotations

import uuid

import pytest
import redis

PROBLEM = "application/problem+json"
REGISTER = "/api/v2/auth/register"
LOGIN = "/api/v2/auth/login"
LIMIT = "3 per minute"


def register_body() -> dict[str, str]:
    return {
        "email": f"limit-{uuid.uuid4().hex[:10]}@example.com",
        "password": "long enough",
        "display_name": "Limited",
    }


def call(client, path: str, ip: str = "203.0.113.7", **kwargs):
    body = register_body() if path == REGISTER else {"email": "x@example.com", "password": "nope"}
    return client.post(path, json=body, environ_base={"REMOTE_ADDR": ip}, **kwargs)


def assert_429(response, limit: int = 3) -> None:
    assert response.status_code == 429, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == 429 and "Rate limit exceeded" in body["detail"]
    assert 1 <= int(response.headers["Retry-After"]) <= 61
    assert response.headers["X-RateLimit-Limit"] == str(limit)
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Reset"]) > 0


@pytest.fixture
def limited(app_factory):
    return app_factory(AUTH_LIMIT=LIMIT, RATELIMIT_HEADERS_ON_SUCCESS=True).test_client()


@pytest.mark.parametrize("path,ok", [(REGISTER, 201), (LOGIN, 401)])
def test_fourth_call_from_one_ip_is_429_and_another_ip_gets_through(limited, path, ok):
    assert [call(limited, path).status_code for _ in range(3)] == [ok, ok, ok]
    assert_429(call(limited, path))
    assert call(limited, path, ip="198.51.100.9").status_code == ok
    assert call(limited, path, ip="2001:db8::1").status_code == ok


def test_login_limit_also_stops_correct_credentials(app_factory):
    client = app_factory(AUTH_LIMIT=LIMIT).test_client()
    env = {"REMOTE_ADDR": "203.0.113.7"}
    body = register_body()
    assert client.post(REGISTER, json=body, environ_base=env).status_code == 201
    creds = {"email": body["email"], "password": body["password"]}
    for _ in range(3):
        assert (
            client.post(LOGIN, json=creds | {"password": "wrong"}, environ_base=env).status_code
            == 401
        )
    assert_429(client.post(LOGIN, json=creds, environ_base=env))


def test_a_rejected_call_writes_nothing(limited, query):
    for _ in range(3):
        assert call(limited, REGISTER).status_code == 201
    assert_429(call(limited, REGISTER))
    assert query("SELECT count(*) FROM users") == [(3,)]


def test_retry_after_is_sent_only_with_429(limited):
    first = call(limited, REGISTER)
    assert first.status_code == 201
    assert "Retry-After" not in first.headers
    assert first.headers["X-RateLimit-Limit"] == "3"
    assert first.headers["X-RateLimit-Remaining"] == "2"
    call(limited, REGISTER), call(limited, REGISTER)
    assert_429(call(limited, REGISTER))


def test_forwarded_for_is_ignored_without_trusted_proxies(app_factory):
    client = app_factory(AUTH_LIMIT=LIMIT).test_client()
    for n in range(3):
        assert call(client, LOGIN, headers={"X-Forwarded-For": f"10.0.0.{n}"}).status_code == 401
    assert_429(call(client, LOGIN, headers={"X-Forwarded-For": "10.0.0.99"}))


def test_forwarded_for_names_the_client_behind_a_trusted_proxy(app_factory):
    client = app_factory(AUTH_LIMIT=LIMIT, TRUSTED_PROXIES=1).test_client()
    behind = {"X-Forwarded-For": "192.0.2.10"}
    for _ in range(3):
        assert call(client, LOGIN, ip="10.0.0.1", headers=behind).status_code == 401
    assert_429(call(client, LOGIN, ip="10.0.0.1", headers=behind))
    other = {"X-Forwarded-For": "192.0.2.11"}
    assert call(client, LOGIN, ip="10.0.0.1", headers=other).status_code == 401


@pytest.fixture
def redis_limits(redis_url):
    """The Redis test database, without limiter keys before and after the test."""
    server = redis.Redis.from_url(redis_url)

    def clear() -> None:
        keys = list(server.scan_iter(match="LIMITS:*"))
        if keys:
            server.delete(*keys)

    clear()
    yield server
    clear()
    server.close()


def test_limit_counts_in_redis(app_factory, redis_url, redis_limits):
    client = app_factory(AUTH_LIMIT=LIMIT, RATELIMIT_STORAGE_URI=redis_url).test_client()
    for _ in range(3):
        assert call(client, REGISTER).status_code == 201
    assert_429(call(client, REGISTER))
    assert call(client, REGISTER, ip="198.51.100.9").status_code == 201
    keys = [key.decode() for key in redis_limits.scan_iter(match="LIMITS:*")]
    hits = {key: int(redis_limits.get(key)) for key in keys if "203.0.113.7" in key}
    assert list(hits.values()) == [4], keys  # the refused call is counted too
    assert all(0 < redis_limits.ttl(key) <= 60 for key in hits)


def test_two_apps_on_one_redis_share_one_budget(app_factory, redis_url, redis_limits):
    """Two apps stand for two worker processes: the count lives in Redis, not in either."""
    config = {
        "AUTH_LIMIT": LIMIT,
        "RATELIMIT_STORAGE_URI": redis_url,
        "RATELIMIT_KEY_PREFIX": f"shared-{uuid.uuid4().hex[:8]}",
    }
    first = app_factory(**config).test_client()
    assert call(first, REGISTER).status_code == 201
    assert call(first, REGISTER).status_code == 201
    # Building the second app re-binds the limiter to a new storage connection: with
    # memory:// the two calls above would be forgotten here, with Redis they are not.
    second = app_factory(**config).test_client()
    assert call(second, REGISTER).status_code == 201
    assert_429(call(second, REGISTER))
    assert_429(call(first, REGISTER))
    assert call(first, REGISTER, ip="198.51.100.9").status_code == 201
