"""Erasure of a person removes the anonymous history linked to them, and nothing else."""

from __future__ import annotations

from tests.segment_support import NOW, create_key, message, post_batch, statuses


def test_erasure_deletes_every_linked_anonymous_history_only(app, client, query, auth, at):
    at(NOW)
    alice, bob = auth(), auth()
    key = create_key(app, "server")
    a, b = str(alice.user["id"]), str(bob.user["id"])
    sent = [
        message(anonymousId="alice-phone"),
        message(anonymousId="alice-laptop"),
        message(anonymousId="bob-phone"),
        message(anonymousId="stranger"),
        message("identify", userId=a, anonymousId="alice-phone"),
        message("alias", previousId="alice-laptop", userId=a),
        message("identify", userId=b, anonymousId="bob-phone"),
        message(userId=a),
        # Bob's own event sent from Alice's phone stays Bob's.
        message(userId=b, anonymousId="alice-phone"),
    ]
    assert statuses(post_batch(client, key, sent)) == ["accepted"] * len(sent)

    r = client.delete("/api/v2/me", headers=alice.headers,
                      json={"password": alice.user["password"]})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["row_counts"]["analytics_events_anonymous"] == 2
    left = query("SELECT user_id, anonymous_id FROM analytics_events ORDER BY id")
    assert [tuple(x) for x in left] == [
        (None, "bob-phone"), (None, "stranger"), (bob.user["id"], "alice-phone")
    ]
    links = query("SELECT anonymous_id FROM anonymous_identities")
    assert [x[0] for x in links] == ["bob-phone"]


def test_export_holds_the_linked_anonymous_history(app, client, auth, at):
    at(NOW)
    alice = auth()
    key = create_key(app, "server")
    sent = [
        message(anonymousId="alice-phone", properties={"n": 1}),
        message(anonymousId="someone-else"),
        message("identify", userId=str(alice.user["id"]), anonymousId="alice-phone"),
    ]
    assert statuses(post_batch(client, key, sent)) == ["accepted"] * 3
    doc = client.get("/api/v2/me/data", headers=alice.headers).get_json()
    assert [(e["anonymous_id"], e["event_data"]) for e in doc["anonymous_events"]] == [
        ("alice-phone", {"n": 1})
    ]
    assert [x["anonymous_id"] for x in doc["anonymous_ids"]] == ["alice-phone"]
