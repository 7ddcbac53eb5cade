"""Token lifecycle: refresh, logout (revocation shared by every process)."""

from __future__ import annotations

PROBLEM = "application/problem+json"
ME = "/api/v2/auth/me"
REFRESH = "/api/v2/auth/refresh"
LOGOUT = "/api/v2/auth/logout"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_401(response) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    assert response.get_json()["status"] == 401


def test_refresh_returns_a_new_access_token_that_works(client, auth):
    user = auth()
    r = client.post(REFRESH, headers=bearer(user.tokens["refresh_token"]))
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["token_type"] == "Bearer"
    assert body["refresh_token"] != user.tokens["refresh_token"]  # rotated (issue 16)
    assert body["access_token"] != user.tokens["access_token"]
    me = client.get(ME, headers=bearer(body["access_token"]))
    assert me.status_code == 200 and me.json["id"] == user.user["id"]


def test_refresh_rejects_an_access_token(client, auth):
    user = auth()
    assert_401(client.post(REFRESH, headers=user.headers))


def test_refresh_without_a_token_is_401(client):
    assert_401(client.post(REFRESH))


def test_logout_revokes_the_access_token_and_its_refresh_token(client, auth, query):
    user = auth()
    r = client.post(LOGOUT, headers=user.headers)
    assert r.status_code == 200, r.get_json()
    assert_401(client.get(ME, headers=user.headers))
    assert "revoked" in client.get(ME, headers=user.headers).json["detail"]
    # One row revokes the login's session: its access and its refresh token.
    assert query("SELECT token_type, user_id FROM revoked_tokens") == [("session", user.user["id"])]
    assert_401(client.post(REFRESH, headers=bearer(user.tokens["refresh_token"])))


def test_logout_twice_with_the_same_token_is_401_the_second_time(client, auth, query):
    user = auth()
    assert client.post(LOGOUT, headers=user.headers).status_code == 200
    assert_401(client.post(LOGOUT, headers=user.headers))
    assert query("SELECT count(*) FROM revoked_tokens") == [(1,)]


def test_logout_with_the_refresh_token_revokes_it(client, auth, query):
    user = auth()
    refresh = bearer(user.tokens["refresh_token"])
    r = client.post(LOGOUT, headers=refresh)
    assert r.status_code == 200, r.get_json()
    assert_401(client.post(REFRESH, headers=refresh))
    assert query("SELECT token_type FROM revoked_tokens") == [("session",)]
    # the access token of the same login goes with it
    assert_401(client.get(ME, headers=user.headers))


def test_logout_leaves_other_sessions_of_the_user_working(client, auth, login):
    user = auth()
    other = login(user.user["email"], user.user["password"])
    assert client.post(LOGOUT, headers=user.headers).status_code == 200
    assert client.get(ME, headers=bearer(other["access_token"])).status_code == 200


def test_logout_without_a_token_is_401(client):
    assert_401(client.post(LOGOUT))


def test_a_logout_through_one_app_is_seen_by_another_app(app_factory):
    """Two separately built apps on one database stand for two worker processes."""
    first, second = app_factory(), app_factory()
    assert first is not second
    one, two = first.test_client(), second.test_client()
    r = one.post(
        "/api/v2/auth/register",
        json={"email": "multi@example.com", "password": "long enough", "display_name": "M"},
    )
    assert r.status_code == 201, r.get_json()
    tokens = two.post(
        "/api/v2/auth/login", json={"email": "multi@example.com", "password": "long enough"}
    ).get_json()
    access, refresh = bearer(tokens["access_token"]), bearer(tokens["refresh_token"])
    assert one.get(ME, headers=access).status_code == 200
    assert two.get(ME, headers=access).status_code == 200

    assert one.post(LOGOUT, headers=access).status_code == 200
    assert_401(two.get(ME, headers=access))
    assert_401(two.post(REFRESH, headers=refresh))
