"""Sessions (issue 13): logout ends the login's access and refresh tokens, logout-all ends
every token of the user; each 401 names why (token-expired, token-revoked, token-invalid,
unauthorized); token responses are never cached (RFC 6749 §5.1)."""

from __future__ import annotations

from datetime import timedelta

from flask_jwt_extended import create_access_token, decode_token
from sqlalchemy import text

from app.extensions import db
from tests.test_auth_jwt_errors import assert_401

ME = "/api/v2/auth/me"
REFRESH = "/api/v2/auth/refresh"
LOGOUT = "/api/v2/auth/logout"
LOGOUT_ALL = "/api/v2/auth/logout-all"
PASSWORD = "/api/v2/auth/password"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_logout_with_the_access_token_ends_its_refresh_token(client, auth):
    user = auth()
    assert client.post(LOGOUT, headers=user.headers).status_code == 200
    assert_401(client.post(REFRESH, headers=bearer(user.tokens["refresh_token"])), "token-revoked")


def test_logout_ends_access_tokens_refreshed_in_the_session(client, auth):
    user = auth()
    refresh = bearer(user.tokens["refresh_token"])
    renewed = client.post(REFRESH, headers=refresh).get_json()["access_token"]
    assert client.get(ME, headers=bearer(renewed)).status_code == 200
    assert client.post(LOGOUT, headers=bearer(renewed)).status_code == 200
    for headers in (user.headers, bearer(renewed)):
        assert_401(client.get(ME, headers=headers), "token-revoked")
    assert_401(client.post(REFRESH, headers=refresh), "token-revoked")


def test_a_refreshed_access_token_stays_in_its_session(app, client, auth):
    user = auth()
    renewed = client.post(REFRESH, headers=bearer(user.tokens["refresh_token"])).get_json()
    with app.app_context():
        first, second = (
            decode_token(token) for token in (user.tokens["access_token"], renewed["access_token"])
        )
    assert first["sid"] == second["sid"] and first["jti"] != second["jti"]


def test_logout_all_ends_every_session_of_the_user_only(client, auth, login):
    user, other_user = auth(), auth()
    phone = login(user.user["email"], user.user["password"])
    r = client.post(LOGOUT_ALL, headers=user.headers)
    assert r.status_code == 200, r.get_json()
    for token in (user.tokens["access_token"], phone["access_token"]):
        assert_401(client.get(ME, headers=bearer(token)), "token-revoked")
    for token in (user.tokens["refresh_token"], phone["refresh_token"]):
        assert_401(client.post(REFRESH, headers=bearer(token)), "token-revoked")
    assert client.get(ME, headers=other_user.headers).status_code == 200
    again = login(user.user["email"], user.user["password"])
    assert client.get(ME, headers=bearer(again["access_token"])).status_code == 200


def test_logout_all_with_a_refresh_token(client, auth):
    user = auth()
    assert client.post(LOGOUT_ALL, headers=bearer(user.tokens["refresh_token"])).status_code == 200
    assert_401(client.get(ME, headers=user.headers), "token-revoked")


def test_logout_all_without_a_token_is_401(client):
    assert_401(client.post(LOGOUT_ALL), "unauthorized")


def test_logout_all_seen_by_another_app(app_factory, auth):
    """Two apps on one database stand for two worker processes."""
    user = auth()
    other = app_factory().test_client()
    assert other.get(ME, headers=user.headers).status_code == 200
    assert other.post(LOGOUT_ALL, headers=user.headers).status_code == 200
    assert_401(app_factory().test_client().get(ME, headers=user.headers), "token-revoked")


def test_each_401_names_its_cause(app, client, auth):
    user = auth()
    body = assert_401(client.get(ME), "unauthorized")
    assert body["title"] == "Unauthorized"
    with app.app_context():
        expired = create_access_token(
            identity=str(user.user["id"]), additional_claims={"ver": 0},
            expires_delta=timedelta(seconds=-1),
        )
    r = client.get(ME, headers=bearer(expired))
    assert assert_401(r, "token-expired")["title"] == "Token expired"
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    assert_401(client.get(ME, headers=bearer("not.a.token")), "token-invalid")
    assert client.post(LOGOUT, headers=user.headers).status_code == 200
    assert_401(client.get(ME, headers=user.headers), "token-revoked")


def test_a_deleted_users_token_is_invalid(app, client, auth):
    user = auth()
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM users WHERE id = :id"), {"id": user.user["id"]})
    assert_401(client.get(ME, headers=user.headers), "token-invalid")
    assert_401(client.post(REFRESH, headers=bearer(user.tokens["refresh_token"])), "token-invalid")


def test_a_token_with_a_misshapen_session_id_is_invalid(app, client, auth):
    import jwt as pyjwt

    from tests.test_auth_jwt_errors import SECRET

    user = auth()
    with app.app_context():
        claims = dict(decode_token(user.tokens["access_token"]))
    for sid in (5, "", "x" * 65):
        token = pyjwt.encode(claims | {"sid": sid}, SECRET, algorithm="HS256")
        assert_401(client.get(ME, headers=bearer(token)), "token-invalid")


def test_token_responses_are_not_cached(client, register):
    user = register()
    creds = {"email": user["email"], "password": user["password"]}
    login = client.post("/api/v2/auth/login", json=creds)
    refreshed = client.post(REFRESH, headers=bearer(login.get_json()["refresh_token"]))
    changed = client.post(
        PASSWORD,
        headers=bearer(login.get_json()["access_token"]),
        json={"current_password": user["password"], "new_password": "another long one"},
    )
    for response in (login, refreshed, changed):
        assert response.status_code == 200, response.get_json()
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Pragma"] == "no-cache"


def test_the_openapi_document_has_logout_all_and_the_no_store_headers(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert "post" in paths["/api/v2/auth/logout-all"]
    for path in ("/api/v2/auth/login", "/api/v2/auth/refresh"):
        headers = paths[path]["post"]["responses"]["200"]["headers"]
        assert {"Cache-Control", "Pragma"} <= set(headers)
