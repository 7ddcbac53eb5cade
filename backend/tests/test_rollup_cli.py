"""`flask analytics rollup`: brings the insights rollups up to date off the request path."""

from __future__ import annotations

from sqlalchemy import text

from app.extensions import db


def _state(query) -> dict[str, int]:
    return {name: folded for name, folded in query("SELECT name, folded_id FROM rollup_state")}


def test_rollup_command_folds_every_rollup_up_to_the_last_row(
    app, client, auth, query, flush_logs, seeded
):
    user = auth()
    r = client.post(f"/api/v2/challenges/{seeded['challenge_id']}/join", headers=user.headers)
    assert r.status_code == 201
    assert client.post("/api/v2/plans/1/complete", headers=user.headers).status_code == 200
    for kind in ("app_opened", "notification_opened"):
        r = client.post("/api/v2/analytics/track", headers=user.headers, json={"event_type": kind})
        assert r.status_code == 201
    flush_logs()
    runner = app.test_cli_runner()

    result = runner.invoke(args=["analytics", "rollup", "--tz", "Asia/Kathmandu"])
    assert result.exit_code == 0, result.output
    assert "activity Asia/Kathmandu: up to date" in result.output
    assert "latency: up to date" in result.output
    last_event = query("SELECT max(id) FROM analytics_events")[0][0]
    last_log = query("SELECT max(id) FROM request_logs")[0][0]
    assert "first/last events: up to date" in result.output
    assert "challenge progress: up to date" in result.output
    state = _state(query)
    assert (state["activity:Asia/Kathmandu"], state["event_spans"], state["latency"]) == (
        last_event, last_event, last_log
    )
    days = query("SELECT count(*) FROM activity_user_days WHERE user_id = :u",
                 {"u": user.user["id"]})
    assert days == [(4,)]  # one local day, four event types (joined, completed, two tracked)

    # Without --tz: every zone built so far, and UTC.
    result = runner.invoke(args=["analytics", "rollup"])
    assert result.exit_code == 0, result.output
    assert {"activity:Asia/Kathmandu", "activity:UTC"} <= set(_state(query))

    # --rebuild forgets and counts again: the same watermarks, the same rows.
    before = query("SELECT count(*), sum(requests) FROM latency_rollups")
    progress = "SELECT kind, day, users FROM progress_counts ORDER BY kind, day"
    progress_before, progress_state = query(progress), {
        name: n for name, n in _state(query).items() if name.startswith("progress:")
    }
    assert progress_before and all(progress_state.values())
    with app.app_context(), db.engine.begin() as conn:  # counts a rebuild must not keep
        conn.execute(text("UPDATE progress_counts SET users = users + 100"))
    result = runner.invoke(args=["analytics", "rollup", "--rebuild", "--tz", "UTC"])
    assert result.exit_code == 0, result.output
    assert _state(query)["activity:UTC"] == last_event
    assert _state(query)["latency"] == last_log
    assert query("SELECT count(*), sum(requests) FROM latency_rollups") == before
    assert query(progress) == progress_before
    assert {n: v for n, v in _state(query).items() if n.startswith("progress:")} == progress_state


def test_rollup_command_refuses_an_unknown_zone(app, query):
    result = app.test_cli_runner().invoke(args=["analytics", "rollup", "--tz", "Mars/Olympus"])
    assert result.exit_code == 2
    assert "unknown IANA zone 'Mars/Olympus'" in result.output
    assert query("SELECT count(*) FROM rollup_state") == [(0,)]
