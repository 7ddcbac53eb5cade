"""Every request under /api/ and /v1/ writes one request_logs row: what it holds and what it
never holds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app import clock
from app.services.request_logs.capture import get_writer
from tests.segment_support import NOW, basic, create_key, message

COLUMNS = "endpoint, method, status, latency_ms, user_id, ip_address, created_at"


def logs(query) -> list[dict]:
    rows = query(f"SELECT {COLUMNS} FROM request_logs ORDER BY id")
    return [dict(zip(COLUMNS.split(", "), row, strict=True)) for row in rows]


def flush(app) -> None:
    assert get_writer(app).flush(timeout=10)


def as_utc(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def test_endpoint_is_the_route_template_not_the_path(client, auth, seeded, query, flush_logs):
    user = auth()
    client.post(f"/api/v2/challenges/{seeded['challenge_id']}/join", headers=user.headers)
    flush_logs()
    before = len(logs(query))
    client.get("/api/v2/plans/3", headers=user.headers)
    client.get("/api/v2/plans/4?secret-query=1", headers=user.headers)
    flush_logs()
    rows = logs(query)[before:]
    assert [r["endpoint"] for r in rows] == ["/api/v2/plans/<int:day>"] * 2
    assert all(r["method"] == "GET" and r["user_id"] == user.user["id"] for r in rows)
    assert all("secret-query" not in r["endpoint"] for r in rows)


def test_each_request_writes_one_row_with_its_status(app_factory, auth, query):
    app = app_factory(WRITE_LIMIT="1 per minute")

    @app.get("/api/v2/test-boom")
    def boom():  # a throwaway route that fails
        raise RuntimeError("boom")

    client = app.test_client()
    user = auth()
    good = {"event_type": "app_opened", "event_data": {}}
    expected = [
        (client.get("/api/v2/auth/me", headers=user.headers), "/api/v2/auth/me", 200),
        (client.get("/api/v2/auth/me"), "/api/v2/auth/me", 401),
        (client.get("/api/v2/nothing-here"), "<unmatched>", 404),
        (client.post("/api/v2/analytics/track", json={"event_type": "nope"},
                     headers=user.headers), "/api/v2/analytics/track", 422),
        (client.post("/api/v2/analytics/track", json=good, headers=user.headers),
         "/api/v2/analytics/track", 429),
        (client.get("/api/v2/test-boom"), "/api/v2/test-boom", 500),
    ]
    for response, _endpoint, status in expected:
        assert response.status_code == status, response.get_data(as_text=True)
    flush(app)
    rows = [r for r in logs(query) if r["endpoint"] != "/api/v2/auth/register"
            and r["endpoint"] != "/api/v2/auth/login"]
    assert [(r["endpoint"], r["status"]) for r in rows] == [(e, s) for _r, e, s in expected]
    assert all(r["latency_ms"] > 0 for r in rows)


def test_user_id_comes_from_a_valid_token_only(client, auth, query, flush_logs):
    user = auth()
    uid = user.user["id"]
    bad = {"Authorization": user.headers["Authorization"][:-3] + "xyz"}
    client.get("/api/v2/auth/me", headers=user.headers)  # route that requires auth
    client.get("/api/v2/no-such-route", headers=user.headers)  # 404: no route verified it
    client.post("/api/v2/auth/login", json={"email": "x@example.com", "password": "nope-nope"},
                headers=user.headers)  # public route
    client.get("/api/v2/no-such-route")  # anonymous
    client.get("/api/v2/auth/me", headers=bad)  # bad signature on a protected route
    client.get("/api/v2/no-such-route", headers=bad)  # bad signature on no route
    client.get("/api/v2/no-such-route", headers={"Authorization": "Bearer"})
    flush_logs()
    rows = logs(query)[-7:]
    assert [r["user_id"] for r in rows] == [uid, uid, uid, None, None, None, None]
    assert [r["status"] for r in rows] == [200, 404, 401, 404, 401, 404, 404]


def test_revoked_token_logs_no_user(client, auth, query, flush_logs):
    user = auth()
    assert client.post("/api/v2/auth/logout", headers=user.headers).status_code == 200
    client.get("/api/v2/no-such-route", headers=user.headers)
    client.get("/api/v2/auth/me", headers=user.headers)
    flush_logs()
    rows = logs(query)
    assert rows[-3]["user_id"] == user.user["id"]  # the logout itself was authenticated
    assert [r["user_id"] for r in rows[-2:]] == [None, None]


def test_created_at_is_the_receive_time(client, query, flush_logs):
    received = datetime(2025, 12, 27, 23, 59, 58, 500000, tzinfo=UTC)
    clock.set_clock(lambda: received)
    client.get("/api/v2/no-such-route")
    flush_logs()
    (row,) = logs(query)
    assert as_utc(row["created_at"]) == received


@pytest.mark.parametrize(
    "trusted, remote, forwarded, expected",
    [
        (0, "127.0.0.1", None, "127.0.0.1"),
        (0, "10.1.2.3", "203.0.113.9", "10.1.2.3"),
        (1, "10.1.2.3", "203.0.113.9, 198.51.100.4", "198.51.100.4"),
        (1, "10.1.2.3", "2001:db8::5", "2001:db8::5"),
        (0, "2001:db8:0:0:0:0:0:7", None, "2001:db8::7"),
        (1, "10.1.2.3", "not-an-address", None),
        (1, "10.1.2.3", "x" * 200, None),
    ],
    ids=["remote", "xff-ignored", "last-hop", "xff-ipv6", "ipv6", "junk", "long-junk"],
)
def test_client_ip_honours_trusted_proxies(
    app_factory, query, trusted, remote, forwarded, expected
):
    # IP_MODE=full: this is about which address is taken (masking: test_privacy_ip.py).
    app = app_factory(TRUSTED_PROXIES=trusted, IP_MODE="full")
    client = app.test_client()
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    client.get("/api/v2/no-such-route", headers=headers, environ_base={"REMOTE_ADDR": remote})
    # A second, ordinary row in the same batch: a bad address must not sink the batch.
    client.get("/api/v2/other-route", environ_base={"REMOTE_ADDR": "192.0.2.1"})
    flush(app)
    rows = logs(query)
    assert [r["ip_address"] for r in rows] == [expected, "192.0.2.1"]
    assert get_writer(app).failed == 0


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/api/docs", "/api/openapi.json"])
def test_health_and_docs_are_not_logged(client, query, flush_logs, path):
    assert client.get(path).status_code != 404
    client.get("/api/v2/no-such-route")
    flush_logs()
    assert [r["endpoint"] for r in logs(query)] == ["<unmatched>"]


def test_logs_hold_no_headers_bodies_query_strings_or_tokens(client, auth, query, flush_logs):
    user = auth()
    token = user.tokens["access_token"]
    client.post(
        "/api/v2/analytics/track?utm=query-secret",
        json={"event_type": "app_opened", "event_data": {"note": "body-secret"}},
        headers=user.headers | {"X-Custom": "header-secret", "User-Agent": "agent-secret"},
    )
    client.get("/api/v2/nope?q=query-secret", headers=user.headers)
    flush_logs()
    everything = query("SELECT * FROM request_logs")
    assert everything
    text = " ".join(str(value) for row in everything for value in row)
    for secret in ("query-secret", "body-secret", "header-secret", "agent-secret", token,
                   token.split(".")[1], user.user["email"], "?"):
        assert secret not in text


def test_exception_propagated_to_the_server_is_logged_once(app_factory, query):
    app = app_factory(PROPAGATE_EXCEPTIONS=True)

    class Boom(Exception):
        pass

    @app.errorhandler(Boom)
    def handler_that_fails(error):  # skips every after_request hook
        raise error

    @app.get("/api/v2/test-propagate")
    def propagate():
        raise Boom("boom")

    with pytest.raises(Boom):
        app.test_client().get("/api/v2/test-propagate")
    flush(app)
    assert [(r["endpoint"], r["status"]) for r in logs(query)] == [("/api/v2/test-propagate", 500)]


def test_exception_answered_by_the_500_handler_is_logged_once(app_factory, query):
    app = app_factory(PROPAGATE_EXCEPTIONS=False)

    class Boom(Exception):
        pass

    @app.errorhandler(Boom)
    def handler_that_fails(error):
        raise error

    @app.get("/api/v2/test-boom")
    def boom():
        raise Boom("boom")

    r = app.test_client().get("/api/v2/test-boom")
    assert r.status_code == 500 and r.mimetype == "application/problem+json"
    flush(app)
    assert [(r["endpoint"], r["status"]) for r in logs(query)] == [("/api/v2/test-boom", 500)]


def test_request_logging_can_be_disabled(app_factory, query):
    app = app_factory(REQUEST_LOG_ENABLED=False)
    client = app.test_client()
    assert client.get("/api/v2/no-such-route").status_code == 404
    assert client.get("/api/v2/auth/me").status_code == 401
    flush(app)
    assert logs(query) == []


def test_segment_v1_requests_are_logged_without_their_write_key(
    app, client, query, flush_logs, at
):
    at(NOW)
    key = create_key(app)
    stored = client.post("/v1/track", json=message(), headers=basic(key))
    assert stored.status_code == 200, stored.get_data(as_text=True)
    assert client.post("/v1/batch", json={"batch": []}, headers=basic("wrong")).status_code == 401
    flush_logs()
    rows = logs(query)
    assert [(r["endpoint"], r["method"], r["status"], r["user_id"]) for r in rows] == [
        ("/v1/track", "POST", 200, None),
        ("/v1/batch", "POST", 401, None),
    ]
    text = " ".join(str(value) for row in query("SELECT * FROM request_logs") for value in row)
    assert key not in text
