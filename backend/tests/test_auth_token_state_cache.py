"""The token check is answered from a per-process cache (app.services.auth.token_cache):
no query per request, a change made in this process seen at once, a change made by
another process within TOKEN_CACHE_SECONDS."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine

from app import clock
from app.extensions import db
from tests.test_auth_jwt_errors import ME, assert_401, claims_of

LOGOUT = "/api/v2/auth/logout"


@pytest.fixture
def other_process(db_url: str) -> Iterator[Engine]:
    """An engine the app knows nothing of: its writes are another process's."""
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def statements(app) -> list[str]:
    """SQL the requests run (the test client serves them in this thread), not what the
    request-log writer's thread flushes meanwhile."""
    seen: list[str] = []
    requests_thread = threading.get_ident()

    def record(*args: Any) -> None:
        if threading.get_ident() == requests_thread:
            seen.append(args[2])

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", record)
    return seen


def _frozen_clock() -> list[datetime]:
    now = [datetime.now(UTC)]
    clock.set_clock(lambda: now[0])
    return now


def test_a_known_token_is_checked_without_a_query(client, auth, statements):
    user = auth()
    assert client.get(ME, headers=user.headers).status_code == 200
    statements.clear()
    for _ in range(3):
        r = client.get(ME, headers=user.headers)
        assert r.status_code == 200
        assert r.get_json()["email"] == user.user["email"]
    assert statements == []


def test_a_write_to_a_table_named_like_users_keeps_the_cache(app, client, auth, statements):
    """Only `users` and `revoked_tokens` themselves: a rollup such as progress_users,
    written on every fold, must not send each next request to the database."""
    user = auth()
    assert client.get(ME, headers=user.headers).status_code == 200  # cached
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("DELETE FROM progress_users WHERE user_id = -1"))
        conn.execute(text("DELETE FROM latency_rollup_users WHERE user_id = -1"))
    statements.clear()
    assert client.get(ME, headers=user.headers).status_code == 200
    assert statements == []
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("UPDATE users SET display_name = display_name WHERE id = -1"))
    assert client.get(ME, headers=user.headers).status_code == 200
    assert statements != []  # the write to users itself emptied the cache


def test_a_logout_is_refused_at_once_in_the_process_that_made_it(client, auth):
    user = auth()
    assert client.get(ME, headers=user.headers).status_code == 200  # cached
    assert client.post(LOGOUT, headers=user.headers).status_code == 200
    assert_401(client.get(ME, headers=user.headers), "token-revoked")


def test_a_change_through_the_app_is_seen_at_once_even_if_the_clock_stands_still(
    client, auth, query
):
    _frozen_clock()  # no expiry can help: only the invalidation can
    user = auth()
    assert client.get(ME, headers=user.headers).status_code == 200
    query("SELECT 1")  # reads invalidate nothing
    assert client.get(ME, headers=user.headers).status_code == 200
    r = client.patch(ME, headers=user.headers, json={"display_name": "Renamed"})
    assert r.status_code == 200, r.get_json()
    assert client.get(ME, headers=user.headers).get_json()["display_name"] == "Renamed"


def test_a_revocation_by_another_process_is_refused_within_the_bound(
    app, client, auth, other_process
):
    now = _frozen_clock()
    user = auth()
    jti = claims_of(app, user.tokens["access_token"])["jti"]
    assert client.get(ME, headers=user.headers).status_code == 200  # cached now
    with other_process.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO revoked_tokens (jti, token_type, user_id, expires_at, revoked_at)"
                " VALUES (:jti, 'access', :user_id, :expires, :now)"
            ),
            {"jti": jti, "user_id": user.user["id"], "expires": now[0] + timedelta(hours=1),
             "now": now[0]},
        )
    bound = app.config["TOKEN_CACHE_SECONDS"]
    now[0] += timedelta(seconds=bound / 2)
    assert client.get(ME, headers=user.headers).status_code == 200  # within the bound
    now[0] += timedelta(seconds=bound)
    assert_401(client.get(ME, headers=user.headers), "token-revoked")


def test_a_password_change_by_another_process_is_seen_within_the_bound(
    app, client, auth, other_process
):
    now = _frozen_clock()
    user = auth()
    assert client.get(ME, headers=user.headers).status_code == 200
    with other_process.begin() as conn:
        conn.execute(
            text("UPDATE users SET token_version = token_version + 1 WHERE id = :id"),
            {"id": user.user["id"]},
        )
    now[0] += timedelta(seconds=app.config["TOKEN_CACHE_SECONDS"] + 0.001)
    assert_401(client.get(ME, headers=user.headers), "token-revoked")


def test_the_cache_can_be_turned_off(app_factory, auth, other_process):
    uncached = app_factory(TOKEN_CACHE_SECONDS=0)
    client = uncached.test_client()
    _frozen_clock()
    user = auth()
    assert client.get(ME, headers=user.headers).status_code == 200
    with other_process.begin() as conn:
        conn.execute(
            text("UPDATE users SET token_version = token_version + 1 WHERE id = :id"),
            {"id": user.user["id"]},
        )
    assert_401(client.get(ME, headers=user.headers), "token-revoked")
