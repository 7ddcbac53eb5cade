"""Analytics opt-out (PATCH /api/v2/auth/me) and internal users."""

from __future__ import annotations

PROBLEM = "application/problem+json"


def _opt_out(client, user, value: bool) -> None:
    r = client.patch("/api/v2/auth/me", headers=user.headers, json={"analytics_opt_out": value})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["analytics_opt_out"] is value


def test_opted_out_user_gets_the_usual_answers_but_nothing_is_stored(
    client, seeded, auth, query, flush_logs
):
    user = auth()
    _opt_out(client, user, True)
    h = user.headers
    r = client.post("/api/v2/analytics/track", headers=h, json={"event_type": "app_opened"})
    assert r.status_code == 201
    body = r.get_json()
    assert body["id"] is None and body["event_type"] == "app_opened"
    assert client.post(
        f"/api/v2/challenges/{seeded['challenge_id']}/join", headers=h
    ).status_code == 201
    assert client.get("/api/v2/plans/today", headers=h).status_code == 200
    flush_logs()
    assert query("SELECT count(*) FROM analytics_events") == [(0,)]
    # The product itself works: the enrollment is stored.
    assert query("SELECT count(*) FROM enrollments") == [(1,)]
    # Request logs are kept without the user id.
    assert query("SELECT count(*) FROM request_logs WHERE user_id IS NOT NULL") == [(0,)]
    assert query("SELECT count(*) FROM request_logs")[0][0] >= 3


def test_invalid_event_is_still_refused_when_opted_out(client, auth, query):
    user = auth()
    _opt_out(client, user, True)
    r = client.post("/api/v2/analytics/track", headers=user.headers, json={"event_type": "nope"})
    assert r.status_code == 422 and r.content_type == PROBLEM


def test_opting_back_in_stores_events_again(client, auth, query, flush_logs):
    user = auth()
    _opt_out(client, user, True)
    _opt_out(client, user, False)
    r = client.post(
        "/api/v2/analytics/track", headers=user.headers, json={"event_type": "app_opened"}
    )
    assert r.status_code == 201 and isinstance(r.get_json()["id"], int)
    flush_logs()
    assert query("SELECT user_id FROM analytics_events") == [(user.user["id"],)]
    logged = query("SELECT user_id FROM request_logs WHERE endpoint = '/api/v2/analytics/track'")
    assert logged == [(user.user["id"],)]


def test_opt_out_must_be_a_boolean(client, auth):
    user = auth()
    r = client.patch("/api/v2/auth/me", headers=user.headers, json={"analytics_opt_out": "maybe"})
    assert r.status_code == 422
    assert [e["field"] for e in r.get_json()["errors"]] == ["analytics_opt_out"]


def test_registration_from_an_internal_domain_is_marked_internal(app_factory, query):
    app = app_factory(INTERNAL_EMAIL_DOMAINS=("example.org",))
    client = app.test_client()
    for email in ("ops@example.org", "qa@eu.example.org", "someone@example.com",
                  "x@notexample.org"):
        r = client.post(
            "/api/v2/auth/register",
            json={"email": email, "password": "long enough pw", "display_name": "X"},
        )
        assert r.status_code == 201
    rows = query("SELECT email, is_internal FROM users ORDER BY id")
    assert [(email, bool(flag)) for email, flag in rows] == [
        ("ops@example.org", True),
        ("qa@eu.example.org", True),
        ("someone@example.com", False),
        ("x@notexample.org", False),
    ]


def test_set_internal_command_marks_and_unmarks(app, auth, query):
    user = auth()
    runner = app.test_cli_runner()
    email = user.user["email"].upper()
    result = runner.invoke(args=["users", "set-internal", email])
    assert result.exit_code == 0 and "is internal" in result.output
    assert query("SELECT is_internal FROM users")[0][0] in (True, 1)
    result = runner.invoke(args=["users", "set-internal", email, "--off"])
    assert result.exit_code == 0 and "is not internal" in result.output
    assert query("SELECT is_internal FROM users")[0][0] in (False, 0)
    result = runner.invoke(args=["users", "set-internal", "nobody@example.com"])
    assert result.exit_code != 0 and "No user" in result.output


def test_opt_out_is_read_once_per_request_even_after_the_route_commits(
    app, client, auth, flush_logs
):
    """The opt-out answer is taken from the token's loaded user and kept for the request:
    the request-log hook, which runs after the route committed (and so expired that user),
    asks no second query of the users table."""
    from sqlalchemy import event

    from app.extensions import db

    user = auth()
    lookups: list[str] = []

    def watch(_conn, _cursor, statement, *_args) -> None:
        # The stand-alone look-up selects only this column; the token's user load selects all.
        if "analytics_opt_out" in statement and "password_hash" not in statement:
            lookups.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", watch)
    try:
        batch = {
            "sent_at": "2026-03-01T10:00:00Z",
            "events": [{"event_id": "2f1c7a1e-8a0b-4c4e-9a7e-0d7c9c1b2a3f",
                        "event_type": "app_opened", "occurred_at": "2026-03-01T10:00:00Z"}],
        }
        assert client.post(
            "/api/v2/analytics/track", headers=user.headers, json={"event_type": "app_opened"}
        ).status_code == 201
        assert client.post(
            "/api/v2/analytics/batch", headers=user.headers, json=batch
        ).status_code == 200
        assert client.get("/api/v2/auth/me", headers=user.headers).status_code == 200
        flush_logs()
    finally:
        event.remove(engine, "before_cursor_execute", watch)
    assert lookups == []
