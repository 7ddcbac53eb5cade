"""Password reset: POST /auth/password-reset (always 202) and /password-reset/confirm (204)."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from urllib.parse import urlsplit

import pytest

from app.services.request_logs.capture import get_writer
from tests.problem_helpers import assert_problem

RESET = "/api/v2/auth/password-reset"
CONFIRM = "/api/v2/auth/password-reset/confirm"
NEW_PASSWORD = "a brand new passphrase"


class Outbox:
    """A sender that keeps what it would have sent (the pluggable sender's interface)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, object]] = []

    def send(self, *, email: str, link: str, expires_at: datetime) -> None:
        self.sent.append({"email": email, "link": link, "expires_at": expires_at})

    def token(self) -> str:
        fragment = urlsplit(str(self.sent[-1]["link"])).fragment
        assert fragment.startswith("token=")
        return fragment.removeprefix("token=")


@pytest.fixture
def outbox() -> Outbox:
    return Outbox()


@pytest.fixture
def app(app_factory, outbox):
    return app_factory(PASSWORD_RESET_SENDER=outbox,
                       PASSWORD_RESET_URL="https://example.com/reset#token={token}")


def _login(client, email: str, password: str):
    return client.post("/api/v2/auth/login", json={"email": email, "password": password})


def test_reset_sets_the_password_and_ends_every_session(client, auth, outbox, query) -> None:
    user = auth()
    email = user.user["email"]
    response = client.post(RESET, json={"email": "  " + email.upper() + " "})
    assert response.status_code == 202
    assert "on its way" in response.get_json()["message"]
    assert [m["email"] for m in outbox.sent] == [email]
    assert str(outbox.sent[0]["link"]).startswith("https://example.com/reset#token=")
    token = outbox.token()
    # Stored as its SHA-256 only.
    assert query("SELECT token_hash FROM password_reset_tokens") == [
        (hashlib.sha256(token.encode()).hexdigest(),)
    ]

    confirmed = client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})
    assert confirmed.status_code == 204 and confirmed.get_data() == b""

    assert client.get("/api/v2/auth/me", headers=user.headers).status_code == 401
    refresh = {"Authorization": f"Bearer {user.tokens['refresh_token']}"}
    refused = client.post("/api/v2/auth/refresh", headers=refresh)
    assert_problem(refused, 401)
    assert _login(client, email, user.user["password"]).status_code == 401
    assert _login(client, email, NEW_PASSWORD).status_code == 200


def test_an_unknown_address_gets_the_same_answer_and_nothing_is_sent(
    client, auth, outbox, query
) -> None:
    user = auth()
    known = client.post(RESET, json={"email": user.user["email"]})
    unknown = client.post(RESET, json={"email": "nobody-here@example.com"})
    assert unknown.status_code == known.status_code == 202
    assert unknown.get_json() == known.get_json()
    assert len(outbox.sent) == 1
    assert query("SELECT count(*) FROM password_reset_tokens") == [(1,)]


def test_a_token_works_once(client, auth, outbox) -> None:
    user = auth()
    client.post(RESET, json={"email": user.user["email"]})
    body = {"token": outbox.token(), "new_password": NEW_PASSWORD}
    assert client.post(CONFIRM, json=body).status_code == 204
    again = client.post(CONFIRM, json=body | {"new_password": "yet another passphrase"})
    problem = assert_problem(again, 400)
    assert problem["type"].endswith("/reset-token-invalid")
    assert problem["errors"][0]["field"] == "token"
    assert _login(client, user.user["email"], NEW_PASSWORD).status_code == 200


def test_an_expired_token_is_refused(client, auth, outbox, at) -> None:
    at("2026-03-01T09:00:00Z")
    user = auth()
    client.post(RESET, json={"email": user.user["email"]})
    at("2026-03-01T10:00:01Z")  # PASSWORD_RESET_TOKEN_EXPIRES: one hour
    response = client.post(CONFIRM, json={"token": outbox.token(), "new_password": NEW_PASSWORD})
    assert_problem(response, 400)
    assert _login(client, user.user["email"], user.user["password"]).status_code == 200


