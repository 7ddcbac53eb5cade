"""flask analytics rejected: recent refused events by reason, with counts and samples."""

from __future__ import annotations

from tests.ingest_support import NOW, TRACK, event, post_batch


def test_rejected_command_lists_recent_rejections_by_reason(app, client, auth, at):
    at("2026-02-27T09:00:00Z")
    user = auth()
    post_batch(client, user.headers, [event("plan_viewed")], sent_at="2026-02-27T09:00:00Z")
    at(NOW)
    post_batch(client, user.headers, [event("nope"), event("nope"), event("plan_viewed")])
    client.post(TRACK, json={"event_type": "video_started", "event_data": {}},
                headers=user.headers)
    runner = app.test_cli_runner()

    result = runner.invoke(args=["analytics", "rejected"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "4 rejected event(s) since 2026-02-28T09:00:00+00:00:"
    assert "invalid_event_type: 2" in lines
    assert "server_owned_type: 1" in lines
    assert "schema_violation: 1" in lines
    assert lines.index("invalid_event_type: 2") == 1
    samples = [line for line in lines if line.startswith("  ")]
    assert len(samples) == 4
    assert any("source=track" in s and '"video_started"' in s for s in samples)

    result = runner.invoke(args=["analytics", "rejected", "--since-hours", "72",
                                 "--reason", "server_owned_type"])
    assert result.output.splitlines()[:2] == [
        "2 rejected event(s) since 2026-02-26T09:00:00+00:00:", "server_owned_type: 2"]

    result = runner.invoke(args=["analytics", "rejected", "--reason", "too_old"])
    assert result.output.strip() == "No rejected events since 2026-02-28T09:00:00+00:00."
