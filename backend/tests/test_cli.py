"""flask commands: `analytics verify` on a good and a broken schema, `seed-demo` twice."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from app.extensions import db
from app.services.database.schema_check import EXPECTED_COLUMNS, EXPECTED_INDEXES
from tests.conftest import MIGRATIONS
from tests.migration_support import EVENTS, app_on, scratch_database


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch_url(request, tmp_path):
    yield from scratch_database(request, tmp_path)


def _verify(app):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=["analytics", "verify"])


def _ok_lines(output: str) -> set[str]:
    lines = [line.split() for line in output.splitlines() if line.strip().startswith("ok ")]
    return {f"{words[1]} {words[2]}" for words in lines}


def test_analytics_verify_passes_on_migrated_database(app):
    result = _verify(app)
    assert result.exit_code == 0, result.output
    assert "OK: analytics schema verified." in result.output
    assert "MISSING" not in result.output
    ok = _ok_lines(result.output)
    for table, columns in EXPECTED_COLUMNS.items():
        assert f"table {table}" in ok
        for column in columns:
            assert f"column {table}.{column}" in ok, column
    for indexes in EXPECTED_INDEXES.values():
        for name in indexes:
            assert f"index {name}" in ok, name
    assert len(ok) == 2 + 13 + 4


def test_analytics_verify_fails_naming_a_dropped_index(scratch_url):
    with app_on(scratch_url) as app:
        upgrade(directory=MIGRATIONS)
        with db.engine.begin() as conn:
            conn.execute(text("DROP INDEX idx_logs_user"))
        result = _verify(app)
    assert result.exit_code != 0
    missing = [line for line in result.output.splitlines() if "MISSING" in line]
    assert len(missing) == 1 and "idx_logs_user" in missing[0], result.output
    assert "FAILED" in result.output


def test_analytics_verify_fails_naming_a_missing_table(scratch_url):
    with app_on(scratch_url) as app:
        upgrade(directory=MIGRATIONS)
        downgrade(directory=MIGRATIONS, revision=EVENTS)
        result = _verify(app)
    assert result.exit_code != 0
    missing = [line for line in result.output.splitlines() if "MISSING" in line]
    assert missing == ["  MISSING  table request_logs"], result.output
    assert "ok       table analytics_events" in result.output


def test_analytics_verify_reports_a_wrong_column_type(scratch_url):
    with app_on(scratch_url) as app:
        upgrade(directory=MIGRATIONS)
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE request_logs"))
            conn.execute(
                text(
                    "CREATE TABLE request_logs (id INTEGER PRIMARY KEY, endpoint TEXT NOT NULL,"
                    " method VARCHAR(10), status INTEGER, latency_ms FLOAT, user_id INTEGER,"
                    " ip_address VARCHAR(45), created_at TIMESTAMP WITH TIME ZONE)"
                )
            )
        result = _verify(app)
    assert result.exit_code != 0
    missing = [line for line in result.output.splitlines() if "MISSING" in line]
    assert any("request_logs.endpoint" in line for line in missing), result.output
    assert any("idx_logs_endpoint" in line for line in missing)


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
