"""POST /auth/register and /auth/login with the device's anonymous_id: the id is linked to
the user in the same transaction; a failed call links nothing; an id that is already
another user's stays theirs, and the call still succeeds without saying so."""

from __future__ import annotations

from typing import Any

REGISTER = "/api/v2/auth/register"
LOGIN = "/api/v2/auth/login"
PASSWORD = "correct horse battery"


def _register(client: Any, email: str, **extra: Any) -> Any:
    body = {"email": email, "password": PASSWORD, "display_name": "A"} | extra
    return client.post(REGISTER, json=body)


def _links(query: Any) -> list[tuple[str, int, str]]:
    return [
        tuple(row)
        for row in query(
            "SELECT anonymous_id, user_id, linked_by FROM anonymous_identities "
            "ORDER BY anonymous_id"
        )
    ]


def test_register_links_the_anonymous_id_to_the_new_user(client, query):
    r = _register(client, "ada@example.com", anonymous_id="device-1")
    assert r.status_code == 201, r.get_json()
    assert "anonymous_id" not in r.json
    assert _links(query) == [("device-1", r.json["id"], "register")]


def test_register_without_an_anonymous_id_links_nothing(client, query):
    assert _register(client, "ada@example.com").status_code == 201
    assert _links(query) == []


def test_a_refused_registration_links_nothing(client, query):
    assert _register(client, "ada@example.com").status_code == 201
    r = _register(client, "ADA@example.com", anonymous_id="device-2")
    assert r.status_code == 409
    assert _links(query) == []


def test_login_links_the_anonymous_id(client, query):
    user_id = _register(client, "ada@example.com").json["id"]
    r = client.post(
        LOGIN, json={"email": "ada@example.com", "password": PASSWORD, "anonymous_id": "tab-9"}
    )
    assert r.status_code == 200, r.get_json()
    assert set(r.json) == {"access_token", "refresh_token", "token_type"}
    assert _links(query) == [("tab-9", user_id, "login")]
    # Logging in again from the same device changes nothing.
    again = {"email": "ada@example.com", "password": PASSWORD, "anonymous_id": "tab-9"}
    assert client.post(LOGIN, json=again).status_code == 200
    assert _links(query) == [("tab-9", user_id, "login")]


def test_a_failed_login_links_nothing(client, query):
    _register(client, "ada@example.com")
    for email in ("ada@example.com", "nobody@example.com"):
        r = client.post(
            LOGIN, json={"email": email, "password": "wrong password", "anonymous_id": "d"}
        )
        assert r.status_code == 401
    assert _links(query) == []


def test_nobody_can_take_another_persons_anonymous_history(client, query):
    ada = _register(client, "ada@example.com", anonymous_id="shared-device").json["id"]
    bob = _register(client, "bob@example.com", anonymous_id="shared-device")
    assert bob.status_code == 201, bob.get_json()
    r = client.post(
        LOGIN,
        json={"email": "bob@example.com", "password": PASSWORD, "anonymous_id": "shared-device"},
    )
    assert r.status_code == 200
    assert "anonymous_id" not in r.json
    assert _links(query) == [("shared-device", ada, "register")]


def test_the_anonymous_id_is_bounded_like_v1s_ids(client, query):
    for bad in ("", "x" * 201, 42, ["a"], {"a": 1}):
        r = _register(client, "ada@example.com", anonymous_id=bad)
        assert r.status_code == 422, (bad, r.get_json())
        assert {e["field"] for e in r.json["errors"]} == {"anonymous_id"}
        r = client.post(
            LOGIN, json={"email": "ada@example.com", "password": PASSWORD, "anonymous_id": bad}
        )
        assert r.status_code == 422, bad
    assert _register(client, "ada@example.com", anonymous_id="x" * 200).status_code == 201
    assert query("SELECT count(*) FROM anonymous_identities") == [(1,)]
