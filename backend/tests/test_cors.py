"""CORS (web/cors.py): /api for the origins in CORS_ORIGINS, /v1 for any origin."""

from __future__ import annotations

import pytest

from tests.segment_support import NOW, basic, create_key, message

FRONT = "https://app.example.com"
ELSEWHERE = "https://evil.example.net"
EXPOSED = {"x-request-id", "retry-after", "x-ratelimit-limit", "x-ratelimit-remaining",
           "x-ratelimit-reset"}


def _exposed(response) -> set[str]:
    header = response.headers.get("Access-Control-Expose-Headers", "")
    return {h.strip().lower() for h in header.split(",") if h.strip()}


def _preflight(client, path: str, origin: str, method: str = "POST",
               headers: str = "authorization, content-type"):
    return client.options(path, headers={
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    })


@pytest.fixture
def cors_client(app_factory):
    return app_factory(CORS_ORIGINS=(FRONT, "http://localhost:5173")).test_client()


def test_no_origin_is_allowed_on_the_api_by_default(client, auth) -> None:
    user = auth()
    response = client.get("/api/v2/auth/me", headers=user.headers | {"Origin": FRONT})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = _preflight(client, "/api/v2/auth/login", FRONT)
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_an_allowed_origin_reads_responses_and_their_headers(cors_client, register) -> None:
    user = register()
    response = cors_client.post(
        "/api/v2/auth/login",
        json={"email": user["email"], "password": user["password"]},
        headers={"Origin": FRONT},
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == FRONT
    assert "Origin" in response.headers.get("Vary", "")
    # Bearer tokens, no cookies: credentials are never allowed.
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert EXPOSED <= _exposed(response)


def test_a_disallowed_origin_gets_no_cors_headers(cors_client, auth) -> None:
    user = auth()
    response = cors_client.get("/api/v2/challenges", headers=user.headers | {"Origin": ELSEWHERE})
    assert response.status_code == 200  # the server answers; the browser keeps it from the page
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = _preflight(cors_client, "/api/v2/auth/login", ELSEWHERE)
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert "Access-Control-Allow-Methods" not in preflight.headers


def test_a_preflight_is_answered_without_running_the_view(app_factory) -> None:
    client = app_factory(CORS_ORIGINS=(FRONT,), AUTH_LIMIT="1 per minute").test_client()
    for _ in range(3):  # answered before any view: never counted, never a 429
        response = _preflight(client, "/api/v2/auth/login", FRONT)
        assert response.status_code == 200
        assert response.headers["Access-Control-Allow-Origin"] == FRONT
        assert "POST" in response.headers["Access-Control-Allow-Methods"]
        allowed = response.headers["Access-Control-Allow-Headers"].lower()
        assert "authorization" in allowed and "content-type" in allowed
        assert response.headers["Access-Control-Max-Age"] == "600"
        assert response.get_data() == b""


def test_a_preflight_asking_for_an_unknown_header_is_not_granted_it(cors_client) -> None:
    response = _preflight(cors_client, "/api/v2/auth/me", FRONT, "GET", "x-not-allowed")
    assert "x-not-allowed" not in response.headers.get("Access-Control-Allow-Headers", "")


def test_errors_carry_cors_headers_so_the_front_end_can_read_them(app_factory) -> None:
    client = app_factory(CORS_ORIGINS=(FRONT,), AUTH_LIMIT="1 per minute").test_client()
    unauthorized = client.get("/api/v2/auth/me", headers={"Origin": FRONT})
    assert unauthorized.status_code == 401
    assert unauthorized.headers["Access-Control-Allow-Origin"] == FRONT
    assert unauthorized.content_type == "application/problem+json"
    body = {"email": "nobody@example.com", "password": "wrong password"}
    client.post("/api/v2/auth/login", json=body, headers={"Origin": FRONT})
    limited = client.post("/api/v2/auth/login", json=body, headers={"Origin": FRONT})
    assert limited.status_code == 429
    assert limited.headers["Access-Control-Allow-Origin"] == FRONT
    assert "Retry-After" in limited.headers and "retry-after" in _exposed(limited)


def test_segment_ingestion_accepts_any_origin(client, app, at) -> None:
    at(NOW)
    key = create_key(app, source="web")
    preflight = _preflight(client, "/v1/track", ELSEWHERE,
                           headers="authorization, content-type, x-user-token")
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "x-user-token" in preflight.headers["Access-Control-Allow-Headers"].lower()
    response = client.post("/v1/track", json=message(), headers=basic(key, Origin=ELSEWHERE))
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers
    refused = client.post("/v1/track", json=message(), headers={"Origin": ELSEWHERE})
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == "*"
