"""POST /api/v2/auth/register and /login: what a new user sees, and what is stored."""

from __future__ import annotations

import pytest

PROBLEM = "application/problem+json"
REGISTER = "/api/v2/auth/register"
LOGIN = "/api/v2/auth/login"


def _body(**overrides):
    body = {
        "email": "ada@example.com",
        "password": "correct horse battery",
        "display_name": "Ada",
        "timezone": "Europe/Berlin",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def _fields(response) -> set[str]:
    return {error["field"] for error in response.get_json().get("errors", [])}


def test_register_returns_the_user_without_any_password(client):
    r = client.post(REGISTER, json=_body())
    assert r.status_code == 201, r.get_json()
    user = r.get_json()
    assert user["email"] == "ada@example.com"
    assert user["display_name"] == "Ada"
    assert user["timezone"] == "Europe/Berlin"
    assert user["is_admin"] is False
    assert isinstance(user["id"], int)
    assert not {"password", "password_hash", "token_version"} & set(user)
    assert "argon2" not in r.get_data(as_text=True)


def test_register_stores_an_argon2_hash_not_the_password(client, query):
    r = client.post(REGISTER, json=_body())
    assert r.status_code == 201
    [(stored,)] = query("SELECT password_hash FROM users WHERE id = :id", {"id": r.json["id"]})
    assert stored.startswith("$argon2")
    assert "correct horse battery" not in stored


def test_register_normalizes_the_email_to_lower_case(client, query):
    r = client.post(REGISTER, json=_body(email="  Ada.Lovelace@Example.COM "))
    assert r.status_code == 201, r.get_json()
    assert r.json["email"] == "ada.lovelace@example.com"
    assert query("SELECT email FROM users") == [("ada.lovelace@example.com",)]


def test_register_defaults_the_timezone_to_utc(client):
    r = client.post(REGISTER, json=_body(timezone=None))
    assert r.status_code == 201, r.get_json()
    assert r.json["timezone"] == "UTC"


@pytest.mark.parametrize("email", ["ada@example.com", "ADA@Example.com"])
def test_register_rejects_a_taken_email_with_409(client, query, email):
    assert client.post(REGISTER, json=_body()).status_code == 201
    r = client.post(REGISTER, json=_body(email=email, display_name="Other"))
    assert r.status_code == 409
    assert r.mimetype == PROBLEM
    assert r.json["status"] == 409 and "email" in r.json["detail"]
    assert query("SELECT count(*) FROM users") == [(1,)]


@pytest.mark.parametrize(
    "zone",
    [
        "Mars/Olympus_Mons",
        "Europe",
        "Europe/",
        "../../etc/passwd",
        "localtime",
        "posixrules",
        "",
        "a" * 65,
    ],
)
def test_register_rejects_an_unknown_timezone_naming_the_field(client, query, zone):
    r = client.post(REGISTER, json=_body(timezone=zone))
    assert r.status_code == 422, r.get_json()
    assert r.mimetype == PROBLEM
    assert _fields(r) == {"timezone"}
    assert query("SELECT count(*) FROM users") == [(0,)]


def test_register_lists_every_invalid_field_at_once(client):
    r = client.post(
        REGISTER,
        json={"email": "not-an-email", "password": "short", "timezone": "Nowhere/Land"},
    )
    assert r.status_code == 422
    assert r.mimetype == PROBLEM
    assert r.json["type"].endswith("/validation-error")
    assert _fields(r) == {"email", "password", "display_name", "timezone"}
    assert all(error["message"] for error in r.json["errors"])


def test_register_accepts_a_password_of_exactly_eight_characters(client):
    assert client.post(REGISTER, json=_body(password="12345678")).status_code == 201


@pytest.mark.parametrize(
    "field,value",
    [
        ("password", "1234567"),
        ("display_name", ""),
        ("display_name", "   "),
        ("email", 42),
        ("timezone", 3),
    ],
)
def test_register_rejects_a_bad_field_value(client, field, value):
    r = client.post(REGISTER, json=_body(**{field: value}))
    assert r.status_code == 422, r.get_json()
    assert _fields(r) == {field}


def test_register_rejects_unknown_fields(client):
    r = client.post(REGISTER, json=_body(is_admin=True))
    assert r.status_code == 422
    assert _fields(r) == {"is_admin"}


def test_login_returns_bearer_access_and_refresh_tokens(client, register):
    user = register()
    r = client.post(LOGIN, json={"email": user["email"], "password": user["password"]})
    assert r.status_code == 200
    tokens = r.get_json()
    assert set(tokens) == {"access_token", "refresh_token", "token_type"}
    assert tokens["token_type"] == "Bearer"
    assert tokens["access_token"] != tokens["refresh_token"]
    me = client.get(
        "/api/v2/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 200 and me.json["id"] == user["id"]


def test_login_ignores_the_case_of_the_email(client, register):
    user = register(email="grace@example.com")
    r = client.post(LOGIN, json={"email": "Grace@EXAMPLE.com", "password": user["password"]})
    assert r.status_code == 200


def test_login_failure_is_the_same_for_a_wrong_password_and_an_unknown_email(client, register):
    user = register()
    wrong = client.post(LOGIN, json={"email": user["email"], "password": "wrong password"})
    unknown = client.post(LOGIN, json={"email": "nobody@example.com", "password": user["password"]})
    for r in (wrong, unknown):
        assert r.status_code == 401
        assert r.mimetype == PROBLEM
    strip = lambda body: {k: v for k, v in body.items() if k != "request_id"}  # noqa: E731
    assert strip(wrong.get_json()) == strip(unknown.get_json())
    assert wrong.headers.get("WWW-Authenticate") == unknown.headers.get("WWW-Authenticate")


def test_login_requires_both_fields(client):
    r = client.post(LOGIN, json={})
    assert r.status_code == 422
    assert _fields(r) == {"email", "password"}
