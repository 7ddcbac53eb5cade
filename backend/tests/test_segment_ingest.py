"""/v1 (Segment's HTTP Tracking API): auth, mapping, dedupe, limits, per-message refusals."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

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



def test_batch_context_values_equal_in_python_but_written_apart_keep_their_text(
    app, client, query, at
):
    # Contexts are worked out once per distinct set of values (a cache): 1 == True and
    # 0.0 == -0.0 in Python, yet each is stored as its own text (True: not text, nothing).
    at(NOW)
    key = create_key(app, "android")
    builds = [1, True, 1.0, -0.0, 0.0, "1", 1, True]
    messages = [
        message(context={"app": {"version": "2.0", "build": build}, "locale": "en-US"})
        for build in builds
    ]
    r = post_batch(client, key, messages)
    assert statuses(r) == ["accepted"] * len(builds)
    stored = {str(uuid.UUID(str(row.event_id))): row.app_build for row in events(query)}
    assert [stored[m["messageId"]] for m in messages] == [
        "1", None, "1.0", "-0.0", "0.0", "1", "1", None
    ]


def _problem(r, status: int) -> dict:
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.mimetype == "application/problem+json"
    return r.get_json()


def test_unknown_revoked_or_missing_key_is_the_same_401(app, client, query):
    key = create_key(app, "web")
    revoked = create_key(app, "server")
    from app.services.write_keys import service as write_keys

    with app.app_context():
        [row] = [k for k in write_keys.list_keys() if k.source == "server"]
        write_keys.revoke(key_id=row.id)
    attempts = [
        {},
        basic("wk_pub_not-a-key"),
        basic(revoked),
        {"Authorization": f"Bearer {key}"},
        {"Authorization": "Basic !!!"},
    ]
    details = set()
    for headers in attempts:
        r = client.post("/v1/batch", json={"batch": [message()]}, headers=headers)
        body = _problem(r, 401)
        assert r.headers["WWW-Authenticate"] == 'Basic realm="v1"'
        details.add(body["detail"])
    assert len(details) == 1
    assert event_count(query) == 0
    assert statuses(post_batch(client, key, [message()])) == ["accepted"]


def test_retried_messages_are_stored_once(app, client, query, auth, at):
    at(NOW)
    user = auth()
    key = create_key(app, "server")
    batch = [
        message(anonymousId="dev-a"),
        message(userId=str(user.user["id"])),
        message(anonymousId="dev-b", messageId="node-4f2a-not-a-uuid"),
    ]
    assert statuses(post_batch(client, key, batch)) == ["accepted"] * 3
    assert statuses(post_batch(client, key, batch)) == ["duplicate"] * 3
    # The same messageId twice in one batch: the second is a duplicate.
    again = message(anonymousId="dev-c")
    assert statuses(post_batch(client, key, [again, again])) == ["accepted", "duplicate"]
    # Another person's identical messageId is their own event.
    other = dict(batch[0], anonymousId="dev-z")
    assert statuses(post_batch(client, key, [other])) == ["accepted"]
    assert event_count(query) == 5
    r = client.post("/v1/track", json=batch[0], headers=basic(key))
    assert r.status_code == 200 and r.get_json() == {"success": True, "status": "duplicate"}


def test_malformed_messages_are_rejected_one_by_one_and_the_rest_stored(app, client, query, at):
    at(NOW)
    key = create_key(app, "android")
    good = message(anonymousId="dev-1")
    bad = [
        "not an object",
        message(userId=None, anonymousId=None),
        message(anonymousId="x" * 201),
        message(anonymousId=12345),
        message(context="ios", anonymousId="dev-2"),
        message(event="plan_completed"),
        message(event="no_such_event"),
        message(kind="group", groupId="g1"),
        message(timestamp="yesterday"),
        message(kind="screen", name=None, context={"ip": "198.51.100.7"}),
        message(kind="unknown"),
    ]
    r = post_batch(client, key, [good, *bad])
    body = r.get_json()
    assert statuses(r) == ["accepted"] + ["rejected"] * len(bad)
    assert [x.get("reason") for x in body["results"][1:]] == [
        "invalid_message", "missing_id", "invalid_id", "invalid_id", "invalid_context",
        "server_owned_type", "invalid_event_type", "unsupported_type", "invalid_occurred_at",
        "schema_violation", "invalid_message",
    ]
    assert (body["accepted"], body["rejected"]) == (1, len(bad))
    assert [row.anonymous_id for row in events(query)] == ["dev-1"]
    kept = rejected(query)
    assert [k[0] for k in kept] == [x["reason"] for x in body["results"][1:]]
    assert {k[1] for k in kept} == {"v1"}
    assert not any("198.51.100.7" in k[3] for k in kept)


def test_single_calls_answer_400_for_bad_ids_and_context(app, client, query):
    key = create_key(app, "ios")
    cases = [
        ("/v1/track", message(userId=42), "invalid_id"),
        ("/v1/identify", message("identify", anonymousId="a" * 201), "invalid_id"),
        ("/v1/page", message("page", context=["not", "an", "object"]), "invalid_context"),
        ("/v1/alias", message("alias", previousId="dev-1"), "missing_id"),
        ("/v1/screen", message("screen", name="home", messageId=7), "invalid_id"),
    ]
    for path, body, reason in cases:
        problem = _problem(client.post(path, json=body, headers=basic(key)), 400)
        assert problem["reason"] == reason, (path, problem)
        assert problem["errors"][0]["field"]
    r = client.post("/v1/track", data="{not json", headers=basic(key),
                    content_type="application/json")
    _problem(r, 400)
    assert event_count(query) == 0
    assert len(rejected(query)) == len(cases)


def test_public_key_writes_a_user_id_only_with_that_users_token(app, client, query, auth, at):
    at(NOW)
    alice, bob = auth(), auth()
    public, secret = create_key(app, "ios"), create_key(app, "server")
    mine = str(alice.user["id"])
    token = {"X-User-Token": alice.tokens["access_token"]}
    assert statuses(post_batch(client, public, [message(userId=mine)])) == ["rejected"]
    r = post_batch(client, public, [message(userId=mine), message(userId=str(bob.user["id"]))],
                   **token)
    assert statuses(r) == ["accepted", "rejected"]
    assert r.get_json()["results"][1]["reason"] == "user_not_verified"
    bad_token = {"X-User-Token": "Bearer not.a.token"}
    assert statuses(post_batch(client, public, [message(userId=mine)], **bad_token)) == [
        "rejected"
    ]
    # A refresh token is not an access token.
    refresh = {"X-User-Token": alice.tokens["refresh_token"]}
    assert statuses(post_batch(client, public, [message(userId=mine)], **refresh)) == [
        "rejected"
    ]
    # A secret server key is trusted for any user of this app, and only those.
    r = post_batch(client, secret, [message(userId=str(bob.user["id"])),
                                    message(userId="999999"), message(userId="bob")])
    assert statuses(r) == ["accepted", "rejected", "rejected"]
    assert [x.get("reason") for x in r.get_json()["results"][1:]] == [
        "invalid_user_id", "invalid_user_id"
    ]
    rows = events(query)
    assert sorted(row.user_id for row in rows) == sorted([alice.user["id"], bob.user["id"]])
    assert {row.platform for row in rows} == {"ios", "server"}


def test_identify_and_alias_link_anonymous_ids_and_the_first_link_stands(
    app, client, query, auth, at
):
    at(NOW)
    alice, mallory = auth(), auth()
    public, secret = create_key(app, "web"), create_key(app, "server")
    identify = message("identify", userId=str(alice.user["id"]), anonymousId="browser-1",
                       traits={"email": "alice@example.com"})
    # Without the user's token a public key links nothing.
    assert statuses(post_batch(client, public, [identify])) == ["rejected"]
    token = {"X-User-Token": alice.tokens["access_token"]}
    assert statuses(post_batch(client, public, [identify], **token)) == ["accepted"]
    assert statuses(post_batch(client, public, [identify], **token)) == ["duplicate"]
    # Another user cannot take the history over, even with their own valid token.
    theft = message("identify", userId=str(mallory.user["id"]), anonymousId="browser-1")
    r = post_batch(client, public, [theft], **{"X-User-Token": mallory.tokens["access_token"]})
    assert statuses(r) == ["rejected"]
    assert r.get_json()["results"][0]["reason"] == "anonymous_id_taken"
    alias = message("alias", previousId="install-9", userId=str(alice.user["id"]))
    r = client.post("/v1/alias", json=alias, headers=basic(secret))
    assert r.status_code == 200 and r.get_json()["status"] == "accepted"
    links = query("SELECT anonymous_id, user_id, linked_by FROM anonymous_identities "
                  "ORDER BY anonymous_id")
    assert [tuple(x) for x in links] == [
        ("browser-1", alice.user["id"], "identify"), ("install-9", alice.user["id"], "alias")
    ]
    assert event_count(query) == 0  # identify and alias are links, not events
    dump = " ".join(str(tuple(x)) for x in query("SELECT * FROM rejected_events"))
    assert "alice@example.com" not in dump  # traits are never kept


def test_size_limits_answer_segments_400(app, client, query):
    key = create_key(app, "server")
    big = message(properties={"blob": "x" * (33 * 1024)})
    r = post_batch(client, key, [message(), big])
    problem = _problem(r, 400)
    assert problem["errors"] == [{"field": "batch.1", "message": "Over 32 KB as compact JSON."}]
    r = client.post("/v1/track", json=big, headers=basic(key))
    assert _problem(r, 400)["reason"] == "too_large"
    many = [message(properties={"blob": "y" * (30 * 1024)}) for _ in range(17)]
    assert _problem(post_batch(client, key, many), 400)["reason"] == "too_large"
    assert event_count(query) == 0


def test_gzip_body_is_accepted_within_the_limits(app, client, query):
    import gzip
    import json

    key = create_key(app, "server")
    body = gzip.compress(json.dumps({"batch": [message(), message()], "sentAt": NOW}).encode())
    headers = basic(key, **{"Content-Encoding": "gzip"})
    r = client.post("/v1/batch", data=body, headers=headers, content_type="application/json")
    assert statuses(r) == ["accepted", "accepted"]
    bomb = gzip.compress(b'{"batch": [' + b" " * (600 * 1024) + b"]}")
    r = client.post("/v1/batch", data=bomb, headers=headers, content_type="application/json")
    assert _problem(r, 400)["reason"] == "too_large"
    assert event_count(query) == 2


def test_page_screen_and_web_user_agent_are_mapped(app, client, query, at):
    at(NOW)
    key = create_key(app, "web")
    ua = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
    page = message("page", name="Pricing", properties={
        "url": "https://example.com/pricing?email=a@b.c#top", "search": "?email=a@b.c",
        "path": "/pricing"}, context={"userAgent": ua, "locale": "en-GB"})
    screen = message("screen", name="Home", properties={"tab": 2})
    r = post_batch(client, key, [page, screen])
    assert statuses(r) == ["accepted", "accepted"]
    first, second = events(query)
    assert first.event_type == "page_viewed"
    data = first.event_data if isinstance(first.event_data, dict) else json.loads(first.event_data)
    assert data == {"name": "Pricing", "url": "https://example.com/pricing", "path": "/pricing"}
    assert (first.browser_name, first.browser_version) == ("Chrome", "120.0.0")
    assert (first.os_name, first.os_version, first.platform) == ("Windows", "10", "web")
    assert second.event_type == "screen_viewed"
    data = second.event_data if isinstance(second.event_data, dict) else json.loads(
        second.event_data)
    assert data == {"tab": 2, "screen": "Home"}


def test_timestamp_is_corrected_by_sent_at(app, client, query, at):
    received = at("2026-03-01T09:00:00Z")
    key = create_key(app, "android")
    # The device's clock is 2 hours ahead: it says the event was 5 minutes before sending.
    msg = message(timestamp="2026-03-01T10:55:00+00:00", sentAt="2026-03-01T11:00:00Z")
    late = message(timestamp="2026-02-01T09:00:00Z")
    r = post_batch(client, key, [msg, late])
    assert statuses(r) == ["accepted", "rejected"]
    assert r.get_json()["results"][1]["reason"] == "too_old"
    [row] = events(query)
    occurred = row.occurred_at
    if isinstance(occurred, str):
        occurred = datetime.fromisoformat(occurred)
    assert occurred.replace(tzinfo=UTC) == received - timedelta(minutes=5)


def test_write_key_rate_limit_counts_per_key(app_factory, query):
    app = app_factory(WRITE_KEY_LIMIT="2 per minute")
    client = app.test_client()
    first, second = create_key(app, "ios"), create_key(app, "ios")
    for _ in range(2):
        assert statuses(post_batch(client, first, [message()])) == ["accepted"]
    r = client.post("/v1/track", json=message(), headers=basic(first))
    _problem(r, 429)
    assert int(r.headers["Retry-After"]) > 0
    assert statuses(post_batch(client, second, [message()])) == ["accepted"]
    assert event_count(query) == 3


def test_documented_types_of_the_envelope_are_checked(app, client, query):
    key = create_key(app, "server")
    for body in ({"batch": "nope"}, {"sentAt": NOW}):
        _problem(client.post("/v1/batch", json=body, headers=basic(key)), 400)
    # A batch's sentAt is judged per message: each is rejected with invalid_sent_at.
    r = client.post("/v1/batch", json={"batch": [message()], "sentAt": 5}, headers=basic(key))
    assert [x["reason"] for x in r.get_json()["results"]] == ["invalid_sent_at"]
    # A field a call ignores must still have its documented type.
    identify = message("identify", properties=["x"])
    _problem(client.post("/v1/identify", json=identify, headers=basic(key)), 400)
    assert event_count(query) == 0
