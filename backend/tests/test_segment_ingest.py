"""/v1 (Segment's HTTP Tracking API): auth, mapping, dedupe, limits, per-message refusals."""

from __future__ import annotations

import uuid

from tests.ingest_support import event_count, rejected
from tests.segment_support import NOW, basic, create_key, events, message, post_batch, statuses


def test_batch_stores_anonymous_track_with_context(app, client, query, at):
    at(NOW)
    key = create_key(app, "ios")
    msg = message(
        anonymousId="device-1",
        properties={"source": "push"},
        context={
            "app": {"version": "2.3.0", "build": "412"},
            "os": {"name": "iOS", "version": "17.2"},
            "device": {"model": "iPhone15,2", "id": "secret-device-id"},
            "locale": "nl-NL",
            "timezone": "Europe/Amsterdam",
            "library": {"name": "analytics-ios", "version": "4.1.0"},
            "ip": "203.0.113.9",
        },
    )
    r = post_batch(client, key, [msg])
    assert statuses(r) == ["accepted"]
    assert r.get_json()["success"] is True
    [row] = events(query)
    assert row.user_id is None and row.anonymous_id == "device-1"
    assert str(uuid.UUID(str(row.event_id))) == msg["messageId"]
    assert (row.platform, row.os_name, row.os_version) == ("ios", "iOS", "17.2")
    assert (row.app_version, row.app_build, row.device_model) == ("2.3.0", "412", "iPhone15,2")
    assert (row.locale, row.timezone) == ("nl-NL", "Europe/Amsterdam")
    assert (row.library_name, row.library_version) == ("analytics-ios", "4.1.0")
    stored = " ".join(str(v) for v in query("SELECT * FROM analytics_events")[0])
    assert "203.0.113.9" not in stored and "secret-device-id" not in stored
