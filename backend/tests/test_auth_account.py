"""The signed-in user's account: profile, password change, and the create-admin command."""

from __future__ import annotations

import pytest

PROBLEM = "application/problem+json"
ME = "/api/v2/auth/me"
PASSWORD = "/api/v2/auth/password"
LOGIN = "/api/v2/auth/login"
REFRESH = "/api/v2/auth/refresh"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def fields_of(response) -> set[str]:
    return {error["field"] for error in response.get_json().get("errors", [])}


def test_get_me_returns_the_calling_user(client, auth):
    user = auth(display_name="Grace", timezone="America/New_York")
    r = client.get(ME, headers=user.headers)
    assert r.status_code == 200
    body = r.get_json()
    assert body["id"] == user.user["id"]
    assert body["display_name"] == "Grace"
    assert body["timezone"] == "America/New_York"
    assert not {"password", "password_hash", "token_version"} & set(body)


def test_patch_me_updates_display_name_and_timezone(client, auth, query):
    user = auth()
    r = client.patch(
        ME, headers=user.headers, json={"display_name": "  New Name ", "timezone": "Asia/Tokyo"}
    )
    assert r.status_code == 200, r.get_json()
    assert r.json["display_name"] == "New Name" and r.json["timezone"] == "Asia/Tokyo"
    assert query("SELECT display_name, timezone FROM users") == [("New Name", "Asia/Tokyo")]
    assert client.get(ME, headers=user.headers).json["timezone"] == "Asia/Tokyo"


def test_patch_me_with_one_field_leaves_the_other(client, auth, query):
    user = auth(display_name="Keep", timezone="Europe/Paris")
    r = client.patch(ME, headers=user.headers, json={"timezone": "UTC"})
    assert r.status_code == 200
    assert query("SELECT display_name, timezone FROM users") == [("Keep", "UTC")]


@pytest.mark.parametrize(
    "body,field",
    [
        ({"timezone": "Atlantis/Capital"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"timezone": None}, "timezone"),
        ({"display_name": ""}, "display_name"),
        ({"display_name": " "}, "display_name"),
        ({"display_name": "x" * 81}, "display_name"),
        ({"email": "new@example.com"}, "email"),
        ({"is_admin": True}, "is_admin"),
        ({"password": "sneaky password"}, "password"),
    ],
)
def test_patch_me_rejects_bad_or_unknown_fields_and_changes_nothing(
    client, auth, query, body, field
):
    user = auth(display_name="Before", timezone="Europe/Rome")
    r = client.patch(ME, headers=user.headers, json=body)
    assert r.status_code == 422, r.get_json()
    assert r.mimetype == PROBLEM
    assert fields_of(r) == {field}
    assert query("SELECT display_name, timezone, is_admin FROM users") == [
        ("Before", "Europe/Rome", False)
    ]


def test_patch_me_requires_a_token(client):
    r = client.patch(ME, json={"display_name": "X"})
    assert r.status_code == 401 and r.mimetype == PROBLEM


def test_change_password_with_a_wrong_current_password_changes_nothing(client, auth, query):
    user = auth()
    [before] = query("SELECT password_hash, token_version FROM users")
    r = client.post(
        PASSWORD,
        headers=user.headers,
        json={"current_password": "not my password", "new_password": "a new password"},
    )
    assert r.status_code == 422
    assert r.mimetype == PROBLEM
    assert fields_of(r) == {"current_password"}
    assert query("SELECT password_hash, token_version FROM users") == [before]
    assert client.get(ME, headers=user.headers).status_code == 200
    assert client.post(REFRESH, headers=bearer(user.tokens["refresh_token"])).status_code == 200
    r = client.post(LOGIN, json={"email": user.user["email"], "password": user.user["password"]})
    assert r.status_code == 200


def test_change_password_rejects_a_short_new_password(client, auth, query):
    user = auth()
    [before] = query("SELECT password_hash FROM users")
    r = client.post(
        PASSWORD,
        headers=user.headers,
        json={"current_password": user.user["password"], "new_password": "short"},
    )
    assert r.status_code == 422
    assert fields_of(r) == {"new_password"}
    assert query("SELECT password_hash FROM users") == [before]


