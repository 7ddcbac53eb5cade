"""occurred_at on the server's clock: received - (sent_at - occurred_at), clamped, too old."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.ingest_support import TRACK, event, post_batch, statuses
from tests.problem_helpers import assert_problem

RECEIVED = "2026-03-10T12:00:00Z"


def occurred(query) -> list[datetime]:
    rows = query("SELECT occurred_at FROM analytics_events ORDER BY id")
    out = []
    for (value,) in rows:
        value = value if isinstance(value, datetime) else datetime.fromisoformat(value)
        out.append(value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC))
    return out


def utc(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)


@pytest.mark.parametrize(
    ("sent_at", "occurred_at", "expected"),
    [
        # Client clock right: the event happened 5 minutes before it was sent.
        ("2026-03-10T12:00:00Z", "2026-03-10T11:55:00Z", "2026-03-10T11:55:00Z"),
        # Client clock 3 hours fast, and in another zone: only the difference counts.
        ("2026-03-10T17:00:00+02:00", "2026-03-10T16:55:00+02:00", "2026-03-10T11:55:00Z"),
        # Client clock 2 days slow: the event was queued for an hour offline.
        ("2026-03-08T12:00:00Z", "2026-03-08T11:00:00Z", "2026-03-10T11:00:00Z"),
        # A client clock years off still gives the right time.
        ("2019-01-01T00:00:00Z", "2018-12-31T23:59:30Z", "2026-03-10T11:59:30Z"),
        # Exactly 7 days old is still accepted.
        ("2026-03-10T12:00:00Z", "2026-03-03T12:00:00Z", "2026-03-03T12:00:00Z"),
        # Up to 23 hours ahead is kept as sent.
        ("2026-03-10T12:00:00Z", "2026-03-11T11:00:00Z", "2026-03-11T11:00:00Z"),
    ],
    ids=["right-clock", "fast-clock-other-zone", "slow-clock-offline", "years-off",
         "exactly-7-days", "23-hours-ahead"],
)
def test_occurred_at_is_corrected_for_the_client_clock(client, auth, query, at, sent_at,
                                                       occurred_at, expected):
    at(RECEIVED)
    r = post_batch(client, auth().headers, [event(occurred_at=occurred_at)], sent_at=sent_at)
    assert statuses(r) == ["accepted"]
    assert "clamped" not in r.get_json()["results"][0]
    assert occurred(query) == [utc(expected)]
    created = query("SELECT created_at FROM analytics_events")[0][0]
    created = created if isinstance(created, datetime) else datetime.fromisoformat(created)
    assert created.replace(tzinfo=created.tzinfo or UTC) == utc(RECEIVED)


def test_more_than_23_hours_ahead_is_clamped_and_flagged(client, auth, query, at):
    at(RECEIVED)
    events = [event(occurred_at="2026-03-11T11:00:01Z"), event(occurred_at="2026-03-10T12:00:00Z")]
    r = post_batch(client, auth().headers, events, sent_at="2026-03-10T12:00:00Z")
    assert statuses(r) == ["accepted", "accepted"]
    assert [x.get("clamped") for x in r.get_json()["results"]] == [True, None]
    assert occurred(query) == [utc(RECEIVED), utc(RECEIVED)]


def test_more_than_7_days_old_is_rejected(client, auth, query, at):
    at(RECEIVED)
    # 7 days and 1 second by the client's own clock, which is 1 day slow.
    r = post_batch(client, auth().headers, [event(occurred_at="2026-03-02T11:59:59Z")],
                   sent_at="2026-03-09T12:00:00Z")
    assert r.get_json()["results"][0]["reason"] == "too_old"
    assert occurred(query) == []


def test_admin_backfill_accepts_old_events(app, client, auth, query, at):
    at(RECEIVED)
    admin = auth()
    from app.extensions import db
    from app.models import User

    with app.app_context():
        db.session.get(User, admin.user["id"]).is_admin = True
        db.session.commit()
    r = post_batch(client, admin.headers, [event(occurred_at="2026-01-01T00:00:00Z")],
                   sent_at="2026-03-10T12:00:00Z", backfill=True)
    assert statuses(r) == ["accepted"]
    assert occurred(query) == [utc("2026-01-01T00:00:00Z")]


def test_backfill_from_a_non_admin_is_403_and_stores_nothing(client, auth, query, at):
    at(RECEIVED)
    r = post_batch(client, auth().headers, [event(occurred_at="2026-03-10T11:00:00Z")],
                   sent_at=RECEIVED, backfill=True)
    assert_problem(r, 403)
    assert occurred(query) == []


def test_track_uses_occurred_at_as_sent_or_the_receive_time(client, auth, query, at):
    at(RECEIVED)
    user = auth()
    r = client.post(TRACK, json={"event_type": "app_opened"}, headers=user.headers)
    assert r.status_code == 201
    assert utc(r.get_json()["occurred_at"]) == utc(RECEIVED)
    r = client.post(TRACK, json={"event_type": "app_opened",
                                 "occurred_at": "2026-03-10T11:00:00Z"}, headers=user.headers)
    assert utc(r.get_json()["occurred_at"]) == utc("2026-03-10T11:00:00Z")
    r = client.post(TRACK, json={"event_type": "app_opened", "occurred_at": "2026-03-08T11:00:00Z",
                                 "sent_at": "2026-03-08T12:00:00Z"}, headers=user.headers)
    assert utc(r.get_json()["occurred_at"]) == utc("2026-03-10T11:00:00Z")
    r = client.post(TRACK, json={"event_type": "app_opened",
                                 "occurred_at": "2026-03-12T00:00:00Z"}, headers=user.headers)
    assert r.status_code == 201
    assert r.get_json()["clamped"] is True
    assert utc(r.get_json()["occurred_at"]) == utc(RECEIVED)
    assert occurred(query) == [utc(RECEIVED), utc("2026-03-10T11:00:00Z"),
                               utc("2026-03-10T11:00:00Z"), utc(RECEIVED)]
