"""A real SDK: segment-analytics-python (from PyPI) sends to a live test server (`host`)."""

from __future__ import annotations

import uuid

import pytest
from segment.analytics import Client
from segment.analytics.request import APIError

from tests.live_server import serving
from tests.segment_support import create_key, events


def test_sdk_events_arrive_once_with_their_context(app, auth, query):
    user = auth()
    key = create_key(app, "server")
    install = "install-" + uuid.uuid4().hex[:8]
    errors: list[Exception] = []
    with serving(app) as url:
        sdk = Client(key, host=url, sync_mode=True, on_error=lambda e, _b: errors.append(e))
        context = {"app": {"version": "3.1.0", "build": "77"}, "locale": "de-DE",
                   "os": {"name": "Android", "version": "14"}, "device": {"model": "Pixel 8"}}
        retried = str(uuid.uuid4())
        sdk.track(anonymous_id=install, event="app_opened", context=context,
                  message_id=retried, properties={"cold_start": True})
        sdk.track(anonymous_id=install, event="app_opened", context=context, message_id=retried)
        sdk.screen(anonymous_id=install, name="Onboarding", context=context)
        sdk.identify(user_id=str(user.user["id"]), anonymous_id=install, traits={"plan": "pro"})
        sdk.track(user_id=str(user.user["id"]), event="video_started",
                  properties={"video_id": 3})

        # The default, batching mode: a consumer thread posts /v1/batch; flush() waits for it.
        batching = Client(key, host=url, on_error=lambda e, _b: errors.append(e))
        for n in range(25):
            batching.track(anonymous_id=install, event="share_clicked", properties={"n": n})
        batching.flush()
        batching.join()
    assert errors == []

    rows = events(query)
    assert [r.event_type for r in rows[:3]] == ["app_opened", "screen_viewed", "video_started"]
    first = rows[0]
    assert str(uuid.UUID(str(first.event_id))) == retried
    assert (first.anonymous_id, first.user_id, first.platform) == (install, None, "server")
    assert (first.app_version, first.app_build, first.locale) == ("3.1.0", "77", "de-DE")
    assert (first.os_name, first.os_version, first.device_model) == ("Android", "14", "Pixel 8")
    assert first.library_name == "analytics-python" and first.library_version
    assert rows[2].user_id == user.user["id"]
    assert len([r for r in rows if r.event_type == "share_clicked"]) == 25
    links = query("SELECT anonymous_id, user_id FROM anonymous_identities")
    assert [tuple(x) for x in links] == [(install, user.user["id"])]


def test_sdk_sees_a_revoked_key_as_a_non_retryable_401(app, query):
    key = create_key(app, "ios")
    from app.services.write_keys import service as write_keys

    with app.app_context():
        write_keys.revoke(key_id=write_keys.list_keys()[0].id)
    with serving(app) as url:
        sdk = Client(key, host=url, sync_mode=True)
        with pytest.raises(APIError) as raised:
            sdk.track(anonymous_id="a", event="app_opened")
    assert raised.value.status == 401
    assert query("SELECT count(*) FROM analytics_events")[0][0] == 0