def test_a_wrong_token_is_refused(client, auth, outbox) -> None:
    user = auth()
    client.post(RESET, json={"email": user.user["email"]})
    wrong = outbox.token()[:-2] + ("AA" if not outbox.token().endswith("AA") else "BB")
    assert_problem(client.post(CONFIRM, json={"token": wrong, "new_password": NEW_PASSWORD}), 400)
    assert_problem(client.post(CONFIRM, json={"token": "x", "new_password": NEW_PASSWORD}), 400)
    missing = client.post(CONFIRM, json={"new_password": NEW_PASSWORD})
    assert assert_problem(missing, 422)["errors"][0]["field"] == "token"


def test_a_newer_request_spends_the_older_link(client, auth, outbox) -> None:
    user = auth()
    client.post(RESET, json={"email": user.user["email"]})
    first = outbox.token()
    client.post(RESET, json={"email": user.user["email"]})
    assert_problem(client.post(CONFIRM, json={"token": first, "new_password": NEW_PASSWORD}), 400)
    ok = client.post(CONFIRM, json={"token": outbox.token(), "new_password": NEW_PASSWORD})
    assert ok.status_code == 204


def test_a_short_password_is_refused_and_the_token_kept(client, auth, outbox) -> None:
    user = auth()
    client.post(RESET, json={"email": user.user["email"]})
    short = client.post(CONFIRM, json={"token": outbox.token(), "new_password": "short"})
    assert assert_problem(short, 422)["errors"][0]["field"] == "new_password"
    ok = client.post(CONFIRM, json={"token": outbox.token(), "new_password": NEW_PASSWORD})
    assert ok.status_code == 204


def test_requests_are_limited_per_address_known_or_not(app_factory, register) -> None:
    outbox = Outbox()
    client = app_factory(PASSWORD_RESET_SENDER=outbox, PASSWORD_RESET_LIMIT="2 per hour"
                         ).test_client()
    user = register()
    for email in (user["email"], "nobody-here@example.com"):
        for _ in range(2):
            assert client.post(RESET, json={"email": email}).status_code == 202
        limited = client.post(RESET, json={"email": email.upper()})
        assert_problem(limited, 429)
        assert int(limited.headers["Retry-After"]) > 0
    assert len(outbox.sent) == 2


def test_the_console_sender_prints_the_link_and_no_log_holds_the_token(
    app_factory, register, capsys, caplog, query
) -> None:
    console_app = app_factory(PASSWORD_RESET_SENDER="console")
    client = console_app.test_client()
    user = register()
    capsys.readouterr()
    with caplog.at_level(logging.DEBUG):
        assert client.post(RESET, json={"email": user["email"]}).status_code == 202
        printed = capsys.readouterr().out
        assert f"Password reset for {user['email']}" in printed
        token = printed.rsplit("#token=", 1)[1].strip()
        body = {"token": token, "new_password": NEW_PASSWORD}
        assert client.post(CONFIRM, json=body).status_code == 204
    assert token not in caplog.text
    assert "Password-reset link sent to user" in caplog.text
    assert get_writer(console_app).flush(timeout=10)
    rows = query("SELECT endpoint, status FROM request_logs ORDER BY id")
    assert ("/api/v2/auth/password-reset/confirm", 204) in [tuple(r) for r in rows]
    assert all(token not in str(tuple(r)) for r in rows)


def test_a_failing_sender_still_answers_202(app_factory, register, caplog) -> None:
    class Broken:
        def send(self, *, email: str, link: str, expires_at: datetime) -> None:
            raise ConnectionError(f"SMTP refused {link}")

    client = app_factory(PASSWORD_RESET_SENDER=Broken()).test_client()
    user = register()
    with caplog.at_level(logging.INFO):
        assert client.post(RESET, json={"email": user["email"]}).status_code == 202
    assert "ConnectionError" in caplog.text and "#token=" not in caplog.text
