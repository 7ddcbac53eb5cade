"""Failed logins are limited per (account, client) and per client, as well as all attempts
per IP: a guesser is held back, the account's owner on another client is not."""

from __future__ import annotations

from tests.problem_helpers import assert_problem

LOGIN = "/api/v2/auth/login"


def _attempt(client, email: str, ip: str, password: str = "wrong password"):  # type: ignore[no-untyped-def]
    return client.post(
        LOGIN, json={"email": email, "password": password}, environ_base={"REMOTE_ADDR": ip}
    )


# Before: the limit was per account across every client, so these guesses from three
# addresses locked "victim" out everywhere; that lockout was the bug (issue 13).
def test_login_guesses_meet_the_limit_of_their_account_and_client(app_factory):
    client = app_factory(AUTH_EMAIL_LIMIT="3 per minute").test_client()
    spellings = ["victim@example.com", " Victim@Example.com ", "VICTIM@EXAMPLE.COM"]
    for email in spellings:
        assert _attempt(client, email, "198.51.100.1").status_code == 401
    r = _attempt(client, "victim@example.com", "198.51.100.1")
    body = assert_problem(r, 429)
    assert "Rate limit exceeded" in body["detail"]
    assert int(r.headers["Retry-After"]) > 0
    # Another client is not held back by the guesser's failures...
    assert _attempt(client, "victim@example.com", "198.51.100.99").status_code == 401
    # ...and the guesser may still fail on another account (until the per-client limit).
    assert _attempt(client, "someone-else@example.com", "198.51.100.1").status_code == 401


def test_per_email_limit_holds_even_for_the_right_password(app_factory, register):
    """Otherwise the limit would tell a guesser when a guess is right."""
    client = app_factory(AUTH_EMAIL_LIMIT="2 per minute").test_client()
    user = register()
    for _ in range(2):
        assert _attempt(client, user["email"], "198.51.100.1").status_code == 401
    r = _attempt(client, user["email"], "198.51.100.1", password=user["password"])
    assert_problem(r, 429)
    # The owner, on their own client, logs in.
    assert _attempt(client, user["email"], "198.51.100.50", user["password"]).status_code == 200


def test_per_ip_limit_still_applies_across_emails(app_factory):
    client = app_factory(AUTH_LIMIT="2 per minute").test_client()
    for n in range(2):
        assert _attempt(client, f"user{n}@example.com", "192.0.2.7").status_code == 401
    assert_problem(_attempt(client, "user9@example.com", "192.0.2.7"), 429)