def test_change_password_ends_every_old_token_and_returns_working_ones(client, auth, login):
    user = auth()
    second = login(user.user["email"], user.user["password"])
    old_access = [user.tokens["access_token"], second["access_token"]]
    old_refresh = [user.tokens["refresh_token"], second["refresh_token"]]

    r = client.post(
        PASSWORD,
        headers=user.headers,
        json={"current_password": user.user["password"], "new_password": "the new password"},
    )
    assert r.status_code == 200, r.get_json()
    new = r.get_json()
    assert set(new) == {"access_token", "refresh_token", "token_type"}

    for token in old_access:
        r = client.get(ME, headers=bearer(token))
        assert r.status_code == 401 and r.mimetype == PROBLEM
    for token in old_refresh:
        r = client.post(REFRESH, headers=bearer(token))
        assert r.status_code == 401 and r.mimetype == PROBLEM

    assert client.get(ME, headers=bearer(new["access_token"])).status_code == 200
    refreshed = client.post(REFRESH, headers=bearer(new["refresh_token"]))
    assert refreshed.status_code == 200
    assert client.get(ME, headers=bearer(refreshed.json["access_token"])).status_code == 200


def test_change_password_swaps_which_password_logs_in(client, auth, query):
    user = auth()
    r = client.post(
        PASSWORD,
        headers=user.headers,
        json={"current_password": user.user["password"], "new_password": "the new password"},
    )
    assert r.status_code == 200
    email = user.user["email"]
    old = client.post(LOGIN, json={"email": email, "password": user.user["password"]})
    assert old.status_code == 401
    assert (
        client.post(LOGIN, json={"email": email, "password": "the new password"}).status_code == 200
    )
    [(stored,)] = query("SELECT password_hash FROM users")
    assert stored.startswith("$argon2")


def test_production_hash_uses_argon2id_defaults(app_factory, query):
    """Tests use cheap parameters; without ARGON2_PARAMS the library's defaults apply."""
    client = app_factory(ARGON2_PARAMS=None).test_client()
    r = client.post(
        "/api/v2/auth/register",
        json={"email": "strong@example.com", "password": "long enough", "display_name": "S"},
    )
    assert r.status_code == 201
    [(stored,)] = query("SELECT password_hash FROM users")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def run_cli(app, *args: str):
    return app.test_cli_runner().invoke(args=["create-admin", *args])


def test_create_admin_command_creates_an_admin_who_can_log_in(app, client, query):
    result = run_cli(app, "--email", "Root@Example.com", "--password", "admin password")
    assert result.exit_code == 0, result.output
    assert "root@example.com" in result.output
    rows = query("SELECT email, is_admin, password_hash FROM users")
    assert [(email, bool(admin)) for email, admin, _ in rows] == [("root@example.com", True)]
    assert rows[0][2].startswith("$argon2")
    r = client.post(LOGIN, json={"email": "root@example.com", "password": "admin password"})
    assert r.status_code == 200
    me = client.get(ME, headers=bearer(r.json["access_token"]))
    assert me.json["is_admin"] is True


def test_create_admin_command_promotes_an_existing_user(app, client, register, query):
    user = register(email="promote@example.com")
    result = run_cli(app, "--email", "PROMOTE@example.com")
    assert result.exit_code == 0, result.output
    assert query("SELECT count(*) FROM users") == [(1,)]
    assert [bool(v) for (v,) in query("SELECT is_admin FROM users")] == [True]
    r = client.post(LOGIN, json={"email": user["email"], "password": user["password"]})
    assert r.status_code == 200


def test_create_admin_command_with_a_password_resets_it_and_ends_old_tokens(app, client, auth):
    user = auth()
    result = run_cli(app, "--email", user.user["email"], "--password", "reset password")
    assert result.exit_code == 0, result.output
    assert client.get(ME, headers=user.headers).status_code == 401
    email = user.user["email"]
    assert (
        client.post(LOGIN, json={"email": email, "password": "reset password"}).status_code == 200
    )


@pytest.mark.parametrize("existing", [False, True])
def test_create_admin_command_rejects_a_short_password(app, register, query, existing):
    if existing:
        register(email="short@example.com")
    result = run_cli(app, "--email", "short@example.com", "--password", "1234567")
    assert result.exit_code != 0
    assert "8 characters" in result.output
    assert query("SELECT count(*) FROM users WHERE is_admin") == [(0,)]


def test_create_admin_command_rejects_an_invalid_email(app, query):
    result = run_cli(app, "--email", "not an email", "--password", "long enough")
    assert result.exit_code != 0
    assert query("SELECT count(*) FROM users") == [(0,)]


def test_create_admin_command_rejects_a_blank_display_name(app, query):
    result = run_cli(
        app, "--email", "blank@example.com", "--password", "long enough", "--display-name", " "
    )
    assert result.exit_code != 0
    assert "display_name" in result.output
    assert query("SELECT count(*) FROM users") == [(0,)]
