"""Only failed logins count against the login limits (issue 13): an admin who logs in often
is never locked out, and a stranger's guesses lock out only the stranger's own client.
In memory and in Redis (the count shared by every worker)."""

from __future__ import annotations

import uuid

import pytest
import redis

from tests.problem_helpers import assert_problem

LOGIN = "/api/v2/auth/login"
OWNER_IP, STRANGER_IP = "203.0.113.10", "198.51.100.66"


def attempt(client, email: str, password: str, ip: str = OWNER_IP):  # type: ignore[no-untyped-def]
    return client.post(
        LOGIN, json={"email": email, "password": password}, environ_base={"REMOTE_ADDR": ip}
    )


def test_successful_logins_never_count(app_factory, register):
    client = app_factory(AUTH_EMAIL_LIMIT="2 per 15 minutes",
                         AUTH_CLIENT_FAILURE_LIMIT="2 per 15 minutes").test_client()
    user = register()
    for _ in range(8):
        assert attempt(client, user["email"], user["password"]).status_code == 200


def test_a_stranger_cannot_lock_the_owner_out(app_factory, register):
    client = app_factory(AUTH_EMAIL_LIMIT="3 per 15 minutes").test_client()
    user = register()
    for _ in range(3):
        assert attempt(client, user["email"], "guess", ip=STRANGER_IP).status_code == 401
    r = attempt(client, user["email"], user["password"], ip=STRANGER_IP)
    body = assert_problem(r, 429)
    assert "3 per 15 minute" in body["detail"]
    assert 800 < int(r.headers["Retry-After"]) <= 901
    assert attempt(client, user["email"], user["password"]).status_code == 200


def test_the_owners_own_failures_hold_back_their_client(app_factory, register):
    client = app_factory(AUTH_EMAIL_LIMIT="2 per 15 minutes").test_client()
    user = register()
    assert attempt(client, user["email"], "typo one").status_code == 401
    assert attempt(client, user["email"].upper(), "typo two").status_code == 401
    assert_problem(attempt(client, user["email"], user["password"]), 429)


def test_failures_over_many_accounts_meet_the_per_client_limit(app_factory):
    client = app_factory(AUTH_CLIENT_FAILURE_LIMIT="3 per 15 minutes").test_client()
    for n in range(3):
        assert attempt(client, f"spray{n}@example.com", "Summer2026!").status_code == 401
    r = attempt(client, "spray9@example.com", "Summer2026!")
    assert_problem(r, 429)
    assert int(r.headers["Retry-After"]) > 0
    assert attempt(client, "spray9@example.com", "Summer2026!", ip=STRANGER_IP).status_code == 401


def test_malformed_requests_and_refusals_do_not_count(app_factory, register):
    client = app_factory(AUTH_EMAIL_LIMIT="1 per 15 minutes",
                         AUTH_CLIENT_FAILURE_LIMIT="1 per 15 minutes").test_client()
    user = register()
    for _ in range(3):
        no_password = {"email": user["email"]}
        r = client.post(LOGIN, json=no_password, environ_base={"REMOTE_ADDR": OWNER_IP})
        assert r.status_code == 422
    assert attempt(client, user["email"], "wrong").status_code == 401
    for _ in range(3):  # the refused attempts themselves add nothing
        assert_problem(attempt(client, user["email"], "wrong"), 429)
    assert attempt(client, user["email"], user["password"], ip=STRANGER_IP).status_code == 200


@pytest.fixture
def shared_config(redis_url):  # type: ignore[no-untyped-def]
    server = redis.Redis.from_url(redis_url)
    yield {
        "RATELIMIT_STORAGE_URI": redis_url,
        "RATELIMIT_KEY_PREFIX": f"login-{uuid.uuid4().hex[:8]}",
        "AUTH_EMAIL_LIMIT": "3 per 15 minutes",
    }
    server.close()


def test_failures_are_counted_in_redis_across_workers(app_factory, register, shared_config):
    """Two apps on one Redis stand for two worker processes."""
    first = app_factory(**shared_config).test_client()
    second = app_factory(**shared_config).test_client()
    user = register()
    for client in (first, second, first):
        assert attempt(client, user["email"], "guess", ip=STRANGER_IP).status_code == 401
    r = attempt(second, user["email"], "guess", ip=STRANGER_IP)
    assert_problem(r, 429)
    assert 800 < int(r.headers["Retry-After"]) <= 901
    # Successes in Redis never count either, and the owner is not held back.
    for client in (first, second) * 3:
        assert attempt(client, user["email"], user["password"]).status_code == 200
