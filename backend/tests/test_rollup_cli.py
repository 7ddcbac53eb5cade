"""`flask analytics rollup`: brings the insights rollups up to date off the request path."""

from __future__ import annotations


def _state(query) -> dict[str, int]:
    return {name: folded for name, folded in query("SELECT name, folded_id FROM rollup_state")}


def test_rollup_command_folds_every_rollup_up_to_the_last_row(
    app, client, auth, query, flush_logs
):
    user = auth()
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
    assert days == [(2,)]  # one local day, two event types

    # Without --tz: every zone built so far, and UTC.
    result = runner.invoke(args=["analytics", "rollup"])
    assert result.exit_code == 0, result.output
    assert {"activity:Asia/Kathmandu", "activity:UTC"} <= set(_state(query))

    # --rebuild forgets and counts again: the same watermarks, the same rows.
    before = query("SELECT count(*), sum(requests) FROM latency_rollups")
    result = runner.invoke(args=["analytics", "rollup", "--rebuild", "--tz", "UTC"])
    assert result.exit_code == 0, result.output
    assert _state(query)["activity:UTC"] == last_event
    assert _state(query)["latency"] == last_log
    assert query("SELECT count(*), sum(requests) FROM latency_rollups") == before


def test_rollup_command_refuses_an_unknown_zone(app, query):
    result = app.test_cli_runner().invoke(args=["analytics", "rollup", "--tz", "Mars/Olympus"])
    assert result.exit_code == 2
    assert "unknown IANA zone 'Mars/Olympus'" in result.output
    assert query("SELECT count(*) FROM rollup_state") == [(0,)]
