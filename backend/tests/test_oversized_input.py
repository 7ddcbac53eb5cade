"""Oversized input the app itself reads is answered with problem+json, never HTML or 500.

(Oversized request lines and headers are refused before the app: by nginx in production,
with a JSON body, and by gunicorn's limits behind it; deploy/ and docs/OPERATIONS.md.)
"""

from __future__ import annotations

import io

from tests.problem_helpers import assert_problem

TRACK = "/api/v2/analytics/track"


def _event(padding: int) -> bytes:
    return b'{"event_type": "app_opened", "event_data": {"x": "' + b"a" * padding + b'"}}'


def test_a_chunked_body_over_the_limit_is_413_without_a_content_length(client, auth, query):
    headers = auth().headers | {"Transfer-Encoding": "chunked"}
    r = client.post(
        TRACK,
        input_stream=io.BytesIO(_event(70_000)),
        content_type="application/json",
        headers=headers,
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert_problem(r, 413)
    assert query("SELECT count(*) FROM analytics_events")[0][0] == 0


def test_a_chunked_body_within_the_limit_is_read_whole(client, auth, query):
    r = client.post(
        TRACK,
        input_stream=io.BytesIO(_event(5_000) + b" " * 55_000),  # 60 KiB, under 64
        content_type="application/json",
        headers=auth().headers | {"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    assert query("SELECT count(*) FROM analytics_events")[0][0] == 1


def test_huge_headers_the_app_reads_are_refused_as_problems(client):
    r = client.get("/api/v2/auth/me", headers={"Authorization": "Bearer " + "a" * 8000})
    assert_problem(r, 401)
    r = client.get("/api/v2/auth/me", headers={"Authorization": "Basic " + "a" * 8000})
    assert_problem(r, 401)
    r = client.get("/api/v2/challenges", headers={"X-Request-ID": "b" * 8000})
    assert len(r.headers["X-Request-ID"]) == 32  # ignored, not echoed: a new id


def test_a_long_query_string_is_a_problem_not_a_crash(client, auth):
    headers = auth().headers
    r = client.get("/api/v2/videos", query_string={"cursor": "z" * 7000}, headers=headers)
    assert r.status_code in {400, 422}
    assert r.mimetype == "application/problem+json"
