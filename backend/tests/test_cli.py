"""flask commands: `seed-demo` twice (`analytics verify`: test_analytics_verify.py)."""

from __future__ import annotations


def _counts(query) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {
        "challenges": query("SELECT count(*) FROM challenges")[0][0],
        "plans": query("SELECT count(*) FROM plans")[0][0],
        "videos": query("SELECT count(*) FROM videos")[0][0],
        "demo_users": query(
            "SELECT count(*) FROM users WHERE email = 'demo@example.com'"
        )[0][0],
    }


def test_seed_demo_is_idempotent(app, query):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "created" in first.output
    expected = {"challenges": 1, "plans": 30, "videos": 30, "demo_users": 1}
    assert _counts(query) == expected
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0, second.output
    assert "already present" in second.output
    assert _counts(query) == expected
    days = [row[0] for row in query("SELECT day FROM plans ORDER BY day")]
    assert days == list(range(1, 31))


def test_seeded_demo_user_can_log_in(app, client):
    assert app.test_cli_runner().invoke(args=["seed-demo"]).exit_code == 0
    r = client.post(
        "/api/v2/auth/login",
        json={"email": "demo@example.com", "password": "demo-password-123"},
    )
    assert r.status_code == 200 and r.get_json()["token_type"] == "Bearer"
