"""Login is limited per account (normalized email) as well as per IP: guessing one account's
password from many addresses meets AUTH_EMAIL_LIMIT."""

from __future__ import annotations

from tests.problem_helpers import assert_problem

LOGIN = "/api/v2/auth/login"


def _attempt(client, email: str, ip: str, password: str = "wrong password"):  # type: ignore[no-untyped-def]
    return client.post(
        LOGIN, json={"email": email, "password": password}, environ_base={"REMOTE_ADDR": ip}
    )


def test_login_guesses_from_many_addresses_meet_the_per_email_limit(app_factory):
    client = app_factory(AUTH_EMAIL_LIMIT="3 per minute").test_client()
    spellings = ["victim@example.com", " Victim@Example.com ", "VICTIM@example.com"]
    for n, email in enumerate(spellings):
        assert _attempt(client, email, f"198.51.100.{n + 1}").status_code == 401
    r = _attempt(client, "victim@example.com", "198.51.100.99")  # a fresh address
    body = assert_problem(r, 429)
    assert "Rate limit exceeded" in body["detail"]
    assert int(r.headers["Retry-After"]) > 0
    # Another account from the same address is not held back by the victim's budget.
    assert _attempt(client, "someone-else@example.com", "198.51.100.99").status_code == 401


def test_per_email_limit_holds_even_for_the_right_password(app_factory, register):
    """Otherwise the limit would tell a guesser when a guess is right."""
    client = app_factory(AUTH_EMAIL_LIMIT="2 per minute").test_client()
    user = register()
    for n in range(2):
        assert _attempt(client, user["email"], f"198.51.100.{n + 1}").status_code == 401
    r = _attempt(client, user["email"], "198.51.100.50", password=user["password"])
    assert_problem(r, 429)


def test_per_ip_limit_still_applies_across_emails(app_factory):
    client = app_factory(AUTH_LIMIT="2 per minute").test_client()
    for n in range(2):
        assert _attempt(client, f"user{n}@example.com", "192.0.2.7").status_code == 401
    assert_problem(_attempt(client, "user9@example.com", "192.0.2.7"), 429)
